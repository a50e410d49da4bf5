"""Iterating jobs in the Python worker: slices that stop before the deadline and resume from the
cursor, checkpoints, failures resumed after the last item done, copies held off or acknowledged,
against a fake table that evaluates the conditions of the iteration item's writes (the items are the
TypeScript worker's: lib/storage/iterations.ts)."""

import json
import unittest
from datetime import datetime, timezone
from typing import Any

from hopper_jobs import ConfigurationError, IterationError, JobContext, iterate, worker

from .support import NOW, QUEUE_URLS, RETRIES_URL, ConditionFailed, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state"}


class Table:
    """The state table's iteration items, updated as DynamoDB would for the writes iterate makes."""

    def __init__(self, now_ms: Any) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.now_ms = now_ms
        self.writes = 0

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.writes += 1
        pk, values = request["Key"]["pk"]["S"], request["ExpressionAttributeValues"]
        item = dict(self.items.get(pk, {}))
        condition = request["ConditionExpression"]
        if condition.startswith("(attribute_not_exists(#owner)"):
            free = "owner" not in item or int(item["until"]["N"]) < int(values[":now"]["N"])
            if not free or "state" in item:
                raise ConditionFailed()
            item.update(owner=values[":owner"], until=values[":until"], slices={"N": str(int(item.get("slices", {"N": "0"})["N"]) + 1)}, items=item.get("items", {"N": "0"}))
            self.items[pk] = item
            return {"Attributes": item}
        if item.get("owner") != values[":owner"]:
            raise ConditionFailed()
        expression = request["UpdateExpression"]
        item["items"] = values[":items"]
        if ":cursor" in values:
            item["cursor"] = values[":cursor"]
        if ":done" in values:
            item["state"] = values[":done"]
            item.pop("cursor", None)
        if "REMOVE #owner" in expression:
            item.pop("owner", None)
            item.pop("until", None)
        self.items[pk] = item
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        item = self.items.get(request["Key"]["pk"]["S"])
        return {} if item is None else {"Item": item}


NOW_MS = int(NOW.timestamp() * 1000)


class Clock:
    """The worker's clock and the invocation's remaining time, moved by the items (``step_ms`` each)."""

    def __init__(self, budget_ms: int) -> None:
        self.ms = NOW_MS
        self.budget_ms = budget_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, timezone.utc)

    def get_remaining_time_in_millis(self) -> int:
        return self.budget_ms - (self.ms - NOW_MS)


def body(jid: str = "it-1", **fields: Any) -> dict[str, Any]:
    return {"jid": jid, "jobtype": "Import", "args": [10], "queue": "default", "created_at": "2026-11-22T11:00:00Z", **fields}


class IterateTest(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = Clock(10_000)
        self.table = Table(lambda: self.clock.ms)
        self.done: list[int] = []

    def job(self, step_ms: int = 1_000, fail_at: int | None = None, **options: Any) -> Any:
        def rows(args: list[Any], cursor: Any, ctx: JobContext) -> Any:
            for row in range(cursor or 0, args[0]):
                yield row, row + 1

        def each(row: int, args: list[Any], ctx: JobContext) -> None:
            if row == fail_at:
                raise ValueError(f"row {row} is broken")
            self.clock.ms += step_ms
            self.done.append(row)

        return iterate(rows, each, complete=lambda args, ctx: {"rows": len(self.done)}, **options)

    def run_slice(self, handler: Any, sqs: FakeSqs, job: dict[str, Any], message_id: str = "m1", budget_ms: int = 10_000) -> dict[str, Any]:
        self.clock.budget_ms, self.clock.ms = budget_ms, NOW_MS
        handle = worker({"Import": handler}, sqs=sqs, env=ENV, now=self.clock.now, log=lambda line: None, dynamodb=self.table, deadline_margin_ms=3_000)
        return handle({"Records": [record(job, message_id)]}, self.clock)

    def test_a_job_longer_than_an_invocation_runs_as_slices_each_item_once(self) -> None:
        handler, sqs = self.job(), FakeSqs()
        # 10 s with a 3 s margin: items of 1 s stop when less than 3 s + twice the longest item is left.
        self.assertEqual(self.run_slice(handler, sqs, body()), {"batchItemFailures": []})
        [again] = sqs.bodies(QUEUE_URLS["default"])
        self.assertEqual((self.done, again["custom"]["slice"]), ([0, 1, 2, 3, 4, 5], 1))
        self.run_slice(handler, FakeSqs(), again)
        self.assertEqual(self.done, list(range(10)))
        item = self.table.items["iter#it-1"]
        self.assertEqual((item["state"]["S"], item["items"]["N"], item["slices"]["N"]), ("done", "10", "2"))
        # A late copy of the finished job is acknowledged without running anything.
        late = FakeSqs()
        self.assertEqual(self.run_slice(handler, late, body(), "m9"), {"batchItemFailures": []})
        self.assertEqual((self.done, late.calls), (list(range(10)), []))

    def test_a_failed_item_fails_the_job_and_the_retry_resumes_after_the_last_item_done(self) -> None:
        sqs = FakeSqs()
        self.run_slice(self.job(step_ms=10, fail_at=3), sqs, body())
        [retried] = sqs.bodies(QUEUE_URLS["default"])
        self.assertEqual(retried["failure"]["message"], "row 3 is broken")
        self.assertEqual(self.table.items["iter#it-1"]["cursor"]["S"], "3")
        self.run_slice(self.job(step_ms=10), FakeSqs(), retried)
        self.assertEqual(self.done, list(range(10)))

    def test_a_copy_finds_the_iteration_held_and_waits_for_the_slice_to_end(self) -> None:
        self.table.items["iter#it-1"] = {"owner": {"S": "another"}, "until": {"N": str(NOW_MS + 7_000)}, "slices": {"N": "1"}, "items": {"N": "4"}}
        sqs = FakeSqs()
        self.run_slice(self.job(), sqs, body())
        [call] = sqs.calls
        self.assertEqual((self.done, call["Entries"][0]["DelaySeconds"]), ([], 7))

    def test_checkpoints_are_spaced_and_a_bad_pair_or_cursor_is_unrecoverable(self) -> None:
        self.run_slice(self.job(step_ms=10), FakeSqs(), body())
        # take, finish, and no checkpoint in between: 100 ms of items is under the 5 s spacing.
        self.assertEqual(self.table.writes, 2)
        self.run_slice(self.job(step_ms=10, checkpoint_every_ms=0), FakeSqs(), body(jid="it-2"))
        self.assertEqual(self.table.writes, 2 + 2 + 10)
        sqs = FakeSqs()
        self.run_slice(iterate(lambda args, cursor, ctx: [1, 2], lambda item, args, ctx: None), sqs, body(jid="it-3"))
        [envelope] = sqs.bodies(RETRIES_URL)
        self.assertEqual((envelope["unrecoverable"], envelope["error"]["errtype"]), (True, IterationError.__name__))
        with self.assertRaisesRegex(ConfigurationError, "checkpoint_every_ms must be a number"):
            iterate(lambda args, cursor, ctx: [], lambda item, args, ctx: None, checkpoint_every_ms=-1)


if __name__ == "__main__":
    unittest.main()
