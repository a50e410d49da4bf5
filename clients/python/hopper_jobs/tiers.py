"""Priority tiers, as the TypeScript side routes them (lib/job/tier.ts, lib/aws/queues.ts).

A queue that declares tiers has one SQS queue per tier, listed in ``HOPPER_QUEUE_TIERS`` (queue
name to ``{defaultTier, tiers: [{name, url, targetSeconds}]}``, most urgent first). A job names its
tier in ``custom.tier``, or gives a Faktory priority in ``custom.priority`` (0 to 9, 9 the most
urgent), split in equal runs over the tiers; otherwise it goes to the default tier. The job's
``queue`` stays the logical queue's name whatever its tier.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigurationError, InvalidJobError

#: The priorities a job may give, as Faktory numbers them.
PRIORITY = {"min": 0, "max": 9, "default": 5}


@dataclass(frozen=True)
class TierLayout:
    """The tiers of one queue, most urgent first, and the one a job without either field goes to."""

    names: tuple[str, ...]
    default_tier: str
    #: Tier name to the URL of its own SQS queue.
    urls: Mapping[str, str]


def queue_tiers_from_env(env: Mapping[str, str] | None = None) -> dict[str, TierLayout]:
    """Reads ``HOPPER_QUEUE_TIERS``; ``{}`` when unset. Raises ``ConfigurationError`` naming the
    variable and the queue when an entry is malformed."""
    env = os.environ if env is None else env
    raw = env.get("HOPPER_QUEUE_TIERS")
    if not raw:
        return {}
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ConfigurationError("environment variable HOPPER_QUEUE_TIERS must be a JSON object of queue name to { defaultTier, tiers }")
    layouts: dict[str, TierLayout] = {}
    for queue, value in parsed.items():
        tiers = value.get("tiers") if isinstance(value, dict) else None
        valid = isinstance(tiers, list) and len(tiers) > 0 and all(
            isinstance(tier, dict) and isinstance(tier.get("name"), str) and isinstance(tier.get("url"), str)
            and isinstance(tier.get("targetSeconds"), (int, float)) and tier["targetSeconds"] > 0
            for tier in tiers
        )
        names = tuple(tier["name"] for tier in tiers) if valid and isinstance(tiers, list) else ()
        if not valid or not isinstance(value, dict) or value.get("defaultTier") not in names:
            raise ConfigurationError(
                f"environment variable HOPPER_QUEUE_TIERS: {queue} must be {{ defaultTier, tiers: [{{ name, url, targetSeconds }}] }} "
                f"naming its default tier, but {json.dumps(value)[:200]} was provided"
            )
        layouts[queue] = TierLayout(names, value["defaultTier"], {tier["name"]: tier["url"] for tier in tiers})
    return layouts


def tier_of_priority(priority: int, names: tuple[str, ...]) -> str | None:
    """The tier a priority maps to: with three tiers, 9-6 go to the first, 5-3 to the second, 2-0
    to the third; with two, 9-5 and 4-0."""
    if not names:
        return None
    span = PRIORITY["max"] - PRIORITY["min"] + 1
    index = ((PRIORITY["max"] - priority) * len(names)) // span
    return names[min(len(names) - 1, max(0, index))]


def tier_of_job(job: Mapping[str, Any], layout: TierLayout, *, lenient: bool = False, path: str = "") -> str:
    """The tier of ``job``: ``custom.tier``, else that of ``custom.priority``, else the default tier.
    With ``lenient`` (Hopper moving a job), a tier or priority that does not fit goes to the default
    tier instead of raising ``InvalidJobError``."""
    custom = job.get("custom") or {}
    tier = custom.get("tier")
    priority = custom.get("priority")

    def fail(field: str, expected: str, received: Any) -> str:
        if lenient:
            return layout.default_tier
        raise InvalidJobError(f"{path}custom.{field}", expected, json.dumps(received))

    if tier is not None:
        if isinstance(tier, str) and tier in layout.names:
            return tier
        return fail("tier", f"one of the tiers of queue {job.get('queue')} ({', '.join(layout.names)})", tier)
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, (int, float)) or priority != int(priority) or not PRIORITY["min"] <= priority <= PRIORITY["max"]:
            return fail("priority", f"an integer from {PRIORITY['min']} (least urgent) to {PRIORITY['max']} (most urgent)", priority)
        return tier_of_priority(int(priority), layout.names) or layout.default_tier
    return layout.default_tier


def job_queue_url(job: Mapping[str, Any], queue_urls: Mapping[str, str], tiers: Mapping[str, TierLayout], *, lenient: bool = False, path: str = "") -> str | None:
    """The URL ``job`` is sent to: its queue's, or its tier's when the queue has tiers. ``None`` when
    its queue is not declared. Raises ``InvalidJobError`` for a tier or priority that does not fit
    (not with ``lenient``)."""
    queue = job.get("queue")
    if not isinstance(queue, str) or queue not in queue_urls:
        return None
    layout = tiers.get(queue)
    if layout is None:
        tier = (job.get("custom") or {}).get("tier")
        if tier is not None and not lenient:
            raise InvalidJobError(f"{path}custom.tier", f"absent: queue {queue} declares no tiers", json.dumps(tier))
        return queue_urls[queue]
    return layout.urls.get(tier_of_job(job, layout, lenient=lenient, path=path), queue_urls[queue])


@dataclass(frozen=True)
class SourceQueue:
    """A declared SQS queue: the logical queue it serves, its tier when it is a tier's, and its URL."""

    name: str
    tier: str | None
    url: str


def source_queue_of(arn: str, queue_urls: Mapping[str, str], tiers: Mapping[str, TierLayout]) -> SourceQueue | None:
    """The declared queue an SQS record came from, by its ARN (``<account>:<physical name>`` at its
    end, as a URL ends in ``/<account>/<physical name>``); a tier's queue resolves to its logical
    queue and its tier."""
    candidates: dict[str, SourceQueue] = {}
    for name, layout in tiers.items():
        for tier, url in layout.urls.items():
            candidates[url] = SourceQueue(name, tier, url)
    for name, url in queue_urls.items():
        candidates.setdefault(url, SourceQueue(name, None, url))
    parts = arn.split(":")
    account, physical = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])
    by_name: list[SourceQueue] = []
    for url, source in candidates.items():
        segments = [segment for segment in urlparse(url).path.split("/") if segment]
        if not segments or segments[-1] != physical:
            continue
        if len(segments) >= 2 and segments[-2] == account:
            return source
        by_name.append(source)
    # Some emulators put a placeholder account in URLs; the physical name alone is still
    # unambiguous unless two accounts share it.
    return by_name[0] if len(by_name) == 1 else None
