"""A retry due within 15 minutes, sent back by the worker: the same job, failure and delay as the
TypeScript worker's ``planFailure`` (lib/retry/plan.ts) for the same failure. The expected values
were printed by that code for these inputs."""

import unittest
from datetime import datetime, timezone

from hopper_jobs.retry import fnv1a, near_retry, random_from_text

NOW = datetime(2026, 12, 6, 12, 0, 5, 123000, tzinfo=timezone.utc)
JOB = {"jid": "retry-here-1", "jobtype": "Decline", "args": [1], "queue": "py", "retry": 25, "created_at": "2026-12-06T12:00:00.000Z", "enqueued_at": "2026-12-06T12:00:01.000Z"}
ERROR = {"errtype": "PaymentDeclined", "message": "card 1 declined", "backtrace": ['File "app.py", line 4, in decline']}


def previous(retry_count: int, **extra: str) -> dict:
    return {"retry_count": retry_count, "failed_at": "x", "message": "m", "errtype": "E", **extra}


class NearRetryTest(unittest.TestCase):
    def test_the_generator_is_the_typescript_one(self) -> None:
        self.assertEqual((fnv1a("abc"), fnv1a("é日𝄞")), (440920331, 2178096833))
        draw = random_from_text("job-1#0")
        self.assertEqual([draw(), draw(), draw()], [0.4815064275171608, 0.2795002900529653, 0.018691704142838717])

    def test_a_first_failure_comes_back_with_its_failure_and_delay(self) -> None:
        job, delay = near_retry(JOB, ERROR, NOW) or ({}, 0)
        self.assertEqual(delay, 17)
        self.assertEqual(job, {
            **JOB, "enqueued_at": "2026-12-06T12:00:05.123Z",
            "failure": {"retry_count": 0, "failed_at": "2026-12-06T12:00:05.123Z", "next_at": "2026-12-06T12:00:22.123Z", "message": "card 1 declined",
                        "errtype": "PaymentDeclined", "backtrace": ['File "app.py", line 4, in decline'], "first_enqueued_at": "2026-12-06T12:00:01.000Z"},
        })

    def test_a_later_failure_keeps_its_cohort_and_omits_an_empty_backtrace(self) -> None:
        job, delay = near_retry({**JOB, "failure": previous(3, first_enqueued_at="2026-12-06T11:00:00.000Z")}, {**ERROR, "backtrace": []}, NOW) or ({}, 0)
        self.assertEqual(delay, 312)
        self.assertEqual(job["failure"], {"retry_count": 4, "failed_at": "2026-12-06T12:00:05.123Z", "next_at": "2026-12-06T12:05:17.123Z", "message": "card 1 declined",
                                          "errtype": "PaymentDeclined", "first_enqueued_at": "2026-12-06T11:00:00.000Z"})

    def test_the_retries_queue_takes_the_rest(self) -> None:
        # Due after 15 minutes (the retry set), out of retries (the dead set), or in a batch.
        self.assertIsNone(near_retry({**JOB, "failure": previous(5)}, ERROR, NOW))
        self.assertIsNone(near_retry({**JOB, "retry": 1, "failure": previous(0)}, ERROR, NOW))
        self.assertIsNone(near_retry({**JOB, "retry": 0}, ERROR, NOW))
        self.assertIsNone(near_retry({**JOB, "custom": {"bid": "b-1"}}, ERROR, NOW))


if __name__ == "__main__":
    unittest.main()
