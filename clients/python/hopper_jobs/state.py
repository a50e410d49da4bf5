"""The state-table items a Python worker writes for ``ctx.once`` and tracked jobs.

The same items, with the same conditions, as the TypeScript worker (docs/protocol.md, "Steps that
run once" and lib/storage/job-states.ts), so that a job may run on either and ``Client.status``,
``GET /v1/jobs/{jid}`` and ``hopper job`` read what either wrote.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from .deadline import NO_DEADLINE_MS
from .errors import HopperError, OnceStepBusyError, OnceStepError, aws_error_code
from .logger import Logger

T = TypeVar("T")

#: Most characters of a step key.
ONCE_MAX_KEY_LENGTH = 200
#: Most bytes of a step's value, and of a kept result, as JSON.
MAX_KEPT_BYTES = 32 * 1024
#: How long a step is held when the invocation has no deadline (a script, a test): Lambda's longest.
WITHOUT_DEADLINE_MS = 15 * 60_000
#: Days a done step is kept beyond the dead set's retention.
ONCE_STEP_EXTRA_DAYS = 30
#: The dead set's retention when ``HOPPER_DEAD_TTL_DAYS`` is not set.
DEAD_SET_DEFAULT_DAYS = 180
#: Days a tracked job's state is kept after its last write.
JOB_STATE_TTL_DAYS = 7
#: Least milliseconds between two progress writes of one job.
PROGRESS_INTERVAL_MS = 3_000
#: Most characters of a progress message.
MAX_MESSAGE_LENGTH = 256


def is_condition_failure(error: BaseException) -> bool:
    """True for DynamoDB's ``ConditionalCheckFailedException`` (a botocore ``ClientError``)."""
    return aws_error_code(error) == "ConditionalCheckFailedException"


