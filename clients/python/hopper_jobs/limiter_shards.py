"""Rate limiters and quota buckets whose rate one item cannot take, spread over several items, as
lib/limiters/shards.ts spreads them: the same shard count, keys and shares, so a Python and a
TypeScript worker that name the same limiter share one limit.

A rate limiter of more than 250 admissions a second is split into ``ceil(rate / 250)`` shards (at
most 64), shard ``k`` of the item ``(pk, sk)`` at ``(f"{pk}#{k}", f"{sk}#{k}")``, each with an equal
share of the limit (a points limiter: of its capacity and refill). Concurrent limiters keep one item.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .limiter_spec import LimiterSpec

#: Admissions a second one shard is meant to take at most (lib/limiters/shards.ts ``SHARD_WRITES_PER_SECOND``).
SHARD_WRITES_PER_SECOND = 250
#: Most shards of one limiter (``MAX_SHARDS``).
MAX_SHARDS = 64


def shard_count(spec: LimiterSpec) -> int:
    """How many shards ``spec`` is spread over (1: its own item)."""
    if spec.type == "concurrent":
        return 1
    rate = (spec.refill if spec.type == "points" else spec.limit) / spec.interval_ms * 1000
    # Every shard keeps at least one unit of limit (capacity) and refill.
    floor = min(spec.limit, spec.refill) if spec.type == "points" else spec.limit
    return max(1, min(MAX_SHARDS, floor, math.ceil(rate / SHARD_WRITES_PER_SECOND)))


def _share(total: int, count: int, index: int) -> int:
    return total // count + (1 if index < total % count else 0)


def shards_of(pk: str, sk: str, spec: LimiterSpec) -> list[tuple[str, str, LimiterSpec]]:
    """Every shard of the limiter whose item is ``(pk, sk)``: its key and its share of ``spec``."""
    count = shard_count(spec)
    if count == 1:
        return [(pk, sk, spec)]
    shards = []
    for index in range(count):
        share = replace(spec, limit=_share(spec.limit, count, index))
        if spec.type == "points":
            share = replace(share, refill=_share(spec.refill, count, index))
        shards.append((f"{pk}#{index}", f"{sk}#{index}", share))
    return shards
