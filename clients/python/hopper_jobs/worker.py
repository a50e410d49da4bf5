"""A Lambda handler for Hopper jobs, with the semantics of the TypeScript ``createWorker``.

For each SQS record: parse and validate the job, drop it if expired or if a later job of its debounce
key superseded it (hopper_jobs/debounce.py), claim the run of a batch callback job (a copy whose run
another message holds is not run), release a unique lock held until start, run its handler, and on
failure send the job back to its queue when its retry is due within 15 minutes
(hopper_jobs/retry.py), or else a failure envelope to the retries queue, where Hopper's retry
function applies backoff or moves the job to the dead set. After a success it records the success in
the job's batch, releases a lock held until success, deletes a debounced job's key item and marks a
callback job done. The handler returns a partial batch response: only records whose outcome could
not be reported (or that were not started before the deadline) go back to SQS.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from .busy import BusyReport, instance_name
from .deadline import Abandoned, HandBack, HardStop, remaining_time
from .envelope import failure_envelope
from .errors import ConfigurationError, HopperError, IterationBusyError, OnceStepBusyError, RateLimitedError, UnknownJobTypeError
from .flow_gate import has_job_limits, job_limits, next_held_attempt, override_cache, run_within
from .iterate import IterationScope, IterationSignal, IterationStore
from .job import Job, iso_time, parse_job, parse_time, unpacked_args
from .limiters import MAX_LIMITED_RESCHEDULES, Limiter, LimiterStore, limited_count, limited_delay, limiter_for, queue_lease_name, resolve_spec
from .logger import Logger, LogSink
from .metrics import INVALID_JOBTYPE, Metrics, MetricsBatch, due_at_ms
from .middleware import Middleware, run_server_chain
from .moves import call_hooks, count_retries, failed_outcome, iteration_end, send_back, to_retries_queue
from .reservation import Reservation
from .settle import admit, after_successes, mark_start, settle_debounce, superseded
from .sqs import Outgoing, SqsClient, send_in_batches
from .state import JobTracker, OnceSteps
from .stats import StatsRecorder
from .unique import release as release_unique_lock, unique_until
from .tiers import source_queue_of
from .worker_config import WorkerConfig, configure, once_step_days, queue_name_of

T = TypeVar("T")

#: Time kept in reserve at the end of an invocation: no job is started with less than this left.
DEFAULT_DEADLINE_MARGIN_MS = 3000


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides the job's arguments."""

    #: The job id: stable across retries and redeliveries; use it to make effects idempotent.
    jid: str
    #: The whole job (queue, retry, custom fields, the previous failure).
    job: Job
    #: Writes JSON lines carrying ``jid``, ``jobtype``, ``queue`` and ``attempt``.
    logger: Logger
    _remaining: Callable[[], int] = field(repr=False)
    _steps: OnceSteps | None = field(default=None, repr=False)
    _tracker: JobTracker | None = field(default=None, repr=False)
    _busy: BusyReport | None = field(default=None, repr=False)
    _limiters: Callable[[str, Mapping[str, Any]], Limiter] | None = field(default=None, repr=False)
    _reservation: Reservation | None = field(default=None, repr=False)
    #: Set when the invocation is about to time out (half the deadline margin before Lambda's
    #: timeout): the worker stops waiting for this job and hands its record back to SQS, so the job
    #: runs again. A handler that checks it stops cleanly; ``ctx.cancelled.wait(seconds)`` is a sleep
    #: that ends early then. (The TypeScript worker's ``ctx.signal``.)
    cancelled: threading.Event = field(default_factory=threading.Event)
    _iteration: IterationScope | None = field(default=None, repr=False)

    def remaining_time_ms(self) -> int:
        """Milliseconds left before Lambda ends this invocation."""
        return self._remaining()

    def once(self, key: str, fn: Callable[[], T]) -> T:
        """Runs ``fn`` at most once for this job and ``key`` (1 to 200 characters), across duplicate
        deliveries, retries and retries from the dead set: a later run gets the value ``fn``
        returned (through JSON, at most 32 KB) without running it. A step that raises is given back,
        so the next run tries it again. The same items as the TypeScript worker's ``ctx.once``.

        Example::

            receipt = ctx.once("charge", lambda: payments.charge(order))
        """
        if self._steps is None:
            raise HopperError("ctx.once needs the state table (HOPPER_STATE_TABLE): this worker has none")
        return self._steps.run(self.jid, key, fn, self._remaining(), self.logger)

    def extend(self, seconds: int) -> None:
        """Keeps the job's message invisible for ``seconds`` from now (1 to 43,200), and renews it
        by that much whenever half is used up, for as long as the handler runs. A job that needs
        longer than its queue's visibility timeout from the start says so with ``reserve_for``."""
        if self._reservation is None:
            raise HopperError("ctx.extend needs the job's SQS message: this job did not come from a record")
        self._reservation.extend(seconds)

    def limiter(self, name: str, spec: Mapping[str, Any]) -> Limiter:
        """A limiter of the limits table, shared with every worker (TypeScript ones included) that
        names it: ``concurrent``, ``window``, ``bucket``, ``leaky`` or ``points``, with the TypeScript
        specs' fields. Its ``run(fn)`` (``run(cost, fn)`` for ``points``, whose ``fn`` gets a charge
        to ``settle`` the actual cost) waits for room at most the spec's ``wait`` and never past the
        invocation's deadline; without room it raises ``RateLimitedError``, and the job comes back
        after the limiter's retry-after without using a retry (at most 20 times).

        Example::

            ctx.limiter(f"stripe:{account}", {"type": "concurrent", "limit": 10}).run(lambda: charge(card))
            ctx.limiter("erp", {"type": "window", "limit": 100, "per": "minute"}).run(sync)
            ctx.limiter("shopify", {"type": "points", "capacity": 1000, "refill": 50, "per": "second"}).run(
                100, lambda charge: charge.settle(query(shop)["cost"]))
        """
        if self._limiters is None:
            raise ConfigurationError("ctx.limiter needs the limits table (HOPPER_LIMITS_TABLE), which addWorker sets: this worker has none")
        return self._limiters(name, spec)

    def progress(self, percent: float, message: str | None = None) -> None:
        """Reports how far the job has got, 0 to 100 and an optional message. For a tracked job
        (``custom.track`` or ``custom.result``) it is written to the state table at most once every 3
        seconds and never lower than before; a job running 10 s or more shows it on the Busy page."""
        if self._tracker is not None:
            self._tracker.progress(percent, message)
        if self._busy is not None:
            self._busy.progress(percent, message)


