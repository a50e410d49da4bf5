"""Unique jobs: the lock key a job holds (lib/unique/lock.ts) and its release by the worker.

A producer that enqueues a job with ``custom.unique_for`` puts a lock item keyed by the SHA-256 of
the canonical JSON (RFC 8785) of ``[jobtype, queue, args]``. The worker deletes it when the job
starts (``unique_until: "start"``) or succeeds (``"success"``, the default), on condition that the
lock is still this job's, so a later holder's lock is left alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

from .job import Job
from .state import is_condition_failure

#: Partition prefix and sort key of lock items (lib/storage/keys.ts ``UNIQUE_KEYS``).
UNIQUE_PREFIX = "unique#"
UNIQUE_SORT_KEY = "lock"


def unique_until(job: Job) -> str | None:
    """``"start"`` or ``"success"`` for a unique job, None for any other."""
    custom = job.get("custom") or {}
    if custom.get("unique_for") is None:
        return None
    return custom.get("unique_until") or "success"


def canonical_json(value: Any) -> str:
    """The RFC 8785 text of ``value``, as ``lib/job/canonical-json.ts`` writes it: members sorted by
    UTF-16 code units, no whitespace, numbers as ECMAScript writes them (``1.0`` is ``1``)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _ecmascript_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: str(key).encode("utf-16-be"))
        return "{" + ",".join(f"{json.dumps(str(key), ensure_ascii=False)}:{canonical_json(value[key])}" for key in keys) + "}"
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _ecmascript_number(number: float) -> str:
    """``Number.prototype.toString`` of a float: the shortest digits that read back the same
    (Python's ``repr`` finds the same ones), laid out by ECMAScript's rules: plain from 1e-6 up to
    1e21, with an exponent (``1e-7``, ``1.5e+21``) beyond."""
    if not math.isfinite(number):
        raise ValueError(f"{number} is not a finite number")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    shortest = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(str(digit) for digit in shortest.digits)
    k = len(digits)
    n = int(shortest.exponent) + k  # the value is 0.<digits> × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{head}e{'+' if e > 0 else '-'}{abs(e)}"


def lock_key(job: Job) -> dict[str, dict[str, str]]:
    """The key of the lock item of ``job``."""
    digest = hashlib.sha256(canonical_json([job["jobtype"], job["queue"], job["args"]]).encode("utf-8")).hexdigest()
    return {"pk": {"S": f"{UNIQUE_PREFIX}{digest}"}, "sk": {"S": UNIQUE_SORT_KEY}}


def release(dynamodb: Any, table: str, job: Job) -> bool:
    """Deletes the lock of ``job`` if it still holds it; returns whether it did."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key=lock_key(job),
            ConditionExpression="#jid = :jid",
            ExpressionAttributeNames={"#jid": "jid"},
            ExpressionAttributeValues={":jid": {"S": job["jid"]}},
        )
        return True
    except Exception as error:  # noqa: BLE001 - only "not ours" is expected; anything else is raised
        if is_condition_failure(error):
            return False
        raise
