"""Busy reports: a job that has run 10 seconds or more is written to the state table, as the
TypeScript worker writes it (lib/stats/busy.ts), so that ``GET /v1/busy``, the dashboard's Busy page
and ``hopper top`` list it whatever the language of its worker.

One item per instance and queue (``pk`` ``busy``, ``sk`` ``<queue>#<instance>``, the instance being
the function's log stream), rewritten at most every 10 seconds while the job runs and deleted when
it ends; a job shorter than 10 seconds writes nothing. A Python worker runs one job at a time, so a
report lists at most that one. The reports are kept with the stats (``HOPPER_STATS=on``), as the
TypeScript worker keeps them.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .logger import Logger

#: A job is reported once it has run this long.
REPORT_AFTER_MS = 10_000
#: While it runs, its report is written again this often.
REPORT_EVERY_MS = 10_000
#: How often a running job is looked at (no I/O unless a report is due).
CHECK_EVERY_SECONDS = 1.0
#: Characters of a progress message kept in a report.
MAX_MESSAGE = 80
#: Seconds a report lives past its write: longer than any invocation.
TTL_SECONDS = 16 * 60


def instance_name(env: Mapping[str, str]) -> str:
    """This function instance's name: its log stream on Lambda, the process elsewhere."""
    stream = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
    return stream if stream else f"pid-{os.getpid()}"


class BusyReport:
    """The report of one running job. ``check()`` writes it when due; ``end()`` deletes what was written.

    ``watch()`` starts a daemon thread that calls ``check()`` every second while the job runs, since
    the job's handler holds the worker's own thread."""

    def __init__(
        self,
        client: Callable[[], Any],
        table: str,
        instance: str,
        job: Mapping[str, Any],
        attempt: int,
        now_ms: Callable[[], int],
        logger: Logger,
    ) -> None:
        self._client = client
        self._table = table
        self._key = {"pk": {"S": "busy"}, "sk": {"S": f"{job['queue']}#{instance}"}}
        self._job = job
        self._attempt = attempt
        self._now_ms = now_ms
        self._logger = logger
        self._started_ms = now_ms()
        self._reported_ms: int | None = None
        self._progress: tuple[float, str | None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self, percent: float, message: str | None = None) -> None:
        """Keeps the job's last progress (0 to 100) for its next report; anything but a number is ignored."""
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not math.isfinite(percent):
            return
        with self._lock:
            kept = message[:MAX_MESSAGE] if isinstance(message, str) else None
            self._progress = (min(100.0, max(0.0, float(percent))), kept)

    def check(self) -> None:
        """Writes the report when the job has run 10 s and its last report is 10 s old; never raises."""
        now = self._now_ms()
        with self._lock:
            if now - self._started_ms < REPORT_AFTER_MS:
                return
            if self._reported_ms is not None and now - self._reported_ms < REPORT_EVERY_MS:
                return
            progress = self._progress
        entry: dict[str, Any] = {
            "i": {"S": str(self._job["jid"])},
            "t": {"S": str(self._job["jobtype"])},
            "s": {"N": str(self._started_ms)},
            "a": {"N": str(self._attempt)},
        }
        if progress is not None:
            entry["p"] = {"N": _number(progress[0])}
            if progress[1] is not None:
                entry["m"] = {"S": progress[1]}
        try:
            self._client().update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="SET #at = :at, #j = :j, #n = :n, #ttl = :ttl",
                ExpressionAttributeNames={"#at": "at", "#j": "j", "#n": "n", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":at": {"N": str(now)},
                    ":j": {"L": [{"M": entry}]},
                    ":n": {"N": "1"},
                    ":ttl": {"N": str(now // 1000 + TTL_SECONDS)},
                },
            )
            with self._lock:
                self._reported_ms = now
        except Exception as error:  # noqa: BLE001 - a report must never fail a job
            self._logger.warn("could not write the busy report; tried again in a second", error=str(error))

    def watch(self) -> BusyReport:
        """Calls ``check()`` every second on a daemon thread until ``end()``."""
        def loop() -> None:
            while not self._stop.wait(CHECK_EVERY_SECONDS):
                self.check()

        self._thread = threading.Thread(target=loop, name="hopper-busy", daemon=True)
        self._thread.start()
        return self

    def end(self) -> None:
        """Stops watching, and deletes the report if one was written; never raises."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._reported_ms is None:
            return
        try:
            self._client().delete_item(TableName=self._table, Key=self._key)
        except Exception as error:  # noqa: BLE001 - the report's TTL and staleness cover a failed delete
            self._logger.warn("could not delete the busy report; it is left out once stale", error=str(error))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
