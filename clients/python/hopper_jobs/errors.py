"""Errors of the Hopper Python client.

Hopper recognises errors by class *name* (the ``errtype`` of a failure envelope), because errors
cross languages: a Python ``UnrecoverableJobError`` means the same as the TypeScript one.
"""

from __future__ import annotations

import json


class HopperError(Exception):
    """Base class of every error Hopper raises on purpose."""


class InvalidJobError(HopperError):
    """A job does not match the wire format (``docs/job.schema.json``).

    ``field`` is the JSON path of the offending field (``args``, ``custom.unique_for``,
    ``jobs[3].queue``); ``expected`` says what would have been accepted.
    """

    def __init__(self, field: str, expected: str, received: str | None = None) -> None:
        suffix = "" if received is None else f", but {received} was provided"
        super().__init__(f"invalid job: {field} must be {expected}{suffix}")
        self.field = field
        self.expected = expected
        self.received = received


class UnrecoverableJobError(HopperError):
    """Raised by a handler when retrying cannot help: the job goes straight to the dead set."""


class UnknownJobTypeError(UnrecoverableJobError):
    """The worker has no handler for a job's ``jobtype``: the job goes straight to the dead set."""

    def __init__(self, jobtype: str, known: list[str]) -> None:
        handles = ", ".join(known) if known else "nothing"
        super().__init__(f'no handler for jobtype "{jobtype}" in this worker (it handles: {handles})')
        self.jobtype = jobtype


class InvalidJobArgsError(UnrecoverableJobError):
    """A job's arguments do not match its handler's schema (``with_args``): retrying cannot fix them,
    so the job goes straight to the dead set, with each problem as ``<field>: <message>``."""

    def __init__(self, jobtype: str, problems: list[str]) -> None:
        super().__init__(f"{jobtype}: its arguments do not match the job's schema: {'; '.join(problems)}")
        self.jobtype = jobtype
        self.problems = problems


class IterationBusyError(HopperError):
    """Another delivery of the same iterating job holds its iteration: this one goes back to its
    queue until that slice's deadline, without using a retry."""

    def __init__(self, jid: str, retry_after_seconds: int) -> None:
        super().__init__(f"job {jid} is iterating in another delivery; retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


class IterationLostError(HopperError):
    """A slice of an iterating job no longer holds its iteration: another delivery took it over."""

    def __init__(self, jid: str) -> None:
        super().__init__(f"job {jid}: another delivery took its iteration over; this slice stops")


class IterationError(UnrecoverableJobError):
    """An iterating job cannot go on as written (``items`` yielded something that is not an
    ``(item, cursor)`` pair, or a cursor that cannot be kept): the job goes to the dead set."""


class MiddlewareError(HopperError):
    """A client middleware refused a job (it raised, gave back something that is not a job, or
    changed what Hopper keys the job by): the job is not sent."""

    def __init__(self, middleware: str, via: str, message: str) -> None:
        super().__init__(f"client middleware {middleware} (enqueue via {via}): {message}")
        self.middleware = middleware
        self.via = via


class ConfigurationError(HopperError):
    """A configuration value (an environment variable, an argument) is missing or malformed."""


class PayloadTooLargeError(HopperError):
    """A message exceeds the SQS size limit (1 MiB)."""

    def __init__(self, what: str, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"{what} is {size_bytes} bytes, over the limit of {limit_bytes} bytes")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class EnqueueError(HopperError):
    """SQS did not accept some jobs of an ``enqueue_many`` after retries.

    Jobs whose jids are in ``enqueued`` are on their queues; those in ``failed`` (``{"jid",
    "reason"}``) are not and are safe to enqueue again with the same jids.
    """

    def __init__(self, enqueued: list[str], failed: list[dict[str, str]]) -> None:
        first = f"; first: {failed[0]['jid']}: {failed[0]['reason']}" if failed else ""
        super().__init__(f"{len(failed)} job(s) could not be enqueued{first}")
        self.enqueued = enqueued
        self.failed = failed


class OnceStepBusyError(HopperError):
    """A step of ``ctx.once`` runs in another delivery of the same job: this one is postponed.

    The worker sends the job back to its queue, unchanged, after ``retry_after_seconds`` (no retry
    is used), as the TypeScript worker does.
    """

    def __init__(self, step: str, retry_after_seconds: int) -> None:
        super().__init__(f'step "{step}" of ctx.once is running in another delivery of this job; retry after {retry_after_seconds}s')
        self.step = step
        self.retry_after_seconds = retry_after_seconds


class OnceStepError(UnrecoverableJobError):
    """A step of ``ctx.once`` that cannot be used as it is: its key is not valid, or it ran but its
    value could not be kept or its completion recorded. A retry would run it again, so the job goes
    to the dead set."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f'step "{step}" of ctx.once: {message}')
        self.step = step


def aws_error_code(error: BaseException) -> str | None:
    """The error code of an AWS call's failure (a botocore ``ClientError``), or None for any other error."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


class RateLimitedError(HopperError):
    """A limiter had no room in time. A worker puts the job back on its queue after
    ``retry_after_seconds`` (plus jitter) without using a retry, up to 20 times."""

    def __init__(self, limiter: str, retry_after_seconds: int) -> None:
        super().__init__(f"rate limited by {limiter}; retry after {retry_after_seconds}s")
        self.limiter = limiter
        self.retry_after_seconds = retry_after_seconds


class LimiterUnavailableError(RateLimitedError):
    """A limiter's state could not be read or written (a throttle, an outage): Hopper's own
    infrastructure failing, not the job. Handled as a limit: the job comes back later."""

    def __init__(self, limiter: str, retry_after_seconds: int, cause: BaseException) -> None:
        super().__init__(limiter, retry_after_seconds)
        self.args = (f"limiter {limiter} could not be reached ({type(cause).__name__}: {cause}); retry after {retry_after_seconds}s",)


class InvalidLimiterSpecError(ConfigurationError):
    """A limiter name or spec is malformed; ``field`` names the offending field."""

    def __init__(self, limiter: str, field: str, expected: str, received: str) -> None:
        super().__init__(f"limiter {json.dumps(limiter)}: {field} must be {expected}, but {received} was provided")
        self.limiter = limiter
        self.field = field
        self.expected = expected
        self.received = received



class InvalidTenantCapError(ConfigurationError):
    """A per-tenant cap (a queue's ``perTenant``, an override) is malformed; ``field`` is the full
    path of the offending value (``environment variable HOPPER_TENANT_CAPS: email.cap.concurrency``)."""

    def __init__(self, field: str, expected: str, received: str) -> None:
        super().__init__(f"{field} must be {expected}, but {received} was provided")
        self.field = field
        self.expected = expected
        self.received = received
