"""The job wire format and its validation, as lib/job/model.ts applies it.

``docs/job.schema.json`` is the normative description. Defaults, bounds and error messages match
the TypeScript job model, so a job is accepted or refused the same way in both languages.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import secrets
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidJobError, UnrecoverableJobError

#: Defaults a job gets when its producer leaves a field out.
JOB_DEFAULTS = {"queue": "default", "retry": 25}

JID_MAX_LENGTH = 128
JOBTYPE_MAX_LENGTH = 256
MAX_RETRY = 1000
#: SQS visibility timeout can be at most 12 hours.
MAX_RESERVE_FOR_SECONDS = 43_200
# Largest job as UTF-8 JSON: a quarter of SQS's 1 MiB, so it fits every set (DynamoDB items) and its failure envelope.
MAX_JOB_BYTES = 262_144
ARGS_MAX_LENGTH = 1000
# Deepest nesting of arrays and objects in args (args itself is level 1), as the TypeScript job model.
ARGS_MAX_DEPTH = 32
QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
JID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

#: What Hopper keeps of a failure (capped as Faktory does).
FAILURE_CAPS = {"errtype": 100, "message": 1000, "backtrace_lines": 50}

Job = dict[str, Any]


def new_jid() -> str:
    """A new random job id: 24 hex characters, as Sidekiq makes them."""
    return secrets.token_hex(12)


def iso_time(moment: datetime) -> str:
    """Formats an aware datetime as the wire does: UTC, milliseconds, ``Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(field: str, value: object) -> datetime:
    """Reads an ISO-8601 date-time with a time zone (RFC 3339), or raises naming ``field``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    else:
        moment = None
    # A time without a zone means different instants on different machines.
    if moment is None or moment.tzinfo is None:
        raise InvalidJobError(field, "an ISO-8601 date-time with a time zone", describe(value))
    return moment


def normalize_job(
    value: object,
    now: datetime,
    default_jid: str | None = None,
    default_queue: str | None = None,
    default_retry: int | None = None,
) -> Job:
    """Validates anything that claims to be a job and fills in its defaults.

    ``default_jid`` (the worker passes the SQS message id), ``default_queue`` (the queue the message
    came from) and ``default_retry`` (``HOPPER_DEFAULT_RETRY``) apply to a job that has none.
    Unknown top-level fields are dropped, as the TypeScript model drops them.

    Raises:
        InvalidJobError: naming the first field that is wrong and what was expected.
    """
    if not isinstance(value, Mapping):
        raise InvalidJobError("job", "a JSON object", describe(value))
    jobtype = value.get("jobtype")
    if not isinstance(jobtype, str) or not 1 <= len(jobtype) <= JOBTYPE_MAX_LENGTH:
        raise InvalidJobError("jobtype", f"a string of 1 to {JOBTYPE_MAX_LENGTH} characters", describe(jobtype, "jobtype" in value))
    args = _given(value, "args", [])
    if not isinstance(args, (list, tuple)):
        raise InvalidJobError("args", "an array", describe(args))
    if len(args) > ARGS_MAX_LENGTH:
        raise InvalidJobError("args", f"an array of at most {ARGS_MAX_LENGTH} elements", f"an array of {len(args)}")
    too_deep = _path_deeper_than(args, ARGS_MAX_DEPTH)
    if too_deep is not None:
        raise InvalidJobError(f"args{too_deep}", f"JSON nested at most {ARGS_MAX_DEPTH} levels deep in args", "deeper nesting")

    jid = _given(value, "jid", default_jid or new_jid())
    if not isinstance(jid, str) or len(jid) > JID_MAX_LENGTH or not JID_PATTERN.fullmatch(jid):
        raise InvalidJobError("jid", f"a string of 1 to {JID_MAX_LENGTH} letters, digits, '.', '_', ':' or '-'", describe(jid))
    queue = _given(value, "queue", default_queue or JOB_DEFAULTS["queue"])
    if not isinstance(queue, str) or not QUEUE_NAME_PATTERN.fullmatch(queue):
        raise InvalidJobError("queue", "a queue name of 1 to 64 letters, digits, - or _", describe(queue))
    retry = _given(value, "retry", JOB_DEFAULTS["retry"] if default_retry is None else default_retry)
    if not _is_int(retry) or not 0 <= retry <= MAX_RETRY:
        raise InvalidJobError("retry", f"an integer from 0 to {MAX_RETRY}", describe(retry))
    reserve_for = value.get("reserve_for")
    if "reserve_for" in value and (not _is_int(reserve_for) or not 1 <= reserve_for <= MAX_RESERVE_FOR_SECONDS):
        raise InvalidJobError("reserve_for", f"an integer number of seconds from 1 to {MAX_RESERVE_FOR_SECONDS}", describe(reserve_for))

    job: Job = {
        "jid": jid,
        "jobtype": jobtype,
        "args": list(args),
        "queue": queue,
        "created_at": _time_field("created_at", _given(value, "created_at", now)),
    }
    # Optional fields: absent is fine, but an explicit null is as wrong as in TypeScript.
    if "enqueued_at" in value:
        job["enqueued_at"] = _time_field("enqueued_at", value["enqueued_at"])
    if "at" in value:
        job["at"] = _time_field("at", value["at"])
    job["retry"] = retry
    if "reserve_for" in value:
        job["reserve_for"] = reserve_for
    if "custom" in value:
        job["custom"] = _validate_custom(value["custom"])
    if "failure" in value:
        job["failure"] = _validate_failure(value["failure"])
    return job


def parse_job(body: str, now: datetime, default_jid: str | None = None, default_queue: str | None = None, default_retry: int | None = None) -> Job:
    """Parses the body of an SQS message into a job.

    Raises:
        InvalidJobError: ``field`` is ``body`` when the body is not JSON.
    """
    try:
        parsed = json.loads(body)
    except ValueError:
        raise InvalidJobError("body", "a JSON object", "text that is not JSON") from None
    return normalize_job(parsed, now, default_jid, default_queue, default_retry)


def serialize_job(job: Job) -> str:
    """Serializes a job for the wire, as compact JSON.

    Raises:
        InvalidJobError: naming ``args`` or ``custom`` when they hold values JSON cannot carry
            (objects, NaN, infinities), which the other side could not parse.
    """
    for field in ("args", "custom"):
        try:
            to_json(job.get(field))
        except (TypeError, ValueError) as error:
            raise InvalidJobError(field, "made of JSON values (str, int, float, bool, None, list, dict)", str(error)) from None
    return to_json(job)


def to_json(value: object) -> str:
    """Compact JSON, refusing NaN and infinities (not JSON, and fatal to other parsers)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def byte_length(text: str) -> int:
    """The UTF-8 size of a string, as SQS counts message size."""
    return len(text.encode("utf-8"))


