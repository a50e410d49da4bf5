"""``custom.throttle: { key, limit, per }``, as lib/job/throttle.ts validates it: of the jobs carrying
one key, at most ``limit`` start per ``per`` (bursts of up to ``limit``). A worker enforces it with a
``leaky`` limiter named ``hopper.throttle:<key>`` (flow_gate.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidJobError
from .job import describe
from .limiter_spec import COUNTER_LIMIT_MAX, INTERVAL_MAX_SECONDS, NAMED_INTERVALS, _is_int

#: A key is a limiter name's characters; the prefix plus the key stays within a name's 200.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:@/+=-]{1,160}$")
#: The prefix of the limiter enforcing a throttle.
THROTTLE_LIMITER_PREFIX = "hopper.throttle:"


def validate_throttle(value: object) -> dict[str, Any]:
    """Checks ``value`` as ``custom.throttle``; raises InvalidJobError naming the field."""
    if not isinstance(value, Mapping):
        raise InvalidJobError("custom.throttle", "an object { key, limit, per }", describe(value))
    key, limit, per = value.get("key"), value.get("limit"), value.get("per")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise InvalidJobError("custom.throttle.key", "a string of 1 to 160 letters, digits or _ . : @ / + = -", describe(key, "key" in value))
    if not (_is_int(limit) and 1 <= limit <= COUNTER_LIMIT_MAX):
        raise InvalidJobError("custom.throttle.limit", f"an integer from 1 to {COUNTER_LIMIT_MAX}", describe(limit, "limit" in value))
    if not (isinstance(per, str) and per in NAMED_INTERVALS) and not (_is_int(per) and 1 <= per <= INTERVAL_MAX_SECONDS):
        raise InvalidJobError(
            "custom.throttle.per", f"'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to {INTERVAL_MAX_SECONDS}", describe(per, "per" in value),
        )
    return dict(value)


def throttle_of(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``custom.throttle`` of ``job`` (validated with the job), or None."""
    value = (job.get("custom") or {}).get("throttle")
    return value if isinstance(value, dict) else None
