"""Debounce by key: the Python client names a debounced job in its key's item and sends it one period
later; the Python worker runs only the job the item names, with the TypeScript items and keys."""

import json
import unittest
from datetime import datetime, timedelta
from typing import Any

from hopper_jobs import Client, EnqueueError, InvalidJobError, worker
from hopper_jobs.debounce import ITEM_DAYS, item_key
from hopper_jobs.job import normalize_job

from .support import NOW, QUEUE_URLS, RETRIES_URL, ConditionFailed, FakeContext, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_STATE_TABLE": "state"}
KEY_EXPECTED = "a string of 1 to 200 letters, digits or _ - . : @ / + ="
PERIOD_EXPECTED = "a number of seconds greater than 0 and at most 604800"


class FakeTable:
    """The state table, interpreting exactly the requests debounce sends."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.fail_reads = False

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("put", request))
        pk = request["Item"]["pk"]["S"]
        old = self.items.get(pk)
        self._check(request, old)
        self.items[pk] = request["Item"]
        return {"Attributes": old} if request.get("ReturnValues") == "ALL_OLD" and old is not None else {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("get", request))
        if self.fail_reads:
            raise RuntimeError("table unreachable")
        item = self.items.get(request["Key"]["pk"]["S"])
        return {} if item is None else {"Item": {"jid": item["jid"]}}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("delete", request))
        pk = request["Key"]["pk"]["S"]
        self._check(request, self.items.get(pk))
        self.items.pop(pk, None)
        return {}

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.requests]

    @staticmethod
    def _check(request: dict[str, Any], old: dict[str, Any] | None) -> None:
        if "ConditionExpression" not in request:
            return
        assert request["ConditionExpression"] == "#jid = :jid"
        if old is None or old["jid"] != request["ExpressionAttributeValues"][":jid"]:
            raise ConditionFailed()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def client(table: FakeTable, sqs: FakeSqs, clock: Clock | None = None) -> Client:
    return Client(queue_urls=QUEUE_URLS, sqs=sqs, now=clock or (lambda: NOW), env={"HOPPER_STATE_TABLE": "state"}, dynamodb=table)


def debounced(jid: str, key: str = "k", period: float = 5, **custom: Any) -> dict[str, Any]:
    return {"jid": jid, "jobtype": "Sync", "args": [jid], "queue": "default", "custom": {"debounce": {"key": key, "period": period}, **custom}}


class ValidationTest(unittest.TestCase):
    def test_refuses_what_the_typescript_model_refuses_naming_the_field(self) -> None:
        cases = [
            ("account:7", "custom.debounce", "an object { key, period }"),
            ({"period": 30}, "custom.debounce.key", KEY_EXPECTED),
            ({"key": "a#b", "period": 30}, "custom.debounce.key", KEY_EXPECTED),
            ({"key": "k" * 201, "period": 30}, "custom.debounce.key", KEY_EXPECTED),
            ({"key": "k", "period": 0}, "custom.debounce.period", PERIOD_EXPECTED),
            ({"key": "k", "period": 604_801}, "custom.debounce.period", PERIOD_EXPECTED),
            ({"key": "k", "period": True}, "custom.debounce.period", PERIOD_EXPECTED),
        ]
        for value, field, expected in cases:
            with self.subTest(value=value):
                with self.assertRaises(InvalidJobError) as raised:
                    normalize_job({"jobtype": "Sync", "custom": {"debounce": value}}, NOW)
                self.assertEqual((raised.exception.field, raised.exception.expected), (field, expected))

    def test_keys_are_the_typescript_keys(self) -> None:
        self.assertEqual(item_key("account:7"), {"pk": {"S": "debounce#account:7"}, "sk": {"S": "debounce"}})


class ClientTest(unittest.TestCase):
    def test_names_the_job_in_its_key_item_then_sends_it_one_period_later(self) -> None:
        table, sqs = FakeTable(), FakeSqs()

        client(table, sqs).enqueue("Sync", [1], custom={"debounce": {"key": "account:7", "period": 30}}, jid="j1")

        self.assertEqual(table.items["debounce#account:7"], {
            "pk": {"S": "debounce#account:7"}, "sk": {"S": "debounce"}, "jid": {"S": "j1"}, "jobtype": {"S": "Sync"}, "queue": {"S": "default"},
            "marked_at": {"S": "2026-11-22T12:00:00.000Z"}, "due_at": {"S": "2026-11-22T12:00:30.000Z"},
            "ttl": {"N": str(int(NOW.timestamp()) + 30 + ITEM_DAYS * 86_400)},
        })
        self.assertEqual(ITEM_DAYS, 210)
        self.assertEqual(sqs.calls[0]["Entries"][0]["DelaySeconds"], 30)
        self.assertEqual(sqs.bodies()[0]["at"], "2026-11-22T12:00:30.000Z")

    def test_one_call_writes_the_last_job_of_each_key(self) -> None:
        table, sqs = FakeTable(), FakeSqs()

        client(table, sqs).enqueue_many([debounced("a1", "a"), debounced("b1", "b"), debounced("a2", "a")])

        self.assertEqual([(request["Item"]["pk"]["S"], request["Item"]["jid"]["S"]) for kind, request in table.requests if kind == "put"], [("debounce#a", "a2"), ("debounce#b", "b1")])
        self.assertEqual([body["jid"] for body in sqs.bodies()], ["a1", "b1", "a2"])

    def test_puts_the_replaced_item_back_when_the_job_was_not_sent(self) -> None:
        table, sqs = FakeTable(), FakeSqs(refuse={'"j2"': {"Code": "InternalError", "SenderFault": False, "Message": "try again"}})
        jobs = client(table, sqs)
        jobs.enqueue_many([debounced("j1")])

        with self.assertRaises(EnqueueError):
            jobs.enqueue_many([debounced("j2")])

        self.assertEqual(table.items["debounce#k"]["jid"], {"S": "j1"})

    def test_refuses_a_debounced_job_without_the_state_table(self) -> None:
        sqs = FakeSqs()
        with self.assertRaises(EnqueueError) as raised:
            Client(queue_urls=QUEUE_URLS, sqs=sqs, now=lambda: NOW, env={}).enqueue_many([debounced("j1")])
        self.assertIn("debounce item not written", raised.exception.failed[0]["reason"])
        self.assertEqual(sqs.calls, [])


def make_worker(table: FakeTable, sqs: FakeSqs, ran: list[Any], lines: list[str] | None = None, fail: bool = False) -> Any:
    def sync(args: list[Any], ctx: Any) -> None:
        if fail:
            raise RuntimeError("upstream down")
        ran.append(args[0])

    return worker({"Sync": sync}, sqs=sqs, env=ENV, now=lambda: NOW, log=(lines.append if lines is not None else (lambda line: None)), dynamodb=table)


class WorkerTest(unittest.TestCase):
    def test_runs_the_job_the_item_names_and_then_deletes_the_item(self) -> None:
        table, ran = FakeTable(), []
        table.items["debounce#k"] = {"jid": {"S": "j2"}}

        response = make_worker(table, FakeSqs(), ran)({"Records": [record(debounced("j1"), "m1"), record(debounced("j2"), "m2")]}, FakeContext())

        self.assertEqual(response, {"batchItemFailures": []})
        self.assertEqual(ran, ["j2"])
        self.assertEqual(table.kinds(), ["get", "get", "delete"])
        self.assertNotIn("debounce#k", table.items)

    def test_a_copy_delivered_after_the_success_finds_no_item_and_does_not_run(self) -> None:
        table, ran, lines = FakeTable(), [], []
        table.items["debounce#k"] = {"jid": {"S": "j1"}}
        handler = make_worker(table, FakeSqs(), ran, lines)

        handler({"Records": [record(debounced("j1"))]}, FakeContext())
        handler({"Records": [record(debounced("j1"))]}, FakeContext())

        self.assertEqual(ran, ["j1"])
        summaries = [json.loads(line) for line in lines if '"batch done"' in line]
        self.assertEqual([(summary["succeeded"], summary["superseded"]) for summary in summaries], [(1, 0), (0, 1)])

    def test_keeps_the_item_when_the_job_failed(self) -> None:
        table, sqs = FakeTable(), FakeSqs()
        table.items["debounce#k"] = {"jid": {"S": "j1"}}

        make_worker(table, sqs, [], fail=True)({"Records": [record(debounced("j1"))]}, FakeContext())

        self.assertEqual(table.items["debounce#k"], {"jid": {"S": "j1"}})
        self.assertEqual(table.kinds(), ["get"])
        self.assertEqual(sqs.bodies(QUEUE_URLS["default"])[0]["failure"]["retry_count"], 0)

    def test_hands_the_record_back_when_the_item_cannot_be_read(self) -> None:
        table, ran = FakeTable(), []
        table.fail_reads = True

        response = make_worker(table, FakeSqs(), ran)({"Records": [record(debounced("j1"), "m7")]}, FakeContext())

        self.assertEqual(response, {"batchItemFailures": [{"itemIdentifier": "m7"}]})
        self.assertEqual(ran, [])


class EndToEndTest(unittest.TestCase):
    def test_100_jobs_for_one_key_over_10_seconds_run_once_with_the_last_payload(self) -> None:
        table, sqs, clock = FakeTable(), FakeSqs(), Clock()
        producer = client(table, sqs, clock)
        for index in range(100):
            producer.enqueue("Sync", [f"payload-{index}"], custom={"debounce": {"key": "account:7", "period": 3}})
            clock.now += timedelta(milliseconds=100)
        ran: list[Any] = []
        handler = make_worker(table, FakeSqs(), ran)

        # Each message as SQS hands it out once its delay is over, in due order.
        for index, body in enumerate(sorted(sqs.bodies(), key=lambda body: body["at"])):
            handler({"Records": [record(body, f"m{index}")]}, FakeContext())

        self.assertEqual(ran, ["payload-99"])
        self.assertEqual(table.items, {})


if __name__ == "__main__":
    unittest.main()
