"""Unique locks: the Python worker finds the lock a TypeScript producer wrote (the same canonical
JSON and digest) and releases it only while it is the job's."""

import unittest
from typing import Any

from hopper_jobs.unique import canonical_json, lock_key, release

from .support import ConditionFailed


class CanonicalJsonTest(unittest.TestCase):
    def test_numbers_are_written_as_ecmascript_writes_them(self) -> None:
        # Each pair: the float, and String(value) in JavaScript.
        cases = [(1.0, "1"), (100.0, "100"), (1.5, "1.5"), (0.1, "0.1"), (1e21, "1e+21"), (1.5e21, "1.5e+21"), (1e-7, "1e-7"),
                 (1e-6, "0.000001"), (1.234e-6, "0.000001234"), (1e16, "10000000000000000"), (-2.5e-8, "-2.5e-8"),
                 (123456789012345680000.0, "123456789012345680000"), (5e-324, "5e-324"), (-0.0, "0")]
        for value, expected in cases:
            with self.subTest(value=value):
                self.assertEqual(canonical_json(value), expected)

    def test_members_are_sorted_and_nothing_is_spaced(self) -> None:
        self.assertEqual(canonical_json({"b": [1, {"d": 2, "c": "x"}], "a": None}), '{"a":null,"b":[1,{"c":"x","d":2}]}')
        # UTF-16 code units: an astral character (a surrogate pair, 0xD83D…) sorts before U+FF5E.
        self.assertEqual(canonical_json({"～": 1, "😀": 2}), '{"😀":2,"～":1}')

    def test_the_lock_key_is_the_typescript_one(self) -> None:
        # lockKeyOf(...) of lib/unique/lock.ts for the same job.
        job: Any = {"jid": "j1", "jobtype": "Report", "queue": "default", "args": [{"b": 1.5, "a": [1, "é", None, True]}, 100.0, 1e-7, 'x\n"y']}
        self.assertEqual(lock_key(job)["pk"]["S"], "unique#456d9cb56aef16044132ebb18a85794b19d74c181d896765fa3ed1d00e4e175a")


class ReleaseTest(unittest.TestCase):
    def test_deletes_the_lock_only_on_condition_that_it_is_the_jobs(self) -> None:
        requests: list[dict[str, Any]] = []

        class Table:
            def delete_item(self, **request: Any) -> dict[str, Any]:
                requests.append(request)
                if request["ExpressionAttributeValues"][":jid"]["S"] != "mine":
                    raise ConditionFailed()
                return {}

        job: Any = {"jid": "mine", "jobtype": "T", "queue": "default", "args": []}
        self.assertTrue(release(Table(), "state", job))
        self.assertFalse(release(Table(), "state", {**job, "jid": "another"}))
        self.assertEqual(requests[0]["ConditionExpression"], "#jid = :jid")


if __name__ == "__main__":
    unittest.main()
