"""A job's tenant as its SQS message group, on every path the client and the worker send a job by."""

import hashlib
import unittest
from typing import Any

from hopper_jobs import Client, JobContext, worker
from hopper_jobs.sqs import message_group_of, message_group_of_tenant

from .support import NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record
from .test_worker import ENV, job


def groups(sqs: FakeSqs, queue_url: str) -> list[str | None]:
    return [entry.get("MessageGroupId") for call in sqs.calls if call["QueueUrl"] == queue_url for entry in call["Entries"]]


class MessageGroupOfTenantTest(unittest.TestCase):
    def test_a_valid_group_id_is_the_tenant_itself(self) -> None:
        for tenant in ("acme", "arn:aws:iam::123456789012:role/app", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "x" * 128):
            self.assertEqual(message_group_of_tenant(tenant), tenant)

    def test_another_is_hashed_as_the_typescript_library_hashes_it(self) -> None:
        # The same value test/unit/message-group.test.ts expects.
        self.assertEqual(message_group_of_tenant("acme corp"), "tenant-sha256:ea6f9c07a2f95c788a1645cf557f58aa63c5fa3ad7d749b9db4fce435deef64e")
        self.assertEqual(message_group_of_tenant("zürich"), "tenant-sha256:" + hashlib.sha256("zürich".encode()).hexdigest())
        self.assertEqual(len(message_group_of_tenant("x" * 129)), 78)

    def test_a_job_without_a_tenant_has_no_group(self) -> None:
        self.assertIsNone(message_group_of({"jobtype": "A"}))
        self.assertIsNone(message_group_of({"jobtype": "A", "custom": {"tenant": ""}}))
        self.assertEqual(message_group_of({"jobtype": "A", "custom": {"tenant": "acme"}}), "acme")


class SendsTest(unittest.TestCase):
    def test_the_client_sends_a_tenant_job_with_its_group_and_others_without(self) -> None:
        sqs = FakeSqs()
        Client(queue_urls=QUEUE_URLS, sqs=sqs, now=lambda: NOW, env={}).enqueue_many([
            {"jobtype": "A", "custom": {"tenant": "acme"}},
            {"jobtype": "B"},
            {"jobtype": "C", "custom": {"tenant": "acme corp"}},
        ])
        self.assertEqual(groups(sqs, QUEUE_URLS["default"]), ["acme", None, message_group_of_tenant("acme corp")])

    def test_the_worker_sends_a_near_retry_and_a_failure_envelope_with_the_job_group(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise RuntimeError("down")

        sqs = FakeSqs()
        late = job(jid="j2", custom={"tenant": "globex"}, failure={"retry_count": 5, "failed_at": "2026-11-22T11:00:00Z", "message": "down", "errtype": "RuntimeError"})
        worker({"A": fail}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None)(
            {"Records": [record(job(custom={"tenant": "acme"}), "m1"), record(late, "m2")]}, FakeContext())
        self.assertEqual(groups(sqs, QUEUE_URLS["default"]), ["acme"])
        self.assertEqual(groups(sqs, RETRIES_URL), ["globex"])


if __name__ == "__main__":
    unittest.main()
