"""The failure envelope a worker sends to the retries queue (``docs/failure.schema.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .job import Job, cap, describe_error, iso_time

#: Largest original body kept in an envelope for a message that was not a valid job.
RAW_BODY_CAP = 64 * 1024


def failure_envelope(
    queue: str,
    error: BaseException,
    now: datetime,
    job: Job | None = None,
    raw: str | None = None,
    message_id: str | None = None,
    unrecoverable: bool = False,
) -> dict[str, Any]:
    """Builds the envelope for a job that raised ``error`` (or a body that was not a job: ``raw``).

    ``message_id`` is the SQS message id of the record, so that a body that was not a job is filed
    in the dead set under the id its producer saw. ``unrecoverable`` sends the job to the dead set
    at once instead of retrying it.
    """
    envelope: dict[str, Any] = {"hopper": "failure", "queue": queue}
    if job is not None:
        envelope["job"] = job
    if raw is not None:
        envelope["raw"] = cap(raw, RAW_BODY_CAP)
    if message_id:
        envelope["message_id"] = message_id
    envelope["error"] = describe_error(error)
    envelope["failed_at"] = iso_time(now)
    if unrecoverable:
        envelope["unrecoverable"] = True
    return envelope


def is_unrecoverable(error: BaseException) -> bool:
    """True when retrying cannot help.

    Recognised by class *name* anywhere in the error's class hierarchy, so an
    ``UnrecoverableJobError`` defined by another library (or another copy of this one) counts too.
    """
    return any(cls.__name__ == "UnrecoverableJobError" for cls in type(error).__mro__)
