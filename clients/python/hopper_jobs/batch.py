"""What a worker does for jobs of batches (lib/batch): record a success in the job's batch, and
run a batch's callback job once.

A batch item (``batch#<bid>`` / ``batch``) counts its jobs; each job has an item
(``batch#<bid>`` / ``job#<jid>``) with its status. An invocation's successes in one batch move
both in one transaction (per 99 jobs), each job's conditional on the status it had, so a success
delivered twice counts once. The batch
function (TypeScript, on the table's stream) fires the callbacks when the counters say so. A
callback job is claimed per SQS message before it runs (``<event>_run_by``) and marked done after
(``<event>_done_at``), so a callback the batch function sent twice runs once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
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


#: Jobs per transaction: DynamoDB takes 100 items, one of them the batch item (lib/batch/plan.ts).
JOBS_PER_TRANSACTION = 99


@dataclass
class RecordedSuccesses:
    """What :func:`record_successes` did: the jids it could not record, and why."""

    #: The batch no longer exists (its retention passed): nothing was recorded.
    batch_missing: bool = False
    #: Jobs that have no item in the batch.
    not_in_batch: list[str] = field(default_factory=list)


def record_successes(dynamodb: Any, table: str, bid: str, jobs: list[Job], now: datetime, sleep: Any = time.sleep) -> RecordedSuccesses:
    """Records that ``jobs`` of batch ``bid`` succeeded: one transaction per 99 jobs (the batch's
    counters, summed, and each job's status, conditional on its previous status), as the TypeScript
    worker records an invocation's successes (lib/batch/store.ts ``record``). A job whose status
    another delivery moved is planned again from the status the cancellation returned; a success
    after a success changes nothing, so a success delivered twice counts once.

    Raises:
        BatchContentionError: when concurrent writes cancelled a transaction every time.
    """
    outcome = RecordedSuccesses()
    # One change per jid (a job delivered twice in one invocation counts once).
    changes = list({job["jid"]: ("pending" if job.get("failure") is None else "failed") for job in jobs}.items())
    for start in range(0, len(changes), JOBS_PER_TRANSACTION):
        if not _record_chunk(dynamodb, table, bid, changes[start : start + JOBS_PER_TRANSACTION], now, sleep, outcome):
            outcome.batch_missing = True
            break
    return outcome


def _record_chunk(dynamodb: Any, table: str, bid: str, changes: list[tuple[str, str]], now: datetime, sleep: Any, outcome: RecordedSuccesses) -> bool:
    """One transaction for ``changes`` (jid, previous status), planned again until it applies or
    nothing is left to move; False when the batch is missing."""
    contended = 0
    while True:
        # A success after a success (or from a status no success leaves) moves nothing.
        changes = [(jid, status) for jid, status in changes if status in SUCCESS_DELTAS]
        if not changes:
            return True
        try:
            dynamodb.transact_write_items(TransactItems=_success_items(table, bid, changes, now))
            return True
        except Exception as error:  # noqa: BLE001 - cancellations are read; anything else is raised
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _code(reasons, 0) == "ConditionalCheckFailed":
                return False
            replanned: list[tuple[str, str]] = []
            moved = False
            for index, (jid, status) in enumerate(changes):
                if _code(reasons, index + 1) != "ConditionalCheckFailed":
                    replanned.append((jid, status))
                    continue
                moved = True
                held = ((reasons[index + 1].get("Item") or {}).get("status") or {}).get("S")
                if held is None:
                    outcome.not_in_batch.append(jid)
                else:
                    # Planned again from the status it has now (another delivery moved it).
                    replanned.append((jid, held))
            changes = replanned
            if moved:
                continue
            if not any(reason.get("Code") in CONTENTION_CODES for reason in reasons):
                raise
            contended += 1
            if contended >= MAX_CONTENDED_ATTEMPTS:
                raise BatchContentionError(f"batch {bid}: {len(changes)} successes were not recorded after {contended} contended attempts") from error
            sleep(random.random() * min(MAX_BACKOFF_MS, 10 * 2**contended) / 1000)


def _success_items(table: str, bid: str, changes: list[tuple[str, str]], now: datetime) -> list[dict[str, Any]]:
    totals: dict[str, int] = {}
    for _, status in changes:
        for counter, delta in SUCCESS_DELTAS[status].items():
            totals[counter] = totals.get(counter, 0) + delta
    moved = {counter: delta for counter, delta in totals.items() if delta != 0}
    names = {f"#c_{counter}": counter for counter in moved}
    values = {f":c_{counter}": {"N": str(delta)} for counter, delta in moved.items()}
    adds = ", ".join(f"#c_{counter} :c_{counter}" for counter in moved)
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
        *(
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
            }
            for jid, status in changes
        ),
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
