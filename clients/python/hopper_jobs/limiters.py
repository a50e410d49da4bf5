"""Limiters in the limits table, on the TypeScript limiters' items (lib/limiters), shards included
(limiter_shards.py): a Python and a TypeScript worker that name the same limiter share one limit.

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
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import HopperError, InvalidLimiterSpecError, LimiterUnavailableError, RateLimitedError
from .limiter_plans import Known, Step, _Refuse, _Write, gcra_params, plan_add_entry, plan_remove_entry, plan_settle_gcra, plan_take_from_bucket, plan_take_from_gcra
from .limiter_shards import shards_of
from .limiter_spec import LimiterSpec, _describe, _is_int, resolve_spec  # noqa: F401 - resolve_spec is part of this module's interface
from .state import is_condition_failure

T = TypeVar("T")

POLL_JITTER_MIN_MS, POLL_JITTER_MAX_MS = 10, 1_000
UNAVAILABLE_RETRY_AFTER_MS = 1_000
CONTENTION_RETRY_AFTER_MS = 1_000
MAX_ATTEMPTS = 8


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
        """One try: on the limiter's item, or on one shard and then one other when its rate spread it
        over shards (limiter_shards.py); a points cost larger than a shard holds is taken in parts."""
        token = secrets.token_urlsafe(9)
        acquired_at = self._now_ms()
        shards = shards_of(f"limiter#{self.name}", self.spec.type, self.spec)
        order = random.sample(shards, len(shards))
        capacity = min(shard[2].limit if self.spec.type == "points" else cost for shard in shards)
        taken: list[tuple[tuple[str, str, LimiterSpec], int]] = []
        try:
            if cost <= capacity:
                refusal: _Refuse | None = None
                for shard in order[:2]:
                    outcome = self._take(shard, cost, token, acquired_at)
                    if not isinstance(outcome, _Refuse):
                        taken.append((shard, cost))
                        break
                    refusal = outcome if refusal is None or outcome.retry_after_ms < refusal.retry_after_ms else refusal
                if not taken:
                    return refusal or _Refuse(CONTENTION_RETRY_AFTER_MS)
            else:
                # Parts from distinct shards, the largest first, each at most its shard's capacity.
                left = cost
                for shard in sorted(order, key=lambda candidate: -candidate[2].limit):
                    if left <= 0:
                        break
                    part = min(left, shard[2].limit)
                    outcome = self._take(shard, part, token, acquired_at)
                    if isinstance(outcome, _Refuse):
                        self._give_back(taken)
                        return outcome
                    taken.append((shard, part))
                    left -= part
        except HopperError:
            raise
        except Exception as error:  # noqa: BLE001 - the table, not the limit: handled as a short wait
            self._give_back(taken)
            raise LimiterUnavailableError(self.name, math.ceil(UNAVAILABLE_RETRY_AFTER_MS / 1000), error) from error
        (pk, sk, spec), _ = taken[0]

        def release() -> None:
            if spec.type == "concurrent":
                held = self._now_ms() - acquired_at
                self._store.loop(pk, sk, lambda known: plan_remove_entry(token, known, held))

        def settle(delta: int) -> None:
            if delta > 0:
                self._settle(pk, sk, spec, delta)
                return
            left = -delta
            for (shard_pk, shard_sk, shard_spec), paid in taken:
                if left <= 0:
                    break
                back = min(paid, left)
                self._settle(shard_pk, shard_sk, shard_spec, -back)
                left -= back

        return _Permit(release, settle if self.spec.type == "points" else None)

    def _take(self, shard: tuple[str, str, LimiterSpec], cost: int, token: str, acquired_at: int) -> Step | _Refuse:
        """Takes ``cost`` from one item; a refusal (or contention past the attempts) is a ``_Refuse``."""
        pk, sk, spec = shard
        if spec.type == "bucket":
            outcome = self._store.loop(pk, sk, lambda known: plan_take_from_bucket(spec, acquired_at, known))
        elif spec.type in ("leaky", "points"):
            outcome = self._store.loop(pk, sk, lambda known: plan_take_from_gcra(gcra_params(spec), cost, acquired_at, known))
        else:
            outcome = self._store.loop(pk, sk, lambda known: plan_add_entry(spec, token, acquired_at, known))
        return _Refuse(CONTENTION_RETRY_AFTER_MS) if outcome is None else outcome

    def _settle(self, pk: str, sk: str, spec: LimiterSpec, delta: int) -> None:
        now_ms = self._now_ms()
        if self._store.loop(pk, sk, lambda known: plan_settle_gcra(gcra_params(spec), delta, now_ms, known)) is None:
            raise HopperError(f"could not settle {delta} points on limiter {self.name} in {MAX_ATTEMPTS} attempts under contention")

    def _give_back(self, taken: list[tuple[tuple[str, str, LimiterSpec], int]]) -> None:
        """Gives points taken from shards back (a refused or failed acquire in parts); best effort."""
        for (pk, sk, spec), paid in taken:
            if spec.type == "points":
                try:
                    self._settle(pk, sk, spec, -paid)
                except Exception:  # noqa: BLE001, S110 - the points drain back by themselves
                    pass

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
