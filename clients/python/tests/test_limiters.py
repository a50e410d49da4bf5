"""Limiters in the Python worker: the TypeScript limiters' specs (with their messages) and
arithmetic, against an in-memory table that evaluates the conditions the plans write. That a
Python and a TypeScript worker share one limit is shown on the local runtime
(test/integration/polyglot-workers.test.ts)."""

import unittest
from typing import Any

from hopper_jobs import InvalidLimiterSpecError, RateLimitedError
from hopper_jobs.limiter_shards import shard_count, shards_of
from hopper_jobs.limiters import (
    Limiter,
    LimiterStore,
    PointsLimiter,
    _Refuse,
    _Write,
    gcra_params,
    limited_delay,
    limiter_for,
    plan_add_entry,
    plan_settle_gcra,
    plan_take_from_bucket,
    plan_take_from_gcra,
    resolve_spec,
)

from .support import ConditionFailed


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

    def test_refuses_leaky_and_points_specs_as_typescript_does(self) -> None:
        cases = [
            ({"type": "points", "capacity": 0, "refill": 1, "per": "second"}, 'limiter "erp": capacity must be an integer from 1 to 1000000000, but 0 was provided'),
            ({"type": "points", "capacity": 5, "refill": 1.5, "per": "second"}, 'limiter "erp": refill must be an integer from 1 to 1000000000, but 1.5 was provided'),
            ({"type": "leaky", "limit": 5, "per": "week"}, "limiter \"erp\": per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but \"week\" was provided"),
            ({"type": "points", "capacity": 5, "refill": 1, "per": "second", "limit": 3}, 'limiter "erp": limit must be absent (a points limiter takes type, capacity, refill, per, wait), but 3 was provided'),
        ]
        for spec, message in cases:
            with self.subTest(spec=spec):
                with self.assertRaises(InvalidLimiterSpecError) as raised:
                    resolve_spec("erp", spec)
                self.assertEqual(str(raised.exception), message)


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


def as_typescript(step: Any) -> Any:
    """A plan step in the shape lib/limiters/dynamo/plan.ts gives it."""
    if isinstance(step, _Write):
        return {"kind": "write", "plan": {"update": step.update, "condition": step.condition, "names": step.names, "values": step.values}}
    if isinstance(step, _Refuse):
        return {"kind": "refuse", "retryAfterMs": step.retry_after_ms}
    return {"kind": step}


def gcra_item(tat: int, scale: int) -> dict[str, Any]:
    return {"t": {"N": str(tat)}, "s": {"N": str(scale)}}


class GcraTable:
    """One leaky or points item, updated as DynamoDB would for the expressions the GCRA plans write."""

    def __init__(self) -> None:
        self.item: dict[str, Any] | None = None

    def update_item(self, **request: Any) -> dict[str, Any]:
        values, item = request["ExpressionAttributeValues"], dict(self.item or {})
        n = lambda name: int(values[name]["N"])  # noqa: E731
        t, s = (int(item["t"]["N"]), int(item["s"]["N"])) if "t" in item else (None, None)
        condition = request["ConditionExpression"]
        if condition.startswith("attribute_not_exists"):
            ok = t is None or s != n(":s") or t < n(":now")
        else:
            ok = t is not None and s == n(":s") and (":now" not in values or t >= n(":now")) and (":max" not in values or t <= n(":max")) \
                and (":floor" not in values or t >= n(":floor")) and ("#t < :floor" not in condition or t < n(":floor"))
        if not ok:
            raise ConditionFailed()
        update = request["UpdateExpression"]
        if update.startswith("SET #t = :t"):
            item = {"t": values[":t"], "s": values[":s"], "ttl": values[":ttl"]}
        elif update == "SET #t = :now":
            item["t"] = values[":now"]
        else:
            item["t"] = {"N": str((t or 0) + n(":inc"))}
        self.item = item
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        return {} if self.item is None else {"Item": self.item}


