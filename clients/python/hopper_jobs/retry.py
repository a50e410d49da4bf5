"""A retry due within 15 minutes, sent back to its queue by the worker itself, as the TypeScript
worker does (lib/retry/plan.ts ``planFailure``): the same ``failure``, the same ``DelaySeconds``, the
same jitter. The jitter is seeded by ``<jid>#<retry_count>`` with the TypeScript code's generator
(FNV-1a of the UTF-16 code units, then Mulberry32), so both workers and the retry function compute
the same delay for the same failure. A job of a batch, a job due later (the retry set) and a job out
of retries (the dead set) take the retries queue's way instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from .job import Job, iso_time

#: SQS cannot delay a message by more than 15 minutes; longer waits go to the retry set.
MAX_SQS_DELAY_SECONDS = 900

_MASK = 0xFFFFFFFF


def fnv1a(text: str) -> int:
    """FNV-1a (32 bits) of the UTF-16 code units of ``text``, as lib/storage/keys.ts computes it."""
    encoded = text.encode("utf-16-le", "surrogatepass")
    value = 0x811C9DC5
    for index in range(0, len(encoded), 2):
        value ^= encoded[index] | (encoded[index + 1] << 8)
        value = (value * 0x01000193) & _MASK
    return value


def _imul(a: int, b: int) -> int:
    """``Math.imul`` on unsigned 32-bit values, unsigned result."""
    return (a * b) & _MASK


def mulberry32(seed: int) -> Callable[[], float]:
    """Mulberry32, as lib/common/random.ts: numbers in [0, 1), the same sequence for the same seed."""
    state = seed & _MASK

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _MASK
        return ((t ^ (t >> 14)) & _MASK) / 4_294_967_296

    return draw


def random_from_text(text: str) -> Callable[[], float]:
    """A generator seeded from a string, for jitter that a redelivery computes again."""
    return mulberry32(fnv1a(text))


def retry_delay_seconds(retry_count: int, draw: Callable[[], float]) -> int:
    """Sidekiq's backoff: ``count⁴ + 15 + rand(10 · (count + 1))`` seconds."""
    return retry_count**4 + 15 + int(draw() * 10 * (retry_count + 1))


def near_retry(job: Job, error: Mapping[str, Any], now: datetime) -> tuple[Job, int] | None:
    """The job to send back to its queue and its ``DelaySeconds``, when its next attempt is due within
    15 minutes; ``None`` when the failure must go to the retries queue.

    ``error`` is the described error (``errtype``, ``message``, ``backtrace``); ``job`` is the job as
    it ran (its ``failure`` is the previous one, if any).
    """
    if (job.get("custom") or {}).get("bid") is not None:
        # The retry function marks a batch job's failure in its batch.
        return None
    previous = job.get("failure") or {}
    retry_count = previous.get("retry_count", -1) + 1
    if retry_count >= job["retry"]:
        return None
    delay = retry_delay_seconds(retry_count, random_from_text(f"{job['jid']}#{retry_count}"))
    if delay > MAX_SQS_DELAY_SECONDS:
        return None
    failure: dict[str, Any] = {
        "retry_count": retry_count,
        "failed_at": iso_time(now),
        "next_at": iso_time(now + timedelta(seconds=delay)),
        "message": error["message"],
        "errtype": error["errtype"],
    }
    if error.get("backtrace"):
        failure["backtrace"] = error["backtrace"]
    # The cohort of the job stays that of its first attempt.
    first_enqueued_at = previous.get("first_enqueued_at") or job.get("enqueued_at")
    if first_enqueued_at is not None:
        failure["first_enqueued_at"] = first_enqueued_at
    return {**job, "failure": failure, "enqueued_at": iso_time(now)}, delay
