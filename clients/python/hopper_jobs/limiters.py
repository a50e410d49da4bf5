"""Limiters in the limits table, on the TypeScript limiters' items (lib/limiters): a Python and a
TypeScript worker that name the same limiter share one limit.

``ctx.limiter(name, spec).run(fn)`` runs ``fn`` when the limiter has room, waiting up to the spec's
``wait`` seconds, and otherwise raises ``RateLimitedError``, which puts the job back on its queue
after the limiter's retry-after without using a retry. Kinds: ``concurrent`` (at most ``limit``
leases at once, each expiring after ``lockTimeout`` seconds if its holder dies), ``window`` (at most
``limit`` in any trailing ``per``), ``bucket`` (at most ``limit`` per ``per``, in buckets aligned
to the interval), ``leaky`` (a burst of ``limit``, then ``limit`` per ``per`` as they drain) and
``points`` (a token bucket of ``capacity`` points refilled by ``refill`` per ``per``:
``ctx.limiter(name, spec).run(cost, lambda charge: ...)`` takes ``cost`` points up front, and
``charge.settle(actual)`` charges or refunds the difference when the block ends). ``leaky`` and
``points`` keep one number, the theoretical arrival time of the generic cell rate algorithm, in
units of 1/``refill`` ms so that every step is exact integer arithmetic (lib/limiters/gcra.ts).

Every call is a conditional ``UpdateItem`` whose condition is the admission rule, evaluated by
DynamoDB against the item as it is; a failed condition is planned again from the item as it is
then (read with one consistent ``GetItem``: boto3 before 1.28 cannot have it returned).
"""

from __future__ import annotations

import math
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from .errors import HopperError, InvalidLimiterSpecError, LimiterUnavailableError, RateLimitedError
from .state import is_condition_failure

T = TypeVar("T")

NAMED_INTERVALS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400}
LIMITER_TYPES = ("concurrent", "bucket", "window", "leaky", "points")
FIELDS = {
    "concurrent": ("type", "limit", "lockTimeout", "wait"),
    "bucket": ("type", "limit", "per", "wait"),
    "window": ("type", "limit", "per", "wait"),
    "leaky": ("type", "limit", "per", "wait"),
    "points": ("type", "capacity", "refill", "per", "wait"),
}
NAME_MAX_LENGTH = 200
ENTRY_LIMIT_MAX = 1_000
COUNTER_LIMIT_MAX = 1_000_000_000
INTERVAL_MAX_SECONDS = 30 * 86_400
LOCK_TIMEOUT_MAX_SECONDS = 86_400
WAIT_MAX_SECONDS = 900
DEFAULT_LOCK_TIMEOUT_SECONDS = 30
DEFAULT_CONCURRENT_WAIT_SECONDS = 5
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:@/+=-]+$")
INTERVAL_EXPECTATION = f"'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to {INTERVAL_MAX_SECONDS}"

#: Attribute names of limiter items (lib/limiters/keys.ts ``LIMITER_ATTRIBUTES``).
ENTRY_COUNT, ENTRY_PREFIX, LAST_HOLD = "n", "e_", "h"
BUCKET_START, BUCKET_INTERVAL, BUCKET_COUNT = "b", "i", "c"
GCRA_TAT, GCRA_SCALE = "t", "s"
TTL_MARGIN_SECONDS = 3_600
LEASE_ESTIMATE_MIN_MS = 50
POLL_JITTER_MIN_MS, POLL_JITTER_MAX_MS = 10, 1_000
UNAVAILABLE_RETRY_AFTER_MS = 1_000
CONTENTION_RETRY_AFTER_MS = 1_000
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class LimiterSpec:
    """A validated spec: times in milliseconds, defaults filled in."""

    type: str
    #: The limit; a points limiter's capacity.
    limit: int
    wait_ms: int
    lock_timeout_ms: int = 0
    interval_ms: int = 0
    #: Points a points limiter refills per interval.
    refill: int = 0


def resolve_spec(name: str, spec: Any) -> LimiterSpec:
    """Validates ``spec`` for limiter ``name`` as lib/limiters/spec.ts does, with its messages.

    Raises:
        InvalidLimiterSpecError: naming the field, what was expected and what was given.
    """
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX_LENGTH or not NAME_PATTERN.match(name):
        raise InvalidLimiterSpecError(name if isinstance(name, str) else "?", "name", f"a string of 1 to {NAME_MAX_LENGTH} letters, digits or _ - . : @ / + =", _describe(name))
    if not isinstance(spec, Mapping):
        raise InvalidLimiterSpecError(name, "spec", "an object with a type", _describe(spec))
    kind = spec.get("type")
    if kind not in LIMITER_TYPES:
        raise InvalidLimiterSpecError(name, "type", "one of " + ", ".join(f"'{t}'" for t in LIMITER_TYPES), _describe(kind))
    for field_name in spec:
        if field_name not in FIELDS[kind]:
            raise InvalidLimiterSpecError(name, field_name, f"absent (a {kind} limiter takes {', '.join(FIELDS[kind])})", _describe(spec[field_name]))
    wait = _seconds(spec.get("wait", DEFAULT_CONCURRENT_WAIT_SECONDS if kind == "concurrent" else 0), 0, WAIT_MAX_SECONDS, whole=False)
    if wait is None:
        raise InvalidLimiterSpecError(name, "wait", f"a number of seconds from 0 to {WAIT_MAX_SECONDS}", _describe(spec.get("wait")))
    if kind == "points":
        capacity, refill = spec.get("capacity"), spec.get("refill")
        if not _is_int(capacity) or not 1 <= capacity <= COUNTER_LIMIT_MAX:
            raise InvalidLimiterSpecError(name, "capacity", f"an integer from 1 to {COUNTER_LIMIT_MAX}", _describe(capacity))
        if not _is_int(refill) or not 1 <= refill <= COUNTER_LIMIT_MAX:
            raise InvalidLimiterSpecError(name, "refill", f"an integer from 1 to {COUNTER_LIMIT_MAX}", _describe(refill))
        return LimiterSpec(kind, int(capacity), wait, interval_ms=_interval_ms(name, spec.get("per")), refill=int(refill))
    # A window or a lease keeps one entry per admission in its item, so their limit is bounded.
    maximum = ENTRY_LIMIT_MAX if kind in ("concurrent", "window") else COUNTER_LIMIT_MAX
    limit = spec.get("limit")
    if not _is_int(limit) or not 1 <= limit <= maximum:
        raise InvalidLimiterSpecError(name, "limit", f"an integer from 1 to {maximum}", _describe(limit))
    if kind == "concurrent":
        lock_timeout = _seconds(spec.get("lockTimeout", DEFAULT_LOCK_TIMEOUT_SECONDS), 1, LOCK_TIMEOUT_MAX_SECONDS, whole=True)
        if lock_timeout is None:
            raise InvalidLimiterSpecError(name, "lockTimeout", f"a whole number of seconds from 1 to {LOCK_TIMEOUT_MAX_SECONDS}", _describe(spec.get("lockTimeout")))
        return LimiterSpec(kind, limit, wait, lock_timeout_ms=lock_timeout)
    return LimiterSpec(kind, int(limit), wait, interval_ms=_interval_ms(name, spec.get("per")))


def _interval_ms(name: str, per: Any) -> int:
    interval = NAMED_INTERVALS[per] * 1000 if isinstance(per, str) and per in NAMED_INTERVALS else _seconds(per, 1, INTERVAL_MAX_SECONDS, whole=True)
    if interval is None:
        raise InvalidLimiterSpecError(name, "per", INTERVAL_EXPECTATION, _describe(per))
    return interval


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _seconds(value: Any, low: float, high: float, *, whole: bool) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        return None
    if whole and not _is_int(value):
        return None
    return round(value * 1000)


def _describe(value: Any) -> str:
    """A short description of a value, as the TypeScript messages give it."""
    if value is None:
        return "nothing"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    import json

    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


Known = Union[str, dict]  # "unread", "absent" or the item's attributes


