"""Busy reports of the Python worker: the same item as the TypeScript worker's (lib/stats/busy.ts),
written once a job has run 10 s, again every 10 s, with its last progress, and deleted at its end."""

from __future__ import annotations

import threading
import time
import unittest
from typing import Any

from hopper_jobs import worker
from hopper_jobs.busy import BusyReport, instance_name
from hopper_jobs.logger import Logger

from .support import QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record

JOB = {"jid": "j1", "jobtype": "Report", "queue": "reports", "args": [], "retry": 25}


class FakeTable:
    """Records update_item and delete_item calls."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.deletes: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def update_item(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.updates.append(request)
        return {}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.deletes.append(request)
        return {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        return {}


class BusyReportTest(unittest.TestCase):
    def test_a_job_is_reported_after_10_s_every_10_s_with_its_progress_and_its_report_deleted_at_its_end(self) -> None:
        table, clock = FakeTable(), {"ms": 1_000_000}
        report = BusyReport(lambda: table, "state", "2026/12/06/[$LATEST]abc", JOB, 2, lambda: clock["ms"], Logger(lambda line: None))
        for ms in (0, 9_999):
            clock["ms"] = 1_000_000 + ms
            report.check()
        self.assertEqual(table.updates, [])
        clock["ms"] = 1_010_000
        report.progress(42.5, "half way " + "x" * 200)
        report.check()
        clock["ms"] = 1_015_000
        report.check()
        clock["ms"] = 1_020_000
        report.progress(float("nan"))
        report.check()
        self.assertEqual(len(table.updates), 2)
        first = table.updates[0]
        self.assertEqual(first["Key"], {"pk": {"S": "busy"}, "sk": {"S": "reports#2026/12/06/[$LATEST]abc"}})
        values = first["ExpressionAttributeValues"]
        self.assertEqual(values[":at"], {"N": "1010000"})
        self.assertEqual(values[":n"], {"N": "1"})
        self.assertEqual(values[":ttl"], {"N": str(1010 + 16 * 60)})
        job = values[":j"]["L"][0]["M"]
        self.assertEqual(job["i"], {"S": "j1"})
        self.assertEqual(job["t"], {"S": "Report"})
        self.assertEqual(job["s"], {"N": "1000000"})
        self.assertEqual(job["a"], {"N": "2"})
        self.assertEqual(job["p"], {"N": "42.5"})
        self.assertEqual(len(job["m"]["S"]), 80)
        report.end()
        self.assertEqual(table.deletes, [{"TableName": "state", "Key": first["Key"]}])

    def test_a_short_job_writes_nothing(self) -> None:
        table, clock = FakeTable(), {"ms": 0}
        report = BusyReport(lambda: table, "state", "i", JOB, 1, lambda: clock["ms"], Logger(lambda line: None))
        clock["ms"] = 9_000
        report.check()
        report.end()
        self.assertEqual((table.updates, table.deletes), ([], []))

    def test_a_failed_write_is_logged_and_tried_again(self) -> None:
        lines: list[str] = []

        class Failing(FakeTable):
            def update_item(self, **request: Any) -> dict[str, Any]:
                raise RuntimeError("throttled")

        clock = {"ms": 0}
        report = BusyReport(lambda: Failing(), "state", "i", JOB, 1, lambda: clock["ms"], Logger(lines.append))
        clock["ms"] = 10_000
        report.check()
        clock["ms"] = 11_000
        report.check()
        self.assertEqual(len(lines), 2)
        self.assertIn("could not write the busy report", lines[0])

    def test_the_instance_is_the_log_stream(self) -> None:
        self.assertEqual(instance_name({"AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/06/[$LATEST]abc"}), "2026/12/06/[$LATEST]abc")
        self.assertRegex(instance_name({}), r"^pid-\d+$")


class WorkerBusyTest(unittest.TestCase):
    ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": __import__("json").dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state", "HOPPER_STATS": "on", "AWS_LAMBDA_LOG_STREAM_NAME": "stream-1"}

    def test_the_worker_reports_a_long_job_on_its_own_thread_while_the_handler_runs(self) -> None:
        table = FakeTable()
        clock = {"s": 0.0}
        from datetime import datetime, timezone

        def slow(args: list[Any], ctx: Any) -> None:
            ctx.progress(10, "started")
            clock["s"] = 11.0
            # The report's thread looks every second: give it time to see the job at 11 s.
            deadline = time.monotonic() + 5
            while not table.updates and time.monotonic() < deadline:
                time.sleep(0.05)

        handler = worker({"Slow": slow}, sqs=FakeSqs(), env=self.ENV, dynamodb=table, now=lambda: datetime.fromtimestamp(1_800_000_000 + clock["s"], timezone.utc), log=lambda line: None)
        result = handler({"Records": [record({"jid": "long", "jobtype": "Slow", "args": [], "queue": "default"})]}, FakeContext(60_000))

        self.assertEqual(result, {"batchItemFailures": []})
        # The stats rollup is written too (stats are on); the busy report is the one in the busy partition.
        busy = [update for update in table.updates if update["Key"]["pk"] == {"S": "busy"}]
        self.assertEqual(len(busy), 1)
        job = busy[0]["ExpressionAttributeValues"][":j"]["L"][0]["M"]
        self.assertEqual((job["i"]["S"], job["p"]["N"], job["m"]["S"]), ("long", "10", "started"))
        self.assertEqual(busy[0]["Key"]["sk"], {"S": "default#stream-1"})
        self.assertEqual(len(table.deletes), 1)

    def test_without_stats_a_worker_writes_no_report(self) -> None:
        table = FakeTable()
        env = {key: value for key, value in self.ENV.items() if key != "HOPPER_STATS"}
        handler = worker({"Quick": lambda args, ctx: None}, sqs=FakeSqs(), env=env, dynamodb=table, log=lambda line: None)
        handler({"Records": [record({"jid": "q", "jobtype": "Quick", "args": [], "queue": "default"})]}, FakeContext(60_000))
        self.assertEqual((table.updates, table.deletes), ([], []))


if __name__ == "__main__":
    unittest.main()
