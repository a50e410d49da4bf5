"""Middleware and hooks in Python producers and workers, with the TypeScript chains' rules
(docs/middleware.md): the client chain on every job sent (via client, retry, requeue), the server
chain around every handler, and the hooks of the worker's own moves."""

import json
import unittest
from typing import Any

from hopper_jobs import Client, HopperError, JobContext, MiddlewareError, RateLimitedError, define_middleware, worker

from .support import NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}


def job(jobtype: str = "A", **fields: Any) -> dict[str, Any]:
    return {"jid": "j1", "jobtype": jobtype, "args": [1], "queue": "default", "created_at": "2026-11-22T11:00:00Z", "retry": 25, **fields}


def tenant(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {**job, "custom": {**(job.get("custom") or {}), "tenant": "acme", "via": ctx.via}}


class ClientChainTest(unittest.TestCase):
    def test_every_job_a_client_enqueues_goes_through_the_chain(self) -> None:
        sqs = FakeSqs()
        Client(QUEUE_URLS, sqs, now=lambda: NOW, middleware=define_middleware(client=[tenant])).enqueue("A", [1])
        [sent] = sqs.bodies()
        self.assertEqual(sent["custom"], {"tenant": "acme", "via": "client"})

    def test_a_refusal_sends_nothing_and_names_the_entry_and_the_field(self) -> None:
        def rename(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
            return {**job, "queue": "critical"} if job["args"] == [2] else job

        sqs = FakeSqs()
        client = Client(QUEUE_URLS, sqs, now=lambda: NOW, middleware=define_middleware(client=[rename]))
        with self.assertRaises(MiddlewareError) as refused:
            client.enqueue_many([{"jobtype": "A", "args": [1]}, {"jobtype": "A", "args": [2]}])
        self.assertEqual(str(refused.exception), "client middleware rename (enqueue via client): changed the job's queue from default to critical; a middleware may not")
        self.assertEqual(sqs.calls, [])

    def test_a_unique_jobs_args_and_a_result_that_is_not_a_job_are_refused(self) -> None:
        def pad(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
            return {**job, "args": [*job["args"], "x"]}

        client = Client(QUEUE_URLS, FakeSqs(), now=lambda: NOW, middleware=define_middleware(client=[pad]))
        with self.assertRaisesRegex(MiddlewareError, r"changed the job's args \(a unique job's lock is keyed by them\)"):
            client.enqueue("A", [1], custom={"unique_for": 60})
        client.enqueue("A", [1])  # not unique: its args may change
        broken = Client(QUEUE_URLS, FakeSqs(), now=lambda: NOW, middleware=define_middleware(client=[lambda job, ctx: None]))
        with self.assertRaisesRegex(MiddlewareError, r"client\[0\] \(enqueue via client\): gave back something that is not a job"):
            broken.enqueue("A", [1])

    def test_a_malformed_declaration_is_refused_when_made(self) -> None:
        with self.assertRaisesRegex(TypeError, r"middleware server\[1\] must be a function"):
            define_middleware(server=[lambda job, ctx, call_next: None, "timing"])  # type: ignore[list-item]


class ServerChainTest(unittest.TestCase):
    def run_worker(self, server: list[Any], handler: Any, sqs: FakeSqs | None = None, **fields: Any) -> tuple[dict[str, Any], FakeSqs]:
        sqs = sqs or FakeSqs()
        handle = worker({"A": handler}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, middleware=define_middleware(server=server))
        return handle({"Records": [record(job(**fields), "m1")]}, FakeContext()), sqs

    def test_the_chain_runs_in_order_around_the_handler_and_may_hand_on_a_changed_job(self) -> None:
        order: list[str] = []

        def outer(job: dict[str, Any], ctx: JobContext, call_next: Any) -> Any:
            order.append("outer in")
            value = call_next()
            order.append("outer out")
            return {"wrapped": value}

        def double(job: dict[str, Any], ctx: JobContext, call_next: Any) -> Any:
            order.append("double")
            return call_next({**job, "args": [job["args"][0] * 2]})

        def handler(args: list[Any], ctx: JobContext) -> Any:
            order.append(f"handler {args}")
            return args[0]

        response, sqs = self.run_worker([outer, double], handler)
        self.assertEqual((response, sqs.calls), ({"batchItemFailures": []}, []))
        self.assertEqual(order, ["outer in", "double", "handler [2]", "outer out"])

    def test_a_middleware_that_does_not_call_next_ends_the_job_as_a_success(self) -> None:
        ran: list[Any] = []
        response, sqs = self.run_worker([lambda job, ctx, call_next: "skipped"], lambda args, ctx: ran.append(args))
        self.assertEqual((response, sqs.calls, ran), ({"batchItemFailures": []}, [], []))

    def test_calling_next_twice_or_changing_the_jid_fails_the_job(self) -> None:
        for entry, message in [
            (lambda job, ctx, call_next: (call_next(), call_next()), "called call_next twice"),
            (lambda job, ctx, call_next: call_next({**job, "jid": "other"}), "handed on a job with another jid"),
        ]:
            with self.subTest(message=message):
                _, sqs = self.run_worker([entry], lambda args, ctx: None)
                [retried] = sqs.bodies(QUEUE_URLS["default"])
                self.assertEqual(retried["failure"]["errtype"], HopperError.__name__)
                self.assertIn(message, retried["failure"]["message"])


class WorkerSendsTest(unittest.TestCase):
    def test_a_retry_goes_through_the_chain_and_a_refused_one_to_the_retry_function(self) -> None:
        def fail(args: list[Any], ctx: JobContext) -> None:
            raise ValueError("down")

        sqs = FakeSqs()
        worker({"A": fail}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, middleware=define_middleware(client=[tenant]))({"Records": [record(job(), "m1")]}, FakeContext())
        [retried] = sqs.bodies(QUEUE_URLS["default"])
        self.assertEqual(retried["custom"], {"tenant": "acme", "via": "retry"})

        def refuse(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
            raise PermissionError("no retries today")

        sqs, lines = FakeSqs(), []
        worker({"A": fail}, sqs=sqs, env=ENV, now=lambda: NOW, log=lines.append, middleware=define_middleware(client=[refuse]))({"Records": [record(job(), "m1")]}, FakeContext())
        [envelope] = sqs.bodies(RETRIES_URL)
        self.assertEqual(envelope["error"]["message"], "down")
        self.assertTrue(any("client middleware refused the retry" in line for line in lines))

    def test_a_refused_requeue_hands_the_record_back(self) -> None:
        def limited(args: list[Any], ctx: JobContext) -> None:
            raise RateLimitedError("erp", 30)

        def no(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
            raise PermissionError("no")

        refuse = define_middleware(client=[no])
        sqs = FakeSqs()
        response = worker({"A": limited}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, middleware=refuse)({"Records": [record(job(), "m1")]}, FakeContext())
        self.assertEqual((response, sqs.calls), ({"batchItemFailures": [{"itemIdentifier": "m1"}]}, []))
        sqs = FakeSqs()
        worker({"A": limited}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None, middleware=define_middleware(client=[tenant]))({"Records": [record(job(), "m1")]}, FakeContext())
        [requeued] = sqs.bodies(QUEUE_URLS["default"])
        self.assertEqual(requeued["custom"], {"limited_count": 1, "tenant": "acme", "via": "requeue"})

    def test_hooks_follow_the_workers_moves_and_a_raising_hook_changes_nothing(self) -> None:
        seen: list[tuple[str, str]] = []

        def on_retry(job: dict[str, Any], ctx: Any) -> None:
            seen.append(("retry", job["jid"]))
            raise RuntimeError("hook bug")

        def fail(args: list[Any], ctx: JobContext) -> None:
            raise ValueError("down")

        sqs, lines = FakeSqs(), []
        hooks = define_middleware(on_retry=on_retry, on_expired=lambda job, ctx: seen.append(("expired", job["jid"])))
        handle = worker({"A": fail}, sqs=sqs, env=ENV, now=lambda: NOW, log=lines.append, middleware=hooks)
        expired = job(jid="j2", custom={"expires_at": "2026-11-22T11:30:00Z"})
        response = handle({"Records": [record(job(), "m1"), record(expired, "m2")]}, FakeContext())
        self.assertEqual(response, {"batchItemFailures": []})
        self.assertEqual(seen, [("retry", "j1"), ("expired", "j2")])
        self.assertTrue(any("hook on_retry threw; ignored" in line for line in lines))
        self.assertEqual(len(sqs.bodies(QUEUE_URLS["default"])), 1)


if __name__ == "__main__":
    unittest.main()