class GcraTest(unittest.TestCase):
    def test_plans_as_the_typescript_limiters_plan(self) -> None:
        # lib/limiters/dynamo/gcra-plans.ts's steps for the same inputs: 60 per minute (leaky), and
        # 100 points refilled by 10 per second.
        leaky = gcra_params(resolve_spec("l", {"type": "leaky", "limit": 60, "per": "minute"}))
        points = gcra_params(resolve_spec("p", {"type": "points", "capacity": 100, "refill": 10, "per": "second"}))
        steps = [
            plan_take_from_gcra(leaky, 1, 1_000, "unread"),
            plan_take_from_gcra(leaky, 1, 1_000, "absent"),
            plan_take_from_gcra(leaky, 1, 0, gcra_item(3_600_000, 60)),
            plan_take_from_gcra(points, 30, 3_000, gcra_item(100_000, 10)),
            plan_take_from_gcra(points, 31, 3_000, gcra_item(100_000, 10)),
            plan_take_from_gcra(points, 5, 3_000, gcra_item(100_000, 7)),
            plan_settle_gcra(points, 20, 3_000, "unread"),
            plan_settle_gcra(points, -20, 3_000, "unread"),
            plan_settle_gcra(points, 20, 3_000, gcra_item(10_000, 10)),
            plan_settle_gcra(points, -20, 3_000, gcra_item(10_000, 10)),
            plan_settle_gcra(points, -90, 3_000, gcra_item(40_000, 10)),
            plan_settle_gcra(points, -5, 3_000, gcra_item(40_000, 10)),
        ]
        expected = [
            {"kind": "write", "plan": {"update": "SET #ttl = :ttl ADD #t :inc", "condition": "#s = :s AND #t >= :now AND #t <= :max", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":inc": {"N": "60000"}, ":s": {"N": "60"}, ":now": {"N": "60000"}, ":max": {"N": "3600000"}, ":ttl": {"N": "3661"}}}},
            {"kind": "write", "plan": {"update": "SET #t = :t, #s = :s, #ttl = :ttl", "condition": "attribute_not_exists(#t) OR #s <> :s OR #t < :now", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":t": {"N": "120000"}, ":s": {"N": "60"}, ":now": {"N": "60000"}, ":ttl": {"N": "3661"}}}},
            {"kind": "refuse", "retryAfterMs": 1000},
            {"kind": "write", "plan": {"update": "SET #ttl = :ttl ADD #t :inc", "condition": "#s = :s AND #t >= :now AND #t <= :max", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":inc": {"N": "30000"}, ":s": {"N": "10"}, ":now": {"N": "30000"}, ":max": {"N": "100000"}, ":ttl": {"N": "3613"}}}},
            {"kind": "refuse", "retryAfterMs": 100},
            {"kind": "write", "plan": {"update": "SET #t = :t, #s = :s, #ttl = :ttl", "condition": "attribute_not_exists(#t) OR #s <> :s OR #t < :now", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":t": {"N": "35000"}, ":s": {"N": "10"}, ":now": {"N": "30000"}, ":ttl": {"N": "3613"}}}},
            {"kind": "write", "plan": {"update": "SET #ttl = :ttl ADD #t :inc", "condition": "#s = :s AND #t >= :now", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":inc": {"N": "20000"}, ":s": {"N": "10"}, ":now": {"N": "30000"}, ":ttl": {"N": "3615"}}}},
            {"kind": "write", "plan": {"update": "ADD #t :inc", "condition": "#s = :s AND #t >= :floor", "names": {"#t": "t", "#s": "s"}, "values": {":inc": {"N": "-20000"}, ":s": {"N": "10"}, ":floor": {"N": "50000"}}}},
            {"kind": "write", "plan": {"update": "SET #t = :t, #s = :s, #ttl = :ttl", "condition": "attribute_not_exists(#t) OR #s <> :s OR #t < :now", "names": {"#t": "t", "#s": "s", "#ttl": "ttl"}, "values": {":t": {"N": "50000"}, ":s": {"N": "10"}, ":now": {"N": "30000"}, ":ttl": {"N": "3615"}}}},
            {"kind": "done"},
            {"kind": "write", "plan": {"update": "SET #t = :now", "condition": "#s = :s AND #t >= :now AND #t < :floor", "names": {"#t": "t", "#s": "s"}, "values": {":now": {"N": "30000"}, ":s": {"N": "10"}, ":floor": {"N": "120000"}}}},
            {"kind": "write", "plan": {"update": "ADD #t :inc", "condition": "#s = :s AND #t >= :floor", "names": {"#t": "t", "#s": "s"}, "values": {":inc": {"N": "-5000"}, ":s": {"N": "10"}, ":floor": {"N": "35000"}}}}
        ]
        self.assertEqual([as_typescript(step) for step in steps], expected)

    def test_a_leaky_bucket_lets_a_burst_through_then_one_per_drip(self) -> None:
        table, clock = GcraTable(), {"ms": 10_000}
        limiter = limiter_for("drip", resolve_spec("drip", {"type": "leaky", "limit": 3, "per": 3}), LimiterStore(lambda: table, "limits"), now_ms=lambda: clock["ms"])
        self.assertEqual([limiter.run(lambda: i) for i in range(3)], [0, 1, 2])
        with self.assertRaises(RateLimitedError) as refused:
            limiter.run(lambda: "never")
        self.assertEqual(refused.exception.retry_after_seconds, 1)
        clock["ms"] += 1_000  # one drip
        self.assertEqual(limiter.run(lambda: "dripped"), "dripped")

    def test_points_are_taken_up_front_and_settled_to_the_actual_cost(self) -> None:
        table, clock = GcraTable(), {"ms": 10_000}
        spec = resolve_spec("shop", {"type": "points", "capacity": 100, "refill": 10, "per": "second"})
        limiter = limiter_for("shop", spec, LimiterStore(lambda: table, "limits"), now_ms=lambda: clock["ms"])
        self.assertIsInstance(limiter, PointsLimiter)
        self.assertEqual(limiter.run(80, lambda charge: charge.settle(30) or charge.estimate), 80)
        # 30 points are held: 70 more fit, 71 do not (100 ms until one more point drips).
        level = lambda: (int(table.item["t"]["N"]) - clock["ms"] * 10) // 1_000  # noqa: E731
        self.assertEqual(level(), 30)
        with self.assertRaises(RateLimitedError):
            limiter.run(71, lambda charge: None)
        limiter.run(70, lambda charge: charge.settle(150))  # past full after the fact: the work is done
        self.assertEqual(level(), 180)
        with self.assertRaises(InvalidLimiterSpecError) as bad:
            limiter.run(101, lambda charge: None)
        self.assertEqual(str(bad.exception), 'limiter "shop": cost must be an integer from 1 to the capacity, 100, but 101 was provided')
        clock["ms"] += 20_000  # drained
        with self.assertRaises(InvalidLimiterSpecError):
            limiter.run(1, lambda charge: charge.settle(-1))


