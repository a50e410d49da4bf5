"""Structured logging: one JSON object per line, as the TypeScript worker writes them.

CloudWatch Logs Insights queries such lines by field (``filter jid = "…"``) whatever language
wrote them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .job import iso_time

LogSink = Callable[[str], None]


class Logger:
    """Writes ``{"level", "message", "time", ...fields}`` lines to ``sink`` (default: ``print``)."""

    def __init__(self, sink: LogSink = print, base: dict[str, Any] | None = None, now: Callable[[], datetime] | None = None) -> None:
        self._sink = sink
        self._base = base or {}
        self._now = now or (lambda: datetime.now(timezone.utc))

    def debug(self, message: str, **fields: Any) -> None:
        self._write("DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._write("INFO", message, fields)

    def warn(self, message: str, **fields: Any) -> None:
        self._write("WARN", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._write("ERROR", message, fields)

    def child(self, **fields: Any) -> Logger:
        """A logger that adds ``fields`` to every line."""
        return Logger(self._sink, {**self._base, **fields}, self._now)

    def _write(self, level: str, message: str, fields: dict[str, Any]) -> None:
        record = {"level": level, "message": message, "time": iso_time(self._now()), **self._base, **fields}
        # default=str: a log call must never turn a success into a failure.
        self._sink(json.dumps(record, default=str, ensure_ascii=False))
