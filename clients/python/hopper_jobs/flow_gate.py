"""The limits a job holds while it runs, besides those its handler asks for, as lib/worker/flow-gate.ts
takes them: its tenant's caps on its queue (``HOPPER_TENANT_CAPS``, with the tenant's overrides), then
its own throttle (``custom.throttle``), then the queue's ``maxConcurrency`` lease (worker.py). Each is
taken without waiting; a job over its tenant's cap or its throttle goes back on its queue with
``custom.held_count`` one higher, delayed as the TypeScript worker delays it (lib/worker/record.ts
``heldBack``), never failed and using no retry. A job without a tenant on a capped queue, or on a
queue without ``perTenant``, reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .job import Job
from .limiters import Limiter, limited_delay
from .logger import Logger
from .retry import MAX_SQS_DELAY_SECONDS, random_from_text
from .tenant_caps import effective_cap, tenant_limiter_name
from .tenant_overrides import OverrideCache, TenantOverrides, read_overrides
from .throttle import THROTTLE_LIMITER_PREFIX, throttle_of
from .worker_config import WorkerConfig

T = TypeVar("T")

#: ``custom.held_count``: how many times a tenant's cap or the job's throttle has held the job back.
HELD_COUNT_FIELD = "held_count"

LimiterFactory = Callable[[str, Mapping[str, Any]], Limiter]


def has_job_limits(job: Job, queue: str, tenant_caps: Mapping[str, Any]) -> bool:
    """Whether ``job`` has limits of its own on ``queue``: a throttle, or a tenant on a queue that caps its tenants."""
    custom = job.get("custom") or {}
    return "throttle" in custom or ("tenant" in custom and queue in tenant_caps)


def job_limits(job: Job, queue: str, config: WorkerConfig, limiter: LimiterFactory, logger: Logger) -> list[Limiter]:
    """``job``'s own limits, in the order they are taken."""
    limits: list[Limiter] = []
    custom = job.get("custom") or {}
    tenant = custom.get("tenant")
    declared = config.tenant_caps.get(queue)
    if tenant is not None and declared is not None:
        cap = declared["cap"]
        if config.overrides is not None:
            try:
                found = config.overrides(tenant)
                cap = effective_cap(cap, found.all, found.queues.get(queue))
            except Exception as error:  # noqa: BLE001 - the declared cap still holds; the next job reads again
                logger.warn("could not read the tenant's cap overrides; the declared cap applies", tenant=tenant, error=str(error))
        if "concurrency" in cap:
            spec = {"type": "concurrent", "limit": cap["concurrency"], "lockTimeout": declared["leaseSeconds"], "wait": 0}
            limits.append(limiter(tenant_limiter_name("concurrency", queue, tenant), spec))
        if "rate" in cap:
            spec = {"type": "leaky", "limit": cap["rate"]["limit"], "per": cap["rate"]["perSeconds"], "wait": 0}
            limits.append(limiter(tenant_limiter_name("rate", queue, tenant), spec))
    throttle = throttle_of(job)
    if throttle is not None:
        spec = {"type": "leaky", "limit": throttle["limit"], "per": throttle["per"], "wait": 0}
        limits.append(limiter(f"{THROTTLE_LIMITER_PREFIX}{throttle['key']}", spec))
    return limits


def run_within(limits: list[Limiter], fn: Callable[[], T]) -> T:
    """Runs ``fn`` within every one of ``limits``, the first outermost; a refusal (``RateLimitedError``)
    leaves every limit taken given back."""
    if not limits:
        return fn()
    return limits[0].run(lambda: run_within(limits[1:], fn))


def held_count(job: Job) -> int:
    """How many times the job was held back (0 when the field is absent or malformed)."""
    value = (job.get("custom") or {}).get(HELD_COUNT_FIELD)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def next_held_attempt(job: Job, retry_after_seconds: float) -> tuple[int, Job, int]:
    """The delay (at most SQS's 900 s), the job to send back and its hold count, for a job held back
    by a limiter that asked to wait ``retry_after_seconds``: the wait plus a jitter that grows with
    the holds (lib/limiters/reschedule.ts ``nextHeldAttempt``), seeded by the job and its previous
    count, so a redelivery and a TypeScript worker compute the same delay."""
    custom = job.get("custom") or {}
    count = held_count(job) + 1
    draw = random_from_text(f"{job['jid']}#held#{_as_template_text(custom.get(HELD_COUNT_FIELD))}")
    delay = min(MAX_SQS_DELAY_SECONDS, limited_delay(retry_after_seconds, count, draw))
    return delay, {**job, "custom": {**custom, HELD_COUNT_FIELD: count}}, count


def override_cache(config: WorkerConfig, now_ms: Callable[[], float]) -> OverrideCache | None:
    """The instance's reader of tenants' overrides, when a queue caps its tenants and the limits table is known."""
    table = config.limits_table
    if not config.tenant_caps or table is None:
        return None

    def read(tenant: str) -> TenantOverrides:
        return read_overrides(config.marks_client(), table, tenant)

    return OverrideCache(read, now_ms)


def _as_template_text(value: Any) -> str:
    """``value`` as a JavaScript template literal writes ``value ?? 0``."""
    if value is None:
        return "0"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
