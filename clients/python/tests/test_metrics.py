"""The Python worker's EMF lines: the TypeScript worker's names, dimensions and aggregation
(lib/observability/emf.ts)."""

import json
import unittest
from datetime import datetime, timezone

from hopper_jobs.metrics import Metrics, dimension_value, due_at_ms


class MetricsTest(unittest.TestCase):
    def test_dimension_values_are_escaped_as_the_typescript_worker_escapes_them(self) -> None:
        self.assertEqual(dimension_value("SendEmail"), "SendEmail")
        self.assertEqual(dimension_value("Rechnung::Größe"), "Rechnung::Gr\\u00f6\\u00dfe")
        self.assertEqual(dimension_value("a\\b"), "a\\\\b")
        self.assertEqual(dimension_value("😀"), "\\ud83d\\ude00")
        self.assertEqual(dimension_value("   "), "Other")

    def test_one_line_per_queue_and_jobtype_with_counts_summed_and_timings_in_lines_of_100(self) -> None:
        printed: list[str] = []
        batch = Metrics(printed.append).batch()
        for value in range(150):
            batch.observe("default", "Report", "Duration", value + 0.4)
        batch.count("default", "Report", "Processed", 150)
        batch.count("default", "Report", "Failed")
        batch.flush(datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc))
        lines = [json.loads(line) for line in printed]
        self.assertEqual(len(lines), 2)
        self.assertEqual((lines[0]["Processed"], lines[0]["Failed"], len(lines[0]["Duration"])), (150, 1, 100))
        self.assertNotIn("Processed", lines[1])
        self.assertEqual(lines[1]["Duration"][-1], 149)
        self.assertEqual(lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], [["Queue"], ["Queue", "JobType"]])
        self.assertEqual(lines[0]["_aws"]["Timestamp"], 1796558400000)

    def test_a_job_is_due_at_the_latest_of_its_enqueue_its_at_and_its_retry(self) -> None:
        job = {"enqueued_at": "2026-12-06T12:00:00.000Z", "failure": {"next_at": "2026-12-06T12:00:20.000Z"}}
        self.assertEqual(due_at_ms(job, None), 1796558420000)
        self.assertEqual(due_at_ms({}, 5), 5)


if __name__ == "__main__":
    unittest.main()
