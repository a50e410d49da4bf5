import json
import unittest
from typing import Any

from hopper_jobs import Client, ConfigurationError, InvalidJobError, JobContext, worker
from hopper_jobs.tiers import job_queue_url, queue_tiers_from_env, tier_of_priority
from hopper_jobs.worker_config import queue_name_of

from .support import NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record

BASE = "https://sqs.us-east-1.amazonaws.com/123456789012/"
# Queue "default" in three tiers; its default tier keeps the queue's own URL, as the construct lays them out.
TIERS = {"default": {"defaultTier": "default", "tiers": [
    {"name": "critical", "url": f"{BASE}Jobs-default.critical", "targetSeconds": 5},
    {"name": "default", "url": QUEUE_URLS["default"], "targetSeconds": 60},
    {"name": "bulk", "url": f"{BASE}Jobs-default.bulk", "targetSeconds": 3600},
]}}
ENV = {"HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_QUEUE_TIERS": json.dumps(TIERS)}
LAYOUTS = queue_tiers_from_env(ENV)
URL = {tier["name"]: tier["url"] for tier in TIERS["default"]["tiers"]}
BULK_ARN = "arn:aws:sqs:us-east-1:123456789012:Jobs-default.bulk"


class RoutingTest(unittest.TestCase):
    def test_priorities_split_in_equal_runs_over_the_tiers_as_in_typescript(self) -> None:
        three = ("critical", "default", "bulk")
        self.assertEqual([tier_of_priority(p, three) for p in range(9, -1, -1)], ["critical"] * 4 + ["default"] * 3 + ["bulk"] * 3)
        self.assertEqual([tier_of_priority(p, ("high", "low")) for p in range(9, -1, -1)], ["high"] * 5 + ["low"] * 5)

    def test_a_job_goes_to_its_tier_by_custom_tier_then_priority_else_the_default_tier(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"tier": "bulk"}, "bulk"), ({"tier": "critical", "priority": 0}, "critical"), ({"priority": 9}, "critical"),
            ({"priority": 5}, "default"), ({"priority": 2}, "bulk"), ({}, "default"),
        ]
        for custom, tier in cases:
            self.assertEqual(job_queue_url({"queue": "default", "custom": custom}, QUEUE_URLS, LAYOUTS), URL[tier], custom)
        self.assertEqual(job_queue_url({"queue": "critical", "custom": {"priority": 9}}, QUEUE_URLS, LAYOUTS), QUEUE_URLS["critical"])

    def test_refuses_an_unknown_tier_a_bad_priority_or_a_tier_on_a_queue_without_tiers_naming_the_field(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"queue": "default", "custom": {"tier": "urgent"}}, "jobs[2].custom.tier must be one of the tiers of queue default (critical, default, bulk), but \"urgent\" was provided"),
            ({"queue": "default", "custom": {"priority": 10}}, "jobs[2].custom.priority must be an integer from 0 (least urgent) to 9 (most urgent), but 10 was provided"),
            ({"queue": "default", "custom": {"priority": True}}, "jobs[2].custom.priority must be an integer from 0 (least urgent) to 9 (most urgent), but true was provided"),
            ({"queue": "critical", "custom": {"tier": "bulk"}}, "jobs[2].custom.tier must be absent: queue critical declares no tiers, but \"bulk\" was provided"),
        ]
        for job, message in cases:
            with self.assertRaises(InvalidJobError) as raised:
                job_queue_url(job, QUEUE_URLS, LAYOUTS, path="jobs[2].")
            self.assertEqual(str(raised.exception), f"invalid job: {message}")
            self.assertEqual(job_queue_url(job, QUEUE_URLS, LAYOUTS, lenient=True), URL["default"] if job["queue"] == "default" else QUEUE_URLS["critical"])

    def test_a_malformed_layout_names_the_variable_and_the_queue(self) -> None:
        with self.assertRaises(ConfigurationError) as raised:
            queue_tiers_from_env({"HOPPER_QUEUE_TIERS": json.dumps({"email": {"defaultTier": "x", "tiers": [{"name": "a", "url": "u", "targetSeconds": 5}]}})})
        self.assertIn("environment variable HOPPER_QUEUE_TIERS: email must be", str(raised.exception))

    def test_a_tier_queue_resolves_to_its_logical_queue(self) -> None:
        self.assertEqual(queue_name_of(BULK_ARN, QUEUE_URLS, LAYOUTS), "default")
        self.assertIsNone(queue_name_of(BULK_ARN, QUEUE_URLS))


class ClientTest(unittest.TestCase):
    def test_the_client_reads_the_tiers_beside_the_queue_urls_and_sends_each_job_to_its_tier(self) -> None:
        sqs = FakeSqs()
        Client(sqs=sqs, now=lambda: NOW, env=ENV).enqueue_many([
            {"jobtype": "A", "custom": {"priority": 9}}, {"jobtype": "A", "custom": {"tier": "bulk"}}, {"jobtype": "A"},
        ])
        self.assertEqual(sorted((call["QueueUrl"], len(call["Entries"])) for call in sqs.calls), sorted([(URL["critical"], 1), (URL["bulk"], 1), (URL["default"], 1)]))
        self.assertEqual({body["queue"] for body in sqs.bodies(URL["bulk"])}, {"default"})

    def test_the_client_refuses_an_unknown_tier_before_sending(self) -> None:
        sqs = FakeSqs()
        with self.assertRaises(InvalidJobError) as raised:
            Client(sqs=sqs, now=lambda: NOW, env=ENV).enqueue("A", [], queue="default", custom={"tier": "urgent"})
        self.assertEqual(raised.exception.field, "custom.tier")
        self.assertEqual(sqs.calls, [])


class WorkerTest(unittest.TestCase):
    def run_one(self, handler: Any, custom: dict[str, Any], lines: list[str]) -> FakeSqs:
        sqs = FakeSqs()
        job = {"jid": "j1", "jobtype": "A", "args": [], "queue": "default", "created_at": "2026-11-22T11:00:00Z", "retry": 25, "custom": custom}
        worker({"A": handler}, sqs=sqs, env={**ENV, "HOPPER_RETRIES_QUEUE_URL": RETRIES_URL}, now=lambda: NOW, log=lines.append)({"Records": [record(job, "m1", BULK_ARN)]}, FakeContext())
        return sqs

    def test_a_retry_within_15_minutes_goes_back_to_the_jobs_tier_queue_and_its_logs_carry_the_tier(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise RuntimeError("down")

        lines: list[str] = []
        sqs = self.run_one(fail, {"tier": "bulk"}, lines)
        self.assertEqual([call["QueueUrl"] for call in sqs.calls], [URL["bulk"]])
        [sent] = sqs.bodies(URL["bulk"])
        self.assertEqual((sent["queue"], sent["failure"]["retry_count"]), ("default", 0))
        logged = [json.loads(line) for line in lines if line.startswith("{") and '"job failed"' in line]
        self.assertEqual([(line["queue"], line["tier"]) for line in logged], [("default", "bulk")])

    def test_a_retry_of_a_job_whose_tier_was_removed_goes_to_the_default_tier(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise RuntimeError("down")

        sqs = self.run_one(fail, {"tier": "removed"}, [])
        self.assertEqual([call["QueueUrl"] for call in sqs.calls], [URL["default"]])


if __name__ == "__main__":
    unittest.main()
