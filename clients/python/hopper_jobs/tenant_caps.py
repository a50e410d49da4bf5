"""Hard per-tenant caps on a queue (``perTenant: { concurrency, rate }``), as lib/limiters/tenant-caps.ts
and lib/config/tenant-caps.ts define them: the cap's JSON, the names of the two limiters that enforce
it per tenant and queue (a ``concurrent`` one and a ``leaky`` one), how an override replaces parts of
the declared cap, and ``HOPPER_TENANT_CAPS``. The same names and messages, so a Python and a
TypeScript worker serving one queue hold one tenant to one cap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError, InvalidTenantCapError
from .limiter_spec import COUNTER_LIMIT_MAX, ENTRY_LIMIT_MAX, INTERVAL_MAX_SECONDS, NAME_MAX_LENGTH, NAME_PATTERN, _is_int

#: Prefixes of the limiters that enforce a tenant's cap (``TENANT_LIMITER_PREFIX``).
TENANT_LIMITER_PREFIX = {"concurrency": "hopper.tenant", "rate": "hopper.tenant-rate"}
#: Longest tenant id kept as it is in a limiter name; a longer one (or one with other characters) is hashed.
PLAIN_TENANT_MAX = 120
#: The variable the JobSystem sets on workers: queue name → ``{ cap, leaseSeconds }``.
TENANT_CAPS_VARIABLE = "HOPPER_TENANT_CAPS"

#: A cap as JSON: ``{"concurrency"?: int, "rate"?: {"limit": int, "perSeconds": int}}``.
TenantCap = dict[str, Any]
_ABSENT = object()


def tenant_limiter_name(kind: str, queue: str, tenant: str) -> str:
    """The name of the limiter enforcing ``kind`` (``concurrency`` or ``rate``) of ``tenant``'s cap on
    ``queue``: ``hopper.tenant:email:acme``. A tenant id that is not limiter-name characters, or is
    longer than 120 or than the name's 200 characters leave it, is written as ``sha256:`` and 32 hex digits of the SHA-256 of its UTF-8."""
    prefix = f"{TENANT_LIMITER_PREFIX[kind]}:{queue}:"
    plain = len(tenant) <= PLAIN_TENANT_MAX and len(prefix) + len(tenant) <= NAME_MAX_LENGTH and NAME_PATTERN.match(tenant) is not None and not tenant.startswith("sha256:")
    # A lone surrogate becomes U+FFFD, as Node's UTF-8 encoder writes it.
    utf8 = tenant.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")
    return f"{prefix}{tenant if plain else 'sha256:' + hashlib.sha256(utf8).hexdigest()[:32]}"


def validate_tenant_cap(field: str, value: Any) -> TenantCap:
    """Checks a cap written as JSON and returns it.

    Raises:
        InvalidTenantCapError: naming ``field`` (and the part), what was expected and what was given.
    """

    def fail(part: str, expected: str, given: Any) -> InvalidTenantCapError:
        return InvalidTenantCapError(field if part == "" else f"{field}.{part}", expected, _as_json(given))

    if not isinstance(value, Mapping):
        raise fail("", "an object { concurrency?, rate?: { limit, perSeconds } }", value)
    unknown = [key for key in value if key not in ("concurrency", "rate")]
    if unknown:
        raise fail(unknown[0], "absent (a cap has only concurrency and rate)", value[unknown[0]])
    concurrency, rate = value.get("concurrency", _ABSENT), value.get("rate", _ABSENT)
    cap: TenantCap = {}
    if concurrency is not _ABSENT:
        if not (_is_int(concurrency) and 1 <= concurrency <= ENTRY_LIMIT_MAX):
            raise fail("concurrency", f"an integer from 1 to {ENTRY_LIMIT_MAX}", concurrency)
        cap["concurrency"] = int(concurrency)
    if rate is _ABSENT:
        return cap
    if not isinstance(rate, Mapping):
        raise fail("rate", "an object { limit, perSeconds }", rate)
    limit, per_seconds = rate.get("limit", _ABSENT), rate.get("perSeconds", _ABSENT)
    if not (_is_int(limit) and 1 <= limit <= COUNTER_LIMIT_MAX):
        raise fail("rate.limit", f"an integer from 1 to {COUNTER_LIMIT_MAX}", limit)
    if not (_is_int(per_seconds) and 1 <= per_seconds <= INTERVAL_MAX_SECONDS):
        raise fail("rate.perSeconds", f"an integer number of seconds from 1 to {INTERVAL_MAX_SECONDS}", per_seconds)
    cap["rate"] = {"limit": int(limit), "perSeconds": int(per_seconds)}
    return cap


def effective_cap(declared: TenantCap, for_all: TenantCap | None, for_queue: TenantCap | None) -> TenantCap:
    """The cap that applies: each part from the queue's override, else from the override for every
    queue, else from the queue's declared cap."""
    cap: TenantCap = {}
    for part in ("concurrency", "rate"):
        value = next((source[part] for source in (for_queue, for_all, declared) if source is not None and part in source), None)
        if value is not None:
            cap[part] = value
    return cap


def tenant_caps_from_env(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Reads ``HOPPER_TENANT_CAPS`` (queue → ``{"cap": TenantCap, "leaseSeconds": int}``); unset: no
    queue caps its tenants.

    Raises:
        ConfigurationError: (InvalidTenantCapError for a cap) naming the variable and the queue.
    """
    raw = env.get(TENANT_CAPS_VARIABLE)
    if not raw:
        return {}
    shape = f"environment variable {TENANT_CAPS_VARIABLE} must be a JSON object of queue name to {{ cap, leaseSeconds }}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"{shape}, but it is not JSON") from None
    if not isinstance(parsed, dict):
        raise ConfigurationError(shape)
    caps: dict[str, dict[str, Any]] = {}
    for queue, value in parsed.items():
        where = f"environment variable {TENANT_CAPS_VARIABLE}: {queue}"
        lease = value.get("leaseSeconds") if isinstance(value, dict) else None
        if not (_is_int(lease) and lease >= 1):
            raise ConfigurationError(f"{where} must be {{ cap, leaseSeconds }} with leaseSeconds a positive integer, but {_as_json(value)} was provided")
        caps[queue] = {"cap": validate_tenant_cap(f"{where}.cap", value.get("cap", _ABSENT)), "leaseSeconds": int(lease)}
    return caps





def _as_json(value: Any) -> str:
    """``value`` as JavaScript's ``JSON.stringify`` writes it (``undefined`` when absent)."""
    if value is _ABSENT:
        return "undefined"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
