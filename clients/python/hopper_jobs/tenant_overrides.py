"""Per-tenant cap overrides, read as lib/limiters/tenant-overrides.ts reads them: one Query of the
tenant's partition in the limits table (``tenantcap#<tenant>``; sort key ``*`` for every queue
declaring ``perTenant``, ``queue#<name>`` for one), each item holding ``cap`` (JSON), ``tenant`` and
``queue``. The API writes them; a worker instance reads a tenant's at most once per 30 seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidTenantCapError
from .tenant_caps import TenantCap, validate_tenant_cap

#: Partition prefix of a tenant's overrides (lib/limiters/keys.ts ``TENANT_CAP_KEYS``).
TENANT_CAP_PREFIX = "tenantcap"
#: How long a reading is used, and how many tenants an instance keeps (``cachedOverrides``).
OVERRIDE_TTL_MS = 30_000
OVERRIDE_MAX_TENANTS = 10_000


@dataclass(frozen=True)
class TenantOverrides:
    """A tenant's overrides: the one for every queue, and those per queue."""

    all: TenantCap | None = None
    queues: dict[str, TenantCap] = field(default_factory=dict)


def read_overrides(dynamodb: Any, table: str, tenant: str) -> TenantOverrides:
    """``tenant``'s overrides (none: an empty ``TenantOverrides``); items that are not well-formed
    overrides are skipped."""
    output = dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"{TENANT_CAP_PREFIX}#{tenant}"}},
    )
    every: TenantCap | None = None
    queues: dict[str, TenantCap] = {}
    for item in output.get("Items", []):
        raw = item.get("cap", {}).get("S")
        if item.get("tenant", {}).get("S") is None or raw is None:
            continue
        try:
            cap = validate_tenant_cap("stored override", json.loads(raw))
        except (ValueError, InvalidTenantCapError):
            # Not a well-formed override: the declared cap applies.
            continue
        queue = item.get("queue", {}).get("S")
        if queue is None:
            every = cap
        else:
            queues[queue] = cap
    return TenantOverrides(every, queues)


class OverrideCache:
    """Reads through ``read``, once per tenant per 30 seconds per worker instance. A failed read is
    not kept: the next job asks again."""

    def __init__(self, read: Callable[[str], TenantOverrides], now_ms: Callable[[], float], ttl_ms: int = OVERRIDE_TTL_MS, max_tenants: int = OVERRIDE_MAX_TENANTS) -> None:
        self._read = read
        self._now_ms = now_ms
        self._ttl_ms = ttl_ms
        self._max_tenants = max_tenants
        self._readings: dict[str, tuple[float, TenantOverrides]] = {}

    def __call__(self, tenant: str) -> TenantOverrides:
        now_ms = self._now_ms()
        kept = self._readings.get(tenant)
        if kept is not None and now_ms - kept[0] < self._ttl_ms:
            return kept[1]
        self._readings.pop(tenant, None)
        if len(self._readings) >= self._max_tenants:
            # Dicts keep insertion order: the first key is the oldest reading.
            del self._readings[next(iter(self._readings))]
        value = self._read(tenant)
        self._readings[tenant] = (now_ms, value)
        return value
