"""Reservations in the Python worker: the message's visibility follows ``reserve_for`` and
``ctx.extend``, never past 12 hours from its first receive (lib/worker/reservation.ts)."""

import unittest
from typing import Any

from hopper_jobs.logger import Logger
from hopper_jobs.reservation import Reservation, ReservationError

HOUR_MS = 3_600_000


class Sqs:
    def __init__(self) -> None:
        self.changes: list[int] = []

    def change_message_visibility(self, **request: Any) -> dict[str, Any]:
        self.changes.append(request["VisibilityTimeout"])
        return {}


def reservation(sqs: Sqs, lines: list[str], *, reserve_for: int | None, now_ms: int, first_ms: int = 0) -> Reservation:
    return Reservation(sqs, "https://sqs/q", "receipt", 30, reserve_for, now_ms, first_ms, lambda: now_ms, Logger(lines.append))


class ReservationTest(unittest.TestCase):
    def test_reserve_for_beyond_the_queue_timeout_extends_at_start(self) -> None:
        sqs, lines = Sqs(), []
        held = reservation(sqs, lines, reserve_for=3_600, now_ms=1_000)
        held.start()
        held.stop()
        self.assertEqual(sqs.changes, [3_600])

    def test_a_job_within_the_queue_timeout_sends_nothing(self) -> None:
        sqs, lines = Sqs(), []
        held = reservation(sqs, lines, reserve_for=None, now_ms=1_000)
        held.start()
        held.stop()
        self.assertEqual(sqs.changes, [])

    def test_extend_is_cut_at_12_hours_from_the_first_receive(self) -> None:
        sqs, lines = Sqs(), []
        held = reservation(sqs, lines, reserve_for=None, now_ms=11 * HOUR_MS, first_ms=0)
        held.extend(7_200)
        held.stop()
        # 12 h less a minute's margin, less the 11 h gone.
        self.assertEqual(sqs.changes, [3_540])
        self.assertTrue(any("reservation capped at 12 hours" in line for line in lines))

    def test_extend_refuses_a_length_sqs_cannot_give(self) -> None:
        held = reservation(Sqs(), [], reserve_for=None, now_ms=0)
        for seconds in (0, 43_201, 1.5):
            with self.subTest(seconds=seconds), self.assertRaises(ReservationError):
                held.extend(seconds)  # type: ignore[arg-type]
        held.stop()


if __name__ == "__main__":
    unittest.main()
