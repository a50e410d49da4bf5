import contextvars
import json
import time
import unittest
from datetime import timedelta
from typing import Any

from hopper_jobs import ConfigurationError, JobContext, UnrecoverableJobError, worker
from hopper_jobs.worker_config import queue_name_of

from .support import DEFAULT_ARN, NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}


class Boom(Exception):
    pass


def make(jobs: dict[str, Any], sqs: FakeSqs, lines: list[str] | None = None) -> Any:
    sink = lines.append if lines is not None else (lambda line: None)
    return worker(jobs, sqs=sqs, env=ENV, now=lambda: NOW, log=sink)


def job(jobtype: str = "A", **fields: Any) -> dict[str, Any]:
    return {"jid": "j1", "jobtype": jobtype, "args": [1, "two"], "queue": "default", "created_at": "2026-11-22T11:00:00Z", "retry": 25, **fields}


class WorkerTest(unittest.TestCase):
    def test_runs_the_handler_with_args_and_context_and_acks(self) -> None:
        seen: list[tuple[list[Any], JobContext]] = []
        sqs = FakeSqs()
        response = make({"A": lambda args, ctx: seen.append((args, ctx))}, sqs)({"Records": [record(job())]}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": []})
        self.assertEqual(seen[0][0], [1, "two"])
        self.assertEqual((seen[0][1].jid, seen[0][1].job["queue"], seen[0][1].remaining_time_ms()), ("j1", "default", 60_000))
        self.assertEqual(sqs.calls, [], "a success sends nothing")

    def test_a_failure_due_within_15_minutes_goes_back_to_its_queue_with_its_failure_and_delay(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise Boom("smtp down")

        sqs, lines = FakeSqs(), []
        response = make({"A": fail}, sqs, lines)({"Records": [record(job(), "m1")]}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": []})
        self.assertEqual(sqs.bodies(RETRIES_URL), [])
        [call] = sqs.calls
        [entry] = call["Entries"]
        sent = json.loads(entry["MessageBody"])
        # Sidekiq's first delay, 15-24 s, seeded by the jid and the retry count: 22 s, as lib/retry/plan.ts computes it for j1.
        self.assertEqual((call["QueueUrl"], entry["DelaySeconds"]), (QUEUE_URLS["default"], 22))
        self.assertEqual({key: sent[key] for key in ("jid", "args", "enqueued_at")}, {"jid": "j1", "args": [1, "two"], "enqueued_at": "2026-11-22T12:00:00.000Z"})
        self.assertEqual({key: sent["failure"][key] for key in ("retry_count", "failed_at", "next_at", "errtype", "message")},
                         {"retry_count": 0, "failed_at": "2026-11-22T12:00:00.000Z", "next_at": "2026-11-22T12:00:22.000Z", "errtype": "Boom", "message": "smtp down"})
        self.assertRegex(sent["failure"]["backtrace"][0], r"in fail$")
        emf = [json.loads(line) for line in lines if '"_aws"' in line]
        self.assertEqual([(line["Processed"], line["Failed"], line["Retried"]) for line in emf if "JobType" in line], [(1, 1, 1)])

    def test_a_failure_due_later_sends_an_envelope_to_the_retries_queue_and_acks(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise Boom("smtp down")

        # The 7th failure waits 6⁴ + 15 s or more: longer than SQS can delay a message.
        ran_before = job(failure={"retry_count": 5, "failed_at": "2026-11-22T11:00:00Z", "message": "smtp down", "errtype": "Boom"})
        sqs = FakeSqs()
        response = make({"A": fail}, sqs)({"Records": [record(ran_before, "m1")]}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": []})
        [envelope] = sqs.bodies(RETRIES_URL)
        self.assertEqual(
            {key: envelope[key] for key in ("hopper", "queue", "message_id", "failed_at")},
            {"hopper": "failure", "queue": "default", "message_id": "m1", "failed_at": "2026-11-22T12:00:00.000Z"},
        )
        self.assertEqual(envelope["job"], ran_before)
        self.assertEqual((envelope["error"]["errtype"], envelope["error"]["message"]), ("Boom", "smtp down"))
        self.assertRegex(envelope["error"]["backtrace"][0], r"in fail$")
        self.assertNotIn("unrecoverable", envelope)

    def test_one_failure_does_not_fail_its_neighbours_and_retries_go_in_one_batch(self) -> None:
        def maybe(args: list[Any], ctx: JobContext) -> None:
            if args[0] % 2:
                raise Boom(str(args[0]))

        sqs = FakeSqs()
        records = [record(job(jid=f"j{i}", args=[i]), f"m{i}") for i in range(5)]
        response = make({"A": maybe}, sqs)({"Records": records}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": []})
        self.assertEqual(len(sqs.calls), 1)
        self.assertEqual([sent["jid"] for sent in sqs.bodies(QUEUE_URLS["default"])], ["j1", "j3"])

    def test_unrecoverable_errors_unknown_jobtypes_and_invalid_bodies_go_to_the_dead_set(self) -> None:
        def refuse(args: list[Any], ctx: JobContext) -> None:
            raise UnrecoverableJobError("user 7 no longer exists")

        sqs = FakeSqs()
        records = [record(job("A"), "m1"), record(job("Nope", jid="j2"), "m2"), record("{oops", "m3"), record({"args": []}, "m4")]
        make({"A": refuse, "B": refuse}, sqs)({"Records": records}, FakeContext())
        envelopes = sqs.bodies(RETRIES_URL)
        self.assertTrue(all(envelope["unrecoverable"] is True for envelope in envelopes))
        self.assertEqual([envelope["error"]["errtype"] for envelope in envelopes], ["UnrecoverableJobError", "UnknownJobTypeError", "InvalidJobError", "InvalidJobError"])
        self.assertEqual(envelopes[1]["error"]["message"], 'no handler for jobtype "Nope" in this worker (it handles: A, B)')
        self.assertEqual(envelopes[2]["raw"], "{oops")
        self.assertNotIn("job", envelopes[2])
        self.assertEqual(envelopes[3]["error"]["message"], "invalid job: jobtype must be a string of 1 to 256 characters, but nothing was provided")

    def test_a_user_error_named_unrecoverable_job_error_counts_too(self) -> None:
        class UnrecoverableJobError(Exception):
            pass

        def refuse(args: list[Any], ctx: JobContext) -> None:
            raise UnrecoverableJobError("gone")

        sqs = FakeSqs()
        make({"A": refuse}, sqs)({"Records": [record(job())]}, FakeContext())
        self.assertIs(sqs.bodies()[0]["unrecoverable"], True)

    def test_fills_in_the_jid_from_the_message_id_and_the_queue_from_the_source(self) -> None:
        sqs = FakeSqs()
        seen: list[JobContext] = []
        critical = "arn:aws:sqs:us-east-1:123456789012:Jobs-critical"
        make({"A": lambda args, ctx: seen.append(ctx)}, sqs)({"Records": [record({"jobtype": "A"}, "msg-42", critical)]}, FakeContext())
        self.assertEqual((seen[0].jid, seen[0].job["queue"], seen[0].job["retry"]), ("msg-42", "critical", 25))

    def test_a_job_without_retry_gets_hopper_default_retry(self) -> None:
        seen: list[JobContext] = []
        handler = worker({"A": lambda args, ctx: seen.append(ctx)}, sqs=FakeSqs(), env={**ENV, "HOPPER_DEFAULT_RETRY": "3"}, log=lambda line: None)
        handler({"Records": [record({"jobtype": "A"}), record({"jobtype": "A", "retry": 7}, "m2")]}, FakeContext())
        self.assertEqual([ctx.job["retry"] for ctx in seen], [3, 7])

    def test_a_malformed_hopper_default_retry_fails_the_invocation(self) -> None:
        handler = worker({"A": lambda args, ctx: None}, sqs=FakeSqs(), env={**ENV, "HOPPER_DEFAULT_RETRY": "-1"})
        with self.assertRaises(ConfigurationError) as raised:
            handler({"Records": [record(job())]}, FakeContext())
        self.assertIn("HOPPER_DEFAULT_RETRY", str(raised.exception))

    def test_an_expired_job_is_dropped_without_running(self) -> None:
        ran: list[str] = []
        lines: list[str] = []
        expired = job(custom={"expires_at": (NOW - timedelta(seconds=1)).isoformat()})
        response = make({"A": lambda args, ctx: ran.append(ctx.jid)}, FakeSqs(), lines)({"Records": [record(expired)]}, FakeContext())
        self.assertEqual((response, ran), ({"batchItemFailures": []}, []))
        self.assertEqual(json.loads(lines[0])["message"], "job expired; dropped without running")

    def test_records_not_started_before_the_deadline_are_handed_back(self) -> None:
        ran: list[str] = []
        records = [record(job(jid=f"j{i}"), f"m{i}") for i in range(4)]
        # Remaining time as asked when the invocation begins (its hard stop), then before each
        # record: plenty, plenty, then under the 3 s margin.
        context = FakeContext(10_000, 10_000, 5_000, 2_999)
        response = make({"A": lambda args, ctx: ran.append(ctx.jid)}, FakeSqs())({"Records": records}, context)
        self.assertEqual(ran, ["j0", "j1"])
        self.assertEqual(response, {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]})

    def test_a_record_whose_retry_was_not_sent_is_handed_back(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise Boom("x")

        sqs = FakeSqs(refuse={'"j1"': {"SenderFault": False, "Code": "ServiceUnavailable", "Message": "down"}})
        response = make({"A": fail}, sqs)({"Records": [record(job(jid="j1"), "m1"), record(job(jid="j2"), "m2")]}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": [{"itemIdentifier": "m1"}]})

    def test_a_job_still_running_at_the_hard_stop_is_abandoned_with_ctx_cancelled_set(self) -> None:
        seen: list[bool] = []

        def stuck(args: list[Any], ctx: JobContext) -> None:
            seen.append(ctx.cancelled.is_set())
            seen.append(ctx.cancelled.wait(30))

        sqs = FakeSqs()
        handle = worker({"A": stuck}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, deadline_margin_ms=1_000)
        started = time.monotonic()
        # 1.1 s left: the first record starts (1 s margin) and is abandoned when 0.5 s is left.
        response = handle({"Records": [record(job(jid="j1"), "m1"), record(job(jid="j2"), "m2")]}, FakeContext(1_100))
        waited = time.monotonic() - started
        self.assertEqual(response, {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]})
        self.assertGreaterEqual(waited, 0.55)
        self.assertLess(waited, 5)
        for _ in range(100):
            if len(seen) == 2:
                break
            time.sleep(0.01)
        self.assertEqual(seen, [False, True], "the handler saw ctx.cancelled set and stopped")
        self.assertEqual(sqs.calls, [], "an abandoned job reports nothing: its record goes back")

    def test_a_handler_runs_in_the_context_of_the_invocation(self) -> None:
        request = contextvars.ContextVar("request", default="none")
        request.set("r-1")
        seen: list[str] = []
        make({"A": lambda args, ctx: seen.append(request.get())}, FakeSqs())({"Records": [record(job())]}, FakeContext())
        self.assertEqual(seen, ["r-1"])

    def test_logs_carry_the_job_fields(self) -> None:
        lines: list[str] = []
        make({"A": lambda args, ctx: ctx.logger.info("sending", to="a@example.com")}, FakeSqs(), lines)({"Records": [record(job(failure={"retry_count": 1, "failed_at": "2026-11-22T11:00:00Z"}))]}, FakeContext())
        self.assertEqual(json.loads(lines[0]), {"level": "INFO", "message": "sending", "time": "2026-11-22T12:00:00.000Z", "jid": "j1", "jobtype": "A", "queue": "default", "attempt": 3, "to": "a@example.com"})

    def test_async_handlers_are_awaited(self) -> None:
        ran: list[str] = []

        async def handle(args: list[Any], ctx: JobContext) -> None:
            ran.append(ctx.jid)

        make({"A": handle}, FakeSqs())({"Records": [record(job())]}, FakeContext())
        self.assertEqual(ran, ["j1"])

    def test_without_the_retries_queue_url_the_invocation_fails(self) -> None:
        handler = worker({"A": lambda args, ctx: None}, sqs=FakeSqs(), env={})
        with self.assertRaises(ConfigurationError):
            handler({"Records": [record(job())]}, FakeContext())


class QueueNameOfTest(unittest.TestCase):
    def test_matches_account_and_physical_name(self) -> None:
        self.assertEqual(queue_name_of(DEFAULT_ARN, QUEUE_URLS), "default")

    def test_falls_back_to_the_physical_name_alone_when_unambiguous(self) -> None:
        self.assertEqual(queue_name_of("arn:aws:sqs:us-east-1:000000000000:Jobs-critical", QUEUE_URLS), "critical")
        self.assertIsNone(queue_name_of("arn:aws:sqs:us-east-1:123456789012:Other", QUEUE_URLS))


if __name__ == "__main__":
    unittest.main()


class FakeDynamo:
    def __init__(self, fail: bool = False) -> None:
        self.items: list[dict[str, Any]] = []
        self.fail = fail

    def put_item(self, *, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("ProvisionedThroughputExceededException")
        self.items.append({"TableName": TableName, **Item})
        return {}


class StartMarkTest(unittest.TestCase):
    def run_once(self, receive_count: str, dynamo: FakeDynamo, lines: list[str], ran: list[str]) -> dict[str, Any]:
        handle = worker(
            {"A": lambda args, ctx: ran.append(f"ran after {len(dynamo.items)} marks")},
            sqs=FakeSqs(), env={**ENV, "HOPPER_STATE_TABLE": "state"}, now=lambda: NOW, log=lines.append, dynamodb=dynamo,
        )
        body = record(job(failure={"retry_count": 1, "failed_at": "2026-11-22T11:30:00Z", "message": "x", "errtype": "Error"}))
        body["attributes"] = {"ApproximateReceiveCount": receive_count}
        return handle({"Records": [body]}, FakeContext())

    def test_marks_a_job_delivered_again_before_it_runs_and_not_a_first_delivery(self) -> None:
        dynamo, lines, ran = FakeDynamo(), [], []
        self.run_once("1", dynamo, lines, ran)
        self.assertEqual(dynamo.items, [])
        self.run_once("3", dynamo, lines, ran)
        expires = int(NOW.timestamp()) + 15 * 86_400
        self.assertEqual(dynamo.items, [{"TableName": "state", "pk": {"S": "startmark#j1"}, "sk": {"S": "attempt#1"}, "ttl": {"N": str(expires)}}])
        self.assertEqual(ran, ["ran after 0 marks", "ran after 1 marks"])

    def test_runs_the_job_when_the_mark_cannot_be_written(self) -> None:
        dynamo, lines, ran = FakeDynamo(fail=True), [], []
        result = self.run_once("2", dynamo, lines, ran)
        self.assertEqual(result, {"batchItemFailures": []})
        self.assertEqual(len(ran), 1)
        self.assertTrue(any("start mark not written" in line for line in lines))
