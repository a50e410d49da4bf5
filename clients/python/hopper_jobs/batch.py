"""What a worker does for jobs of batches (lib/batch): record a success in the job's batch, and
run a batch's callback job once.

A batch item (``batch#<bid>`` / ``batch``) counts its jobs; each job has an item
(``batch#<bid>`` / ``job#<jid>``) with its status. A success moves both in one transaction,
conditional on the status the job had, so a success delivered twice counts once. The batch
function (TypeScript, on the table's stream) fires the callbacks when the counters say so. A
callback job is claimed per SQS message before it runs (``<event>_run_by``) and marked done after
(``<event>_done_at``), so a callback the batch function sent twice runs once.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Literal

from .errors import HopperError, aws_error_code
from .job import Job, iso_time
from .state import is_condition_failure

BATCH_PREFIX = "batch#"
BATCH_SORT_KEY = "batch"
JOB_SORT_KEY_PREFIX = "job#"
#: The custom field that marks Hopper's own callback jobs (lib/batch/callbacks.ts ``CALLBACK_FIELD``).
CALLBACK_FIELD = "callback"
CALLBACK_EVENTS = ("complete", "success", "death")

#: How a success moves the batch's counters, by the status the job had (lib/batch/model.ts ``TRANSITIONS``).
SUCCESS_DELTAS: dict[str, dict[str, int]] = {
    "pending": {"pending": -1, "succeeded": 1},
    "failed": {"failures": -1, "succeeded": 1},
    # A dead job retried by hand that then succeeds.
    "dead": {"failures": -1, "dead": -1, "succeeded": 1},
}

#: Cancellation codes worth waiting out: a concurrent transaction on the same items, or throttling.
CONTENTION_CODES = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
MAX_CONTENDED_ATTEMPTS = 8
MAX_BACKOFF_MS = 1_000

SuccessOutcome = Literal["applied", "already", "not-in-batch", "batch-missing"]
ClaimVerdict = Literal["run", "duplicate", "done"]


class BatchContentionError(HopperError):
    """The success could not be recorded: other writes to the batch kept cancelling the transaction."""


def batch_key(bid: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{BATCH_PREFIX}{bid}"}, "sk": {"S": BATCH_SORT_KEY}}


def batch_job_key(bid: str, jid: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{BATCH_PREFIX}{bid}"}, "sk": {"S": f"{JOB_SORT_KEY_PREFIX}{jid}"}}


def batch_of(job: Job) -> str | None:
    """The bid of the batch ``job`` belongs to, if any."""
    bid = (job.get("custom") or {}).get("bid")
    return bid if isinstance(bid, str) and bid else None


def callback_of(job: Job) -> tuple[str, str] | None:
    """``(bid, event)`` when ``job`` is one of Hopper's batch callback jobs (its jid is the one
    Hopper gives them, so a producer cannot suppress a job by marking it)."""
    marker = (job.get("custom") or {}).get(CALLBACK_FIELD)
    if not isinstance(marker, dict):
        return None
    bid, event = marker.get("bid"), marker.get("event")
    if not isinstance(bid, str) or event not in CALLBACK_EVENTS or job["jid"] != f"{bid}-{event}":
        return None
    return bid, event


def record_success(dynamodb: Any, table: str, bid: str, job: Job, now: datetime, sleep: Any = time.sleep) -> SuccessOutcome:
    """Records that ``job`` of batch ``bid`` succeeded (one transaction: the batch's counters and
    the job's status, conditional on its previous status). Idempotent: a success after a success
    changes nothing.

    Raises:
        BatchContentionError: when concurrent writes cancelled it every time.
    """
    status = "pending" if job.get("failure") is None else "failed"
    contended = 0
    while True:
        deltas = SUCCESS_DELTAS.get(status)
        if deltas is None:
            return "already"
        try:
            dynamodb.transact_write_items(TransactItems=_success_items(table, bid, job["jid"], status, deltas, now))
            return "applied"
        except Exception as error:  # noqa: BLE001 - cancellations are read; anything else is raised
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _code(reasons, 0) == "ConditionalCheckFailed":
                return "batch-missing"
            if _code(reasons, 1) == "ConditionalCheckFailed":
                item = reasons[1].get("Item") if len(reasons) > 1 else None
                held = (item or {}).get("status", {}).get("S")
                if held is None:
                    return "not-in-batch"
                # Planned again from the status it has now (another delivery moved it).
                status = held
                continue
            if not any(reason.get("Code") in CONTENTION_CODES for reason in reasons):
                raise
            contended += 1
            if contended >= MAX_CONTENDED_ATTEMPTS:
                raise BatchContentionError(f"batch {bid}: the success of {job['jid']} was not recorded after {contended} contended attempts") from error
            sleep(random.random() * min(MAX_BACKOFF_MS, 10 * 2**contended) / 1000)


def _success_items(table: str, bid: str, jid: str, status: str, deltas: dict[str, int], now: datetime) -> list[dict[str, Any]]:
    names = {f"#c_{counter}": counter for counter in deltas}
    values = {f":c_{counter}": {"N": str(delta)} for counter, delta in deltas.items()}
    adds = ", ".join(f"#c_{counter} :c_{counter}" for counter in deltas)
    return [
        {
            "Update": {
                "TableName": table,
                "Key": batch_key(bid),
                "UpdateExpression": f"ADD {adds}",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": batch_job_key(bid, jid),
                "UpdateExpression": "SET #status = :to, #updated_at = :now",
                "ConditionExpression": "#status = :from",
                "ExpressionAttributeNames": {"#status": "status", "#updated_at": "updated_at"},
                "ExpressionAttributeValues": {":to": {"S": "succeeded"}, ":from": {"S": status}, ":now": {"S": iso_time(now)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]


def claim_callback_run(dynamodb: Any, table: str, bid: str, event: str, message_id: str, *, retry: bool) -> ClaimVerdict:
    """Claims the run of a callback job for SQS message ``message_id``: ``"run"`` when this message
    runs it, ``"duplicate"`` when another message holds the run, ``"done"`` when it already ran. A
    retry (the job failed before) takes the run over unless the job is done."""
    condition = "attribute_exists(pk) AND attribute_not_exists(#done)"
    if not retry:
        condition += " AND (attribute_not_exists(#run) OR #run = :message)"
    try:
        dynamodb.update_item(
            TableName=table,
            Key=batch_key(bid),
            UpdateExpression="SET #run = :message",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#run": f"{event}_run_by", "#done": f"{event}_done_at"},
            ExpressionAttributeValues={":message": {"S": message_id}},
        )
        return "run"
    except Exception as error:  # noqa: BLE001 - only a failed condition is expected
        if not is_condition_failure(error):
            raise
    # boto3 before 1.28 cannot ask for the item with the failure: read it.
    item = dynamodb.get_item(TableName=table, Key=batch_key(bid), ConsistentRead=True).get("Item")
    if item is None:
        # The batch is gone (its retention passed): nothing can tell a copy apart, so it runs.
        return "run"
    return "done" if f"{event}_done_at" in item else "duplicate"


def mark_callback_done(dynamodb: Any, table: str, bid: str, event: str, now: datetime) -> None:
    """Marks a callback job done: no copy of it runs after this. Marking again changes nothing."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=batch_key(bid),
            UpdateExpression="SET #done = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#done)",
            ExpressionAttributeNames={"#done": f"{event}_done_at"},
            ExpressionAttributeValues={":now": {"S": iso_time(now)}},
        )
    except Exception as error:  # noqa: BLE001 - only a failed condition is expected
        if not is_condition_failure(error):
            raise


def _cancellation_reasons(error: Exception) -> list[dict[str, Any]] | None:
    if aws_error_code(error) != "TransactionCanceledException":
        return None
    response = getattr(error, "response", {})
    reasons = response.get("CancellationReasons") if isinstance(response, dict) else None
    return list(reasons) if isinstance(reasons, list) else []


def _code(reasons: list[dict[str, Any]], index: int) -> str | None:
    return reasons[index].get("Code") if index < len(reasons) else None