#: Runs one job. Returning is success; raising is failure (retried unless unrecoverable).
JobHandler = Callable[[list[Any], JobContext], object]
LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def worker(
    jobs: Mapping[str, JobHandler],
    *,
    sqs: SqsClient | None = None,
    env: Mapping[str, str] | None = None,
    now: Callable[[], datetime] | None = None,
    deadline_margin_ms: int = DEFAULT_DEADLINE_MARGIN_MS,
    log: LogSink = print,
    dynamodb: Any | None = None,
    middleware: Middleware | None = None,
) -> LambdaHandler:
    """Builds the Lambda handler of a worker serving ``jobs`` (handlers by jobtype).

    Configuration is read on the first invocation from ``HOPPER_RETRIES_QUEUE_URL``,
    ``HOPPER_QUEUE_URLS`` and ``HOPPER_DEFAULT_RETRY`` (the ``retry`` of a job that has none,
    default 25), which the JobSystem construct sets on every worker.

    A job delivered more than once is marked in the state table (``HOPPER_STATE_TABLE``) before it
    runs, as the TypeScript worker does (docs/protocol.md, "Start marks"), so that the retry
    function charges a retry for a crash and not for deliveries Lambda throttled. ``dynamodb`` is a
    ``boto3.client("dynamodb")`` or anything with its ``put_item``; one is made when first needed.

    Example::

        def send_email(args, ctx):
            to, template = args
            mailer.send(to, template, idempotency_key=ctx.jid)

        handler = worker(jobs={"SendEmail": send_email})
    """
    clock = now or (lambda: datetime.now(timezone.utc))
    base_logger = Logger(log, now=clock)
    state: dict[str, WorkerConfig] = {}
    instance_metrics: list[Metrics] = []
    instance_stats: list[StatsRecorder | None] = []

    def handle(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        config = state.get("config")
        if config is None:
            config = state["config"] = configure(env, sqs, dynamodb)
            config.middleware = middleware
            config.overrides = override_cache(config, lambda: clock().timestamp() * 1000)
            instance_metrics.append(Metrics(log, namespace=config.env.get("HOPPER_METRICS_NAMESPACE") or "Hopper", enabled=config.env.get("HOPPER_METRICS") != "off"))
            instance_stats.append(StatsRecorder(config.marks_client, config.state_table) if config.stats_on and config.state_table is not None else None)
        stats = instance_stats[0]
        metrics = instance_metrics[0].batch()
        received_at_ms = int(clock().timestamp() * 1000)
        remaining = remaining_time(context)
        # A job still running when half the margin is left is abandoned: its record goes back to SQS
        # and the invocation returns in time, instead of Lambda failing the whole batch.
        hard_stop = HardStop(time.monotonic() + (remaining() - deadline_margin_ms / 2) / 1000)
        request_id = getattr(context, "aws_request_id", None)
        log_batch = base_logger.child(request_id=request_id) if request_id else base_logger
        records: list[Mapping[str, Any]] = list(event.get("Records", []))
        handed_back: list[str] = []
        messages: list[Outgoing] = []
        counts = {"succeeded": 0, "failed": 0, "retried": 0, "expired": 0, "superseded": 0, "postponed": 0, "continued": 0, "skipped": 0}
        # (source queue, message, the job as re-enqueued) of each retry this invocation sends itself.
        retries: list[tuple[str, Outgoing, Job]] = []
        successes: list[tuple[str, Job]] = []
        expired: list[tuple[str, Job]] = []
        for index, record in enumerate(records):
            if remaining() < deadline_margin_ms:
                # Not started, so not lost: SQS delivers them again.
                handed_back.extend(str(rest.get("messageId", "")) for rest in records[index:])
                break
            try:
                kind, message, settled = _process(record, jobs, config, clock, log_batch, remaining, deadline_margin_ms, metrics, received_at_ms, stats, hard_stop)
            except Abandoned:
                log_batch.warn("job still running as the invocation ends; abandoned and handed back to SQS (ctx.cancelled is set)", message_id=record.get("messageId"))
                handed_back.extend(str(rest.get("messageId", "")) for rest in records[index:])
                break
            except HandBack:
                # Logged where it happened: SQS delivers the record again.
                handed_back.append(str(record.get("messageId", "")))
                continue
            except Exception as error:  # noqa: BLE001 - a defect here must not fail the neighbours
                log_batch.error("record could not be processed; handed back", message_id=record.get("messageId"), error=str(error))
                handed_back.append(str(record.get("messageId", "")))
                continue
            counts[kind] += 1
            if message is not None:
                messages.append(message)
            # An expired or superseded job will never run: its batch counts it as done.
            if kind in ("succeeded", "expired", "superseded") and settled is not None:
                successes.append((str(record.get("messageId", "")), settled))
            if kind == "expired" and settled is not None:
                expired.append((str(record.get("messageId", "")), settled))
            if kind == "retried" and message is not None:
                retries.append((queue_name_of(str(record.get("eventSourceARN", "")), config.queue_urls, config.queue_tiers) or "", message, json.loads(message.body)))
        not_started = len(handed_back)
        # Batch successes are recorded before the records are acknowledged: if that fails, the record
        # goes back to SQS and the job runs again rather than its batch never completing.
        unsettled = after_successes(successes, config, clock, log_batch)
        handed_back.extend(message_id for message_id, _ in successes if message_id in unsettled)
        unsent = send_in_batches(config.sqs, messages)
        for failure in unsent:
            # The outcome was not reported, so SQS must deliver the job again.
            log_batch.error("could not send; record handed back to SQS", message_id=failure.key, reason=f"{failure.code}: {failure.message}")
            handed_back.append(failure.key)
        unsent_keys = {failure.key for failure in unsent}
        count_retries(retries, unsent_keys, metrics, stats, int(clock().timestamp() * 1000))
        if config.middleware is not None:
            call_hooks(config.middleware, retries, expired, unsent_keys | set(handed_back), log_batch)
        metrics.flush(clock())
        if stats is not None:
            stats.count_jobs(len(records))
            stats.flush(int(clock().timestamp() * 1000), log_batch)
        log_batch.info("batch done", received=len(records), **counts, handed_back=not_started, unsent=len(unsent), unsettled=len(unsettled))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in handed_back]}

    return handle


