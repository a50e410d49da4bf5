"""Typed arguments: a handler's schema checks its arguments before it runs; a job whose arguments do
not match goes to the dead set with every problem named (InvalidJobArgsError, as in TypeScript)."""

import json
import unittest
from datetime import datetime
from typing import Any

from hopper_jobs import InvalidJobArgsError, JobContext, UnrecoverableJobError, with_args, worker
from hopper_jobs.typed import parse_args

from .support import NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}


class ParseArgsTest(unittest.TestCase):
    def problems(self, schema: Any, args: list[Any]) -> list[str]:
        with self.assertRaises(InvalidJobArgsError) as raised:
            parse_args(schema, args, "Send")
        return raised.exception.problems

    def test_types_follow_json(self) -> None:
        self.assertEqual(parse_args((str, int, float, (str, None), bool), ["a", 2, 3, None, False], "Send"), ["a", 2, 3, None, False])
        self.assertEqual(self.problems((int,), [True]), ["args[0]: expected an integer, but boolean true was provided"])
        self.assertEqual(self.problems((float,), ["1"]), ['args[0]: expected a number, but "1" was provided'])
        self.assertEqual(self.problems(((str, None),), [1]), ["args[0]: expected a string or null, but number 1 was provided"])

    def test_every_problem_is_named_with_its_place(self) -> None:
        self.assertEqual(self.problems((str, int), [7]), ["args[0]: expected a string, but number 7 was provided", "args[1]: expected an integer, but nothing was provided"])
        self.assertEqual(self.problems((str,), ["a", "b"]), ["args: expected 1 argument, but 2 were provided"])

    def test_a_function_checks_and_converts_one_argument_or_all_of_them(self) -> None:
        when = datetime.fromisoformat
        self.assertEqual(parse_args((when,), ["2026-12-06T12:00:00+00:00"], "Send")[0].year, 2026)
        self.assertEqual(self.problems((when,), ["soon"]), ["args[0]: Invalid isoformat string: 'soon'"])

        def pair(args: list[Any]) -> list[Any]:
            if len(args) != 2:
                raise ValueError("expected a pair")
            return sorted(args)

        self.assertEqual(parse_args(pair, [2, 1], "Send"), [1, 2])
        self.assertEqual(self.problems(pair, [1]), ["args: expected a pair"])

    def test_a_malformed_schema_is_refused_when_the_worker_is_made(self) -> None:
        with self.assertRaisesRegex(TypeError, r"the checker of args\[1\] must be a type"):
            with_args((str, "int"), lambda args, ctx: None)
        with self.assertRaisesRegex(TypeError, "must be a sequence of checkers or a function"):
            with_args("str", lambda args, ctx: None)  # type: ignore[arg-type]


class WorkerTest(unittest.TestCase):
    def test_a_job_with_arguments_that_do_not_match_goes_to_the_dead_set_without_running(self) -> None:
        ran: list[list[Any]] = []
        sqs = FakeSqs()
        handle = worker({"Send": with_args((str, int), lambda args, ctx: ran.append(args))}, sqs=sqs, env=ENV, now=lambda: NOW, log=lambda line: None)
        body = {"jid": "j1", "jobtype": "Send", "args": ["a@example.com", "3"], "queue": "default", "created_at": "2026-11-22T11:00:00Z"}
        good = {**body, "jid": "j2", "args": ["a@example.com", 3]}
        self.assertEqual(handle({"Records": [record(body, "m1"), record(good, "m2")]}, FakeContext()), {"batchItemFailures": []})
        self.assertEqual(ran, [["a@example.com", 3]])
        [envelope] = sqs.bodies(RETRIES_URL)
        self.assertTrue(envelope["unrecoverable"])
        self.assertEqual((envelope["error"]["errtype"], envelope["error"]["message"]),
                         ("InvalidJobArgsError", "Send: its arguments do not match the job's schema: args[1]: expected an integer, but \"3\" was provided"))
        self.assertTrue(issubclass(InvalidJobArgsError, UnrecoverableJobError))

    def test_the_handler_keeps_its_context(self) -> None:
        seen: list[str] = []

        def send(args: list[Any], ctx: JobContext) -> None:
            seen.append(ctx.jid)

        handle = worker({"Send": with_args((str,), send)}, sqs=FakeSqs(), env=ENV, now=lambda: NOW, log=lambda line: None)
        handle({"Records": [record({"jid": "j9", "jobtype": "Send", "args": ["x"], "queue": "default", "created_at": "2026-11-22T11:00:00Z"})]}, FakeContext())
        self.assertEqual(seen, ["j9"])


if __name__ == "__main__":
    unittest.main()
