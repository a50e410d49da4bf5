"""The end of an invocation: a record that goes back to SQS, and the hard stop at which the worker stops
waiting for a handler (half the deadline margin before Lambda's timeout).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class HandBack(Exception):
    """The record's outcome could not be written: it goes back to SQS (and its job runs again)."""


class Abandoned(HandBack):
    """The job was still running at the invocation's hard stop: it and the records after it go back."""


class HardStop:
    """The moment an invocation stops waiting for the job it runs (half the deadline margin before
    Lambda's timeout, as the TypeScript worker aborts ``ctx.signal``). A handler runs on a thread of
    its own; at the hard stop the worker sets ``ctx.cancelled`` and stops waiting. A Python thread
    cannot be stopped: one that does not check ``ctx.cancelled`` goes on running, and may go on when
    Lambda reuses the environment, as an abandoned TypeScript handler may; its record is handed back,
    so the job runs again (jobs are at-least-once).
    """

    def __init__(self, at_monotonic: float) -> None:
        self.at = at_monotonic
        self.cancelled = threading.Event()

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a thread of its own (in this context's variables), its result or its error;
        raises ``Abandoned`` when it is still running at the hard stop."""
        outcome: dict[str, Any] = {}
        scope = contextvars.copy_context()

        def target() -> None:
            try:
                outcome["value"] = scope.run(fn)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread as it is
                outcome["error"] = error

        thread = threading.Thread(target=target, name="hopper-job", daemon=True)
        thread.start()
        thread.join(max(0.0, self.at - time.monotonic()))
        if thread.is_alive():
            self.cancelled.set()
            raise Abandoned()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")  # type: ignore[return-value]


#: What ``remaining_time`` reports outside Lambda (a script, a test): no deadline.
NO_DEADLINE_MS = 2**31 - 1


def remaining_time(context: Any) -> Callable[[], int]:
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get_remaining):
        return lambda: int(get_remaining())
    return lambda: NO_DEADLINE_MS
