"""``iterate(items, each)``: a job longer than one Lambda invocation, run as slices, on the TypeScript
worker's items (lib/worker/iterate.ts, lib/storage/iterations.ts), so a job may move between the two.

``items(args, cursor, ctx)`` yields ``(item, cursor)`` pairs, the cursor saying where to resume after
that item (a JSON value of at most 32 KB: an offset, a key, a page token); ``each(item, args, ctx)``
handles one item. The worker moves the job's cursor forward in the state table (``iter#<jid>`` /
``cursor``) as items are done, a checkpoint at most every ``checkpoint_every_ms``, and when the
invocation's deadline comes near it stops between two items, records the cursor and sends the job
back to its queue: the next invocation resumes from there. One jid, one progress, any number of
slices.

- A slice that crashes or times out resumes, on the job's redelivery, from its last checkpoint: the
  items after it run again (``ctx.once``, or ``checkpoint_every_ms=0``, for items that must not).
- An item that raises fails the job as any handler does; the retry resumes after the last item done.
- Two deliveries never iterate at once: a slice holds the iteration until its invocation's deadline;
  a copy that finds it held goes back to its queue until then, one that finds it done is acknowledged.
- ``complete(args, ctx)``, if given, runs after the last item; its value is the job's result.

Example::

    def rows(args, cursor, ctx):
        start = cursor or 0
        for index, row in enumerate(read_rows(args[0], start), start):
            yield row, index + 1

    handler = worker({"ImportRows": iterate(rows, lambda row, args, ctx: insert(row))})
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .deadline import NO_DEADLINE_MS
from .errors import ConfigurationError, HopperError, IterationBusyError, IterationError, IterationLostError
from .state import is_condition_failure, kept_json

#: Least milliseconds between two checkpoints of a slice (the last one is always written).
CHECKPOINT_EVERY_MS = 5_000
#: How long a slice holds its iteration when its invocation has no deadline: Lambda's longest.
WITHOUT_DEADLINE_MS = 15 * 60_000
ITERATION_PREFIX, ITERATION_SORT_KEY = "iter#", "cursor"


class IterationSignal(HopperError):
    """How a slice ended other than by finishing or failing: ``continue`` (the job goes back to its
    queue), ``duplicate`` (another delivery holds the iteration), ``finished`` (it already ran to its
    end). Not a failure of the job: the worker handles it."""

    def __init__(self, kind: str, slices: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.slices = slices


@dataclass(frozen=True)
class IterationScope:
    """What the worker gives an iterating job: the store, the clock, the deadline margin."""

    store: "IterationStore"
    now_ms: Callable[[], int]
    margin_ms: int


class IterationStore:
    """The cursors of iterating jobs in the state table: one item per job."""

    def __init__(self, client: Callable[[], Any], table: str, ttl_days: int, now_ms: Callable[[], int]) -> None:
        self.client = client
        self.table = table
        self.ttl_days = ttl_days
        self.now_ms = now_ms

    def _key(self, jid: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"{ITERATION_PREFIX}{jid}"}, "sk": {"S": ITERATION_SORT_KEY}}

    def _expiry(self) -> dict[str, str]:
        return {"N": str(self.now_ms() // 1000 + self.ttl_days * 86_400)}

    def take(self, jid: str, owner: str, until_ms: int) -> dict[str, Any]:
        """Takes the iteration until ``until_ms``: ``{"taken": True, "cursor", "items", "slices"}``,
        ``{"taken": False, "done": True}``, or ``{"taken": False, "done": False, "until_ms"}``."""
        now = self.now_ms()
        try:
            output = self.client().update_item(
                TableName=self.table, Key=self._key(jid),
                UpdateExpression="SET #owner = :owner, #until = :until, #ttl = :ttl, #slices = if_not_exists(#slices, :zero) + :one, #items = if_not_exists(#items, :zero)",
                ConditionExpression="(attribute_not_exists(#owner) OR #until < :now) AND attribute_not_exists(#state)",
                ExpressionAttributeNames={"#owner": "owner", "#until": "until", "#ttl": "ttl", "#slices": "slices", "#items": "items", "#state": "state"},
                ExpressionAttributeValues={":owner": {"S": owner}, ":until": {"N": str(until_ms)}, ":ttl": self._expiry(), ":zero": {"N": "0"}, ":one": {"N": "1"}, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )
        except Exception as error:  # noqa: BLE001 - a failed condition is read; anything else is raised
            if not is_condition_failure(error):
                raise
            held = self.client().get_item(TableName=self.table, Key=self._key(jid), ConsistentRead=True).get("Item")
            if held is not None and (held.get("state") or {}).get("S") == "done":
                return {"taken": False, "done": True}
            # Given back between the update and the read: the caller asks again shortly.
            until = int((held or {}).get("until", {}).get("N", now + 1000))
            return {"taken": False, "done": False, "until_ms": until}
        item = output.get("Attributes") or {}
        return {"taken": True, "cursor": (item.get("cursor") or {}).get("S"), "items": int((item.get("items") or {}).get("N", "0")), "slices": int((item.get("slices") or {}).get("N", "1"))}

    def checkpoint(self, jid: str, owner: str, cursor: str | None, items: int) -> None:
        self._owned_update(jid, owner, cursor, items, release=False)

    def release(self, jid: str, owner: str, cursor: str | None, items: int) -> None:
        self._owned_update(jid, owner, cursor, items, release=True)

    def finish(self, jid: str, owner: str, items: int) -> None:
        try:
            self.client().update_item(
                TableName=self.table, Key=self._key(jid),
                UpdateExpression="SET #state = :done, #items = :items, #ttl = :ttl REMOVE #owner, #until, #cursor",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#state": "state", "#items": "items", "#ttl": "ttl", "#owner": "owner", "#until": "until", "#cursor": "cursor"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":items": {"N": str(items)}, ":ttl": self._expiry(), ":owner": {"S": owner}},
            )
        except Exception as error:  # noqa: BLE001 - a failed condition means another slice took it
            raise IterationLostError(jid) if is_condition_failure(error) else error

    def _owned_update(self, jid: str, owner: str, cursor: str | None, items: int, *, release: bool) -> None:
        names = {"#items": "items", "#ttl": "ttl", "#owner": "owner"}
        values: dict[str, Any] = {":items": {"N": str(items)}, ":ttl": self._expiry(), ":owner": {"S": owner}}
        expression = "SET #items = :items, #ttl = :ttl"
        if cursor is not None:
            names["#cursor"] = "cursor"
            values[":cursor"] = {"S": cursor}
            expression += ", #cursor = :cursor"
        if release:
            names["#until"] = "until"
            expression += " REMOVE #owner, #until"
        try:
            self.client().update_item(TableName=self.table, Key=self._key(jid), UpdateExpression=expression, ConditionExpression="#owner = :owner",
                                      ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as error:  # noqa: BLE001 - a failed condition means another slice took it
            raise IterationLostError(jid) if is_condition_failure(error) else error


def iterate(
    items: Callable[[list[Any], Any, Any], Iterable[Any]],
    each: Callable[[Any, list[Any], Any], object],
    *,
    complete: Callable[[list[Any], Any], object] | None = None,
    checkpoint_every_ms: float = CHECKPOINT_EVERY_MS,
    max_slice_ms: float | None = None,
) -> Callable[[list[Any], Any], object]:
    """An iterating job's handler; see the module's description.

    Raises:
        ConfigurationError: naming the argument that is not valid.
    """
    if not callable(items):
        raise ConfigurationError(f"iterate: items must be a function of (args, cursor, ctx) yielding (item, cursor) pairs, not {items!r}")
    if not callable(each):
        raise ConfigurationError(f"iterate: each must be a function of (item, args, ctx), not {each!r}")
    if complete is not None and not callable(complete):
        raise ConfigurationError(f"iterate: complete must be a function of (args, ctx), not {complete!r}")
    if isinstance(checkpoint_every_ms, bool) or not isinstance(checkpoint_every_ms, (int, float)) or not checkpoint_every_ms >= 0:
        raise ConfigurationError(f"iterate: checkpoint_every_ms must be a number of milliseconds of at least 0, but {checkpoint_every_ms!r} was provided")
    if max_slice_ms is not None and (isinstance(max_slice_ms, bool) or not isinstance(max_slice_ms, (int, float)) or not max_slice_ms > 0):
        raise ConfigurationError(f"iterate: max_slice_ms must be a positive number of milliseconds, but {max_slice_ms!r} was provided")

    def run(args: list[Any], ctx: Any) -> object:
        scope: IterationScope | None = getattr(ctx, "_iteration", None)
        if scope is None:
            raise HopperError("iterate needs the state table (HOPPER_STATE_TABLE): this worker has none")
        store, jid, owner = scope.store, ctx.jid, secrets.token_hex(16)
        start_ms = scope.now_ms()
        remaining = ctx.remaining_time_ms()
        claim = store.take(jid, owner, start_ms + (max(0, remaining) if remaining < NO_DEADLINE_MS else WITHOUT_DEADLINE_MS))
        if not claim["taken"]:
            if claim["done"]:
                raise IterationSignal("finished", 0, "the iteration already ran to its end; this copy of the job is not run")
            raise IterationBusyError(jid, max(1, -(-(claim["until_ms"] - start_ms) // 1000)))
        slices, cursor, done = claim["slices"], claim["cursor"], claim["items"]
        if slices > 1:
            ctx.logger.info("iteration resumed", slice=slices, items_done=done)
        saved = (cursor, done)
        last_checkpoint_ms = taken_ms = scope.now_ms()
        longest_item_ms = 0

        def slice_over() -> bool:
            return (ctx.cancelled.is_set() or ctx.remaining_time_ms() < scope.margin_ms + 2 * longest_item_ms
                    or (max_slice_ms is not None and scope.now_ms() - taken_ms >= max_slice_ms))

        iterator = None
        finished = False
        try:
            # Inside the try: an items that raises at once gives the iteration back like any failure.
            source = items(args, None if cursor is None else json.loads(cursor), ctx)
            try:
                iterator = iter(source)
            except TypeError:
                raise IterationError(f"items must return an iterable (a list or a generator) of (item, cursor) pairs, but it returned {type(source).__name__}") from None
            for pair in iterator:
                if slice_over():
                    store.release(jid, owner, cursor, done)
                    ctx.logger.info("iteration paused; the job goes back to its queue", slice=slices, items_done=done)
                    raise IterationSignal("continue", slices, "the slice ended before the invocation's deadline")
                item, following = _pair_of(pair)
                item_start_ms = scope.now_ms()
                each(item, args, ctx)
                longest_item_ms = max(longest_item_ms, scope.now_ms() - item_start_ms)
                cursor = _cursor_json(following)
                done += 1
                if scope.now_ms() - last_checkpoint_ms >= checkpoint_every_ms:
                    store.checkpoint(jid, owner, cursor, done)
                    saved = (cursor, done)
                    last_checkpoint_ms = scope.now_ms()
            finished = True
        except IterationSignal:
            raise
        except IterationLostError as lost:
            raise IterationSignal("duplicate", slices, str(lost)) from lost
        except Exception:
            # What was done is kept: the retry resumes after the last item that ended well.
            _give_back(store, ctx, owner, cursor, done, saved)
            raise
        finally:
            if not finished and iterator is not None:
                _close_quietly(iterator, ctx)

        try:
            value = complete(args, ctx) if complete is not None else None
        except Exception:
            _give_back(store, ctx, owner, cursor, done, saved)
            raise
        try:
            store.finish(jid, owner, done)
        except IterationLostError as lost:
            raise IterationSignal("duplicate", slices, str(lost)) from lost
        ctx.logger.info("iteration done", slices=slices, items=done)
        return value

    return run


def _give_back(store: IterationStore, ctx: Any, owner: str, cursor: str | None, done: int, saved: tuple[str | None, int]) -> None:
    """Gives the iteration back after a failure, with how far it got. Never raises."""
    try:
        store.release(ctx.jid, owner, cursor, done)
    except Exception as error:  # noqa: BLE001 - held until this invocation's deadline; the retry resumes from the checkpoint
        ctx.logger.warn("iteration not given back after a failure; it resumes from its last checkpoint", items_done=saved[1], error=str(error))


def _close_quietly(iterator: Any, ctx: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as error:  # noqa: BLE001 - a cleanup that fails is logged, not raised over the slice's outcome
        ctx.logger.warn("items: closing the iterator failed", error=str(error))


def _pair_of(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        got = f"a sequence of {len(value)}" if isinstance(value, (tuple, list)) else type(value).__name__
        raise IterationError(f"items must yield (item, cursor) pairs, but it yielded {got}")
    return value[0], value[1]


def _cursor_json(cursor: Any) -> str:
    kept, unkept = kept_json(cursor, "the cursor")
    if unkept is not None or kept is None:
        raise IterationError(f"items yielded a cursor that cannot be kept: {unkept}")
    return kept
