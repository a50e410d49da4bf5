"""The environment variables the JobSystem construct sets on Hopper's functions and workers."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from .errors import ConfigurationError
from .job import JOB_DEFAULTS


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
