"""What a run sends: a failure (a retry due within 15 minutes back to the job's queue, or an envelope to
the retries queue), a job sent back to its queue (a wait, a slice that goes on), and the counts and
hooks of the moves an invocation made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .deadline import HandBack
from .envelope import failure_envelope, is_unrecoverable
from .errors import MiddlewareError
from .iterate import IterationSignal
from .job import Job, describe_error, iso_time, serialize_job, to_json
from .logger import Logger
from .metrics import MetricsBatch
from .middleware import Middleware, call_hook, run_client_chain
from .retry import near_retry
from .sqs import Outgoing, job_message
from .state import JobTracker
from .stats import StatsRecorder
from .worker_config import WorkerConfig


def failed_outcome(message_id: str, error: Exception, queue: str, job: Job, config: WorkerConfig, clock: Callable[[], datetime], logger: Logger, tracker: JobTracker | None) -> tuple[str, Outgoing]:
    """What a job whose handler raised ``error`` sends: itself back to its queue (``retried``) when
    its next attempt is due within 15 minutes and the client chain lets it, else its failure envelope
    to the retries queue (``failed``)."""
    unrecoverable = is_unrecoverable(error)
    described = describe_error(error)
    if tracker is not None:
        tracker.failed(described["errtype"], described["message"])
    logger.warn("job failed; not retryable" if unrecoverable else "job failed", errtype=described["errtype"], error=described["message"])
    url = config.url_of(job)
    retried = None if unrecoverable or url is None else near_retry(job, described, clock())
    if retried is not None and url is not None:
        try:
            retried = run_client_chain(config.middleware, retried[0], "retry", logger), retried[1]
        except MiddlewareError as refused:
            # The failure envelope takes the retry function's way, which runs the chain again.
            logger.error("client middleware refused the retry; the failure goes to the retry function", error=str(refused))
            retried = None
    if retried is not None and url is not None:
        # Due within 15 minutes: back to its queue at once, as the retry function would send it.
        again, delay = retried
        logger.info("retry enqueued", retry_count=again["failure"]["retry_count"], errtype=described["errtype"], error=described["message"], delay_s=delay)
        return "retried", job_message(message_id, url, again, serialize_job(again), delay)
    return "failed", to_retries_queue(message_id, config, failure_envelope(queue, error, clock(), job=job, message_id=message_id, unrecoverable=unrecoverable), job)


def to_retries_queue(message_id: str, config: WorkerConfig, envelope: dict[str, Any], job: Job | None = None) -> Outgoing:
    """The failure envelope to the retries queue, with its job's group when the job is known: one
    tenant's failures do not hold back the others' retries."""
    body = to_json(envelope)
    return job_message(message_id, config.retries_queue_url, job or {}, body)


def send_back(message_id: str, url: str, job: Job, delay: int, config: WorkerConfig, logger: Logger) -> Outgoing:
    """``job`` back to its queue after ``delay`` seconds (a wait, not a failure), through the client
    chain; when the chain refuses, the record is handed back to SQS, which delivers it again."""
    try:
        sent = run_client_chain(config.middleware, job, "requeue", logger)
    except MiddlewareError as refused:
        logger.error("client middleware refused to send the job back; record handed back to SQS", message_id=message_id, error=str(refused))
        raise HandBack() from refused
    return job_message(message_id, url, sent, serialize_job(sent), delay)


def iteration_end(signal: IterationSignal, message_id: str, job: Job, config: WorkerConfig, clock: Callable[[], datetime], logger: Logger, tracker: JobTracker | None) -> tuple[str, Outgoing | None]:
    """A slice that goes on sends the job back to its queue (``custom.slice``: the slices so far); a
    copy whose iteration another delivery holds or finished is acknowledged without a word."""
    if signal.kind != "continue":
        if signal.kind == "finished" and tracker is not None:
            tracker.already_succeeded()
        logger.info("iteration held or finished by another delivery; this copy is acknowledged", reason=str(signal))
        return "skipped", None
    url = config.url_of(job)
    if url is None:
        raise HandBack()
    custom = {key: value for key, value in (job.get("custom") or {}).items() if key != "expires_at"}
    again = {**{key: value for key, value in job.items() if key != "at"}, "enqueued_at": iso_time(clock()), "custom": {**custom, "slice": signal.slices}}
    return "continued", send_back(message_id, url, again, 0, config, logger)


def count_retries(retries: list[tuple[str, Outgoing, Job]], unsent: set[str], metrics: MetricsBatch, stats: StatsRecorder | None, at_ms: int) -> None:
    """Counts the retries this invocation sent itself (``Retried``, and a failure in the stats, as the
    retry function counts those it moves); one not sent is not counted: its record goes back to SQS."""
    for source_queue, message, job in retries:
        if message.key in unsent:
            continue
        queue = source_queue or job["queue"]
        metrics.count(queue, job["jobtype"], "Retried")
        if stats is not None:
            stats.retried(queue, job, at_ms)


def call_hooks(chain: Middleware, retries: list[tuple[str, Outgoing, Job]], expired: list[tuple[str, Job]], not_moved: set[str], logger: Logger) -> None:
    """``on_retry`` for each retry this invocation sent, ``on_expired`` for each job it dropped; a
    record handed back made no move and calls no hook."""
    for _, message, job in retries:
        if message.key not in not_moved:
            call_hook(chain, "on_retry", job, logger)
    for message_id, job in expired:
        if message_id not in not_moved:
            call_hook(chain, "on_expired", job, logger)
