"""The environment variables the JobSystem construct sets on Hopper's functions and workers."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError
from .job import JOB_DEFAULTS

#: Partition of the configuration document's items in the state table (lib/config/document.ts).
CONFIG_PARTITION = "config"

_documents: dict[tuple[str, str], dict[str, str]] = {}


def environment_with_document(env: Mapping[str, str] | None = None, dynamodb: Any | None = None) -> Mapping[str, str]:
    """``env`` with the configuration document's variables added (``HOPPER_CONFIG`` set).

    The JobSystem keeps the variables that grow with the stack (queue URLs, queue settings, crons,
    quotas) in the state table rather than the environment, whose 4 KB Lambda refuses to exceed.
    They are read once per process (one Query); a variable set in ``env`` wins. Without
    ``HOPPER_CONFIG``, ``env`` is returned as it is. ``dynamodb`` is a ``boto3.client("dynamodb")``
    (one is made from ``env`` when not given).

    Raises:
        ConfigurationError: when the items are missing or malformed.
    """
    env = os.environ if env is None else env
    version = env.get("HOPPER_CONFIG")
    if not version:
        return env
    table = env.get("HOPPER_STATE_TABLE")
    if not table:
        raise ConfigurationError("environment variable HOPPER_STATE_TABLE is not set, though HOPPER_CONFIG is; the JobSystem construct sets both")
    key = (table, version)
    if key not in _documents:
        _documents[key] = _read_document(env, table, version, dynamodb)
    return {**_documents[key], **{name: value for name, value in env.items() if value}}


def _read_document(env: Mapping[str, str], table: str, version: str, dynamodb: Any | None) -> dict[str, str]:
    if dynamodb is None:
        from .sqs import dynamodb_client_from_env

        dynamodb = dynamodb_client_from_env(env)
    where = f"the configuration items (pk {CONFIG_PARTITION}) of table {table}"
    variables: dict[str, str] = {}
    items = 0
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": CONFIG_PARTITION}},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**request)
        for item in page.get("Items", []):
            items += 1
            try:
                part = json.loads(item.get("variables", {}).get("S", ""))
            except ValueError:
                part = None
            if not isinstance(part, dict) or not all(isinstance(value, str) for value in part.values()):
                raise ConfigurationError(f"{where}, sk {item.get('sk', {}).get('S', '?')}, must hold a JSON object of variable name to string in variables")
            variables.update(part)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if items == 0:
        raise ConfigurationError(f"{where} are missing, though HOPPER_CONFIG is {version}: the JobSystem construct writes them at deploy; deploy the stack again")
    return variables


def queue_urls_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Reads ``HOPPER_QUEUE_URLS`` (a JSON object of queue name to URL)."""
    env = os.environ if env is None else env
    raw = env.get("HOPPER_QUEUE_URLS")
    if not raw:
        raise ConfigurationError("environment variable HOPPER_QUEUE_URLS is not set; pass queue_urls= or set it to a JSON object of queue name to URL")
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(url, str) for url in parsed.values()):
        raise ConfigurationError("environment variable HOPPER_QUEUE_URLS must be a JSON object of queue name to URL")
    return parsed


def default_retry_from_env(env: Mapping[str, str] | None = None) -> int:
    """Reads ``HOPPER_DEFAULT_RETRY`` (the JobSystem's retry count for jobs that do not say), or 25."""
    env = os.environ if env is None else env
    raw = env.get("HOPPER_DEFAULT_RETRY") or ""
    if raw == "":
        return JOB_DEFAULTS["retry"]
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigurationError(f'environment variable HOPPER_DEFAULT_RETRY must be a non-negative integer, but "{raw}" was provided')
    return int(raw)


def _json_object(env: Mapping[str, str], name: str, shape: str) -> dict[str, Any]:
    """The JSON object in variable ``name`` ({} when unset), or a ConfigurationError naming ``shape``."""
    raw = env.get(name)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ConfigurationError(f"environment variable {name} must be a JSON object of {shape}")
    return parsed


def queue_visibility_from_env(env: Mapping[str, str]) -> dict[str, int]:
    """Reads ``HOPPER_QUEUE_VISIBILITY`` (queue name → visibility timeout in seconds), for reservations."""
    shape = "queue name to a number of seconds"
    parsed = _json_object(env, "HOPPER_QUEUE_VISIBILITY", shape)
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 for value in parsed.values()):
        raise ConfigurationError(f"environment variable HOPPER_QUEUE_VISIBILITY must be a JSON object of {shape}")
    return {name: int(value) for name, value in parsed.items()}


def queue_caps_from_env(env: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Reads ``HOPPER_QUEUE_CONCURRENCY`` (queue → ``{jobs, perInvocation, leaseSeconds?}``); queues without a cap are absent."""
    caps: dict[str, dict[str, int]] = {}
    for queue, value in _json_object(env, "HOPPER_QUEUE_CONCURRENCY", "queue name to { jobs, perInvocation, leaseSeconds? }").items():
        fields = value if isinstance(value, dict) else {}
        positive = lambda key: isinstance(fields.get(key), int) and not isinstance(fields.get(key), bool) and fields[key] >= 1  # noqa: E731
        if not positive("jobs") or not positive("perInvocation") or ("leaseSeconds" in fields and not positive("leaseSeconds")):
            raise ConfigurationError(f"environment variable HOPPER_QUEUE_CONCURRENCY: {queue} must be {{ jobs, perInvocation, leaseSeconds? }} of positive integers, but {json.dumps(value)} was provided")
        caps[queue] = fields
    return caps

