"""Per-tenant caps and throttles in the Python worker, as test/unit/worker-tenant-caps.test.ts shows
them in the TypeScript one: a job over its tenant's cap or its throttle goes back on its queue with
one more hold counted, delayed, never failed and with its retries untouched; other tenants run; an
override from the limits table replaces the declared cap. The limiters' items are those of
test_limiters.py's in-memory tables, which evaluate the conditions the plans write."""

import json
import threading
import time
import unittest
from collections import Counter
from typing import Any

from hopper_jobs import InvalidJobError, InvalidTenantCapError, JobContext, worker
from hopper_jobs.errors import ConfigurationError
from hopper_jobs.flow_gate import next_held_attempt
from hopper_jobs.job import parse_job
from hopper_jobs.limiters import Limiter, LimiterStore, resolve_spec
from hopper_jobs.retry import random_from_text
from hopper_jobs.tenant_caps import effective_cap, tenant_caps_from_env, tenant_limiter_name, validate_tenant_cap
from hopper_jobs.tenant_overrides import OverrideCache, TenantOverrides

from .support import NOW, QUEUE_URLS, RETRIES_URL, FakeContext, FakeSqs, record
from .test_limiters import EntryTable, GcraTable

ENV = {"HOPPER_RETRIES_QUEUE_URL": RETRIES_URL, "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_LIMITS_TABLE": "limits"}


class LimitsTable:
    """The limits table: limiter items by key (an EntryTable or a GcraTable, by the item's kind), and
    tenants' override items, read by Query."""

    def __init__(self, overrides: list[dict[str, Any]] | None = None) -> None:
        self.limiters: dict[tuple[str, str], Any] = {}
        self.overrides = overrides or []
        self.queries: list[str] = []
        self.failing_queries = 0
        self._lock = threading.Lock()

    def _item(self, request: dict[str, Any]) -> Any:
        key = (request["Key"]["pk"]["S"], request["Key"]["sk"]["S"])
        kind = key[1].split("#")[0]
        return self.limiters.setdefault(key, EntryTable() if kind in ("concurrent", "window") else GcraTable())

    def update_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            return self._item(request).update_item(**request)

    def get_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            return self._item(request).get_item(**request)

    def query(self, **request: Any) -> dict[str, Any]:
        pk = request["ExpressionAttributeValues"][":pk"]["S"]
        self.queries.append(pk)
        if self.failing_queries > 0:
            self.failing_queries -= 1
            raise RuntimeError("ProvisionedThroughputExceededException")
        return {"Items": [item for item in self.overrides if item["pk"]["S"] == pk]}


def override(tenant: str, cap: dict[str, Any], queue: str | None = None) -> dict[str, Any]:
    """An override item as the API writes it (lib/limiters/tenant-overrides.ts)."""
    item = {"pk": {"S": f"tenantcap#{tenant}"}, "sk": {"S": "*" if queue is None else f"queue#{queue}"}, "cap": {"S": json.dumps(cap)}, "tenant": {"S": tenant}}
    return item if queue is None else {**item, "queue": {"S": queue}}


def job(jid: str, **custom: Any) -> dict[str, Any]:
    return record({"jobtype": "Work", "jid": jid, "args": [], "created_at": "2026-11-22T11:00:00Z", "custom": custom}, f"m-{jid}")


class Runs:
    """A handler that records, per tenant, how many of its runs overlap; runs wait for ``release``."""

    def __init__(self, blocking: bool = False) -> None:
        self.ran: list[str] = []
        self.peak: Counter[str] = Counter()
        self.release = threading.Event()
        self._running: Counter[str] = Counter()
        self._blocking = blocking
        self._lock = threading.Lock()

    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())

    def __call__(self, args: list[Any], ctx: JobContext) -> None:
        tenant = (ctx.job.get("custom") or {}).get("tenant", "-")
        with self._lock:
            self._running[tenant] += 1
            self.peak[tenant] = max(self.peak[tenant], self._running[tenant])
        if self._blocking:
            self.release.wait(5)
        with self._lock:
            self._running[tenant] -= 1
            self.ran.append(ctx.jid)


