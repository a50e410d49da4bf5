import unittest
from datetime import datetime, timedelta, timezone

from hopper_jobs.errors import InvalidJobError
from hopper_jobs.job import cap, describe_error, normalize_job, parse_job, serialize_job

from .support import NOW


class NormalizeJobTest(unittest.TestCase):
    def test_fills_in_the_defaults_of_lib_job_ts(self) -> None:
        job = normalize_job({"jobtype": "SendEmail"}, NOW, default_jid="msg-1")
        self.assertEqual(job, {"jid": "msg-1", "jobtype": "SendEmail", "args": [], "queue": "default", "created_at": "2026-11-22T12:00:00.000Z", "retry": 25})

    def test_makes_a_24_hex_character_jid_when_none_is_given(self) -> None:
        self.assertRegex(normalize_job({"jobtype": "A"}, NOW)["jid"], r"^[0-9a-f]{24}$")

    def test_keeps_given_times_and_formats_datetimes_in_utc(self) -> None:
        at = datetime(2026, 11, 22, 14, 0, tzinfo=timezone(timedelta(hours=1)))
        job = normalize_job({"jobtype": "A", "at": at, "created_at": "2026-11-22T11:00:00+01:00"}, NOW)
        self.assertEqual(job["at"], "2026-11-22T13:00:00.000Z")
        self.assertEqual(job["created_at"], "2026-11-22T11:00:00+01:00")

    def test_drops_unknown_top_level_fields_and_keeps_unknown_custom_ones(self) -> None:
        job = normalize_job({"jobtype": "A", "extra": 1, "custom": {"tenant": "acme", "mine": [1]}}, NOW)
        self.assertNotIn("extra", job)
        self.assertEqual(job["custom"], {"tenant": "acme", "mine": [1]})

    def test_caps_a_failure_as_faktory_does(self) -> None:
        job = normalize_job({"jobtype": "A", "failure": {"retry_count": 2, "failed_at": "2026-11-22T11:00:00Z", "message": "x" * 2000, "backtrace": ["l"] * 80}}, NOW)
        self.assertEqual(len(job["failure"]["message"]), 1000)
        self.assertTrue(job["failure"]["message"].endswith("…"))
        self.assertEqual(len(job["failure"]["backtrace"]), 50)
        self.assertEqual(job["failure"]["errtype"], "Error")

    def test_caps_args_at_1000_elements_and_32_levels_of_nesting_as_lib_job_ts(self) -> None:
        nested: object = "leaf"
        for _ in range(31):
            nested = [nested]
        self.assertEqual(len(normalize_job({"jobtype": "A", "args": list(range(1000))}, NOW)["args"]), 1000)
        normalize_job({"jobtype": "A", "args": [nested]}, NOW)
        with self.assertRaises(InvalidJobError) as too_long:
            normalize_job({"jobtype": "A", "args": list(range(1001))}, NOW)
        self.assertEqual(too_long.exception.field, "args")
        with self.assertRaises(InvalidJobError) as too_deep:
            normalize_job({"jobtype": "A", "args": [1, {"rows": [nested]}]}, NOW)
        self.assertTrue(too_deep.exception.field.startswith("args[1].rows[0][0]"), too_deep.exception.field)

    def test_names_the_field_that_is_wrong(self) -> None:
        cases = [
            ({"args": []}, "jobtype", "invalid job: jobtype must be a string of 1 to 256 characters, but nothing was provided"),
            ({"jobtype": "A", "args": {}}, "args", "invalid job: args must be an array, but an object was provided"),
            ({"jobtype": "A", "args": "x"}, "args", 'invalid job: args must be an array, but "x" was provided'),
            ({"jobtype": "A", "retry": -1}, "retry", "invalid job: retry must be an integer from 0 to 1000, but number -1 was provided"),
            ({"jobtype": "A", "retry": True}, "retry", "invalid job: retry must be an integer from 0 to 1000, but boolean true was provided"),
            ({"jobtype": "A", "queue": "a b"}, "queue", 'invalid job: queue must be a queue name of 1 to 64 letters, digits, - or _, but "a b" was provided'),
            ({"jobtype": "A", "jid": "-x"}, "jid", None),
            ({"jobtype": "A", "reserve_for": 0}, "reserve_for", None),
            ({"jobtype": "A", "at": "tomorrow"}, "at", None),
            ({"jobtype": "A", "at": "2026-11-22T13:00:00"}, "at", None),
            ({"jobtype": "A", "enqueued_at": None}, "enqueued_at", None),
            ({"jobtype": "A", "custom": []}, "custom", None),
            ({"jobtype": "A", "custom": {"unique_for": 0}}, "custom.unique_for", None),
            ({"jobtype": "A", "custom": {"unique_until": "never"}}, "custom.unique_until", None),
            ({"jobtype": "A", "custom": {"expires_at": "soon"}}, "custom.expires_at", None),
            ({"jobtype": "A", "custom": {"tenant": ""}}, "custom.tenant", None),
            ({"jobtype": "A", "failure": {"failed_at": "2026-11-22T11:00:00Z"}}, "failure.retry_count", None),
        ]
        for given, field, message in cases:
            with self.subTest(field=field, given=given):
                with self.assertRaises(InvalidJobError) as raised:
                    normalize_job(given, NOW)
                self.assertEqual(raised.exception.field, field)
                if message is not None:
                    self.assertEqual(str(raised.exception), message)


class ParseAndSerializeTest(unittest.TestCase):
    def test_a_body_that_is_not_json_names_the_body(self) -> None:
        with self.assertRaises(InvalidJobError) as raised:
            parse_job("{oops", NOW)
        self.assertEqual(str(raised.exception), "invalid job: body must be a JSON object, but text that is not JSON was provided")

    def test_a_job_that_is_not_an_object_names_the_job(self) -> None:
        with self.assertRaises(InvalidJobError) as raised:
            parse_job("[1]", NOW)
        self.assertEqual(raised.exception.field, "job")

    def test_serializes_compact_utf8_json(self) -> None:
        job = normalize_job({"jobtype": "A", "args": ["é", 1], "jid": "j1"}, NOW)
        self.assertEqual(serialize_job(job), '{"jid":"j1","jobtype":"A","args":["é",1],"queue":"default","created_at":"2026-11-22T12:00:00.000Z","retry":25}')

    def test_refuses_values_json_cannot_carry(self) -> None:
        for args in ([float("nan")], [object()]):
            with self.subTest(args=args):
                with self.assertRaises(InvalidJobError) as raised:
                    serialize_job(normalize_job({"jobtype": "A", "args": args}, NOW))
                self.assertEqual(raised.exception.field, "args")


class DescribeErrorTest(unittest.TestCase):
    def test_caps_errtype_message_and_backtrace_innermost_first(self) -> None:
        def recurse(depth: int) -> None:
            if depth == 0:
                raise type("E" * 150, (Exception,), {})("m" * 1500)
            recurse(depth - 1)

        try:
            recurse(60)
        except Exception as error:  # noqa: BLE001
            described = describe_error(error)
        self.assertEqual(len(described["errtype"]), 100)
        self.assertEqual(len(described["message"]), 1000)
        self.assertEqual(len(described["backtrace"]), 50)
        self.assertRegex(described["backtrace"][0], r'^File ".*test_job\.py", line \d+, in recurse$')

    def test_cap_marks_the_cut(self) -> None:
        self.assertEqual(cap("abcdef", 4), "abc…")
        self.assertEqual(cap("abcd", 4), "abcd")


if __name__ == "__main__":
    unittest.main()
