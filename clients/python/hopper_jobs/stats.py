"""Stats rollups and cohorts, written as the TypeScript worker writes them (lib/stats/rollup.ts,
cohort.ts, recorder.ts), so that ``hopper stats``, the dashboard and ``GET /v1/stats/cohorts``
count a Python worker's jobs too. On with ``HOPPER_STATS=on``.

An instance counts in memory and writes now and then: one ``UpdateItem ADD`` of the hour's rollup
item (``stats`` / ``<hour>#w#<queue>``: ``p`` processed, ``f`` failed, ``p<mm>`` and ``f<mm>`` per
minute, ``lag``, ``lag_at``) and one per cohort (``cohorts`` / ``<minute>``: ``s`` started, ``d`` done,
``f`` failed attempts the worker retried itself, ``h<i>`` latency buckets,
``mx`` the largest latency). Its first counts are written at once; after that, one write per 1,000
jobs it handled, or when its oldest count is 10 seconds old. A failed write keeps the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .job import parse_time
from .logger import Logger

FLUSH_MIN_JOBS = 1_000
FLUSH_MAX_AGE_MS = 10_000
ROLLUP_TTL_DAYS = 90
COHORT_TTL_DAYS = 2
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
#: Upper bounds (ms) of the latency buckets: 10 ms × √2^i, i = 0…47; bucket 48 holds the rest.
LATENCY_BUCKETS = [round(10 * 2 ** (i / 2)) for i in range(48)]


def _key13(epoch_ms: int) -> str:
    return str(max(0, int(epoch_ms))).rjust(13, "0")


def bucket_of(latency_ms: int) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BUCKETS)


def cohort_of(job: Mapping[str, Any]) -> int | None:
    """The epoch ms of the minute a job was first enqueued in (its cohort), if it says."""
    enqueued = (job.get("failure") or {}).get("first_enqueued_at") or job.get("enqueued_at")
    if enqueued is None:
        return None
    try:
        ms = int(parse_time("enqueued_at", enqueued).timestamp() * 1000)
    except Exception:  # noqa: BLE001 - a malformed time has no cohort
        return None
    return ms // MINUTE_MS * MINUTE_MS


@dataclass
class _Rollup:
    hour_ms: int
    queue: str
    since_ms: int
    #: Minute of the hour → jobs processed (succeeded or failed) in it.
    minutes: dict[int, int] = field(default_factory=dict)
    lag: tuple[int, int] | None = None  # (ms waited, epoch ms it started)
    #: Minute of the hour → jobs failed in it (retries this worker sent itself).
    failures: dict[int, int] = field(default_factory=dict)
    #: Priority tier → its most recently started job's (ms waited, epoch ms it started), ``tlag.<tier>``.
    tier_lags: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class _Cohort:
    minute_ms: int
    started: int = 0
    done: int = 0
    failed: int = 0
    buckets: dict[int, int] = field(default_factory=dict)
    max: int | None = None


class StatsRecorder:
    """The counts of one function instance, written to the state table now and then."""

    def __init__(self, dynamodb: Callable[[], Any], table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._rollups: dict[tuple[int, str], _Rollup] = {}
        self._cohorts: dict[int, _Cohort] = {}
        self._cohorts_since_ms: int | None = None
        self._jobs = 0
        self._writes = 0

    def started(self, queue: str, job: Mapping[str, Any], latency_ms: int, at_ms: int, tier: str | None = None) -> None:
        """A job started after waiting ``latency_ms`` since it became due: the queue's lag (and its
        tier's, for a queue with priority tiers: the governor reads it), and the first start of its
        cohort when this is its first attempt."""
        rollup = self._rollup(queue, at_ms)
        lag = (max(0, round(latency_ms)), at_ms)
        if rollup.lag is None or at_ms >= rollup.lag[1]:
            rollup.lag = lag
        if tier is not None:
            known_tier = rollup.tier_lags.get(tier)
            if known_tier is None or at_ms >= known_tier[1]:
                rollup.tier_lags[tier] = lag
        custom = job.get("custom") or {}
        first = job.get("failure") is None and not custom.get("limited_count") and custom.get("slice") is None
        minute = cohort_of(job)
        if first and minute is not None:
            cohort = self._cohort(minute, at_ms)
            latency = max(0, round(latency_ms))
            cohort.started += 1
            bucket = bucket_of(latency)
            cohort.buckets[bucket] = cohort.buckets.get(bucket, 0) + 1
            cohort.max = max(cohort.max or 0, latency)

    def succeeded(self, queue: str, job: Mapping[str, Any], at_ms: int) -> None:
        rollup = self._rollup(queue, at_ms)
        minute = (at_ms - rollup.hour_ms) // MINUTE_MS
        rollup.minutes[minute] = rollup.minutes.get(minute, 0) + 1
        cohort_minute = cohort_of(job)
        if cohort_minute is not None:
            self._cohort(cohort_minute, at_ms).done += 1

    def retried(self, queue: str, job: Mapping[str, Any], at_ms: int) -> None:
        """A failure this worker sent back to its queue itself: processed and failed in the rollup, a
        failed attempt in its cohort (a failure through the retries queue is the retry function's)."""
        rollup = self._rollup(queue, at_ms)
        minute = (at_ms - rollup.hour_ms) // MINUTE_MS
        rollup.minutes[minute] = rollup.minutes.get(minute, 0) + 1
        rollup.failures[minute] = rollup.failures.get(minute, 0) + 1
        cohort_minute = cohort_of(job)
        if cohort_minute is not None:
            self._cohort(cohort_minute, at_ms).failed += 1

    def count_jobs(self, jobs: int) -> None:
        """Adds an invocation's records to the write budget."""
        self._jobs += jobs

    def flush(self, now_ms: int, logger: Logger) -> None:
        """Writes when a flush is due; never raises (a failed write keeps its counts)."""
        if not self._due(now_ms):
            return
        rollup = self._take_rollup()
        cohorts = list(self._cohorts.values())
        self._cohorts.clear()
        self._cohorts_since_ms = None
        failure: Exception | None = None
        if rollup is not None:
            try:
                self._update(_rollup_update(rollup))
            except Exception as error:  # noqa: BLE001 - stats never fail a batch
                self._restore_rollup(rollup)
                failure = error
        for cohort in cohorts:
            try:
                self._write_cohort(cohort)
            except Exception as error:  # noqa: BLE001 - stats never fail a batch
                self._restore_cohort(cohort, now_ms)
                failure = error
        if failure is not None:
            logger.warn("could not write stats; kept for the next invocation", error=str(failure))

    def _due(self, now_ms: int) -> bool:
        writes = (1 if self._rollups else 0) + len(self._cohorts)
        if writes == 0:
            return False
        if self._writes == 0 or (self._writes + writes) * FLUSH_MIN_JOBS <= self._jobs:
            return True
        oldest = min([rollup.since_ms for rollup in self._rollups.values()] + ([self._cohorts_since_ms] if self._cohorts_since_ms is not None else []) + [now_ms])
        return now_ms - oldest >= FLUSH_MAX_AGE_MS

    def _rollup(self, queue: str, at_ms: int) -> _Rollup:
        hour = at_ms // HOUR_MS * HOUR_MS
        rollup = self._rollups.setdefault((hour, queue), _Rollup(hour, queue, at_ms))
        rollup.since_ms = min(rollup.since_ms, at_ms)
        return rollup

    def _cohort(self, minute_ms: int, at_ms: int) -> _Cohort:
        self._cohorts_since_ms = min(self._cohorts_since_ms if self._cohorts_since_ms is not None else at_ms, at_ms)
        return self._cohorts.setdefault(minute_ms, _Cohort(minute_ms))

    def _take_rollup(self) -> _Rollup | None:
        """The item with the most jobs, or the oldest among equals."""
        if not self._rollups:
            return None
        key = max(self._rollups, key=lambda k: (sum(self._rollups[k].minutes.values()), -self._rollups[k].since_ms))
        return self._rollups.pop(key)

    def _restore_rollup(self, rollup: _Rollup) -> None:
        known = self._rollups.get((rollup.hour_ms, rollup.queue))
        if known is None:
            self._rollups[(rollup.hour_ms, rollup.queue)] = rollup
            return
        for minute, n in rollup.minutes.items():
            known.minutes[minute] = known.minutes.get(minute, 0) + n
        for minute, n in rollup.failures.items():
            known.failures[minute] = known.failures.get(minute, 0) + n
        if rollup.lag is not None and (known.lag is None or rollup.lag[1] > known.lag[1]):
            known.lag = rollup.lag
        for tier, lag in rollup.tier_lags.items():
            known_tier = known.tier_lags.get(tier)
            if known_tier is None or lag[1] > known_tier[1]:
                known.tier_lags[tier] = lag
        known.since_ms = min(known.since_ms, rollup.since_ms)

    def _restore_cohort(self, cohort: _Cohort, now_ms: int) -> None:
        known = self._cohort(cohort.minute_ms, now_ms)
        known.started += cohort.started
        known.done += cohort.done
        known.failed += cohort.failed
        for bucket, n in cohort.buckets.items():
            known.buckets[bucket] = known.buckets.get(bucket, 0) + n
        if cohort.max is not None:
            known.max = max(known.max or 0, cohort.max)

    def _update(self, request: dict[str, Any], **extra: Any) -> dict[str, Any]:
        output: dict[str, Any] = self._dynamodb().update_item(TableName=self._table, **request, **extra)
        self._writes += 1
        return output

    def _write_cohort(self, cohort: _Cohort) -> None:
        output = self._update(_cohort_update(cohort), ReturnValues="UPDATED_NEW")
        stored = ((output.get("Attributes") or {}).get("mx") or {}).get("N")
        if cohort.max is None or stored is None or int(stored) >= cohort.max:
            return
        # Only a new maximum costs this second write; another writer's higher one wins the condition.
        try:
            self._update({
                "Key": {"pk": {"S": "cohorts"}, "sk": {"S": _key13(cohort.minute_ms)}},
                "UpdateExpression": "SET #mx = :mx",
                "ConditionExpression": "#mx < :mx",
                "ExpressionAttributeNames": {"#mx": "mx"},
                "ExpressionAttributeValues": {":mx": {"N": str(cohort.max)}},
            })
        except Exception:  # noqa: BLE001 - the counts are written; the maximum is best effort
            pass


def _rollup_update(rollup: _Rollup) -> dict[str, Any]:
    names = {"#ttl": "ttl"}
    values: dict[str, Any] = {":ttl": {"N": str(rollup.hour_ms // 1000 + ROLLUP_TTL_DAYS * 86_400)}}
    adds: list[str] = []

    def add(name: str, n: int) -> None:
        if n > 0:
            names[f"#{name}"] = name
            values[f":{name}"] = {"N": str(n)}
            adds.append(f"#{name} :{name}")

    add("p", sum(rollup.minutes.values()))
    add("f", sum(rollup.failures.values()))
    for minute in sorted(set(rollup.minutes) | set(rollup.failures)):
        add(f"p{minute:02d}", rollup.minutes.get(minute, 0))
        add(f"f{minute:02d}", rollup.failures.get(minute, 0))
    sets = ["#ttl = :ttl"]
    if rollup.lag is not None:
        names.update({"#lag": "lag", "#lagAt": "lag_at"})
        values.update({":lag": {"N": str(rollup.lag[0])}, ":lagAt": {"N": str(rollup.lag[1])}})
        sets += ["#lag = :lag", "#lagAt = :lagAt"]
    for index, (tier, lag) in enumerate(rollup.tier_lags.items()):
        names[f"#tl{index}"] = f"tlag.{tier}"
        values[f":tl{index}"] = {"L": [{"N": str(lag[0])}, {"N": str(lag[1])}]}
        sets.append(f"#tl{index} = :tl{index}")
    return {
        "Key": {"pk": {"S": "stats"}, "sk": {"S": f"{_key13(rollup.hour_ms)}#w#{rollup.queue}"}},
        "UpdateExpression": f"SET {', '.join(sets)}" + (f" ADD {', '.join(adds)}" if adds else ""),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _cohort_update(cohort: _Cohort) -> dict[str, Any]:
    names = {"#ttl": "ttl"}
    values: dict[str, Any] = {":ttl": {"N": str(cohort.minute_ms // 1000 + COHORT_TTL_DAYS * 86_400)}}
    sets = ["#ttl = :ttl"]
    adds: list[str] = []

    def add(name: str, attribute: str, n: int) -> None:
        if n:
            names[f"#{name}"] = attribute
            values[f":{name}"] = {"N": str(n)}
            adds.append(f"#{name} :{name}")

    add("s", "s", cohort.started)
    add("d", "d", cohort.done)
    add("f", "f", cohort.failed)
    for bucket, n in sorted(cohort.buckets.items()):
        add(f"h{bucket}", f"h{bucket}", n)
    if cohort.max is not None:
        names["#mx"] = "mx"
        values[":mx"] = {"N": str(cohort.max)}
        sets.append("#mx = if_not_exists(#mx, :mx)")
    return {
        "Key": {"pk": {"S": "cohorts"}, "sk": {"S": _key13(cohort.minute_ms)}},
        "UpdateExpression": f"SET {', '.join(sets)}" + (f" ADD {', '.join(adds)}" if adds else ""),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }

