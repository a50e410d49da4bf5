"""CloudWatch metrics through the Embedded Metric Format, with the names, units, dimensions and
aggregation of the TypeScript worker (lib/observability/emf.ts): one JSON line per (queue, jobtype)
an invocation saw, counts summed and timings as arrays of at most 100 values, published under
``[Queue]`` and ``[Queue, JobType]``. No API call and no IAM right: CloudWatch Logs reads the lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .job import parse_time

#: Metric name → unit, as in CloudWatch (only those a worker publishes).
UNITS = {
    "Processed": "Count",
    "Failed": "Count",
    "Retried": "Count",
    "Expired": "Count",
    "Superseded": "Count",
    "RateLimited": "Count",
    "Duration": "Milliseconds",
    "Latency": "Milliseconds",
}
NAMESPACE = "Hopper"
MAX_JOB_TYPES = 50
MAX_VALUES_PER_LINE = 100
#: The jobtype of bodies that are not jobs, and of jobtypes past an instance's cap.
INVALID_JOBTYPE = "Invalid"
OTHER_JOBTYPE = "Other"
MAX_DIMENSION_LENGTH = 1024


def dimension_value(text: str) -> str:
    """A dimension value CloudWatch accepts: printable ASCII as it is, anything else as a ``\\uXXXX``
    escape of its UTF-16 code units (a backslash as ``\\\\``); blank or too long → ``Other``."""
    escaped = []
    for unit in _utf16_units(text):
        if unit == 0x5C:
            escaped.append("\\\\")
        elif 0x20 <= unit <= 0x7E:
            escaped.append(chr(unit))
        else:
            escaped.append(f"\\u{unit:04x}")
    value = "".join(escaped)
    return OTHER_JOBTYPE if value.strip() == "" or len(value) > MAX_DIMENSION_LENGTH else value


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-be", errors="surrogatepass")
    return [int.from_bytes(data[index : index + 2], "big") for index in range(0, len(data), 2)]


def due_at_ms(job: Mapping[str, Any], sent_ms: int | None) -> int | None:
    """When ``job`` became due (lib/job/due.ts): the latest of ``enqueued_at`` (else SQS's
    SentTimestamp), ``at`` and a retry's ``failure.next_at``."""
    times = [sent_ms] if job.get("enqueued_at") is None else [_ms(job.get("enqueued_at"))]
    times += [_ms(job.get("at")), _ms((job.get("failure") or {}).get("next_at"))]
    known = [value for value in times if value is not None]
    return max(known) if known else None


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(parse_time("time", value).timestamp() * 1000)
    except Exception:  # noqa: BLE001 - a malformed time is no time
        return None


class Metrics:
    """The metrics of one function instance (it remembers the jobtypes it gave a series)."""

    def __init__(self, sink: Callable[[str], None], *, namespace: str = NAMESPACE, enabled: bool = True) -> None:
        self._sink = sink
        self._namespace = namespace
        self._enabled = enabled
        self._known: set[str] = set()

    def batch(self) -> MetricsBatch:
        return MetricsBatch(self)

    def jobtype(self, raw: str) -> str:
        value = dimension_value(raw)
        if value in self._known:
            return value
        if len(self._known) >= MAX_JOB_TYPES:
            return OTHER_JOBTYPE
        self._known.add(value)
        return value


class MetricsBatch:
    """One invocation's metrics, printed by :meth:`flush`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._series: dict[tuple[str, str], tuple[dict[str, int], dict[str, list[int]]]] = {}

    def _of(self, queue: str, jobtype: str) -> tuple[dict[str, int], dict[str, list[int]]]:
        key = (dimension_value(queue), self._metrics.jobtype(jobtype))
        return self._series.setdefault(key, ({}, {}))

    def count(self, queue: str, jobtype: str, metric: str, n: int = 1) -> None:
        if self._metrics._enabled and n != 0:
            counts = self._of(queue, jobtype)[0]
            counts[metric] = counts.get(metric, 0) + n

    def observe(self, queue: str, jobtype: str, metric: str, value: float) -> None:
        if self._metrics._enabled:
            self._of(queue, jobtype)[1].setdefault(metric, []).append(max(0, round(value)))

    def flush(self, at: datetime) -> None:
        at_ms = int(at.timestamp() * 1000)
        for (queue, jobtype), (counts, values) in self._series.items():
            chunks = max([1, *((len(observed) + MAX_VALUES_PER_LINE - 1) // MAX_VALUES_PER_LINE for observed in values.values())])
            for chunk in range(chunks):
                # Counts travel in the first line only; timings are split 100 values a line.
                fields: dict[str, Any] = dict(counts) if chunk == 0 else {}
                for metric, observed in values.items():
                    part = observed[chunk * MAX_VALUES_PER_LINE : (chunk + 1) * MAX_VALUES_PER_LINE]
                    if part:
                        fields[metric] = part
                if not fields:
                    continue
                line = {
                    "_aws": {
                        "Timestamp": at_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": self._metrics._namespace,
                            "Dimensions": [["Queue"], ["Queue", "JobType"]],
                            "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in fields],
                        }],
                    },
                    "Queue": queue,
                    "JobType": jobtype,
                    **fields,
                }
                self._metrics._sink(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
        self._series.clear()
