"""The writes of each limiter kind, planned without I/O from the item as last read (lib/limiters/dynamo):
a plan is a conditional ``UpdateItem`` whose condition is the admission rule, a refusal with its
retry-after, or nothing to do. The store (limiters.py) writes a plan and plans again from the item
as it is when the condition fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from .limiter_spec import LimiterSpec

#: Attribute names of limiter items (lib/limiters/keys.ts ``LIMITER_ATTRIBUTES``).
ENTRY_COUNT, ENTRY_PREFIX, LAST_HOLD = "n", "e_", "h"
BUCKET_START, BUCKET_INTERVAL, BUCKET_COUNT = "b", "i", "c"
GCRA_TAT, GCRA_SCALE = "t", "s"
TTL_MARGIN_SECONDS = 3_600
LEASE_ESTIMATE_MIN_MS = 50


Known = Union[str, dict]  # "unread", "absent" or the item's attributes


@dataclass(frozen=True)
class _Write:
    update: str
    condition: str
    names: dict[str, str]
    values: dict[str, dict[str, str]]


@dataclass(frozen=True)
class _Refuse:
    retry_after_ms: int


_DONE = "done"
Step = Union[_Write, _Refuse, str]


def _num(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _integer(item: Mapping[str, Any], attribute: str) -> int | None:
    text = (item.get(attribute) or {}).get("N")
    return int(text) if isinstance(text, str) and re.fullmatch(r"-?\d+", text) else None


def _ttl_after(epoch_ms: int) -> int:
    return math.ceil(epoch_ms / 1000) + TTL_MARGIN_SECONDS


def _refuse(retry_after_ms: float) -> _Refuse:
    return _Refuse(max(1, math.ceil(retry_after_ms)))


def plan_add_entry(spec: LimiterSpec, token: str, now_ms: int, known: Known) -> Step:
    """A lease (``concurrent``) or an admission (``window``): one ``e_<token>`` attribute and the
    count ``n``, added on condition that fewer than ``limit`` live entries are held; dead entries are
    removed in the same write, on condition that they still hold the values read (entry-plans.ts)."""
    item: Mapping[str, Any] = known if isinstance(known, dict) else {}
    entries = {attribute[len(ENTRY_PREFIX):]: value for attribute in item if attribute.startswith(ENTRY_PREFIX) and (value := _integer(item, attribute)) is not None}
    if token in entries:
        return _DONE
    concurrent = spec.type == "concurrent"
    value = now_ms + spec.lock_timeout_ms if concurrent else now_ms
    expires_at = (lambda stored: stored) if concurrent else (lambda stored: stored + spec.interval_ms)
    live = {entry: stored for entry, stored in entries.items() if expires_at(stored) > now_ms}
    expired = {entry: stored for entry, stored in entries.items() if entry not in live}
    if len(live) >= spec.limit:
        if concurrent:
            return _refuse(_expected_free_in_ms(live, now_ms, spec.lock_timeout_ms, _integer(item, LAST_HOLD)))
        return _refuse(min(expires_at(stored) for stored in live.values()) - now_ms)
    names = {"#n": ENTRY_COUNT, "#ttl": "ttl", "#me": f"{ENTRY_PREFIX}{token}"}
    values = {":v": _num(value), ":d": _num(1 - len(expired)), ":max": _num(spec.limit + len(expired)), ":ttl": _num(_ttl_after(expires_at(value)))}
    removals: list[str] = []
    still_dead = ""
    for index, (entry, stored) in enumerate(expired.items()):
        names[f"#x{index}"] = f"{ENTRY_PREFIX}{entry}"
        values[f":x{index}"] = _num(stored)
        removals.append(f"#x{index}")
        still_dead += f" AND #x{index} = :x{index}"
    update = "SET #me = :v, #ttl = :ttl ADD #n :d" + (f" REMOVE {', '.join(removals)}" if removals else "")
    condition = f"attribute_not_exists(#me) AND (attribute_not_exists(#n) OR #n < :max){still_dead}"
    return _Write(update, condition, names, values)


def _expected_free_in_ms(live: Mapping[str, int], now_ms: int, lock_timeout_ms: int, last_hold_ms: int | None) -> int:
    """When the first live lease is expected to end (lib/limiters/concurrent.ts ``expectedFreeInMs``)."""
    soonest = math.inf
    for expiry in live.values():
        start = expiry - lock_timeout_ms
        held = max(0, now_ms - start)
        typical_end = None if last_hold_ms is None else start + last_hold_ms
        estimate = typical_end - now_ms if typical_end is not None and typical_end > now_ms else max(LEASE_ESTIMATE_MIN_MS, held)
        soonest = min(soonest, estimate, expiry - now_ms)
    return max(1, math.ceil(soonest)) if math.isfinite(soonest) else lock_timeout_ms


def plan_remove_entry(token: str, known: Known, held_ms: int | None) -> Step:
    """Gives a lease back, recording how long it was held; nothing to do once it is gone."""
    if known != "unread":
        return _DONE
    names = {"#me": f"{ENTRY_PREFIX}{token}", "#n": ENTRY_COUNT}
    values = {":minus": _num(-1)}
    if held_ms is None:
        return _Write("REMOVE #me ADD #n :minus", "attribute_exists(#me)", names, values)
    return _Write("SET #h = :held REMOVE #me ADD #n :minus", "attribute_exists(#me)", {**names, "#h": LAST_HOLD}, {**values, ":held": _num(max(0, round(held_ms)))})


def plan_take_from_bucket(spec: LimiterSpec, now_ms: int, known: Known) -> Step:
    """One call counted in the interval-aligned bucket of ``now_ms`` (bucket-plans.ts)."""
    start = now_ms // spec.interval_ms * spec.interval_ms
    if known == "unread":
        state: tuple[int, int, int] | None = (start, spec.interval_ms, 0)
    elif known == "absent" or not isinstance(known, dict):
        state = None
    else:
        read = (_integer(known, BUCKET_START), _integer(known, BUCKET_INTERVAL), _integer(known, BUCKET_COUNT))
        state = None if None in read else (read[0], read[1], read[2])  # type: ignore[assignment]
    current = state if state is not None and state[1] == spec.interval_ms and state[0] >= start else None
    names = {"#b": BUCKET_START, "#i": BUCKET_INTERVAL, "#c": BUCKET_COUNT, "#ttl": "ttl"}
    if current is None:
        values = {":b": _num(start), ":i": _num(spec.interval_ms), ":ttl": _num(_ttl_after(start + spec.interval_ms)), ":one": _num(1)}
        return _Write("SET #b = :b, #i = :i, #c = :one, #ttl = :ttl", "attribute_not_exists(#b) OR #i <> :i OR #b < :b", names, values)
    if current[2] >= spec.limit:
        return _refuse(current[0] + current[1] - now_ms)
    values = {":b": _num(current[0]), ":i": _num(current[1]), ":ttl": _num(_ttl_after(current[0] + current[1])), ":one": _num(1), ":limit": _num(spec.limit)}
    return _Write("SET #ttl = :ttl ADD #c :one", "#b = :b AND #i = :i AND #c < :limit", names, values)


@dataclass(frozen=True)
class GcraParams:
    """A GCRA bucket's shape in units of 1/``scale`` ms (lib/limiters/gcra.ts ``GcraParams``)."""

    #: Units per millisecond: the refill per interval.
    scale: int
    #: Units one point takes to drain: the interval in ms.
    emission: int
    #: Units the bucket spans when full: capacity × emission.
    tolerance: int


