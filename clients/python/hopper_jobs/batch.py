"""What a worker does for jobs of batches (lib/batch): record a success in the job's batch, and
run a batch's callback job once.

A batch item (``batch#<bid>`` / ``batch``) counts its jobs; a job that finished has an item
(``batch#<bid>#<shard>`` / ``job#<jid>``, the shard a hash of the jid) with its status. A success is one conditional write on the job's
item, so a success delivered twice writes once; the batch function (TypeScript, on the table's
stream) counts each write into the batch's counters and fires the callbacks when they say so. A
callback job is claimed per SQS message before it runs (``<event>_run_by``) and marked done after
(``<event>_done_at``), so a callback the batch function sent twice runs once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .job import Job, iso_time
from .retry import fnv1a
from .state import is_condition_failure

BATCH_PREFIX = "batch#"
BATCH_SORT_KEY = "batch"
JOB_SORT_KEY_PREFIX = "job#"
#: Partition keys a batch's job items are spread over (lib/storage/keys.ts ``BATCH_JOB_SHARDS``).
BATCH_JOB_SHARDS = 32
#: The custom field that marks Hopper's own callback jobs (lib/batch/callbacks.ts ``CALLBACK_FIELD``).
CALLBACK_FIELD = "callback"
CALLBACK_EVENTS = ("complete", "success", "death")

#: The statuses a success may be written over (lib/batch/plan.ts ``OUTCOME_FROM``): a job with no
#: item yet is pending.
SUCCESS_FROM = ("pending", "failed", "dead")
#: The job item attribute a success increments, so the batch function counts it (lib/batch/model.ts ``TALLY_ATTRIBUTE``).
TALLY_ATTRIBUTE = "tally"
#: Days a job item is kept before DynamoDB's TTL deletes it (lib/batch/store.ts ``retentionDays``).
RETENTION_DAYS = 30

ClaimVerdict = Literal["run", "duplicate", "done"]


def batch_key(bid: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{BATCH_PREFIX}{bid}"}, "sk": {"S": BATCH_SORT_KEY}}


def batch_job_key(bid: str, jid: str) -> dict[str, dict[str, str]]:
    """The key of ``jid``'s item in batch ``bid``, in the jid's shard (lib/storage/keys.ts ``batchJobKey``)."""
    shard = fnv1a(jid) % BATCH_JOB_SHARDS
    return {"pk": {"S": f"{BATCH_PREFIX}{bid}#{shard}"}, "sk": {"S": f"{JOB_SORT_KEY_PREFIX}{jid}"}}


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




@dataclass
class RecordedSuccesses:
    """What :func:`record_successes` did."""

    #: Jobs whose success was written now (each counted once by the batch function).
    recorded: list[str] = field(default_factory=list)
    #: Jobs that had succeeded before (a duplicate delivery): nothing written.
    duplicates: list[str] = field(default_factory=list)


def record_successes(dynamodb: Any, table: str, bid: str, jobs: list[Job], now: datetime, ttl_days: int = RETENTION_DAYS) -> RecordedSuccesses:
    """Records that ``jobs`` of batch ``bid`` succeeded, as the TypeScript worker does
    (lib/batch/plan.ts ``planOutcome``): one conditional write per job item, setting its status
    and incrementing its ``tally``. The batch function counts each such write into the batch's
    counters from the stream, from the status the old image held. A success after a success fails
    the condition and writes nothing, so a success delivered twice counts once. Throttled writes
    are retried by the SDK's own retries; any other error is raised (the caller hands the records
    back, and the jobs run again).
    """
    outcome = RecordedSuccesses()
    stamp = iso_time(now)
    ttl = str(int(now.timestamp()) + ttl_days * 86_400)
    # One write per jid (a job delivered twice in one invocation counts once).
    for jid in dict.fromkeys(job["jid"] for job in jobs):
        try:
            dynamodb.update_item(
                TableName=table,
                Key=batch_job_key(bid, jid),
                UpdateExpression=(
                    "SET #status = :to, #jid = :jid, #updated_at = :now, #created_at = if_not_exists(#created_at, :now), "
                    "#ttl = if_not_exists(#ttl, :ttl) ADD #tally :one"
                ),
                ConditionExpression="attribute_not_exists(#status) OR #status IN (:from0, :from1, :from2)",
                ExpressionAttributeNames={
                    "#status": "status", "#jid": "jid", "#updated_at": "updated_at", "#created_at": "created_at", "#ttl": "ttl", "#tally": TALLY_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":to": {"S": "succeeded"}, ":jid": {"S": jid}, ":now": {"S": stamp}, ":ttl": {"N": ttl}, ":one": {"N": "1"},
                    **{f":from{index}": {"S": status} for index, status in enumerate(SUCCESS_FROM)},
                },
            )
            outcome.recorded.append(jid)
        except Exception as error:  # noqa: BLE001 - only a failed condition is expected
            if not is_condition_failure(error):
                raise
            outcome.duplicates.append(jid)
    return outcome


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

