"""What a worker writes in the state table around a run: the start mark of a job delivered again, the
claim of a batch callback job's run, the debounce verdict of a debounced job and its item after a
success, and after an invocation's successes their batches, unique locks and callback marks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from . import debounce
from .batch import batch_of, callback_of, claim_callback_run, mark_callback_done, record_successes
from .deadline import HandBack
from .job import Job
from .logger import Logger
from .unique import release as release_unique_lock, unique_until
from .worker_config import WorkerConfig


#: Days a start mark is kept (longer than SQS keeps a message).
START_MARK_TTL_DAYS = 15


def mark_start(job: Job, config: WorkerConfig, clock: Callable[[], datetime], logger: Logger) -> None:
    """Writes the start mark of a job delivered again (lib/storage/start-marks.ts); never raises."""
    if config.state_table is None:
        return
    retry_count = (job.get("failure") or {}).get("retry_count", -1)
    expires = int(clock().timestamp()) + START_MARK_TTL_DAYS * 86_400
    try:
        config.marks_client().put_item(
            TableName=config.state_table,
            Item={"pk": {"S": f"startmark#{job['jid']}"}, "sk": {"S": f"attempt#{retry_count}"}, "ttl": {"N": str(expires)}},
        )
    except Exception as error:  # noqa: BLE001 - without the mark a crash is let off, not lost
        logger.warn("start mark not written; a crash of this run may be let off as a throttled delivery", error=str(error))


def superseded(job: Job, config: WorkerConfig, logger: Logger) -> bool:
    """Whether a debounced job must not run: a later job of its key holds the key's item, or none does
    (the key's job ran to success). False for any other job, without a request. Raises HandBack when
    the item cannot be read: SQS delivers the record again."""
    spec = debounce.debounce_of(job)
    if spec is None or config.state_table is None:
        return False
    try:
        if debounce.runs(config.marks_client(), config.state_table, job):
            return False
    except Exception as error:  # noqa: BLE001 - without the verdict it must not run; SQS delivers it again
        logger.warn("could not read the debounce item; handed back to SQS", debounce_key=spec["key"], error=str(error))
        raise HandBack() from error
    logger.info("superseded by a later job of its debounce key; acknowledged without running", debounce_key=spec["key"])
    return True


def settle_debounce(job: Job, config: WorkerConfig, logger: Logger) -> None:
    """After a debounced job succeeded: deletes its key's item if it still names the job, so that a copy
    delivered again finds none and does not run. Never raises."""
    if debounce.debounce_of(job) is None or config.state_table is None:
        return
    try:
        if not debounce.settle(config.marks_client(), config.state_table, job):
            logger.info("a later job of the debounce key was enqueued while this one ran; it runs too")
    except Exception as error:  # noqa: BLE001 - the job ran; only a copy delivered again could run again
        logger.warn("debounce item not deleted; a copy of this job delivered again would run again", error=str(error))


def admit(job: Job, message_id: str, config: WorkerConfig, logger: Logger) -> bool:
    """Whether this delivery may run ``job``: false for a batch callback job that another SQS message
    runs (the batch function sent it twice) or that already ran. Any other job is admitted."""
    callback = callback_of(job)
    if callback is None or config.state_table is None:
        return True
    bid, event = callback
    try:
        verdict = claim_callback_run(config.marks_client(), config.state_table, bid, event, message_id, retry=job.get("failure") is not None)
    except Exception as error:  # noqa: BLE001 - without the claim it must not run; SQS delivers it again
        logger.warn("could not claim the run of a batch callback; handed back to SQS", error=str(error))
        raise HandBack() from error
    if verdict == "duplicate":
        logger.warn("batch callback job sent twice; this copy is not run", bid=bid, event=event, message_id=message_id)
    elif verdict == "done":
        logger.warn("batch callback job already ran; this copy is not run", bid=bid, event=event, message_id=message_id)
    return verdict == "run"


def after_successes(successes: list[tuple[str, Job]], config: WorkerConfig, clock: Callable[[], datetime], logger: Logger) -> set[str]:
    """After an invocation's successes (and expiries, which a batch counts as done, as the producer
    allowed): records them in their batches, one transaction per batch (per 99 jobs), releases locks
    held until success and marks batch callback jobs done. Returns the message ids to hand back: those
    whose batch could not be told, so that the job runs again and is counted then."""
    if config.state_table is None or not successes:
        return set()
    table = config.state_table
    by_batch: dict[str, list[tuple[str, Job]]] = {}
    for message_id, job in successes:
        bid = batch_of(job)
        if bid is not None:
            by_batch.setdefault(bid, []).append((message_id, job))
    hand_back: set[str] = set()
    for bid, members in by_batch.items():
        try:
            record_successes(config.marks_client(), table, bid, [job for _, job in members], clock())
        except Exception as error:  # noqa: BLE001 - uncounted, the batch would never finish: run them again
            logger.error("could not record successes in their batch; records handed back", bid=bid, error=str(error))
            hand_back.update(message_id for message_id, _ in members)
    for message_id, job in successes:
        if unique_until(job) == "success":
            try:
                release_unique_lock(config.marks_client(), table, job)
            except Exception as error:  # noqa: BLE001 - the lock still expires by its TTL
                logger.warn("unique lock not released on success; it expires by TTL", jid=job["jid"], error=str(error))
        callback = callback_of(job)
        # Done only once its own batch knows it succeeded: a copy handed back for that runs again.
        if callback is not None and message_id not in hand_back:
            try:
                mark_callback_done(config.marks_client(), table, callback[0], callback[1], clock())
            except Exception as error:  # noqa: BLE001 - the job ran; only a late copy of it could now run again
                logger.warn("batch callback job not marked done", bid=callback[0], event=callback[1], error=str(error))
    return hand_back
