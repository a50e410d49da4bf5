"""A limiter's spec, validated as lib/limiters/spec.ts validates it, with its messages."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidLimiterSpecError

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
