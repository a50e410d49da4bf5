"""A running job's reservation of its SQS message, as the TypeScript worker keeps it
(lib/worker/reservation.ts): the message stays invisible while the job runs, however long that is.

- At start, a job whose ``reserve_for`` exceeds its queue's visibility timeout extends the
  message's visibility to ``reserve_for``.
- While the handler runs, a heartbeat (a timer thread) extends it again whenever half of the
  current reservation is used up, by the same length. Jobs that finish within half the reservation,
  nearly all of them, never send a request.
- ``ctx.extend(seconds)`` extends it at once and makes ``seconds`` the length the heartbeat renews.

SQS refuses a visibility that would end more than 12 hours after the message was first received,
so every request is capped by the time left of those 12 hours (less a minute for clock skew); once
the cap is reached, the heartbeat stops.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from .errors import HopperError
from .logger import Logger

ASSUMED_VISIBILITY_SECONDS = 30
MAX_SECONDS = 43_200
RETRY_AFTER_FAILURE_S = 10.0
CAP_MARGIN_SECONDS = 60


class ReservationError(HopperError):
    """``ctx.extend`` was asked for a length SQS cannot give, or the message is not from a declared queue."""


def allowed_seconds(first_received_at_ms: int, now_ms: int) -> int:
    """The longest visibility SQS grants at ``now_ms``: what is left of 12 hours from the first receive, less the margin."""
    end_ms = first_received_at_ms + (MAX_SECONDS - CAP_MARGIN_SECONDS) * 1000
    return min(MAX_SECONDS, math.floor((end_ms - now_ms) / 1000))


class Reservation:
    """A message's reservation while its job runs: :meth:`start`, then :meth:`stop` when the job ends."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str | None,
        receipt_handle: str,
        visibility_seconds: int | None,
        reserve_for_seconds: int | None,
        received_at_ms: int,
        first_received_at_ms: int | None,
        now_ms: Callable[[], int],
        logger: Logger,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._receipt_handle = receipt_handle
        self._visibility = visibility_seconds or ASSUMED_VISIBILITY_SECONDS
        self._reserve_for = reserve_for_seconds
        self._first_received_at_ms = first_received_at_ms if first_received_at_ms is not None else received_at_ms
        self._now_ms = now_ms
        self._logger = logger
        self._length = reserve_for_seconds or self._visibility
        self._expires_at_ms = received_at_ms + self._visibility * 1000
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._capped = False

    def start(self) -> None:
        """Extends to ``reserve_for`` when it exceeds the queue's timeout, and starts the heartbeat."""
        if self._reserve_for is not None and self._reserve_for > self._visibility:
            self._renew("reserve_for")
        else:
            self._schedule()

    def extend(self, seconds: int) -> None:
        """Reserves the message for ``seconds`` from now, and renews by ``seconds`` from then on.

        Raises:
            ReservationError: for a length outside 1 to 43,200 seconds, or a message of an undeclared queue.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_SECONDS:
            raise ReservationError(f"extend(seconds) needs an integer from 1 to {MAX_SECONDS}, but {seconds!r} was provided")
        if self._queue_url is None:
            raise ReservationError("cannot extend the reservation: the message is not from a declared queue")
        with self._lock:
            self._length = seconds
            self._change(seconds)
        self._schedule()

    def stop(self) -> None:
        """Stops the heartbeat (the job ended)."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _schedule(self, delay_s: float | None = None) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._stopped or self._capped or self._queue_url is None:
                return
            if delay_s is None:
                delay_s = max(0.0, (self._expires_at_ms - self._length * 1000 / 2 - self._now_ms()) / 1000)
            self._timer = threading.Timer(delay_s, self._renew, args=("heartbeat",))
            # The invocation's end must never wait for a heartbeat.
            self._timer.daemon = True
            self._timer.start()

    def _renew(self, reason: str) -> None:
        with self._lock:
            if self._stopped:
                return
            try:
                self._change(self._length)
            except Exception as error:  # noqa: BLE001 - the job keeps running; at worst SQS delivers it again
                self._logger.warn("could not extend the reservation", reason=reason, seconds=self._length, error=str(error))
                retry = min(RETRY_AFTER_FAILURE_S, self._length / 4)
            else:
                retry = None
        self._schedule(retry)

    def _change(self, requested: int) -> None:
        if self._queue_url is None or self._capped:
            return
        started_ms = self._now_ms()
        seconds = min(requested, allowed_seconds(self._first_received_at_ms, started_ms))
        if seconds < requested:
            self._capped = True
            self._logger.warn("reservation capped at 12 hours from the first receive; the message becomes visible again when it ends", requested_s=requested, seconds=max(0, seconds))
            # Nothing can be added; asking for 0 would make the message visible at once.
            if seconds < 1:
                return
        self._sqs.change_message_visibility(QueueUrl=self._queue_url, ReceiptHandle=self._receipt_handle, VisibilityTimeout=seconds)
        # The new timeout runs from the request; counting from before it errs on the early side.
        self._expires_at_ms = started_ms + seconds * 1000
        self._logger.debug("reservation extended", seconds=seconds)
