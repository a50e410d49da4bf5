"""Batch bookkeeping in the Python worker, against a fake table that answers as DynamoDB does for
the writes it makes (the items themselves are checked against the TypeScript batch function in
test/integration/polyglot-workers.test.ts)."""

import json
import unittest
from datetime import datetime, timezone
from typing import Any

from hopper_jobs import worker
from hopper_jobs.batch import callback_of, claim_callback_run, record_successes

from .support import NOW as SUPPORT_NOW
from .support import QUEUE_URLS, RETRIES_URL, ConditionFailed, FakeContext, FakeSqs, record

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


class Table:
    """Job items by jid (status and tally): answers each conditional write as DynamoDB would, and
    keeps the writes, so a test sees what the batch function will count."""

    def __init__(self, statuses: dict[str, str] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {jid: {"status": status, "tally": 0} for jid, status in (statuses or {}).items()}
        self.writes: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        jid = request["Key"]["sk"]["S"].removeprefix("job#")
        values = request["ExpressionAttributeValues"]
        allowed = {value["S"] for name, value in values.items() if name.startswith(":from")}
        held = self.items.get(jid)
        if held is not None and held["status"] not in allowed:
            raise ConditionFailed()
        self.items[jid] = {"status": values[":to"]["S"], "tally": (0 if held is None else held["tally"]) + int(values[":one"]["N"])}
        self.writes.append(request)
        return {}


def job(jid: str, **extra: Any) -> Any:
    return {"jid": jid, "jobtype": "T", "queue": "default", "args": [], **extra}


class RecordSuccessesTest(unittest.TestCase):
    def test_one_conditional_write_per_job_with_a_tally_and_a_duplicate_writes_nothing(self) -> None:
        table = Table({"j3": "failed"})
        recorded = record_successes(table, "state", "b1", [job("j1"), job("j2"), job("j3"), job("j2")], NOW)
        self.assertEqual((recorded.recorded, recorded.duplicates), (["j1", "j2", "j3"], []))
        self.assertEqual(table.items, {"j1": {"status": "succeeded", "tally": 1}, "j2": {"status": "succeeded", "tally": 1}, "j3": {"status": "succeeded", "tally": 1}})
        again = record_successes(table, "state", "b1", [job("j1")], NOW)
        self.assertEqual((again.recorded, again.duplicates, len(table.writes)), ([], ["j1"], 3))

    def test_writes_the_items_the_batch_function_counts(self) -> None:
        table = Table()
        record_successes(table, "state", "b1", [job("j1")], NOW)
        write = table.writes[0]
        # The shard TypeScript computes for j1 (lib/storage/keys.ts batchJobKey('b1', 'j1')).
        self.assertEqual(write["Key"], {"pk": {"S": "batch#b1#4"}, "sk": {"S": "job#j1"}})
        self.assertIn("ADD #tally :one", write["UpdateExpression"])
        self.assertEqual(write["ExpressionAttributeNames"]["#tally"], "tally")
        self.assertEqual(write["ExpressionAttributeValues"][":ttl"], {"N": str(int(NOW.timestamp()) + 30 * 86_400)})

    def test_raises_what_is_not_a_failed_condition(self) -> None:
        class Down(Table):
            def update_item(self, **request: Any) -> dict[str, Any]:
                raise ConnectionError("the table cannot be reached")

        with self.assertRaises(ConnectionError):
            record_successes(Down(), "state", "b1", [job("j1")], NOW)


class WorkerSuccessesTest(unittest.TestCase):
    ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state"}

    def run_worker(self, table: Table, records: list[dict[str, Any]]) -> dict[str, Any]:
        handle = worker({"T": lambda args, ctx: None}, sqs=FakeSqs(), env=self.ENV, dynamodb=table, now=lambda: SUPPORT_NOW, log=lambda line: None)
        return handle({"Records": records}, FakeContext())

    def test_an_invocation_records_its_batch_successes_and_expiries(self) -> None:
        table = Table()
        expired = job("j3", created_at="2026-11-22T11:00:00Z", custom={"bid": "b1", "expires_at": "2026-11-22T11:30:00Z"})
        records = [record(job(f"j{i}", created_at="2026-11-22T11:00:00Z", custom={"bid": "b1"}), f"m{i}") for i in range(3)] + [record(expired, "m3")]
        self.assertEqual(self.run_worker(table, records), {"batchItemFailures": []})
        # Four job items; the expired one counts as done, as the producer allowed.
        self.assertEqual({jid: item["status"] for jid, item in table.items.items()}, {f"j{i}": "succeeded" for i in range(4)})

    def test_successes_their_batch_could_not_be_told_are_handed_back(self) -> None:
        class Down(Table):
            def update_item(self, **request: Any) -> dict[str, Any]:
                raise ConnectionError("the table cannot be reached")

        table = Down()
        records = [record(job(f"j{i}", created_at="2026-11-22T11:00:00Z", custom={"bid": "b1"}), f"m{i}") for i in range(2)]
        records.append(record(job("other", created_at="2026-11-22T11:00:00Z"), "m9"))
        self.assertEqual(self.run_worker(table, records), {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]})


class CallbackTest(unittest.TestCase):
    def test_only_hoppers_own_callback_jobs_are_callbacks(self) -> None:
        marker = {"custom": {"callback": {"bid": "b1", "event": "success"}}}
        self.assertEqual(callback_of(job("b1-success", **marker)), ("b1", "success"))
        self.assertIsNone(callback_of(job("chosen-by-a-producer", **marker)))
        self.assertIsNone(callback_of(job("b1-finish", custom={"callback": {"bid": "b1", "event": "finish"}})))

    def test_a_claim_held_by_another_message_is_a_duplicate_and_a_done_one_is_done(self) -> None:
        class Claimed:
            def __init__(self, item: dict[str, Any] | None) -> None:
                self.item = item

            def update_item(self, **request: Any) -> dict[str, Any]:
                raise ConditionFailed()

            def get_item(self, **request: Any) -> dict[str, Any]:
                return {} if self.item is None else {"Item": self.item}

        held = {"success_run_by": {"S": "m1"}}
        self.assertEqual(claim_callback_run(Claimed(held), "state", "b1", "success", "m2", retry=False), "duplicate")
        self.assertEqual(claim_callback_run(Claimed({**held, "success_done_at": {"S": "2026-12-06T12:00:00.000Z"}}), "state", "b1", "success", "m2", retry=False), "done")
        self.assertEqual(claim_callback_run(Claimed(None), "state", "b1", "success", "m2", retry=False), "run")


if __name__ == "__main__":
    unittest.main()
