"""Batch bookkeeping in the Python worker, against a fake table that answers as DynamoDB does for
the writes it makes (the items themselves are checked against the TypeScript batch function in
test/integration/polyglot-workers.test.ts)."""

import unittest
from datetime import datetime, timezone
from typing import Any

from hopper_jobs.batch import BatchContentionError, callback_of, claim_callback_run, record_success

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


class Cancelled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("Transaction cancelled")
        self.response = {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons}


class ConditionFailed(Exception):
    def __init__(self) -> None:
        super().__init__("The conditional request failed")
        self.response = {"Error": {"Code": "ConditionalCheckFailedException"}}


class Table:
    """Job items by jid (their status) and one batch item; transactions move them as DynamoDB would."""

    def __init__(self, statuses: dict[str, str], batch: dict[str, Any] | None = None, conflicts: int = 0) -> None:
        self.statuses = statuses
        self.batch = batch if batch is not None else {"succeeded": 0, "pending": len(statuses), "failures": 0}
        self.conflicts = conflicts
        self.transactions = 0

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.transactions += 1
        if self.conflicts > 0:
            self.conflicts -= 1
            raise Cancelled([{"Code": "TransactionConflict"}, {"Code": "None"}])
        counters, job = TransactItems[0]["Update"], TransactItems[1]["Update"]
        jid = job["Key"]["sk"]["S"].removeprefix("job#")
        expected = job["ExpressionAttributeValues"][":from"]["S"]
        if self.batch is None:
            raise Cancelled([{"Code": "ConditionalCheckFailed"}, {"Code": "None"}])
        held = self.statuses.get(jid)
        if held != expected:
            item = None if held is None else {"status": {"S": held}}
            raise Cancelled([{"Code": "None"}, {"Code": "ConditionalCheckFailed", **({"Item": item} if item else {})}])
        for name, value in counters["ExpressionAttributeValues"].items():
            counter = name.removeprefix(":c_")
            self.batch[counter] = self.batch.get(counter, 0) + int(value["N"])
        self.statuses[jid] = "succeeded"
        return {}


def job(jid: str, **extra: Any) -> Any:
    return {"jid": jid, "jobtype": "T", "queue": "default", "args": [], **extra}


class RecordSuccessTest(unittest.TestCase):
    def test_moves_the_counters_once_however_often_the_success_is_reported(self) -> None:
        table = Table({"j1": "pending"})
        self.assertEqual(record_success(table, "state", "b1", job("j1"), NOW), "applied")
        self.assertEqual(record_success(table, "state", "b1", job("j1"), NOW), "already")
        self.assertEqual(table.batch, {"succeeded": 1, "pending": 0, "failures": 0})

    def test_plans_again_from_the_status_the_job_has(self) -> None:
        # Reported as a first run, but the retry function had recorded a failure.
        table = Table({"j1": "failed"}, {"succeeded": 0, "pending": 0, "failures": 1})
        self.assertEqual(record_success(table, "state", "b1", job("j1"), NOW), "applied")
        self.assertEqual(table.batch, {"succeeded": 1, "pending": 0, "failures": 0})

    def test_tells_a_missing_batch_and_a_job_not_in_it(self) -> None:
        self.assertEqual(record_success(Table({}), "state", "b1", job("stranger"), NOW), "not-in-batch")
        gone = Table({"j1": "pending"})
        gone.batch = None  # type: ignore[assignment]
        self.assertEqual(record_success(gone, "state", "b1", job("j1"), NOW), "batch-missing")

    def test_waits_out_conflicts_and_gives_up_after_eight(self) -> None:
        slept: list[float] = []
        table = Table({"j1": "pending"}, conflicts=3)
        self.assertEqual(record_success(table, "state", "b1", job("j1"), NOW, sleep=slept.append), "applied")
        self.assertEqual((len(slept), table.transactions), (3, 4))
        with self.assertRaises(BatchContentionError):
            record_success(Table({"j1": "pending"}, conflicts=100), "state", "b1", job("j1"), NOW, sleep=slept.append)


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
