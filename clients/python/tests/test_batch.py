"""Batch bookkeeping in the Python worker, against a fake table that answers as DynamoDB does for
the writes it makes (the items themselves are checked against the TypeScript batch function in
test/integration/polyglot-workers.test.ts)."""

import json
import unittest
from datetime import datetime, timezone
from typing import Any

from hopper_jobs import worker
from hopper_jobs.batch import BatchContentionError, callback_of, claim_callback_run, record_successes

from .support import NOW as SUPPORT_NOW
from .support import QUEUE_URLS, RETRIES_URL, ConditionFailed, FakeContext, FakeSqs, record

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


class Cancelled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("Transaction cancelled")
        self.response = {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons}


class Table:
    """Job items by jid (their status) and one batch item; transactions move them as DynamoDB would:
    all or nothing, with a reason per item when cancelled."""

    def __init__(self, statuses: dict[str, str], batch: dict[str, Any] | None = None, conflicts: int = 0) -> None:
        self.statuses = statuses
        self.batch = batch if batch is not None else {"succeeded": 0, "pending": len(statuses), "failures": 0}
        self.conflicts = conflicts
        self.transactions: list[int] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.transactions.append(len(TransactItems))
        counters, jobs = TransactItems[0]["Update"], [item["Update"] for item in TransactItems[1:]]
        if self.conflicts > 0:
            self.conflicts -= 1
            raise Cancelled([{"Code": "TransactionConflict"}] + [{"Code": "None"}] * len(jobs))
        if self.batch is None:
            raise Cancelled([{"Code": "ConditionalCheckFailed"}] + [{"Code": "None"}] * len(jobs))
        reasons: list[dict[str, Any]] = [{"Code": "None"}]
        for update in jobs:
            held = self.statuses.get(update["Key"]["sk"]["S"].removeprefix("job#"))
            if held == update["ExpressionAttributeValues"][":from"]["S"]:
                reasons.append({"Code": "None"})
            else:
                reasons.append({"Code": "ConditionalCheckFailed", **({"Item": {"status": {"S": held}}} if held is not None else {})})
        if any(reason["Code"] != "None" for reason in reasons):
            raise Cancelled(reasons)
        for name, value in counters["ExpressionAttributeValues"].items():
            counter = name.removeprefix(":c_")
            self.batch[counter] = self.batch.get(counter, 0) + int(value["N"])
        for update in jobs:
            self.statuses[update["Key"]["sk"]["S"].removeprefix("job#")] = "succeeded"
        return {}


def job(jid: str, **extra: Any) -> Any:
    return {"jid": jid, "jobtype": "T", "queue": "default", "args": [], **extra}


class RecordSuccessesTest(unittest.TestCase):
    def test_an_invocations_successes_move_the_counters_in_one_transaction_once(self) -> None:
        table = Table({"j1": "pending", "j2": "pending", "j3": "pending"})
        recorded = record_successes(table, "state", "b1", [job("j1"), job("j2"), job("j3"), job("j2")], NOW)
        self.assertEqual((recorded.batch_missing, recorded.not_in_batch), (False, []))
        self.assertEqual(table.transactions, [4])  # the batch item and three jobs: j2 delivered twice counts once
        record_successes(table, "state", "b1", [job("j1")], NOW)
        self.assertEqual(table.batch, {"succeeded": 3, "pending": 0, "failures": 0})

    def test_plans_again_from_the_status_each_job_has(self) -> None:
        # j1 reported as a first run, but the retry function had recorded a failure; j2 ran before.
        table = Table({"j1": "failed", "j2": "succeeded", "j3": "pending"}, {"succeeded": 1, "pending": 1, "failures": 1})
        record_successes(table, "state", "b1", [job("j1"), job("j2"), job("j3")], NOW)
        self.assertEqual(table.batch, {"succeeded": 3, "pending": 0, "failures": 0})
        self.assertEqual(table.transactions, [4, 3])

    def test_tells_a_missing_batch_and_a_job_not_in_it(self) -> None:
        table = Table({"j1": "pending"})
        recorded = record_successes(table, "state", "b1", [job("stranger"), job("j1")], NOW)
        self.assertEqual((recorded.batch_missing, recorded.not_in_batch, table.batch["succeeded"]), (False, ["stranger"], 1))
        gone = Table({"j1": "pending"})
        gone.batch = None  # type: ignore[assignment]
        self.assertTrue(record_successes(gone, "state", "b1", [job("j1")], NOW).batch_missing)

    def test_takes_99_jobs_per_transaction(self) -> None:
        table = Table({f"j{i}": "pending" for i in range(150)})
        record_successes(table, "state", "b1", [job(f"j{i}") for i in range(150)], NOW)
        self.assertEqual((table.transactions, table.batch["succeeded"]), ([100, 52], 150))

    def test_waits_out_conflicts_and_gives_up_after_eight(self) -> None:
        slept: list[float] = []
        table = Table({"j1": "pending"}, conflicts=3)
        record_successes(table, "state", "b1", [job("j1")], NOW, sleep=slept.append)
        self.assertEqual((len(slept), len(table.transactions), table.batch["succeeded"]), (3, 4, 1))
        with self.assertRaises(BatchContentionError):
            record_successes(Table({"j1": "pending"}, conflicts=100), "state", "b1", [job("j1")], NOW, sleep=slept.append)


class WorkerSuccessesTest(unittest.TestCase):
    ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state"}

    def run_worker(self, table: Table, records: list[dict[str, Any]]) -> dict[str, Any]:
        handle = worker({"T": lambda args, ctx: None}, sqs=FakeSqs(), env=self.ENV, dynamodb=table, now=lambda: SUPPORT_NOW, log=lambda line: None)
        return handle({"Records": records}, FakeContext())

    def test_an_invocation_records_its_batch_successes_and_expiries_in_one_transaction(self) -> None:
        table = Table({f"j{i}": "pending" for i in range(4)})
        expired = job("j3", created_at="2026-11-22T11:00:00Z", custom={"bid": "b1", "expires_at": "2026-11-22T11:30:00Z"})
        records = [record(job(f"j{i}", created_at="2026-11-22T11:00:00Z", custom={"bid": "b1"}), f"m{i}") for i in range(3)] + [record(expired, "m3")]
        self.assertEqual(self.run_worker(table, records), {"batchItemFailures": []})
        # The batch item and four jobs; the expired one counts as done, as the producer allowed.
        self.assertEqual((table.transactions, table.batch), ([5], {"succeeded": 4, "pending": 0, "failures": 0}))

    def test_successes_their_batch_could_not_be_told_are_handed_back(self) -> None:
        class Down(Table):
            def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
                raise ConnectionError("the table cannot be reached")

        table = Down({"j0": "pending", "j1": "pending"})
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
