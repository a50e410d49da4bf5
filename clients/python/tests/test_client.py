import json
import unittest
from datetime import timedelta

from hopper_jobs import Client, EnqueueError, InvalidJobError, PayloadTooLargeError

from .support import NOW, QUEUE_URLS, FakeSqs


def client(sqs: FakeSqs) -> Client:
    return Client(queue_urls=QUEUE_URLS, sqs=sqs, now=lambda: NOW, env={})


class EnqueueTest(unittest.TestCase):
    def test_sends_the_job_with_its_defaults_to_its_queue(self) -> None:
        sqs = FakeSqs()
        jid = client(sqs).enqueue("SendEmail", ["a@example.com", 42])
        self.assertRegex(jid, r"^[0-9a-f]{24}$")
        self.assertEqual(len(sqs.calls), 1)
        self.assertEqual(sqs.calls[0]["QueueUrl"], QUEUE_URLS["default"])
        self.assertEqual(sqs.bodies(), [{
            "jid": jid, "jobtype": "SendEmail", "args": ["a@example.com", 42], "queue": "default",
            "created_at": "2026-11-22T12:00:00.000Z", "enqueued_at": "2026-11-22T12:00:00.000Z", "retry": 25,
        }])
        self.assertNotIn("DelaySeconds", sqs.calls[0]["Entries"][0])

    def test_passes_queue_retry_custom_and_jid_through(self) -> None:
        sqs = FakeSqs()
        jid = client(sqs).enqueue("A", [1], queue="critical", retry=0, custom={"tenant": "acme"}, jid="order-7", reserve_for=60)
        self.assertEqual(jid, "order-7")
        self.assertEqual(sqs.calls[0]["QueueUrl"], QUEUE_URLS["critical"])
        body = sqs.bodies()[0]
        self.assertEqual((body["queue"], body["retry"], body["custom"], body["reserve_for"]), ("critical", 0, {"tenant": "acme"}, 60))

    def test_a_job_without_retry_gets_hopper_default_retry(self) -> None:
        sqs = FakeSqs()
        Client(queue_urls=QUEUE_URLS, sqs=sqs, now=lambda: NOW, env={"HOPPER_DEFAULT_RETRY": "5"}).enqueue_many([{"jobtype": "A"}, {"jobtype": "A", "retry": 0}])
        self.assertEqual([body["retry"] for body in sqs.bodies()], [5, 0])

    def test_queue_urls_come_from_hopper_queue_urls(self) -> None:
        sqs = FakeSqs()
        Client(sqs=sqs, now=lambda: NOW, env={"HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}).enqueue("A", queue="critical")
        self.assertEqual(sqs.calls[0]["QueueUrl"], QUEUE_URLS["critical"])

    def test_at_within_15_minutes_becomes_an_sqs_delay_rounded_up(self) -> None:
        sqs = FakeSqs()
        client(sqs).enqueue("A", at=NOW + timedelta(seconds=90, milliseconds=1))
        self.assertEqual(sqs.calls[0]["Entries"][0]["DelaySeconds"], 91)
        self.assertEqual(sqs.bodies()[0]["at"], "2026-11-22T12:01:30.001Z")

    def test_at_in_the_past_runs_now(self) -> None:
        sqs = FakeSqs()
        client(sqs).enqueue("A", at="2026-11-22T11:00:00Z")
        self.assertNotIn("DelaySeconds", sqs.calls[0]["Entries"][0])

    def test_at_beyond_15_minutes_is_refused_before_sending(self) -> None:
        sqs = FakeSqs()
        with self.assertRaises(InvalidJobError) as raised:
            client(sqs).enqueue("A", at=NOW + timedelta(seconds=901))
        self.assertEqual(raised.exception.field, "at")
        self.assertIn("901 seconds ahead", str(raised.exception))
        self.assertEqual(sqs.calls, [])

    def test_an_undeclared_queue_names_the_declared_ones(self) -> None:
        with self.assertRaises(InvalidJobError) as raised:
            client(FakeSqs()).enqueue("A", queue="low")
        self.assertEqual(str(raised.exception), 'invalid job: queue must be one of the declared queues (default, critical), but "low" was provided')

    def test_a_malformed_throttle_is_refused_before_sending(self) -> None:
        sqs = FakeSqs()
        with self.assertRaises(InvalidJobError) as raised:
            client(sqs).enqueue("A", custom={"throttle": {"key": "crm:7", "limit": 10, "per": "fortnight"}})
        self.assertEqual(raised.exception.field, "custom.throttle.per")
        self.assertEqual(sqs.calls, [])
        client(sqs).enqueue("A", custom={"throttle": {"key": "crm:7", "limit": 10, "per": "minute"}})
        self.assertEqual(sqs.bodies()[0]["custom"], {"throttle": {"key": "crm:7", "limit": 10, "per": "minute"}})

    def test_a_job_over_256_kib_is_refused(self) -> None:
        with self.assertRaises(PayloadTooLargeError) as raised:
            client(FakeSqs()).enqueue("A", ["x" * 262_144])
        self.assertGreater(raised.exception.size_bytes, 262_144)
        self.assertEqual(raised.exception.limit_bytes, 262_144)

    def test_sqs_refusal_raises_enqueue_error(self) -> None:
        sqs = FakeSqs(refuse={'"A"': {"SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}})
        with self.assertRaises(EnqueueError) as raised:
            client(sqs).enqueue("A", jid="j1")
        self.assertEqual(raised.exception.failed, [{"jid": "j1", "reason": "InvalidMessageContents: bad"}])
        self.assertEqual(len(sqs.calls), 1, "a sender fault is not resent")


class EnqueueManyTest(unittest.TestCase):
    def test_packs_batches_of_ten_per_queue_and_keeps_input_order(self) -> None:
        sqs = FakeSqs()
        jobs = [{"jobtype": "A", "args": [i], "jid": f"j{i}", "queue": "critical" if i == 5 else "default"} for i in range(23)]
        jids = client(sqs).enqueue_many(jobs)
        self.assertEqual(jids, [f"j{i}" for i in range(23)])
        self.assertEqual([(call["QueueUrl"] == QUEUE_URLS["default"], len(call["Entries"])) for call in sqs.calls], [(True, 10), (True, 10), (True, 2), (False, 1)])

    def test_packs_batches_under_1_mib(self) -> None:
        sqs = FakeSqs()
        client(sqs).enqueue_many([{"jobtype": "A", "args": ["x" * 250_000]} for _ in range(5)])
        self.assertEqual([len(call["Entries"]) for call in sqs.calls], [4, 1])
        for call in sqs.calls:
            self.assertLessEqual(sum(len(entry["MessageBody"].encode()) for entry in call["Entries"]), 1_048_576)

    def test_validates_every_job_before_sending_anything(self) -> None:
        sqs = FakeSqs()
        with self.assertRaises(InvalidJobError) as raised:
            client(sqs).enqueue_many([{"jobtype": "A"}, {"jobtype": "B", "args": {}}])
        self.assertEqual(raised.exception.field, "jobs[1].args")
        self.assertEqual(sqs.calls, [])

    def test_refuses_fields_a_producer_does_not_set(self) -> None:
        with self.assertRaises(InvalidJobError) as raised:
            client(FakeSqs()).enqueue_many([{"jobtype": "A", "queu": "critical"}])
        self.assertEqual(raised.exception.field, "jobs[0].queu")

    def test_resends_entries_sqs_failed_on_its_side(self) -> None:
        sqs = FakeSqs(refuse={'"j1"': {"SenderFault": False, "Code": "ServiceUnavailable", "Message": "try again"}}, refuse_times=1)
        jids = client(sqs).enqueue_many([{"jobtype": "A", "jid": "j0"}, {"jobtype": "A", "jid": "j1"}])
        self.assertEqual(jids, ["j0", "j1"])
        self.assertEqual([len(call["Entries"]) for call in sqs.calls], [2, 1])
        self.assertEqual(json.loads(sqs.calls[1]["Entries"][0]["MessageBody"])["jid"], "j1")

    def test_reports_which_jobs_were_enqueued_when_some_were_not(self) -> None:
        sqs = FakeSqs(refuse={'"j1"': {"SenderFault": False, "Code": "ServiceUnavailable", "Message": "down"}})
        with self.assertRaises(EnqueueError) as raised:
            client(sqs).enqueue_many([{"jobtype": "A", "jid": "j0"}, {"jobtype": "A", "jid": "j1"}])
        self.assertEqual(raised.exception.enqueued, ["j0"])
        self.assertEqual([failure["jid"] for failure in raised.exception.failed], ["j1"])
        self.assertEqual(len(sqs.calls), 3, "sent once and resent twice")


if __name__ == "__main__":
    unittest.main()