def cap(text: str, limit: int) -> str:
    """Cuts ``text`` to at most ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(error: BaseException) -> dict[str, Any]:
    """The capped failure record of ``error``: error type, message and backtrace.

    Frames are listed innermost first, as Ruby, Faktory and JavaScript stacks are, so the line that
    raised is the first one a reader sees in the dead set.
    """
    frames = traceback.extract_tb(error.__traceback__)
    lines = [f'File "{frame.filename}", line {frame.lineno}, in {frame.name}' for frame in reversed(frames)]
    return {
        "errtype": cap(type(error).__name__, FAILURE_CAPS["errtype"]),
        "message": cap(str(error), FAILURE_CAPS["message"]),
        "backtrace": lines[: FAILURE_CAPS["backtrace_lines"]],
    }


def describe(value: object, present: bool = True) -> str:
    """A short description of a value for error messages, never the whole value."""
    if not present:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, str):
        return f"a string of {len(value)} characters" if len(value) > 40 else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, datetime):
        return "a datetime without a time zone" if value.tzinfo is None else value.isoformat()
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _given(value: Mapping[str, Any], field: str, default: object) -> object:
    """The field's value, or ``default`` when it is absent or null (as ``??`` does in TypeScript)."""
    given = value.get(field)
    return default if given is None else given


def _is_int(value: object) -> bool:
    # bool is an int in Python, but true is not a retry count in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _time_field(field: str, value: object) -> str:
    moment = parse_time(field, value)
    # Strings are kept as given (as the TypeScript model keeps them); datetimes are formatted.
    return value if isinstance(value, str) else iso_time(moment)