@dataclass(frozen=True)
class _Write:
    update: str
    condition: str
    names: dict[str, str]
    values: dict[str, dict[str, str]]


@dataclass(frozen=True)
class _Refuse:
    retry_after_ms: int


_DONE = "done"
Step = Union[_Write, _Refuse, str]


def _num(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _integer(item: Mapping[str, Any], attribute: str) -> int | None:
    text = (item.get(attribute) or {}).get("N")
    return int(text) if isinstance(text, str) and re.fullmatch(r"-?\d+", text) else None


def _ttl_after(epoch_ms: int) -> int:
    return math.ceil(epoch_ms / 1000) + TTL_MARGIN_SECONDS


def _refuse(retry_after_ms: float) -> _Refuse:
    return _Refuse(max(1, math.ceil(retry_after_ms)))


def plan_add_entry(spec: LimiterSpec, token: str, now_ms: int, known: Known) -> Step:
    """A lease (``concurrent``) or an admission (``window``): one ``e_<token>`` attribute and the
    count ``n``, added on condition that fewer than ``limit`` live entries are held; dead entries are
    removed in the same write, on condition that they still hold the values read (entry-plans.ts)."""
    item: Mapping[str, Any] = known if isinstance(known, dict) else {}
    entries = {attribute[len(ENTRY_PREFIX):]: value for attribute in item if attribute.startswith(ENTRY_PREFIX) and (value := _integer(item, attribute)) is not None}
    if token in entries:
        return _DONE
    concurrent = spec.type == "concurrent"
    value = now_ms + spec.lock_timeout_ms if concurrent else now_ms
    expires_at = (lambda stored: stored) if concurrent else (lambda stored: stored + spec.interval_ms)
    live = {entry: stored for entry, stored in entries.items() if expires_at(stored) > now_ms}
    expired = {entry: stored for entry, stored in entries.items() if entry not in live}
    if len(live) >= spec.limit:
        if concurrent:
            return _refuse(_expected_free_in_ms(live, now_ms, spec.lock_timeout_ms, _integer(item, LAST_HOLD)))
        return _refuse(min(expires_at(stored) for stored in live.values()) - now_ms)
    names = {"#n": ENTRY_COUNT, "#ttl": "ttl", "#me": f"{ENTRY_PREFIX}{token}"}
    values = {":v": _num(value), ":d": _num(1 - len(expired)), ":max": _num(spec.limit + len(expired)), ":ttl": _num(_ttl_after(expires_at(value)))}
    removals: list[str] = []
    still_dead = ""
    for index, (entry, stored) in enumerate(expired.items()):
        names[f"#x{index}"] = f"{ENTRY_PREFIX}{entry}"
        values[f":x{index}"] = _num(stored)
        removals.append(f"#x{index}")
        still_dead += f" AND #x{index} = :x{index}"
    update = "SET #me = :v, #ttl = :ttl ADD #n :d" + (f" REMOVE {', '.join(removals)}" if removals else "")
    condition = f"attribute_not_exists(#me) AND (attribute_not_exists(#n) OR #n < :max){still_dead}"
    return _Write(update, condition, names, values)


def _expected_free_in_ms(live: Mapping[str, int], now_ms: int, lock_timeout_ms: int, last_hold_ms: int | None) -> int:
    """When the first live lease is expected to end (lib/limiters/concurrent.ts ``expectedFreeInMs``)."""
    soonest = math.inf
    for expiry in live.values():
        start = expiry - lock_timeout_ms
        held = max(0, now_ms - start)
        typical_end = None if last_hold_ms is None else start + last_hold_ms
        estimate = typical_end - now_ms if typical_end is not None and typical_end > now_ms else max(LEASE_ESTIMATE_MIN_MS, held)
        soonest = min(soonest, estimate, expiry - now_ms)
    return max(1, math.ceil(soonest)) if math.isfinite(soonest) else lock_timeout_ms


def plan_remove_entry(token: str, known: Known, held_ms: int | None) -> Step:
    """Gives a lease back, recording how long it was held; nothing to do once it is gone."""
    if known != "unread":
        return _DONE
    names = {"#me": f"{ENTRY_PREFIX}{token}", "#n": ENTRY_COUNT}
    values = {":minus": _num(-1)}
    if held_ms is None:
        return _Write("REMOVE #me ADD #n :minus", "attribute_exists(#me)", names, values)
    return _Write("SET #h = :held REMOVE #me ADD #n :minus", "attribute_exists(#me)", {**names, "#h": LAST_HOLD}, {**values, ":held": _num(max(0, round(held_ms)))})


def plan_take_from_bucket(spec: LimiterSpec, now_ms: int, known: Known) -> Step:
    """One call counted in the interval-aligned bucket of ``now_ms`` (bucket-plans.ts)."""
    start = now_ms // spec.interval_ms * spec.interval_ms
    if known == "unread":
        state: tuple[int, int, int] | None = (start, spec.interval_ms, 0)
    elif known == "absent" or not isinstance(known, dict):
        state = None
    else:
        read = (_integer(known, BUCKET_START), _integer(known, BUCKET_INTERVAL), _integer(known, BUCKET_COUNT))
        state = None if None in read else (read[0], read[1], read[2])  # type: ignore[assignment]
    current = state if state is not None and state[1] == spec.interval_ms and state[0] >= start else None
    names = {"#b": BUCKET_START, "#i": BUCKET_INTERVAL, "#c": BUCKET_COUNT, "#ttl": "ttl"}
    if current is None:
        values = {":b": _num(start), ":i": _num(spec.interval_ms), ":ttl": _num(_ttl_after(start + spec.interval_ms)), ":one": _num(1)}
        return _Write("SET #b = :b, #i = :i, #c = :one, #ttl = :ttl", "attribute_not_exists(#b) OR #i <> :i OR #b < :b", names, values)
    if current[2] >= spec.limit:
        return _refuse(current[0] + current[1] - now_ms)
    values = {":b": _num(current[0]), ":i": _num(current[1]), ":ttl": _num(_ttl_after(current[0] + current[1])), ":one": _num(1), ":limit": _num(spec.limit)}
    return _Write("SET #ttl = :ttl ADD #c :one", "#b = :b AND #i = :i AND #c < :limit", names, values)


@dataclass(frozen=True)
class GcraParams:
    """A GCRA bucket's shape in units of 1/``scale`` ms (lib/limiters/gcra.ts ``GcraParams``)."""

    #: Units per millisecond: the refill per interval.
    scale: int
    #: Units one point takes to drain: the interval in ms.
    emission: int
    #: Units the bucket spans when full: capacity × emission.
    tolerance: int


def gcra_params(spec: LimiterSpec) -> GcraParams:
    """``leaky``: capacity ``limit``, ``limit`` drips per interval; ``points``: capacity ``limit``,
    ``refill`` per interval."""
    scale = spec.refill if spec.type == "points" else spec.limit
    return GcraParams(scale, spec.interval_ms, spec.limit * spec.interval_ms)


def _gcra_state(known: Known, params: GcraParams) -> int | None:
    """The stored TAT when there is one at this scale (a bucket kept at another scale restarts)."""
    if not isinstance(known, dict):
        return None
    tat, scale = _integer(known, GCRA_TAT), _integer(known, GCRA_SCALE)
    return tat if tat is not None and scale == params.scale else None


def _units_to_ms(units: int, scale: int) -> int:
    return -(-units // scale)


def _gcra_ttl(params: GcraParams, now: int, extra: int) -> dict[str, str]:
    drained_at = now + params.tolerance + max(0, extra)
    return _num(_ttl_after(_units_to_ms(drained_at, params.scale)))


def _gcra_restart(params: GcraParams, now: int, tat: int, extra: int) -> _Write:
    return _Write(
        "SET #t = :t, #s = :s, #ttl = :ttl",
        "attribute_not_exists(#t) OR #s <> :s OR #t < :now",
        {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
        {":t": _num(tat), ":s": _num(params.scale), ":now": _num(now), ":ttl": _gcra_ttl(params, now, extra)},
    )


def plan_take_from_gcra(params: GcraParams, cost: int, now_ms: int, known: Known) -> Step:
    """Takes ``cost`` points (gcra-plans.ts ``planTakeFromGcra``). While the bucket holds something,
    ``ADD t cost·I`` on condition that it stays within the tolerance: atomic, so concurrent callers
    are admitted exactly up to capacity. A drained (or new) bucket restarts from now with a ``SET``
    on condition that it is still drained. An unread item is assumed busy."""
    now = now_ms * params.scale
    increment = cost * params.emission
    if known != "unread":
        stored = _gcra_state(known, params)
        advance = stored is not None and stored >= now
        tat = (stored if advance and stored is not None else now) + increment
        over = tat - now - params.tolerance
        if over > 0:
            return _refuse(_units_to_ms(over, params.scale))
        if not advance:
            return _gcra_restart(params, now, tat, 0)
    return _Write(
        "SET #ttl = :ttl ADD #t :inc",
        "#s = :s AND #t >= :now AND #t <= :max",
        {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
        {":inc": _num(increment), ":s": _num(params.scale), ":now": _num(now), ":max": _num(now + params.tolerance - increment), ":ttl": _gcra_ttl(params, now, 0)},
    )


def plan_settle_gcra(params: GcraParams, delta: int, now_ms: int, known: Known) -> Step:
    """Charges ``delta`` more points, or refunds ``-delta`` (gcra-plans.ts ``planSettleGcra``). A
    charge may take the bucket past full (the work is done); a refund never takes the TAT below now.
    An unread item is assumed to still be draining."""
    if delta == 0:
        return _DONE
    now = now_ms * params.scale
    change = delta * params.emission
    if known == "unread":
        step = "advance"
    else:
        stored = _gcra_state(known, params)
        if stored is None or stored < now:
            step = "restart" if delta > 0 else "none"
        else:
            step = "clamp" if stored + change < now else "advance"
    if step == "none":
        return _DONE
    if step == "restart":
        return _gcra_restart(params, now, now + change, change)
    if step == "clamp":
        return _Write("SET #t = :now", "#s = :s AND #t >= :now AND #t < :floor", {"#t": GCRA_TAT, "#s": GCRA_SCALE},
                      {":now": _num(now), ":s": _num(params.scale), ":floor": _num(now - change)})
    if delta > 0:
        return _Write("SET #ttl = :ttl ADD #t :inc", "#s = :s AND #t >= :now", {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
                      {":inc": _num(change), ":s": _num(params.scale), ":now": _num(now), ":ttl": _gcra_ttl(params, now, change)})
    # A refund keeps the TTL: the bucket drains sooner, so the stored TTL is still late enough.
    return _Write("ADD #t :inc", "#s = :s AND #t >= :floor", {"#t": GCRA_TAT, "#s": GCRA_SCALE}, {":inc": _num(change), ":s": _num(params.scale), ":floor": _num(now - change)})


class LimiterStore:
    """Limiter state in the limits table (``HOPPER_LIMITS_TABLE``), changed only by conditional writes."""

    def __init__(self, dynamodb: Callable[[], Any], table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def loop(self, pk: str, sk: str, plan: Callable[[Known], Step]) -> Step | None:
        """Plans and writes until a write succeeds (the step), a plan refuses or is done, or
        attempts run out (None)."""
        known: Known = "unread"
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        for _ in range(MAX_ATTEMPTS):
            step = plan(known)
            if not isinstance(step, _Write):
                return step
            try:
                self._dynamodb().update_item(
                    TableName=self._table, Key=key, UpdateExpression=step.update, ConditionExpression=step.condition,
                    ExpressionAttributeNames=step.names, ExpressionAttributeValues=step.values,
                )
                return step
            except Exception as error:  # noqa: BLE001 - a failed condition is planned again; anything else is raised
                if not is_condition_failure(error):
                    raise
            item = self._dynamodb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            known = item if item is not None else "absent"
        return None


@dataclass
class _Permit:
    release: Callable[[], None]
    #: Points limiters: charges ``delta`` more points (a refund when negative).
    settle: Callable[[int], None] | None = None


class Limiter:
    """A named limiter (``name`` is its key: ``f"stripe:{account}"`` is one limiter per account)."""

    def __init__(self, name: str, spec: LimiterSpec, store: LimiterStore, *, max_wait_ms: Callable[[], int] | None = None, now_ms: Callable[[], int] | None = None,
                 sleep: Callable[[float], None] = time.sleep, log_cleanup_error: Callable[[str, Exception], None] | None = None) -> None:
        self.name = name
        self.spec = spec
        self._store = store
        self._max_wait_ms = max_wait_ms
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._sleep = sleep
        self._log_cleanup_error = log_cleanup_error

    def run(self, fn: Callable[[], T]) -> T:
        """Runs ``fn`` within the limit, waiting up to the spec's ``wait`` for room.

        Raises:
            RateLimitedError: when there is no room in time (``LimiterUnavailableError`` when the
                limits table could not be reached).
        """
        permit = self._acquire_within()
        try:
            return fn()
        finally:
            try:
                permit.release()
            except Exception as error:  # noqa: BLE001 - a lease left behind expires after its lock timeout
                if self._log_cleanup_error is not None:
                    self._log_cleanup_error(self.name, error)

    #: Sidekiq's name for ``run``.
    within_limit = run

    def acquire(self) -> _Permit | _Refuse:
        """Asks once, without waiting."""
        return self._acquire(1)

    def _acquire(self, cost: int) -> _Permit | _Refuse:
        token = secrets.token_urlsafe(9)
        pk, sk = f"limiter#{self.name}", self.spec.type
        acquired_at = self._now_ms()
        try:
            if self.spec.type == "bucket":
                outcome = self._store.loop(pk, sk, lambda known: plan_take_from_bucket(self.spec, acquired_at, known))
            elif self.spec.type in ("leaky", "points"):
                outcome = self._store.loop(pk, sk, lambda known: plan_take_from_gcra(gcra_params(self.spec), cost, acquired_at, known))
            else:
                outcome = self._store.loop(pk, sk, lambda known: plan_add_entry(self.spec, token, acquired_at, known))
        except HopperError:
            raise
        except Exception as error:  # noqa: BLE001 - the table, not the limit: handled as a short wait
            raise LimiterUnavailableError(self.name, math.ceil(UNAVAILABLE_RETRY_AFTER_MS / 1000), error) from error
        if outcome is None:
            return _Refuse(CONTENTION_RETRY_AFTER_MS)
        if isinstance(outcome, _Refuse):
            return outcome

        def release() -> None:
            if self.spec.type == "concurrent":
                held = self._now_ms() - acquired_at
                self._store.loop(pk, sk, lambda known: plan_remove_entry(token, known, held))

        def settle(delta: int) -> None:
            now_ms = self._now_ms()
            if self._store.loop(pk, sk, lambda known: plan_settle_gcra(gcra_params(self.spec), delta, now_ms, known)) is None:
                raise HopperError(f"could not settle {delta} points on limiter {self.name} in {MAX_ATTEMPTS} attempts under contention")

        return _Permit(release, settle if self.spec.type == "points" else None)

    def _acquire_within(self, cost: int = 1) -> _Permit:
        budget = self.spec.wait_ms if self._max_wait_ms is None else min(self.spec.wait_ms, max(0, self._max_wait_ms()))
        deadline = self._now_ms() + budget
        while True:
            failure: LimiterUnavailableError | None = None
            try:
                result = self._acquire(cost)
                if isinstance(result, _Permit):
                    return result
                retry_after_ms = result.retry_after_ms
            except LimiterUnavailableError as error:
                failure = error
                retry_after_ms = UNAVAILABLE_RETRY_AFTER_MS
            remaining = deadline - self._now_ms()
            if remaining <= 0 or retry_after_ms > remaining:
                raise failure or RateLimitedError(self.name, math.ceil(retry_after_ms / 1000))
            # A rate limiter's retry-after is exact; a lease's end is a guess, which waiters spread around.
            jitter = min(POLL_JITTER_MAX_MS, max(POLL_JITTER_MIN_MS, retry_after_ms / 2)) * random.random() if self.spec.type == "concurrent" else 0
            self._sleep(max(1, min(retry_after_ms + jitter, remaining)) / 1000)


class PointsCharge:
    """What a points block can do with the points it took: ``settle(actual)`` records the block's
    actual cost; the difference from ``estimate`` is charged or refunded when the block ends."""

    def __init__(self, limiter: str, estimate: int) -> None:
        self.estimate = estimate
        self.actual: int | None = None
        self._limiter = limiter

    def settle(self, actual_cost: int) -> None:
        # A cost may exceed the capacity after the fact (the work is done); it must be a count.
        if not _is_int(actual_cost) or actual_cost < 0:
            raise InvalidLimiterSpecError(self._limiter, "actual cost", "a non-negative integer", _describe(actual_cost))
        self.actual = int(actual_cost)


class PointsLimiter(Limiter):
    """A ``points`` limiter: each block takes an estimated cost and may settle the actual one."""

    def _check_cost(self, cost: Any) -> int:
        if not _is_int(cost) or not 1 <= cost <= self.spec.limit:
            raise InvalidLimiterSpecError(self.name, "cost", f"an integer from 1 to the capacity, {self.spec.limit}", _describe(cost))
        return int(cost)

    def acquire(self, cost: int = 1) -> _Permit | _Refuse:  # type: ignore[override]
        """Asks once for ``cost`` points, without waiting."""
        return self._acquire(self._check_cost(cost))

    def run(self, cost: int, fn: Callable[[PointsCharge], T]) -> T:  # type: ignore[override]
        """Takes ``cost`` points (waiting up to the spec's ``wait``), runs ``fn(charge)``, then settles
        the cost it reported through ``charge.settle``, if any.

        Raises:
            RateLimitedError: when there are not enough points in time.
        """
        estimate = self._check_cost(cost)
        permit = self._acquire_within(estimate)
        charge = PointsCharge(self.name, estimate)
        try:
            return fn(charge)
        finally:
            if charge.actual is not None and charge.actual != estimate and permit.settle is not None:
                try:
                    permit.settle(charge.actual - estimate)
                except Exception as error:  # noqa: BLE001 - the block's result stands; only the bucket's level is off
                    if self._log_cleanup_error is not None:
                        self._log_cleanup_error(self.name, error)

    within_limit = run  # type: ignore[assignment]


def limiter_for(name: str, spec: LimiterSpec, store: LimiterStore, **options: Any) -> Limiter:
    """The limiter of ``spec``'s kind: a :class:`PointsLimiter` for ``points``, else a :class:`Limiter`."""
    return (PointsLimiter if spec.type == "points" else Limiter)(name, spec, store, **options)


def queue_lease_name(queue: str) -> str:
    """The concurrent limiter that caps a queue whose cap the mapping cannot keep (lib/config/queue-concurrency.ts)."""
    return f"hopper.queue:{queue}"


#: How many times limiters may send a job back before its limit counts as a failure (Sidekiq's 20).
MAX_LIMITED_RESCHEDULES = 20
JITTER_STEP_SECONDS = 5
MAX_JITTER_SECONDS = 300


def limited_count(job: Mapping[str, Any]) -> int:
    value = (job.get("custom") or {}).get("limited_count")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def limited_delay(retry_after_seconds: float, count: int, draw: Callable[[], float] = random.random) -> int:
    """Seconds until a job turned away for the ``count``-th time comes back (lib/limiters/reschedule.ts):
    the limiter's retry-after (at least 1) plus a jitter growing with ``count``."""
    base = max(1, math.ceil(retry_after_seconds)) if math.isfinite(retry_after_seconds) else 1
    spread = min(MAX_JITTER_SECONDS, min(JITTER_STEP_SECONDS, base) * count)
    return base + math.floor(draw() * spread)