def _process(
    record: Mapping[str, Any],
    jobs: Mapping[str, JobHandler],
    config: WorkerConfig,
    clock: Callable[[], datetime],
    logger: Logger,
    remaining: Callable[[], int],
    margin_ms: int,
    metrics: MetricsBatch,
    received_at_ms: int,
    stats: StatsRecorder | None = None,
    hard_stop: HardStop | None = None,
) -> tuple[str, Outgoing | None, Job | None]:
    """Processes one record; returns its outcome, the message to send, if any, and the job when it
    succeeded, expired or was superseded (what its batch, lock and callback learn after the invocation's records)."""
    message_id = str(record.get("messageId", ""))
    body = str(record.get("body", ""))
    arn = str(record.get("eventSourceARN", ""))
    source = source_queue_of(arn, config.queue_urls, config.queue_tiers)
    source_queue = None if source is None else source.name
    try:
        job = parse_job(body, clock(), default_jid=message_id, default_queue=source_queue, default_retry=config.default_retry)
    except Exception as error:  # noqa: BLE001 - retrying cannot fix the body
        queue = source_queue or arn.split(":")[-1]
        logger.warn("invalid job sent to the dead set", message_id=message_id, queue=queue, error=str(error))
        metrics.count(queue, INVALID_JOBTYPE, "Failed")
        return "failed", to_retries_queue(message_id, config, failure_envelope(queue, error, clock(), raw=body, message_id=message_id, unrecoverable=True)), None

    attempt = (job.get("failure") or {}).get("retry_count", -1) + 2
    job_logger = logger.child(jid=job["jid"], jobtype=job["jobtype"], queue=job["queue"], attempt=attempt, **({} if source is None or source.tier is None else {"tier": source.tier}))
    expires_at = (job.get("custom") or {}).get("expires_at")
    if expires_at is not None and parse_time("custom.expires_at", expires_at) <= clock():
        job_logger.info("job expired; dropped without running", expires_at=expires_at)
        metrics.count(source_queue or job["queue"], job["jobtype"], "Expired")
        return "expired", None, job
    if superseded(job, config, job_logger):
        metrics.count(source_queue or job["queue"], job["jobtype"], "Superseded")
        return "superseded", None, job

    queue = source_queue or job["queue"]
    handler = jobs.get(job["jobtype"])
    if handler is None:
        error = UnknownJobTypeError(job["jobtype"], list(jobs))
        job_logger.error("unknown jobtype; job sent to the dead set", error=str(error))
        metrics.count(queue, job["jobtype"], "Failed")
        return "failed", to_retries_queue(message_id, config, failure_envelope(queue, error, clock(), job=job, message_id=message_id, unrecoverable=True), job), None

    if not admit(job, message_id, config, job_logger):
        return "skipped", None, None
    if unique_until(job) == "start" and config.state_table is not None:
        try:
            release_unique_lock(config.marks_client(), config.state_table, job)
        except Exception as error:  # noqa: BLE001 - the lock still expires by its TTL; failing the job would run it twice
            job_logger.warn("unique lock not released at start; it expires by TTL", error=str(error))

    if _receive_count(record) > 1:
        # Received before: crashes, timeouts or throttles. The mark lets the retry function tell them apart.
        mark_start(job, config, clock, job_logger)
    now_ms = lambda: int(clock().timestamp() * 1000)  # noqa: E731
    steps = None if config.state_table is None else OnceSteps(config.marks_client, config.state_table, once_step_days(config.env), now_ms)
    iteration = None if config.state_table is None else IterationScope(IterationStore(config.marks_client, config.state_table, once_step_days(config.env), now_ms), now_ms, margin_ms)
    custom = job.get("custom") or {}
    tracked = config.state_table is not None and (custom.get("track") is True or custom.get("result") is True)
    tracker = JobTracker(config.marks_client, config.state_table, job, now_ms, job_logger) if tracked and config.state_table is not None else None
    if tracker is not None:
        tracker.start()
    busy = None
    if config.stats_on and config.state_table is not None:
        busy = BusyReport(config.marks_client, config.state_table, instance_name(config.env), {**job, "queue": queue}, attempt, now_ms, job_logger).watch()
    attributes = record.get("attributes") or {}
    reservation = Reservation(
        config.sqs, source.url if source is not None else config.queue_urls.get(queue), str(record.get("receiptHandle", "")), config.visibility.get(queue), job.get("reserve_for"),
        received_at_ms, _int_or_none(attributes.get("ApproximateFirstReceiveTimestamp")), now_ms, job_logger,
    )
    try:
        reservation.start()
        limiters = _limiters(config, lambda: remaining() - margin_ms, job_logger)
        due = due_at_ms(job, _sent_ms(record))
        started_ms = now_ms()
        if due is not None:
            metrics.observe(queue, job["jobtype"], "Latency", max(0, started_ms - due))
            if stats is not None:
                stats.started(queue, job, started_ms - due, started_ms, None if source is None else source.tier)
        kind, message = _run(handler, job, message_id, queue, config, clock, job_logger, remaining, steps, tracker, busy, limiters, reservation, hard_stop, iteration)
        if kind == "capped":
            # A limit of its own or its queue's lease had no room: the handler did not run.
            metrics.count(queue, job["jobtype"], "RateLimited")
            return "postponed", message, None
        metrics.observe(queue, job["jobtype"], "Duration", now_ms() - started_ms)
        if kind == "postponed":
            metrics.count(queue, job["jobtype"], "RateLimited")
        elif kind in ("continued", "skipped"):
            # A slice that goes on, or a copy of an iteration another delivery holds or finished.
            pass
        else:
            metrics.count(queue, job["jobtype"], "Processed")
            if kind in ("failed", "retried"):
                metrics.count(queue, job["jobtype"], "Failed")
            elif stats is not None:
                stats.succeeded(queue, job, now_ms())
        if kind == "succeeded":
            settle_debounce(job, config, job_logger)
        return kind, message, job if kind == "succeeded" else None
    finally:
        reservation.stop()
        if busy is not None:
            busy.end()