def _validate_custom(custom: object) -> dict[str, Any]:
    if not isinstance(custom, Mapping):
        raise InvalidJobError("custom", "a JSON object", describe(custom))
    bid = custom.get("bid")
    if "bid" in custom and (not isinstance(bid, str) or bid == ""):
        raise InvalidJobError("custom.bid", "a non-empty string", describe(bid))
    unique_for = custom.get("unique_for")
    if "unique_for" in custom and (not _is_int(unique_for) or unique_for < 1):
        raise InvalidJobError("custom.unique_for", "a positive integer number of seconds", describe(unique_for))
    unique_until = custom.get("unique_until")
    if "unique_until" in custom and unique_until not in ("success", "start"):
        raise InvalidJobError("custom.unique_until", "'success' or 'start'", describe(unique_until))
    result = dict(custom)
    if "expires_at" in custom:
        result["expires_at"] = _time_field("custom.expires_at", custom["expires_at"])
    tenant = custom.get("tenant")
    if "tenant" in custom and (not isinstance(tenant, str) or tenant == ""):
        raise InvalidJobError("custom.tenant", "a non-empty string", describe(tenant))
    if "debounce" in custom:
        # Imported here: the debounce module builds on this one.
        from .debounce import validate_debounce

        result["debounce"] = validate_debounce(custom["debounce"])
    if "throttle" in custom:
        from .throttle import validate_throttle

        validate_throttle(custom["throttle"])
    return result


def _validate_failure(failure: object) -> dict[str, Any]:
    if not isinstance(failure, Mapping):
        raise InvalidJobError("failure", "a JSON object", describe(failure))
    retry_count = failure.get("retry_count")
    if not _is_int(retry_count) or retry_count < 0:
        raise InvalidJobError("failure.retry_count", "a non-negative integer", describe(retry_count, "retry_count" in failure))
    backtrace = failure.get("backtrace")
    if "backtrace" in failure and (not isinstance(backtrace, list) or not all(isinstance(line, str) for line in backtrace)):
        raise InvalidJobError("failure.backtrace", "an array of strings", describe(backtrace))
    message = failure.get("message")
    errtype = failure.get("errtype")
    result: dict[str, Any] = {
        "retry_count": retry_count,
        "failed_at": _time_field("failure.failed_at", failure.get("failed_at")),
    }
    if "next_at" in failure:
        result["next_at"] = _time_field("failure.next_at", failure["next_at"])
    result["message"] = cap(message if isinstance(message, str) else "", FAILURE_CAPS["message"])
    result["errtype"] = cap(errtype if isinstance(errtype, str) else "Error", FAILURE_CAPS["errtype"])
    if isinstance(backtrace, list):
        result["backtrace"] = backtrace[: FAILURE_CAPS["backtrace_lines"]]
    return result


def _path_deeper_than(value: Any, max_depth: int) -> str | None:
    """The path (``[0].a``) to the first array or object nested deeper than ``max_depth``, or None. Iterative."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        current, depth, path = stack.pop()
        if isinstance(current, (list, tuple)):
            children = [(f"[{index}]", item) for index, item in enumerate(current)]
        elif isinstance(current, dict):
            children = [(f".{key}", item) for key, item in current.items()]
        else:
            continue
        if depth > max_depth:
            return path
        stack.extend((item, depth + 1, path if len(path) > 200 else path + step) for step, item in children)
    return None


#: The field of ``args[0]`` that holds arguments compressed by the TypeScript ``compressArgs``
#: middleware: ``[{"$hopper_gzip": "<base64 of gzip of the JSON args>"}]``.
GZIP_ARGS_MARKER = "$hopper_gzip"

#: Most bytes compressed arguments may expand to: a small hostile body must not take the worker's memory.
MAX_DECODED_ARGS_BYTES = 64 * 1_048_576


def unpacked_args(args: list[Any]) -> list[Any]:
    """The job's arguments, decompressed when they are in ``compressArgs``' form, else as they are.

    Raises ``UnrecoverableJobError`` naming ``args[0].$hopper_gzip`` when the body does not decode:
    retrying cannot fix it.
    """
    if len(args) != 1 or not isinstance(args[0], dict) or list(args[0]) != [GZIP_ARGS_MARKER] or not isinstance(args[0][GZIP_ARGS_MARKER], str):
        return args
    body = args[0][GZIP_ARGS_MARKER]
    try:
        if len(body) % 4 != 0 or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", body):
            raise ValueError("it is not base64")
        with gzip.GzipFile(fileobj=io.BytesIO(base64.b64decode(body, validate=True))) as stream:
            raw = stream.read(MAX_DECODED_ARGS_BYTES + 1)
        if len(raw) > MAX_DECODED_ARGS_BYTES:
            raise ValueError(f"it expands beyond {MAX_DECODED_ARGS_BYTES} bytes")
        decoded = json.loads(raw.decode("utf-8"))
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as error:
        raise UnrecoverableJobError(f"args[0].{GZIP_ARGS_MARKER} does not decode: {error}") from error
    if not isinstance(decoded, list):
        raise UnrecoverableJobError(f"args[0].{GZIP_ARGS_MARKER} does not decode to an array of arguments")
    return decoded