def make(caps: dict[str, Any], runs: Runs, table: LimitsTable, sqs: FakeSqs, lines: list[str] | None = None, **env: str) -> Any:
    sink = lines.append if lines is not None else (lambda line: None)
    return worker({"Work": runs}, sqs=sqs, env={**ENV, "HOPPER_TENANT_CAPS": json.dumps(caps), **env}, now=lambda: NOW, log=sink, dynamodb=table)


def sent_back(sqs: FakeSqs) -> list[tuple[dict[str, Any], int]]:
    """Every job sent back to the default queue, with its delay."""
    return [(json.loads(entry["MessageBody"]), entry.get("DelaySeconds", 0)) for call in sqs.calls if call["QueueUrl"] == QUEUE_URLS["default"] for entry in call["Entries"]]


class TenantCapsInTheWorkerTest(unittest.TestCase):
    def test_runs_at_most_a_tenants_concurrency_at_once_and_holds_the_rest_back_with_no_retry_used(self) -> None:
        # Python runs an invocation's records one after another: overlap comes from instances side by side.
        table, sqs, runs = LimitsTable(), FakeSqs(), Runs(blocking=True)
        caps = {"default": {"cap": {"concurrency": 2}, "leaseSeconds": 30}}
        jobs = [job(f"a-{index}", tenant="acme") for index in range(3)] + [job("b-0", tenant="bolt")]
        responses: list[dict[str, Any]] = []
        threads = [threading.Thread(target=lambda one=one: responses.append(make(caps, runs, table, sqs)({"Records": [one]}, FakeContext()))) for one in jobs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        # Released once a job was held back and the others are all inside their handlers.
        while not (sent_back(sqs) and runs.running() == 3) and time.monotonic() < deadline:
            time.sleep(0.01)
        runs.release.set()
        for thread in threads:
            thread.join(5)

        self.assertEqual(responses, [{"batchItemFailures": []}] * 4)
        self.assertEqual(dict(runs.peak), {"acme": 2, "bolt": 1})
        [(body, delay)] = sent_back(sqs)
        self.assertEqual((body["custom"], body["retry"], "failure" in body, delay >= 1), ({"tenant": "acme", "held_count": 1}, 25, False, True))
        self.assertEqual(sorted(runs.ran), [jid for jid in ("a-0", "a-1", "a-2", "b-0") if jid != body["jid"]])
        self.assertEqual(sqs.bodies(RETRIES_URL), [])

    def test_lets_jobs_without_a_tenant_and_queues_without_per_tenant_run_unchecked(self) -> None:
        table, sqs, runs = LimitsTable(), FakeSqs(), Runs()
        handle = make({"critical": {"cap": {"concurrency": 1}, "leaseSeconds": 30}}, runs, table, sqs)
        handle({"Records": [job(f"a-{index}", tenant="acme") for index in range(3)] + [job("none")]}, FakeContext())
        self.assertEqual((len(runs.ran), sent_back(sqs), table.limiters, table.queries), (4, [], {}, []))

    def test_holds_a_tenant_back_by_its_rate_a_burst_of_limit_then_delayed(self) -> None:
        table, sqs, runs, lines = LimitsTable(), FakeSqs(), Runs(), []
        handle = make({"default": {"cap": {"rate": {"limit": 3, "perSeconds": 60}}, "leaseSeconds": 30}}, runs, table, sqs, lines)
        handle({"Records": [job(f"a-{index}", tenant="acme") for index in range(5)]}, FakeContext())

        self.assertEqual(runs.ran, ["a-0", "a-1", "a-2"])
        back = sent_back(sqs)
        # The next start is 20 s away (60 s / 3), plus a jitter seeded as the TypeScript worker seeds it.
        self.assertEqual([(body["jid"], delay) for body, delay in back], [(jid, 20 + int(random_from_text(f"{jid}#held#0")() * 5)) for jid in ("a-3", "a-4")])
        self.assertEqual(list(table.limiters), [("limiter#hopper.tenant-rate:default:acme", "leaky")])
        held = [json.loads(line) for line in lines if "held back by its limits" in line]
        self.assertEqual([(entry["limiter"], entry["held_count"]) for entry in held], [("hopper.tenant-rate:default:acme", 1)] * 2)

    def test_applies_a_tenants_override_from_the_limits_table_in_place_of_the_declared_cap(self) -> None:
        table = LimitsTable([override("acme", {"rate": {"limit": 3, "perSeconds": 60}}, "default"), override("acme", {"rate": {"limit": 9, "perSeconds": 60}}), override("cedar", {"rate": {"limit": 2, "perSeconds": 60}})])
        sqs, runs = FakeSqs(), Runs()
        handle = make({"default": {"cap": {"rate": {"limit": 1, "perSeconds": 60}}, "leaseSeconds": 30}}, runs, table, sqs)
        handle({"Records": [job(f"{tenant}-{index}", tenant=tenant) for tenant in ("acme", "bolt", "cedar") for index in range(4)]}, FakeContext())

        # acme: its queue's override (3) wins over its every-queue one (9); bolt: the declared 1; cedar: its every-queue 2.
        self.assertEqual(Counter(jid.split("-")[0] for jid in runs.ran), Counter({"acme": 3, "bolt": 1, "cedar": 2}))
        self.assertEqual(len(sent_back(sqs)), 6)
        # One read per tenant for the invocation's 12 jobs.
        self.assertEqual(table.queries, ["tenantcap#acme", "tenantcap#bolt", "tenantcap#cedar"])

    def test_a_failed_override_read_leaves_the_declared_cap_and_is_tried_again_by_the_next_job(self) -> None:
        table, sqs, runs, lines = LimitsTable([override("acme", {"rate": {"limit": 5, "perSeconds": 60}})]), FakeSqs(), Runs(), []
        table.failing_queries = 1
        handle = make({"default": {"cap": {"rate": {"limit": 1, "perSeconds": 60}}, "leaseSeconds": 30}}, runs, table, sqs, lines)
        handle({"Records": [job(f"a-{index}", tenant="acme") for index in range(4)]}, FakeContext())

        # The first job ran under the declared 1 a minute; the next read found the override of 5.
        self.assertEqual((runs.ran, table.queries), (["a-0", "a-1", "a-2", "a-3"], ["tenantcap#acme", "tenantcap#acme"]))
        [warning] = [json.loads(line) for line in lines if "cap overrides" in line]
        self.assertEqual((warning["message"], warning["tenant"]), ("could not read the tenant's cap overrides; the declared cap applies", "acme"))

    def test_gives_back_the_tenants_lease_when_the_queues_own_lease_refuses_the_job(self) -> None:
        table, sqs, runs = LimitsTable(), FakeSqs(), Runs()
        queue_cap = json.dumps({"default": {"jobs": 1, "perInvocation": 1, "leaseSeconds": 30}})
        handle = make({"default": {"cap": {"concurrency": 1}, "leaseSeconds": 30}}, runs, table, sqs, HOPPER_QUEUE_CONCURRENCY=queue_cap)
        # Another worker holds the queue's one slot.
        Limiter("hopper.queue:default", resolve_spec("hopper.queue:default", {"type": "concurrent", "limit": 1, "lockTimeout": 30}), LimiterStore(lambda: table, "limits")).acquire()
        handle({"Records": [job("a-0", tenant="acme")]}, FakeContext(3_100))

        # Back unchanged (the queue's turn, not the tenant's), and the tenant's slot is free again.
        self.assertEqual(runs.ran, [])
        self.assertEqual([body["custom"] for body, _ in sent_back(sqs)], [{"tenant": "acme"}])
        self.assertEqual(table.limiters[("limiter#hopper.tenant:default:acme", "concurrent")].item["n"], {"N": "0"})


class ThrottleTest(unittest.TestCase):
    def test_starts_at_most_limit_of_a_keys_jobs_per_interval_across_tenants_and_delays_the_rest(self) -> None:
        table, sqs, runs = LimitsTable(), FakeSqs(), Runs()
        throttle = {"key": "sync:42", "limit": 2, "per": "minute"}
        records = [job(f"t-{index}", tenant=f"tenant-{index}", throttle=throttle) for index in range(4)] + [job("other", throttle={**throttle, "key": "sync:43"})]
        make({}, runs, table, sqs)({"Records": records}, FakeContext())

        self.assertEqual(runs.ran, ["t-0", "t-1", "other"])
        self.assertEqual([body["custom"] for body, _ in sent_back(sqs)], [{"tenant": f"tenant-{index}", "throttle": throttle, "held_count": 1} for index in (2, 3)])
        self.assertEqual(sorted(table.limiters), [("limiter#hopper.throttle:sync:42", "leaky"), ("limiter#hopper.throttle:sync:43", "leaky")])

    def test_a_throttle_above_250_a_second_is_spread_over_shards_as_typescript_spreads_it(self) -> None:
        table, runs = LimitsTable(), Runs()
        make({}, runs, table, FakeSqs())({"Records": [job("fast", throttle={"key": "fast", "limit": 1000, "per": "second"})]}, FakeContext())
        [(pk, sk)] = table.limiters
        self.assertIn((pk, sk), [(f"limiter#hopper.throttle:fast#{shard}", f"leaky#{shard}") for shard in range(4)])
        self.assertEqual(runs.ran, ["fast"])

    def test_is_checked_with_the_job_a_malformed_throttle_names_its_field(self) -> None:
        def parse(throttle: Any) -> str:
            with self.assertRaises(InvalidJobError) as raised:
                parse_job(json.dumps({"jobtype": "Work", "args": [], "custom": {"throttle": throttle}}), NOW)
            return str(raised.exception)

        # lib/job/throttle.ts's messages, word for word (test/unit/worker-tenant-caps.test.ts).
        self.assertEqual(parse("x"), 'invalid job: custom.throttle must be an object { key, limit, per }, but "x" was provided')
        self.assertEqual(parse({"key": "a b", "limit": 1, "per": "minute"}), 'invalid job: custom.throttle.key must be a string of 1 to 160 letters, digits or _ . : @ / + = -, but "a b" was provided')
        self.assertEqual(parse({"key": "k", "limit": 0, "per": "minute"}), "invalid job: custom.throttle.limit must be an integer from 1 to 1000000000, but number 0 was provided")
        self.assertEqual(parse({"key": "k", "limit": 1, "per": "week"}),
                         "invalid job: custom.throttle.per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but \"week\" was provided")
        self.assertEqual(parse_job(json.dumps({"jobtype": "Work", "args": [], "custom": {"throttle": {"key": "k", "limit": 2, "per": 90}}}), NOW)["custom"], {"throttle": {"key": "k", "limit": 2, "per": 90}})


class TenantCapRulesTest(unittest.TestCase):
    def test_names_a_tenants_limiters_as_typescript_does_hashing_ids_that_are_not_name_characters(self) -> None:
        # The literals test/unit/worker-tenant-caps.test.ts asserts of lib/limiters/tenant-caps.ts.
        self.assertEqual(tenant_limiter_name("concurrency", "email", "acme"), "hopper.tenant:email:acme")
        self.assertEqual(tenant_limiter_name("rate", "email", "arn:aws:iam::123456789012:role/app"), "hopper.tenant-rate:email:arn:aws:iam::123456789012:role/app")
        self.assertEqual(tenant_limiter_name("concurrency", "email", "Acme Corp"), "hopper.tenant:email:sha256:a73cb4563ee2e72ce0ce805d444364ec")
        self.assertEqual(tenant_limiter_name("rate", "email", "zürich"), "hopper.tenant-rate:email:sha256:201f10d5d64518d86d2d3a47d28675d1")
        # A plain tenant that would take the name past its 200 characters is hashed too.
        self.assertEqual(tenant_limiter_name("rate", "q" * 64, "t" * 120), f"hopper.tenant-rate:{'q' * 64}:sha256:8a8a5d1720ec82d648d06e57f2755b94")
        self.assertEqual(len(tenant_limiter_name("rate", "q" * 64, "t" * 115)), 199)
        self.assertEqual(tenant_limiter_name("concurrency", "email", "sha256:abc"), "hopper.tenant:email:sha256:67e9bc3cfd2163c2978358dfe00d2f91")
        self.assertEqual(tenant_limiter_name("concurrency", "email", "a" * 121), "hopper.tenant:email:sha256:e9615320128cc7a3d6078e9af0560318")
        self.assertEqual(tenant_limiter_name("concurrency", "email", "a" * 120), f"hopper.tenant:email:{'a' * 120}")

    def test_a_held_job_comes_back_after_the_delay_typescript_computes_for_it(self) -> None:
        # lib/limiters/reschedule.ts, seeded by `${jid}#held#${held_count}` (test/unit/worker-tenant-caps.test.ts).
        held = {"jid": "report-7", "jobtype": "Work", "custom": {"tenant": "acme", "held_count": 2}}
        self.assertEqual(next_held_attempt(held, 20), (29, {**held, "custom": {"tenant": "acme", "held_count": 3}}, 3))
        self.assertEqual(next_held_attempt({**held, "custom": {"held_count": 40}}, 900)[0], 900)

    def test_checks_a_cap_and_names_the_offending_field(self) -> None:
        self.assertEqual(validate_tenant_cap("body", {"concurrency": 3, "rate": {"limit": 10, "perSeconds": 60}}), {"concurrency": 3, "rate": {"limit": 10, "perSeconds": 60}})
        for cap, message in (
            ({"concurrency": 0}, "body.concurrency must be an integer from 1 to 1000, but 0 was provided"),
            ({"rate": {"limit": 5}}, "body.rate.perSeconds must be an integer number of seconds from 1 to 2592000, but undefined was provided"),
            ({"burst": 5}, "body.burst must be absent (a cap has only concurrency and rate), but 5 was provided"),
        ):
            with self.subTest(cap=cap), self.assertRaises(InvalidTenantCapError) as raised:
                validate_tenant_cap("body", cap)
            self.assertEqual(str(raised.exception), message)

    def test_takes_each_part_from_the_queues_override_else_the_tenants_else_the_declared_cap(self) -> None:
        declared = {"concurrency": 5, "rate": {"limit": 100, "perSeconds": 60}}
        self.assertEqual(effective_cap(declared, {"concurrency": 20}, None), {"concurrency": 20, "rate": {"limit": 100, "perSeconds": 60}})
        self.assertEqual(effective_cap(declared, {"concurrency": 20}, {"concurrency": 8}), {"concurrency": 8, "rate": {"limit": 100, "perSeconds": 60}})
        self.assertEqual(effective_cap(declared, None, {"rate": {"limit": 1, "perSeconds": 1}}), {"concurrency": 5, "rate": {"limit": 1, "perSeconds": 1}})

    def test_reads_hopper_tenant_caps_and_names_the_queue_of_a_malformed_entry(self) -> None:
        self.assertEqual(tenant_caps_from_env({"HOPPER_TENANT_CAPS": '{"email":{"cap":{"concurrency":5},"leaseSeconds":30}}'}), {"email": {"cap": {"concurrency": 5}, "leaseSeconds": 30}})
        with self.assertRaises(InvalidTenantCapError) as raised:
            tenant_caps_from_env({"HOPPER_TENANT_CAPS": '{"email":{"cap":{"concurrency":-1},"leaseSeconds":30}}'})
        self.assertEqual(str(raised.exception), "environment variable HOPPER_TENANT_CAPS: email.cap.concurrency must be an integer from 1 to 1000, but -1 was provided")
        with self.assertRaises(ConfigurationError) as malformed:
            tenant_caps_from_env({"HOPPER_TENANT_CAPS": '{"email":{"cap":{}}}'})
        self.assertEqual(str(malformed.exception), 'environment variable HOPPER_TENANT_CAPS: email must be { cap, leaseSeconds } with leaseSeconds a positive integer, but {"cap":{}} was provided')


class OverrideCacheTest(unittest.TestCase):
    def test_reads_a_tenant_once_per_30_seconds_and_asks_again_after_a_failed_read(self) -> None:
        reads, state = [], {"fail": False, "now_ms": 0}

        def read(tenant: str) -> TenantOverrides:
            reads.append(tenant)
            if state["fail"]:
                raise RuntimeError("throttled")
            return TenantOverrides({"concurrency": len(tenant)})

        cached = OverrideCache(read, lambda: state["now_ms"])
        cached("acme")
        state["now_ms"] = 29_999
        cached("acme")
        self.assertEqual(len(reads), 1)
        state.update(now_ms=30_000, fail=True)
        with self.assertRaisesRegex(RuntimeError, "throttled"):
            cached("acme")
        state["fail"] = False
        self.assertEqual(cached("acme"), TenantOverrides({"concurrency": 4}))
        self.assertEqual(len(reads), 3)


if __name__ == "__main__":
    unittest.main()