if __name__ == "__main__":
    unittest.main()


class KeyedTables:
    """An EntryTable per item key, as the limits table keeps one item per key."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], EntryTable] = {}

    def _table(self, request: Any) -> EntryTable:
        key = (request["Key"]["pk"]["S"], request["Key"]["sk"]["S"])
        return self.items.setdefault(key, EntryTable())

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._table(request).update_item(**request)

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self._table(request).get_item(**request)


class ShardsTest(unittest.TestCase):
    def test_spreads_a_limiter_as_typescript_does(self) -> None:
        # lib/limiters/shards.ts shardsOf({ pk: 'limiter#busy', sk: 'points' }, capacity 1001, refill 1003 per second).
        spec = resolve_spec("busy", {"type": "points", "capacity": 1001, "refill": 1003, "per": "second"})
        shards = shards_of("limiter#busy", "points", spec)
        self.assertEqual([(pk, sk) for pk, sk, _ in shards], [(f"limiter#busy#{k}", f"points#{k}") for k in range(5)])
        self.assertEqual([share.limit for _, _, share in shards], [201, 200, 200, 200, 200])
        self.assertEqual([share.refill for _, _, share in shards], [201, 201, 201, 200, 200])
        self.assertEqual(shard_count(resolve_spec("slow", {"type": "bucket", "limit": 250, "per": "second"})), 1)
        self.assertEqual(shard_count(resolve_spec("fast", {"type": "leaky", "limit": 1_000_000, "per": "second"})), 64)
        self.assertEqual(shard_count(resolve_spec("erp", {"type": "concurrent", "limit": 1000})), 1)

    def test_a_window_limiter_of_1000_a_second_admits_at_most_1000_over_its_4_shards(self) -> None:
        tables = KeyedTables()
        store = LimiterStore(lambda: tables, "limits")
        spec = resolve_spec("busy", {"type": "window", "limit": 1000, "per": 1})
        limiter = Limiter("busy", spec, store, now_ms=lambda: 5_000)
        admitted = sum(1 for _ in range(1_200) if not isinstance(limiter.acquire(), _Refuse))
        self.assertEqual(sorted(tables.items), sorted((f"limiter#busy#{k}", f"window#{k}") for k in range(4)))
        self.assertLessEqual(admitted, 1000)
        self.assertGreater(admitted, 950)

