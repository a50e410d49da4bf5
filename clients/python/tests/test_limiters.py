"""Limiters in the Python worker: the TypeScript limiters' specs (with their messages) and
arithmetic, against an in-memory table that evaluates the conditions the plans write. That a
Python and a TypeScript worker share one limit is shown on the local runtime
(test/integration/polyglot-workers.test.ts)."""

import unittest
from typing import Any

from hopper_jobs import ConfigurationError, InvalidLimiterSpecError, RateLimitedError
from hopper_jobs.limiters import Limiter, LimiterStore, limited_delay, plan_add_entry, plan_take_from_bucket, resolve_spec


class SpecTest(unittest.TestCase):
    def test_refuses_what_the_typescript_specs_refuse_with_the_same_messages(self) -> None:
        # Each message as lib/limiters/spec.ts words it for the same spec.
        cases = [
            ({"type": "concurrent", "limit": 0}, 'limiter "erp": limit must be an integer from 1 to 1000, but 0 was provided'),
            ({"type": "window", "limit": 5, "per": "week"}, "limiter \"erp\": per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but \"week\" was provided"),
            ({"type": "concurrent", "limit": 2, "per": "second"}, 'limiter "erp": per must be absent (a concurrent limiter takes type, limit, lockTimeout, wait), but "second" was provided'),
            ({"type": "bucket", "limit": 5, "per": 60, "wait": 901}, 'limiter "erp": wait must be a number of seconds from 0 to 900, but 901 was provided'),
            ({"type": "sliding", "limit": 5}, "limiter \"erp\": type must be one of 'concurrent', 'bucket', 'window', 'leaky', 'points', but \"sliding\" was provided"),
            ({"type": "concurrent", "limit": 2, "lockTimeout": 1.5}, 'limiter "erp": lockTimeout must be a whole number of seconds from 1 to 86400, but 1.5 was provided'),
        ]
        for spec, message in cases:
            with self.subTest(spec=spec):
                with self.assertRaises(InvalidLimiterSpecError) as raised:
                    resolve_spec("erp", spec)
                self.assertEqual(str(raised.exception), message)
        with self.assertRaises(InvalidLimiterSpecError) as raised:
            resolve_spec("bad name", {"type": "concurrent", "limit": 1})
        self.assertEqual(str(raised.exception), 'limiter "bad name": name must be a string of 1 to 200 letters, digits or _ - . : @ / + =, but "bad name" was provided')

    def test_names_the_kinds_that_run_in_typescript_only(self) -> None:
        with self.assertRaisesRegex(ConfigurationError, "a leaky limiter runs in the TypeScript worker only; the Python worker runs concurrent, window, bucket"):
            resolve_spec("erp", {"type": "leaky", "limit": 5, "per": "second"})


class ConditionFailed(Exception):
    def __init__(self) -> None:
        super().__init__("The conditional request failed")
        self.response = {"Error": {"Code": "ConditionalCheckFailedException"}}


class EntryTable:
    """One concurrent or window item, updated as DynamoDB would for the expressions the plans write."""

    def __init__(self) -> None:
        self.item: dict[str, Any] | None = None

    def update_item(self, **request: Any) -> dict[str, Any]:
        names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        item = dict(self.item or {})
        count = int(item.get("n", {"N": "0"})["N"])
        me = names["#me"]
        if request["UpdateExpression"].startswith("SET #me"):
            if me in item or ("n" in item and count >= int(values[":max"]["N"])):
                raise ConditionFailed()
            for index in range(100):
                if f"#x{index}" not in names:
                    break
                if item.get(names[f"#x{index}"]) != values[f":x{index}"]:
                    raise ConditionFailed()
                del item[names[f"#x{index}"]]
            item[me] = values[":v"]
            item["n"] = {"N": str(count + int(values[":d"]["N"]))}
        else:
            if me not in item:
                raise ConditionFailed()
            del item[me]
            item["n"] = {"N": str(count - 1)}
            if "#h" in names:
                item["h"] = values[":held"]
        self.item = item
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        return {} if self.item is None else {"Item": self.item}


class ConcurrentLimiterTest(unittest.TestCase):
    def test_holds_at_most_limit_leases_and_refuses_with_when_one_is_likely_free(self) -> None:
        table, clock = EntryTable(), {"ms": 1_000}
        store = LimiterStore(lambda: table, "limits")
        spec = resolve_spec("erp", {"type": "concurrent", "limit": 1, "wait": 0, "lockTimeout": 30})
        held = Limiter("erp", spec, store, now_ms=lambda: clock["ms"])
        other = Limiter("erp", spec, store, now_ms=lambda: clock["ms"])

        def inside() -> str:
            clock["ms"] += 200
            with self.assertRaises(RateLimitedError) as refused:
                other.run(lambda: "never")
            self.assertEqual(refused.exception.retry_after_seconds, 1)
            return "ran"

        self.assertEqual(held.run(inside), "ran")
        # Released, with how long it was held; the next caller gets the lease.
        self.assertEqual(table.item and (table.item["n"], table.item["h"]), ({"N": "0"}, {"N": "200"}))
        self.assertEqual(other.run(lambda: "next"), "next")

    def test_takes_over_an_expired_lease_in_the_same_write(self) -> None:
        spec = resolve_spec("erp", {"type": "concurrent", "limit": 1, "lockTimeout": 30})
        known = {"n": {"N": "1"}, "e_dead": {"N": "5000"}}
        step = plan_add_entry(spec, "fresh", 6_000, known)
        self.assertIn("REMOVE #x0", step.update)  # type: ignore[union-attr]
        self.assertEqual(step.values[":d"], {"N": "0"})  # type: ignore[union-attr]


class RateKindsTest(unittest.TestCase):
    def test_a_window_refuses_until_the_oldest_admission_leaves_it(self) -> None:
        spec = resolve_spec("erp", {"type": "window", "limit": 2, "per": 1})
        step = plan_add_entry(spec, "c", 900, {"n": {"N": "2"}, "e_a": {"N": "0"}, "e_b": {"N": "400"}})
        self.assertEqual(step.retry_after_ms, 100)  # type: ignore[union-attr]

    def test_a_bucket_refuses_until_the_next_aligned_bucket(self) -> None:
        spec = resolve_spec("erp", {"type": "bucket", "limit": 5, "per": "minute"})
        full = {"b": {"N": "60000"}, "i": {"N": "60000"}, "c": {"N": "5"}}
        self.assertEqual(plan_take_from_bucket(spec, 90_000, full).retry_after_ms, 30_000)  # type: ignore[union-attr]
        # A new minute replaces the old bucket.
        self.assertIn("#b < :b", plan_take_from_bucket(spec, 130_000, full).condition)  # type: ignore[union-attr]

    def test_a_limited_job_comes_back_after_the_wait_plus_a_growing_jitter(self) -> None:
        self.assertEqual(limited_delay(12, 1, lambda: 0.5), 14)
        self.assertEqual(limited_delay(1, 1, lambda: 0.5), 1)
        self.assertEqual(limited_delay(12, 3, lambda: 0.5), 12 + 7)


if __name__ == "__main__":
    unittest.main()
