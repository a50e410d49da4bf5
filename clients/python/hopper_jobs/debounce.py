"""Debounce by key (``custom.debounce``), with the TypeScript items (lib/debounce/plan.ts).

A producer names a debounced job in its key's item (``debounce#<key>`` / ``debounce``; the last
writer wins) and sends it due ``period`` seconds later. When it comes due, the worker reads the item
(strongly consistent) and runs the job only if the item still names it; after a success it deletes
the item on condition that it still does. A missing item means the key's job already ran to success
(this is a late copy): the job is not run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidJobError
from .job import describe, iso_time
from .state import DEAD_SET_DEFAULT_DAYS, is_condition_failure

#: Partition prefix and sort key of debounce items (lib/storage/keys.ts ``DEBOUNCE_KEYS``).
DEBOUNCE_PREFIX = "debounce#"
DEBOUNCE_SORT_KEY = "debounce"
#: Bounds of ``custom.debounce`` (lib/job/debounce.ts ``DEBOUNCE_LIMITS``).
KEY_MAX_LENGTH = 200
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:@/+=-]+$")
MAX_PERIOD_SECONDS = 604_800
#: Days an item outlives its job's due time (lib/debounce/plan.ts ``DEBOUNCE_ITEM_DAYS``).
ITEM_DAYS = DEAD_SET_DEFAULT_DAYS + 30
KEY_EXPECTED = f"a string of 1 to {KEY_MAX_LENGTH} letters, digits or _ - . : @ / + ="
PERIOD_EXPECTED = f"a number of seconds greater than 0 and at most {MAX_PERIOD_SECONDS}"


def validate_debounce(value: object) -> dict[str, Any]:
    """Checks ``value`` as ``custom.debounce``; raises InvalidJobError naming the field."""
    if not isinstance(value, Mapping):
        raise InvalidJobError("custom.debounce", "an object { key, period }", describe(value))
    key = value.get("key")
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX_LENGTH or not KEY_PATTERN.match(key):
        raise InvalidJobError("custom.debounce.key", KEY_EXPECTED, describe(key, "key" in value))
    period = value.get("period")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not math.isfinite(period) or not 0 < period <= MAX_PERIOD_SECONDS:
        raise InvalidJobError("custom.debounce.period", PERIOD_EXPECTED, describe(period, "period" in value))
    return dict(value)


def debounce_of(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``custom.debounce`` of ``job`` (validated with the job), or None."""
    value = (job.get("custom") or {}).get("debounce")
    return value if isinstance(value, dict) else None


def item_key(key: str) -> dict[str, dict[str, str]]:
    """The key of debounce key ``key``'s item."""
    return {"pk": {"S": f"{DEBOUNCE_PREFIX}{key}"}, "sk": {"S": DEBOUNCE_SORT_KEY}}


def due_after_period(at: datetime, period: float) -> datetime:
    """When a debounced job due at ``at`` (now, or its own ``at``) runs: one period later."""
    return at + timedelta(milliseconds=round(period * 1000))


def mark(dynamodb: Any, table: str, job: Mapping[str, Any], now: datetime, due: datetime) -> dict[str, Any] | None:
    """Names ``job`` in its key's item (one write); returns the item it replaced, for :func:`restore`."""
    spec = debounce_of(job)
    if spec is None:
        return None
    ttl = math.ceil(due.timestamp()) + ITEM_DAYS * 86_400
    answer = dynamodb.put_item(
        TableName=table,
        Item={
            **item_key(spec["key"]),
            "jid": {"S": job["jid"]},
            "jobtype": {"S": job["jobtype"]},
            "queue": {"S": job["queue"]},
            "marked_at": {"S": iso_time(now)},
            "due_at": {"S": iso_time(due)},
            "ttl": {"N": str(ttl)},
        },
        ReturnValues="ALL_OLD",
    )
    return answer.get("Attributes")


def restore(dynamodb: Any, table: str, job: Mapping[str, Any], replaced: dict[str, Any] | None) -> None:
    """Undoes the mark of ``job`` (it was not sent) while the item still names it."""
    spec = debounce_of(job)
    if spec is None:
        return
    try:
        if replaced is None:
            settle(dynamodb, table, job)
        else:
            dynamodb.put_item(TableName=table, Item=replaced, **_held_by(job))
    except Exception as error:  # noqa: BLE001 - only "a newer mark is there" is expected
        if not is_condition_failure(error):
            raise


def runs(dynamodb: Any, table: str, job: Mapping[str, Any]) -> bool:
    """Whether ``job`` is the last of its key (its item names it); a job without a debounce runs."""
    spec = debounce_of(job)
    if spec is None:
        return True
    answer = dynamodb.get_item(TableName=table, Key=item_key(spec["key"]), ConsistentRead=True, ProjectionExpression="#jid", ExpressionAttributeNames={"#jid": "jid"})
    item = answer.get("Item") or {}
    return (item.get("jid") or {}).get("S") == job["jid"]


def settle(dynamodb: Any, table: str, job: Mapping[str, Any]) -> bool:
    """Deletes the key's item after ``job`` succeeded if it still names ``job``; returns whether it did."""
    spec = debounce_of(job)
    if spec is None:
        return False
    try:
        dynamodb.delete_item(TableName=table, Key=item_key(spec["key"]), **_held_by(job))
        return True
    except Exception as error:  # noqa: BLE001 - only "not ours" is expected; anything else is raised
        if is_condition_failure(error):
            return False
        raise


def _held_by(job: Mapping[str, Any]) -> dict[str, Any]:
    return {"ConditionExpression": "#jid = :jid", "ExpressionAttributeNames": {"#jid": "jid"}, "ExpressionAttributeValues": {":jid": {"S": job["jid"]}}}
