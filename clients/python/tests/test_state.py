"""ctx.once and tracked jobs in the Python worker, against an in-memory table that answers as
DynamoDB does for the conditions the worker writes (the items themselves are checked against
DynamoDB Local in test/integration/polyglot.test.ts)."""

import json
import unittest
from typing import Any

from hopper_jobs import HopperError, worker
from hopper_jobs.errors import OnceStepError

from .support import NOW, QUEUE_URLS, RETRIES_URL, ConditionFailed, FakeContext, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state"}


class HeldStepTable:
    """A table in which every step is already running in another delivery until ``until_ms``."""

    def __init__(self, until_ms: int) -> None:
        self.until_ms = until_ms
        self.requests: list[str] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append("put_item")
        raise ConditionFailed()

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append("get_item")
        return {"Item": {"state": {"S": "running"}, "until": {"N": str(self.until_ms)}}}

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append("update_item")
        return {}


def job(jobtype: str, **fields: Any) -> dict[str, Any]:
    return {"jid": "j1", "jobtype": jobtype, "args": [], "queue": "default", "created_at": "2026-11-22T11:00:00Z", "retry": 25, **fields}


class OnceTest(unittest.TestCase):
    def test_a_step_another_delivery_runs_postpones_the_job_on_its_queue_without_a_retry(self) -> None:
        now_ms = int(NOW.timestamp() * 1000)
        table, sqs, ran = HeldStepTable(now_ms + 42_500), FakeSqs(), []
        handle = worker({"Charge": lambda args, ctx: ctx.once("charge", lambda: ran.append("charged"))}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, dynamodb=table)
        result = handle({"Records": [record(job("Charge"))]}, FakeContext())
        self.assertEqual(result, {"batchItemFailures": []})
        self.assertEqual(ran, [])
        self.assertEqual(table.requests, ["put_item", "get_item"])
        [call] = sqs.calls
        self.assertEqual(call["QueueUrl"], QUEUE_URLS["default"])
        self.assertEqual(call["Entries"][0]["DelaySeconds"], 43)
        self.assertEqual(json.loads(call["Entries"][0]["MessageBody"])["jid"], "j1")
        self.assertNotIn("failure", json.loads(call["Entries"][0]["MessageBody"]))

    def test_a_key_that_is_not_valid_sends_the_job_to_the_dead_set(self) -> None:
        sqs = FakeSqs()
        handle = worker({"Charge": lambda args, ctx: ctx.once("", lambda: 1)}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, dynamodb=HeldStepTable(0))
        handle({"Records": [record(job("Charge"))]}, FakeContext())
        [envelope] = sqs.bodies(RETRIES_URL)
        self.assertTrue(envelope["unrecoverable"])
        self.assertEqual(envelope["error"]["errtype"], OnceStepError.__name__)

    def test_without_a_state_table_once_says_why(self) -> None:
        sqs = FakeSqs()
        env = {key: value for key, value in ENV.items() if key != "HOPPER_STATE_TABLE"}
        handle = worker({"Charge": lambda args, ctx: ctx.once("charge", lambda: 1)}, sqs=sqs, env=env, now=lambda: NOW, log=lambda line: None)
        handle({"Records": [record(job("Charge"))]}, FakeContext())
        [retried] = sqs.bodies()
        self.assertIn("ctx.once needs the state table", retried["failure"]["message"])


class TrackingTest(unittest.TestCase):
    def test_progress_of_an_untracked_job_writes_nothing_and_a_bad_percentage_is_refused(self) -> None:
        table, sqs, errors = HeldStepTable(0), FakeSqs(), []

        def report(args: list[Any], ctx: Any) -> None:
            ctx.progress(50, "half")
            try:
                ctx.progress(101)
            except HopperError as error:
                errors.append(str(error))

        handle = worker({"Report": report}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, dynamodb=table)
        handle({"Records": [record(job("Report"))]}, FakeContext())
        self.assertEqual(table.requests, [])
        self.assertEqual(errors, [])
        handle({"Records": [record(job("Report", jid="j2", custom={"track": True}))]}, FakeContext())
        # Start, the first progress (the rest within 3 s), success.
        self.assertEqual(table.requests, ["update_item", "update_item", "update_item"])
        self.assertEqual(errors, ["ctx.progress takes a percentage from 0 to 100, but 101 was provided"])


if __name__ == "__main__":
    unittest.main()