def gcra_params(spec: LimiterSpec) -> GcraParams:
    """``leaky``: capacity ``limit``, ``limit`` drips per interval; ``points``: capacity ``limit``,
    ``refill`` per interval."""
    scale = spec.refill if spec.type == "points" else spec.limit
    return GcraParams(scale, spec.interval_ms, spec.limit * spec.interval_ms)


def _gcra_state(known: Known, params: GcraParams) -> int | None:
    """The stored TAT when there is one at this scale (a bucket kept at another scale restarts)."""
    if not isinstance(known, dict):
        return None
    tat, scale = _integer(known, GCRA_TAT), _integer(known, GCRA_SCALE)
    return tat if tat is not None and scale == params.scale else None


def _units_to_ms(units: int, scale: int) -> int:
    return -(-units // scale)


def _gcra_ttl(params: GcraParams, now: int, extra: int) -> dict[str, str]:
    drained_at = now + params.tolerance + max(0, extra)
    return _num(_ttl_after(_units_to_ms(drained_at, params.scale)))


def _gcra_restart(params: GcraParams, now: int, tat: int, extra: int) -> _Write:
    return _Write(
        "SET #t = :t, #s = :s, #ttl = :ttl",
        "attribute_not_exists(#t) OR #s <> :s OR #t < :now",
        {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
        {":t": _num(tat), ":s": _num(params.scale), ":now": _num(now), ":ttl": _gcra_ttl(params, now, extra)},
    )


def plan_take_from_gcra(params: GcraParams, cost: int, now_ms: int, known: Known) -> Step:
    """Takes ``cost`` points (gcra-plans.ts ``planTakeFromGcra``). While the bucket holds something,
    ``ADD t cost·I`` on condition that it stays within the tolerance: atomic, so concurrent callers
    are admitted exactly up to capacity. A drained (or new) bucket restarts from now with a ``SET``
    on condition that it is still drained. An unread item is assumed busy."""
    now = now_ms * params.scale
    increment = cost * params.emission
    if known != "unread":
        stored = _gcra_state(known, params)
        advance = stored is not None and stored >= now
        tat = (stored if advance and stored is not None else now) + increment
        over = tat - now - params.tolerance
        if over > 0:
            return _refuse(_units_to_ms(over, params.scale))
        if not advance:
            return _gcra_restart(params, now, tat, 0)
    return _Write(
        "SET #ttl = :ttl ADD #t :inc",
        "#s = :s AND #t >= :now AND #t <= :max",
        {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
        {":inc": _num(increment), ":s": _num(params.scale), ":now": _num(now), ":max": _num(now + params.tolerance - increment), ":ttl": _gcra_ttl(params, now, 0)},
    )


def plan_settle_gcra(params: GcraParams, delta: int, now_ms: int, known: Known) -> Step:
    """Charges ``delta`` more points, or refunds ``-delta`` (gcra-plans.ts ``planSettleGcra``). A
    charge may take the bucket past full (the work is done); a refund never takes the TAT below now.
    An unread item is assumed to still be draining."""
    if delta == 0:
        return _DONE
    now = now_ms * params.scale
    change = delta * params.emission
    if known == "unread":
        step = "advance"
    else:
        stored = _gcra_state(known, params)
        if stored is None or stored < now:
            step = "restart" if delta > 0 else "none"
        else:
            step = "clamp" if stored + change < now else "advance"
    if step == "none":
        return _DONE
    if step == "restart":
        return _gcra_restart(params, now, now + change, change)
    if step == "clamp":
        return _Write("SET #t = :now", "#s = :s AND #t >= :now AND #t < :floor", {"#t": GCRA_TAT, "#s": GCRA_SCALE},
                      {":now": _num(now), ":s": _num(params.scale), ":floor": _num(now - change)})
    if delta > 0:
        return _Write("SET #ttl = :ttl ADD #t :inc", "#s = :s AND #t >= :now", {"#t": GCRA_TAT, "#s": GCRA_SCALE, "#ttl": "ttl"},
                      {":inc": _num(change), ":s": _num(params.scale), ":now": _num(now), ":ttl": _gcra_ttl(params, now, change)})
    # A refund keeps the TTL: the bucket drains sooner, so the stored TTL is still late enough.
    return _Write("ADD #t :inc", "#s = :s AND #t >= :floor", {"#t": GCRA_TAT, "#s": GCRA_SCALE}, {":inc": _num(change), ":s": _num(params.scale), ":floor": _num(now - change)})