def kept_json(value: object, what: str) -> tuple[str | None, str | None]:
    """``value`` as JSON within :data:`MAX_KEPT_BYTES`: ``(json, None)``, or ``(None, why it cannot be kept)``."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        return None, f"{what} is not JSON ({error})"
    size = len(text.encode("utf-8"))
    if size > MAX_KEPT_BYTES:
        return None, f"{what} is {size:,} bytes as JSON, over the {MAX_KEPT_BYTES:,} kept"
    return text, None


class OnceSteps:
    """Runs steps of ``ctx.once`` against the state table: one item per job and step key."""

    def __init__(self, client: Callable[[], Any], table: str, ttl_days: int, now_ms: Callable[[], int]) -> None:
        #: Makes (or returns) the DynamoDB client on first use: a job that never calls once loads nothing.
        self.client = client
        self.table = table
        self.ttl_days = ttl_days
        self.now_ms = now_ms

    def run(self, jid: str, key: str, fn: Callable[[], T], remaining_ms: int, logger: Logger) -> T:
        """Runs ``fn`` once for ``jid`` and ``key``; see ``JobContext.once``."""
        if not isinstance(key, str) or not key or len(key) > ONCE_MAX_KEY_LENGTH:
            raise OnceStepError(str(key)[:40], f"the key must be a string of 1 to {ONCE_MAX_KEY_LENGTH} characters")
        owner = uuid.uuid4().hex
        now = self.now_ms()
        until = now + (remaining_ms if 0 <= remaining_ms < NO_DEADLINE_MS else WITHOUT_DEADLINE_MS)
        item_key = {"pk": {"S": f"once#{jid}"}, "sk": {"S": f"step#{key}"}}
        try:
            self.client().put_item(
                TableName=self.table,
                Item={**item_key, "state": {"S": "running"}, "owner": {"S": owner}, "until": {"N": str(until)}, "ttl": {"N": str(self._expiry())}},
                ConditionExpression="attribute_not_exists(#state) OR (#state = :running AND #until < :now)",
                ExpressionAttributeNames={"#state": "state", "#until": "until"},
                ExpressionAttributeValues={":running": {"S": "running"}, ":now": {"N": str(now)}},
            )
        except Exception as error:
            if not is_condition_failure(error):
                raise
            # Read, rather than ReturnValuesOnConditionCheckFailure: boto3 before 1.28 (Debian's
            # 1.26, for one) does not know that parameter. One read, for a step already taken.
            held = self.client().get_item(TableName=self.table, Key=item_key, ConsistentRead=True).get("Item")
            if held is None or held.get("state", {}).get("S") != "done":
                held_until = int((held or {}).get("until", {}).get("N", str(now + 1000)))
                raise OnceStepBusyError(key, max(1, math.ceil((held_until - now) / 1000))) from None
            if "unkept" in held:
                raise OnceStepError(key, f"it ran, but {held['unkept']['S']}") from None
            logger.info("step already done; its recorded value is used", step=key)
            result = held.get("result", {}).get("S")
            return json.loads(result) if result is not None else None  # type: ignore[return-value]

        try:
            value = fn()
        except Exception:
            try:
                self.client().delete_item(
                    TableName=self.table, Key=item_key,
                    ConditionExpression="#owner = :owner AND #state = :running",
                    ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
                    ExpressionAttributeValues={":owner": {"S": owner}, ":running": {"S": "running"}},
                )
            except Exception as release_error:  # noqa: BLE001 - free again at the invocation's deadline
                if not is_condition_failure(release_error):
                    logger.warn("step not given back after its failure; it is free again at this invocation's deadline", step=key, error=str(release_error))
            raise

        kept, unkept = kept_json(value, "its value")
        names = {"#state": "state", "#ttl": "ttl", "#until": "until", "#owner": "owner"}
        values: dict[str, Any] = {":done": {"S": "done"}, ":owner": {"S": owner}, ":ttl": {"N": str(self._expiry())}}
        update = "SET #state = :done, #ttl = :ttl"
        if kept is not None or unkept is not None:
            field = "result" if unkept is None else "unkept"
            names[f"#{field}"] = field
            values[":kept"] = {"S": kept if unkept is None else unkept}
            update += f", #{field} = :kept"
        try:
            self.client().update_item(
                TableName=self.table, Key=item_key, UpdateExpression=f"{update} REMOVE #until",
                ConditionExpression="#owner = :owner", ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            )
        except Exception as error:
            raise OnceStepError(key, "it ran, but its completion could not be recorded, so the job is not run again on its own") from error
        if unkept is not None:
            raise OnceStepError(key, f"it ran, but {unkept}")
        return json.loads(kept) if kept is not None else None  # type: ignore[return-value]

    def _expiry(self) -> int:
        return self.now_ms() // 1000 + self.ttl_days * 86_400


class JobTracker:
    """The tracking of one attempt of a job with ``custom.track`` or ``custom.result``.

    Progress is coalesced to one write per :data:`PROGRESS_INTERVAL_MS` and never goes down; a
    tracking write that fails is logged and never fails the job.
    """

    def __init__(self, client: Callable[[], Any], table: str, job: dict[str, Any], now_ms: Callable[[], int], logger: Logger) -> None:
        self.client = client
        self.table = table
        self.job = job
        self.now_ms = now_ms
        self.logger = logger
        self.last_write_ms = -math.inf
        self.highest = -1.0
        self.pending: tuple[float, str | None] | None = None

    def start(self) -> None:
        attempt = (self.job.get("failure") or {}).get("retry_count", -1) + 2
        self._quietly("tracking: start not recorded", {
            "state": {"S": "running"}, "jobtype": {"S": self.job["jobtype"]}, "queue": {"S": self.job["queue"]},
            "attempt": {"N": str(attempt)}, "started_at": {"S": self._iso()},
        }, remove=["finished_at", "error"])

    def progress(self, percent: float, message: str | None = None) -> None:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not math.isfinite(percent) or percent < 0 or percent > 100:
            raise HopperError(f"ctx.progress takes a percentage from 0 to 100, but {percent!r} was provided")
        if percent < self.highest:
            return
        self.highest = percent
        self.pending = (percent, None if message is None else str(message)[:MAX_MESSAGE_LENGTH])
        now = self.now_ms()
        if now - self.last_write_ms < PROGRESS_INTERVAL_MS:
            return
        self.last_write_ms = now
        self._write_pending()

    def succeeded(self, value: object) -> None:
        sets: dict[str, Any] = {"state": {"S": "succeeded"}, "progress": {"N": "100"}, "finished_at": {"S": self._iso()}}
        remove: list[str] = []
        if (self.job.get("custom") or {}).get("result") is True:
            kept, unkept = kept_json(value, "the result")
            if unkept is not None:
                sets["result_error"] = {"S": unkept}
            if kept is not None:
                sets["result"] = {"S": kept}
            else:
                remove.append("result")
        else:
            remove.append("result")
        self._quietly("tracking: success not recorded", sets, remove=remove)

    def already_succeeded(self) -> None:
        """A copy of a job that already finished (an iterating job's): its state goes back to
        succeeded, keeping the result the finishing run kept."""
        self._quietly("tracking: success not recorded", {"state": {"S": "succeeded"}, "progress": {"N": "100"}, "finished_at": {"S": self._iso()}})

    def failed(self, errtype: str, message: str) -> None:
        if self.pending is not None:
            self._write_pending()
        error = json.dumps({"errtype": errtype, "message": message}, separators=(",", ":"), ensure_ascii=False)
        self._quietly("tracking: failure not recorded", {"state": {"S": "failed"}, "error": {"S": error}, "finished_at": {"S": self._iso()}})

    def _write_pending(self) -> None:
        if self.pending is None:
            return
        percent, message = self.pending
        self.pending = None
        sets: dict[str, Any] = {"progress": {"N": _number(percent)}}
        if message is not None:
            sets["message"] = {"S": message}
        self._quietly("tracking: progress not recorded", sets, condition="attribute_not_exists(#progress) OR #progress <= :progress")

    def _quietly(self, what: str, sets: dict[str, Any], remove: list[str] | None = None, condition: str | None = None) -> None:
        names = {"#ttl": "ttl", "#updated_at": "updated_at"}
        values: dict[str, Any] = {":ttl": {"N": str(self.now_ms() // 1000 + JOB_STATE_TTL_DAYS * 86_400)}, ":updated_at": {"S": self._iso()}}
        clauses = ["#ttl = :ttl", "#updated_at = :updated_at"]
        for name, value in sets.items():
            names[f"#{name}"] = name
            values[f":{name}"] = value
            clauses.append(f"#{name} = :{name}")
        for name in remove or []:
            names[f"#{name}"] = name
        expression = f"SET {', '.join(clauses)}" + (f" REMOVE {', '.join(f'#{name}' for name in remove)}" if remove else "")
        request: dict[str, Any] = {
            "TableName": self.table, "Key": {"pk": {"S": f"jobstate#{self.job['jid']}"}, "sk": {"S": "state"}},
            "UpdateExpression": expression, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }
        if condition is not None:
            request["ConditionExpression"] = condition
        try:
            self.client().update_item(**request)
        except Exception as error:  # noqa: BLE001 - the job's outcome matters more than its display
            if condition is not None and is_condition_failure(error):
                return
            self.logger.warn(what, error=str(error))

    def _iso(self) -> str:
        from datetime import datetime, timezone

        ms = self.now_ms()
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: float) -> str:
    """A DynamoDB number as JavaScript prints it (``40``, not ``40.0``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
