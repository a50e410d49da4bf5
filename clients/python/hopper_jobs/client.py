"""The producer side: put jobs on their queues, as the TypeScript ``Client`` does."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from . import debounce
from .errors import EnqueueError, HopperError, InvalidJobError, PayloadTooLargeError
from .job import MAX_JOB_BYTES, Job, byte_length, describe, iso_time, normalize_job, parse_time, serialize_job
from .env import default_retry_from_env, environment_with_document, queue_urls_from_env
from .middleware import Middleware, run_client_chain
from .tiers import TierLayout, job_queue_url, queue_tiers_from_env
from .sqs import MAX_DELAY_SECONDS, Outgoing, SqsClient, dynamodb_client_from_env, job_message, send_in_batches, sqs_client_from_env

#: The fields a producer may give (``docs/job.schema.json``); the rest are Hopper's to set.
INPUT_FIELDS = ("jobtype", "args", "jid", "queue", "at", "retry", "reserve_for", "custom", "created_at")


class Client:
    """Enqueues jobs on Hopper's SQS queues.

    Example::

        client = Client()  # queue URLs from HOPPER_QUEUE_URLS
        jid = client.enqueue("SendEmail", ["a@example.com", 42])
    """

    def __init__(
        self,
        queue_urls: Mapping[str, str] | None = None,
        sqs: SqsClient | None = None,
        now: Callable[[], datetime] | None = None,
        env: Mapping[str, str] | None = None,
        middleware: Middleware | None = None,
        dynamodb: Any | None = None,
        queue_tiers: Mapping[str, TierLayout] | None = None,
    ) -> None:
        """
        Args:
            queue_urls: queue name to queue URL. Default: read from ``HOPPER_QUEUE_URLS``.
            queue_tiers: the queues' priority tiers (``hopper_jobs.tiers``): a job of such a queue
                goes to its tier's queue (``custom.tier`` or ``custom.priority``). Default: read from
                ``HOPPER_QUEUE_TIERS`` when ``queue_urls`` is not given either, as the TypeScript
                ``Client`` reads it; else no tiers.
            sqs: an SQS client. Default: ``boto3.client("sqs")`` (``AWS_ENDPOINT_URL_SQS`` honoured).
            now: the clock. Default: the current UTC time.
            env: where configuration is read. Default: ``os.environ``. ``HOPPER_DEFAULT_RETRY``
                (the JobSystem's retry count) applies to jobs that do not give ``retry``.
            middleware: a client chain (``hopper_jobs.middleware``) every job goes through before
                it is sent (``ctx.via == "client"``); a refusal raises ``MiddlewareError`` and sends
                nothing.
            dynamodb: a DynamoDB client, for debounced jobs (``custom.debounce``), which name
                themselves in their key's item in ``HOPPER_STATE_TABLE``. Default: a boto3 client made
                when a debounced job is first enqueued (``AWS_ENDPOINT_URL_DYNAMODB`` honoured).
        """
        env = os.environ if env is None else env
        if queue_urls is None and not env.get("HOPPER_QUEUE_URLS"):
            env = environment_with_document(env)
        self._queue_urls = dict(queue_urls) if queue_urls is not None else queue_urls_from_env(env)
        self._queue_tiers = dict(queue_tiers) if queue_tiers is not None else ({} if queue_urls is not None else queue_tiers_from_env(env))
        self._sqs = sqs if sqs is not None else sqs_client_from_env(env)
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._default_retry = default_retry_from_env(env)
        self._middleware = middleware
        self._dynamodb = dynamodb
        self._env = env
        self._state_table = env.get("HOPPER_STATE_TABLE") or None

    def enqueue(
        self,
        jobtype: str,
        args: Sequence[Any] = (),
        queue: str = "default",
        at: datetime | str | None = None,
        retry: int | None = None,
        custom: Mapping[str, Any] | None = None,
        *,
        jid: str | None = None,
        reserve_for: int | None = None,
    ) -> str:
        """Enqueues one job and returns its jid.

        ``at`` may be at most 15 minutes ahead (SQS's longest delay); see :meth:`enqueue_many`.

        Raises:
            InvalidJobError: naming the field that is wrong.
            PayloadTooLargeError: when the job is over 256 KiB as JSON.
            MiddlewareError: when the client chain refused it.
            EnqueueError: when SQS did not accept it.
        """
        given: dict[str, Any] = {"jobtype": jobtype, "args": args, "queue": queue}
        optional = {"at": at, "retry": retry, "custom": custom, "jid": jid, "reserve_for": reserve_for}
        given.update({field: value for field, value in optional.items() if value is not None})
        return self._send([given], many=False)[0]

    def enqueue_many(self, jobs: Iterable[Mapping[str, Any]]) -> list[str]:
        """Enqueues many jobs with as few requests as SQS allows (10 per batch, 1 MiB per batch).

        Each job is a mapping of wire fields (``jobtype``, ``args``, ``queue``, ``at``, ``retry``,
        ``custom``, ``jid``, ``reserve_for``). Every job is validated before anything is sent.

        Returns:
            The jids, in input order.

        Raises:
            InvalidJobError: naming the job and field (``jobs[3].queue``), before sending anything.
            PayloadTooLargeError: before sending anything.
            EnqueueError: when SQS did not accept some jobs; the others are enqueued.
        """
        return self._send(list(jobs), many=True)

    def _send(self, inputs: list[Mapping[str, Any]], many: bool) -> list[str]:
        now = self._now()
        prepared = [self._prepare(given, f"jobs[{index}]." if many else "", now) for index, given in enumerate(inputs)]
        jids = [message.key for message, _ in prepared]
        marked, refused = self._mark(prepared, now)
        failures = send_in_batches(self._sqs, [message for message, job in prepared if job["jid"] not in refused])
        unsent = {failure.key for failure in failures}
        for job, replaced in marked:
            if job["jid"] in unsent:
                try:
                    debounce.restore(self._table_client(), self._state_table or "", job, replaced)
                except Exception:  # noqa: BLE001, S110 - left behind, the key waits for its next job
                    pass
        reasons = {**refused, **{failure.key: f"{failure.code}: {failure.message}" for failure in failures}}
        if reasons:
            raise EnqueueError([jid for jid in jids if jid not in reasons], [{"jid": jid, "reason": reason} for jid, reason in reasons.items()])
        return jids

    def _mark(self, prepared: list[tuple[Outgoing, Job]], now: datetime) -> tuple[list[tuple[Job, dict[str, Any] | None]], dict[str, str]]:
        """Names each debounced job in its key's item, as the TypeScript client does: of jobs of one call
        that share a key, only the last in input order writes. Returns the marks (with the items they
        replaced) and the reasons of jobs whose item could not be written (they are not sent)."""
        last_by_key = {spec["key"]: job for _, job in prepared if (spec := debounce.debounce_of(job)) is not None}
        marked: list[tuple[Job, dict[str, Any] | None]] = []
        refused: dict[str, str] = {}
        for job in last_by_key.values():
            try:
                if self._state_table is None:
                    raise HopperError("debounced jobs need the state table: HOPPER_STATE_TABLE is not set (the JobSystem sets it)")
                due = parse_time("at", job["at"]) if "at" in job else now
                marked.append((job, debounce.mark(self._table_client(), self._state_table, job, now, due)))
            except Exception as error:  # noqa: BLE001 - the job is refused, its neighbours still go
                refused[job["jid"]] = f"debounce item not written: {type(error).__name__}: {error}"
        return marked, refused

    def _table_client(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = dynamodb_client_from_env(self._env)
        return self._dynamodb

    def _prepare(self, given: Mapping[str, Any], path: str, now: datetime) -> tuple[Outgoing, Job]:
        """Validates one job; ``path`` prefixes field names in errors (``jobs[3].``)."""
        if not isinstance(given, Mapping):
            raise InvalidJobError(path.rstrip(".") or "job", "a mapping of job fields", describe(given))
        unknown = [field for field in given if field not in INPUT_FIELDS]
        if unknown:
            raise InvalidJobError(f"{path}{unknown[0]}", f"one of the fields a producer sets ({', '.join(INPUT_FIELDS)})")
        try:
            job = normalize_job({**given, "enqueued_at": now}, now, default_retry=self._default_retry)
        except InvalidJobError as error:
            raise InvalidJobError(f"{path}{error.field}", error.expected, error.received) from None
        spec = debounce.debounce_of(job)
        if spec is not None:
            # Each job of a key restarts the key's quiet period: due one period after it would have been.
            job["at"] = iso_time(debounce.due_after_period(parse_time("at", job["at"]) if "at" in job else now, spec["period"]))
        job = run_client_chain(self._middleware, job, "client")
        body = serialize_job(job)
        queue_url = job_queue_url(job, self._queue_urls, self._queue_tiers, path=path)
        if queue_url is None:
            raise InvalidJobError(f"{path}queue", f"one of the declared queues ({', '.join(self._queue_urls)})", describe(job["queue"]))
        size = byte_length(body)
        if size > MAX_JOB_BYTES:
            raise PayloadTooLargeError(f"job {job['jid']}", size, MAX_JOB_BYTES)
        delay = 0
        if "at" in job:
            delay = max(0, math.ceil((parse_time("at", job["at"]) - now).total_seconds()))
            if delay > MAX_DELAY_SECONDS:
                # Jobs due later wait in the scheduled set, which only Hopper's own code writes.
                raise InvalidJobError(
                    f"{path}at",
                    f"at most {MAX_DELAY_SECONDS} seconds ahead (later jobs go through the scheduled set: use the TypeScript Client or the HTTP API)",
                    f"{delay} seconds ahead",
                )
        return job_message(job["jid"], queue_url, job, body, delay), job