def _run(
    handler: JobHandler,
    job: Job,
    message_id: str,
    queue: str,
    config: WorkerConfig,
    clock: Callable[[], datetime],
    job_logger: Logger,
    remaining: Callable[[], int],
    steps: OnceSteps | None,
    tracker: JobTracker | None,
    busy: BusyReport | None,
    limiters: Callable[[str, Mapping[str, Any]], Limiter] | None,
    reservation: Reservation | None,
    hard_stop: HardStop | None = None,
    iteration: IterationScope | None = None,
) -> tuple[str, Outgoing | None]:
    """Runs the handler of ``job`` (within its own limits and its queue's lease, flow_gate.py); returns
    its outcome (``capped`` when one of them had no room and the handler did not run) and the
    message to send, if any. Raises ``Abandoned`` when the handler was still running at the
    invocation's hard stop."""
    cancelled = hard_stop.cancelled if hard_stop is not None else threading.Event()
    context = JobContext(job["jid"], job, job_logger, remaining, steps, tracker, busy, limiters, reservation, cancelled, iteration)
    cap = config.queue_caps.get(queue) or {}
    lease = limiters(queue_lease_name(queue), {"type": "concurrent", "limit": cap["jobs"], "lockTimeout": cap["leaseSeconds"], "wait": 900}) if limiters is not None and "leaseSeconds" in cap else None
    started = False

    def call() -> Any:
        nonlocal started
        started = True
        return call_handler() if hard_stop is None else hard_stop.run(call_handler)

    def call_handler() -> Any:
        return run_server_chain(config.middleware, job, context, invoke) if config.middleware is not None else invoke(job)

    def invoke(running: Job) -> Any:
        # Arguments the TypeScript compressArgs middleware packed reach the handler as they were sent.
        value = handler(unpacked_args(running["args"]), context)
        return asyncio.run(value) if inspect.iscoroutine(value) else value

    try:
        own = job_limits(job, queue, config, limiters, job_logger) if limiters is not None and has_job_limits(job, queue, config.tenant_caps) else []
        result = run_within([*own, lease] if lease is not None else own, call)
        if tracker is not None:
            tracker.succeeded(result)
    except HandBack:
        raise
    except IterationSignal as signal:
        return iteration_end(signal, message_id, job, config, clock, job_logger, tracker)
    except RateLimitedError as limited:
        url = config.url_of(job)
        source_url = config.url_of({**job, "queue": queue})
        if source_url is not None and not started and lease is not None and limited.limiter == lease.name:
            # The queue is at its cap: the job goes back unchanged (its turn, not a limit of its own).
            delay = min(900, max(1, limited.retry_after_seconds))
            job_logger.info("queue at its maxConcurrency; job delayed", delay_s=delay)
            return "capped", send_back(message_id, source_url, job, delay, config, job_logger)
        if source_url is not None and not started:
            # Held by its tenant's cap or its throttle: never failed, no retry used.
            delay, again, count = next_held_attempt(job, limited.retry_after_seconds)
            job_logger.info("held back by its limits; job delayed", limiter=limited.limiter, delay_s=delay, held_count=count)
            return "capped", send_back(message_id, source_url, again, delay, config, job_logger)
        count = limited_count(job) + 1
        if url is not None and count <= MAX_LIMITED_RESCHEDULES:
            # A limiter's wait is not a failure: the job comes back with jitter and keeps its retries.
            delay = min(900, limited_delay(limited.retry_after_seconds, count))
            job_logger.info("rate limited; job delayed", delay_s=delay, limited_count=count)
            now = clock()
            again = {**job, "custom": {**(job.get("custom") or {}), "limited_count": count}, "enqueued_at": iso_time(now), "at": iso_time(now + timedelta(seconds=delay))}
            return "postponed", send_back(message_id, url, again, delay, config, job_logger)
        if url is not None:
            job_logger.warn("rate limited too many times; handled as a failure", limited_count=count - 1)
        return failed_outcome(message_id, limited, queue, job, config, clock, job_logger, tracker)
    except (OnceStepBusyError, IterationBusyError) as held:
        # Not a failure: the job goes back to its queue, unchanged, until the other delivery's run
        # (a step of ctx.once, or a slice of its iteration) ends.
        url = config.url_of(job)
        if url is not None:
            delay = min(900, max(1, held.retry_after_seconds))
            what = "a step of ctx.once runs" if isinstance(held, OnceStepBusyError) else "the job iterates"
            job_logger.info(f"{what} in another delivery; job delayed", delay_s=delay)
            return "postponed", send_back(message_id, url, job, delay, config, job_logger)
        return failed_outcome(message_id, held, queue, job, config, clock, job_logger, tracker)
    except Exception as error:  # noqa: BLE001 - every failure of user code is reported, none escapes
        return failed_outcome(message_id, error, queue, job, config, clock, job_logger, tracker)
    return "succeeded", None


def _limiters(config: WorkerConfig, budget_ms: Callable[[], int], logger: Logger) -> Callable[[str, Mapping[str, Any]], Limiter] | None:
    """``ctx.limiter`` of one job: limiters on the limits table whose waits end before the invocation's margin."""
    if config.limits_table is None:
        return None
    store = LimiterStore(config.marks_client, config.limits_table)

    def cleanup_failed(name: str, error: Exception) -> None:
        logger.warn(f"limiter {name}: cleanup failed; a lease expires on its own", error=str(error))

    return lambda name, spec: limiter_for(name, resolve_spec(name, spec), store, max_wait_ms=budget_ms, log_cleanup_error=cleanup_failed)


def _sent_ms(record: Mapping[str, Any]) -> int | None:
    return _int_or_none((record.get("attributes") or {}).get("SentTimestamp"))


def _int_or_none(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _receive_count(record: Mapping[str, Any]) -> int:
    raw = (record.get("attributes") or {}).get("ApproximateReceiveCount", "1")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 1


