"""The configuration of one worker instance: queue URLs, tables and settings from the environment (and
the JobSystem's configuration document), and the team's middleware.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .env import default_retry_from_env, environment_with_document, queue_caps_from_env, queue_urls_from_env, queue_visibility_from_env
from .errors import ConfigurationError
from .middleware import Middleware
from .sqs import SqsClient, dynamodb_client_from_env, sqs_client_from_env
from .state import DEAD_SET_DEFAULT_DAYS, ONCE_STEP_EXTRA_DAYS
from .tenant_caps import tenant_caps_from_env
from .tenant_overrides import TenantOverrides
from .tiers import TierLayout, job_queue_url, queue_tiers_from_env, source_queue_of


@dataclass
class WorkerConfig:
    sqs: SqsClient
    retries_queue_url: str
    queue_urls: dict[str, str]
    default_retry: int
    state_table: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    dynamodb: Any | None = None
    #: Busy reports are kept with the stats (``HOPPER_STATS=on``), as the TypeScript worker keeps them.
    stats_on: bool = False
    limits_table: str | None = None
    #: Queue caps (``HOPPER_QUEUE_CONCURRENCY``): a queue with ``leaseSeconds`` is capped by a lease per job.
    queue_caps: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Queue name → visibility timeout in seconds (``HOPPER_QUEUE_VISIBILITY``), for reservations.
    visibility: dict[str, int] = field(default_factory=dict)
    #: The team's chains and hooks (``worker(..., middleware=)``).
    middleware: Middleware | None = None
    #: Per-tenant caps (``HOPPER_TENANT_CAPS``): queue → ``{"cap": ..., "leaseSeconds": ...}``.
    tenant_caps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Reads a tenant's cap overrides, cached per instance (flow_gate.py); None: the declared caps only.
    overrides: Callable[[str], TenantOverrides] | None = None
    #: Queue name → its priority tiers (``HOPPER_QUEUE_TIERS``; queues declaring tiers only).
    queue_tiers: dict[str, TierLayout] = field(default_factory=dict)

    def url_of(self, job: Mapping[str, Any]) -> str | None:
        """The URL a re-sent ``job`` goes to: its queue's, or its tier's (a tier removed since goes
        to the default tier: Hopper never loses a job for it)."""
        return job_queue_url(job, self.queue_urls, self.queue_tiers, lenient=True)

    def marks_client(self) -> Any:
        if self.dynamodb is None:
            self.dynamodb = dynamodb_client_from_env(self.env)
        return self.dynamodb


def configure(env: Mapping[str, str] | None, sqs: SqsClient | None, dynamodb: Any | None = None) -> WorkerConfig:
    env = environment_with_document(os.environ if env is None else env, dynamodb)
    retries = env.get("HOPPER_RETRIES_QUEUE_URL")
    if not retries:
        raise ConfigurationError("environment variable HOPPER_RETRIES_QUEUE_URL is not set; it is set by the JobSystem construct (did you call jobs.addWorker(fn)?)")
    queue_urls = queue_urls_from_env(env) if env.get("HOPPER_QUEUE_URLS") else {}
    return WorkerConfig(
        sqs if sqs is not None else sqs_client_from_env(env), retries, queue_urls, default_retry_from_env(env),
        state_table=env.get("HOPPER_STATE_TABLE") or None, env=dict(env), dynamodb=dynamodb,
        stats_on=env.get("HOPPER_STATS") == "on",
        limits_table=env.get("HOPPER_LIMITS_TABLE") or None,
        queue_caps=queue_caps_from_env(env),
        visibility=queue_visibility_from_env(env),
        tenant_caps=tenant_caps_from_env(env),
        queue_tiers=queue_tiers_from_env(env),
    )


def once_step_days(env: Mapping[str, str]) -> int:
    """Days a done step is kept: the dead set's retention plus 30, as the TypeScript worker keeps it."""
    try:
        dead = int(env.get("HOPPER_DEAD_TTL_DAYS", ""))
    except ValueError:
        dead = 0
    return (dead if dead > 0 else DEAD_SET_DEFAULT_DAYS) + ONCE_STEP_EXTRA_DAYS


def queue_name_of(arn: str, queue_urls: Mapping[str, str], tiers: Mapping[str, TierLayout] | None = None) -> str | None:
    """The Hopper name of the queue an SQS record came from, by its ARN (a tier's queue: its
    logical queue). See ``tiers.source_queue_of``."""
    source = source_queue_of(arn, queue_urls, tiers or {})
    return None if source is None else source.name
