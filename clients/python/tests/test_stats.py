"""Stats rollups and cohorts of the Python worker: the same items and updates as the TypeScript
worker's (lib/stats), written at once for an instance's first counts, then by budget or age."""

import json
import unittest
from typing import Any

from hopper_jobs.logger import Logger
from hopper_jobs.stats import LATENCY_BUCKETS, StatsRecorder, _Cohort, _cohort_update, _Rollup, _rollup_update, bucket_of

HOUR_MS = 1796558400000


class Table:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request)
        return {}


class StatsTest(unittest.TestCase):
    def test_the_updates_are_the_typescript_ones(self) -> None:
        # rollupUpdate and cohortUpdate of lib/stats for the same counts, as JSON.
        rollup = _Rollup(HOUR_MS, "py", HOUR_MS, {3: 2, 1: 1}, (250, HOUR_MS + 200_000))
        expected_rollup = {"Key": {"pk": {"S": "stats"}, "sk": {"S": "1796558400000#w#py"}}, "UpdateExpression": "SET #ttl = :ttl, #lag = :lag, #lagAt = :lagAt ADD #p :p, #p01 :p01, #p03 :p03", "ExpressionAttributeNames": {"#ttl": "ttl", "#p01": "p01", "#p03": "p03", "#p": "p", "#lag": "lag", "#lagAt": "lag_at"}, "ExpressionAttributeValues": {":ttl": {"N": "1804334400"}, ":p01": {"N": "1"}, ":p03": {"N": "2"}, ":p": {"N": "3"}, ":lag": {"N": "250"}, ":lagAt": {"N": "1796558600000"}}}
        self.assertEqual(_rollup_update(rollup), expected_rollup)
        cohort = _Cohort(HOUR_MS, started=2, done=1, buckets={9: 1, 0: 1}, max=200)
        expected_cohort = {"Key": {"pk": {"S": "cohorts"}, "sk": {"S": "1796558400000"}}, "UpdateExpression": "SET #ttl = :ttl, #mx = if_not_exists(#mx, :mx) ADD #s :s, #d :d, #h0 :h0, #h9 :h9", "ExpressionAttributeNames": {"#ttl": "ttl", "#s": "s", "#d": "d", "#h0": "h0", "#h9": "h9", "#mx": "mx"}, "ExpressionAttributeValues": {":ttl": {"N": "1796731200"}, ":s": {"N": "2"}, ":d": {"N": "1"}, ":h0": {"N": "1"}, ":h9": {"N": "1"}, ":mx": {"N": "200"}}}
        self.assertEqual(_cohort_update(cohort), expected_cohort)

    def test_tier_lags_are_written_as_the_typescript_worker_writes_them(self) -> None:
        # rollupUpdate of lib/stats for a tiered queue's rollup, as JSON: the governor reads tlag.<tier>.
        table = Table()
        recorder = StatsRecorder(lambda: table, "state")
        job = {"jid": "j", "jobtype": "Noop", "args": [], "queue": "py", "enqueued_at": "2026-12-07T12:00:00.000Z"}
        recorder.started("py", job, 900, HOUR_MS + 300_000, "bulk")
        recorder.started("py", job, 40, HOUR_MS + 310_000, "critical")
        recorder.started("py", job, 500, HOUR_MS + 100_000, "bulk")  # older: bulk keeps its latest start
        rollup = recorder._rollups[(HOUR_MS, "py")]
        rollup.minutes = {3: 2}
        rollup.lag = (250, HOUR_MS + 200_000)
        expected = {"Key": {"pk": {"S": "stats"}, "sk": {"S": "1796558400000#w#py"}}, "UpdateExpression": "SET #ttl = :ttl, #lag = :lag, #lagAt = :lagAt, #tl0 = :tl0, #tl1 = :tl1 ADD #p :p, #p03 :p03", "ExpressionAttributeNames": {"#ttl": "ttl", "#p03": "p03", "#p": "p", "#lag": "lag", "#lagAt": "lag_at", "#tl0": "tlag.bulk", "#tl1": "tlag.critical"}, "ExpressionAttributeValues": {":ttl": {"N": "1804334400"}, ":p03": {"N": "2"}, ":p": {"N": "2"}, ":lag": {"N": "250"}, ":lagAt": {"N": "1796558600000"}, ":tl0": {"L": [{"N": "900"}, {"N": "1796558700000"}]}, ":tl1": {"L": [{"N": "40"}, {"N": "1796558710000"}]}}}
        self.assertEqual(_rollup_update(rollup), expected)

    def test_failures_the_worker_retried_are_counted_as_the_typescript_worker_counts_them(self) -> None:
        rollup = _Rollup(HOUR_MS, "py", HOUR_MS, {3: 2, 1: 1}, failures={3: 1})
        expected_rollup = {"Key": {"pk": {"S": "stats"}, "sk": {"S": "1796558400000#w#py"}}, "UpdateExpression": "SET #ttl = :ttl ADD #p :p, #f :f, #p01 :p01, #p03 :p03, #f03 :f03", "ExpressionAttributeNames": {"#ttl": "ttl", "#p01": "p01", "#p03": "p03", "#f03": "f03", "#p": "p", "#f": "f"}, "ExpressionAttributeValues": {":ttl": {"N": "1804334400"}, ":p01": {"N": "1"}, ":p03": {"N": "2"}, ":f03": {"N": "1"}, ":p": {"N": "3"}, ":f": {"N": "1"}}}
        self.assertEqual(_rollup_update(rollup), expected_rollup)
        expected_cohort = {"Key": {"pk": {"S": "cohorts"}, "sk": {"S": "1796558400000"}}, "UpdateExpression": "SET #ttl = :ttl ADD #s :s, #f :f", "ExpressionAttributeNames": {"#ttl": "ttl", "#s": "s", "#f": "f"}, "ExpressionAttributeValues": {":ttl": {"N": "1796731200"}, ":s": {"N": "1"}, ":f": {"N": "2"}}}
        self.assertEqual(_cohort_update(_Cohort(HOUR_MS, started=1, failed=2)), expected_cohort)
        table = Table()
        recorder = StatsRecorder(lambda: table, "state")
        recorder.retried("py", {"jid": "j", "failure": {"retry_count": 0, "first_enqueued_at": "2026-12-06T12:00:30.000Z"}}, HOUR_MS + 61_000)
        recorder.flush(HOUR_MS + 61_000, Logger([].append))
        written = {update["Key"]["pk"]["S"]: update["ExpressionAttributeValues"] for update in table.updates}
        self.assertEqual((written["stats"][":p"], written["stats"][":f"], written["stats"][":f01"]), ({"N": "1"}, {"N": "1"}, {"N": "1"}))
        self.assertEqual(written["cohorts"][":f"], {"N": "1"})

    def test_latency_buckets_grow_by_the_square_root_of_two(self) -> None:
        self.assertEqual((LATENCY_BUCKETS[0], LATENCY_BUCKETS[2], len(LATENCY_BUCKETS)), (10, 20, 48))
        self.assertEqual((bucket_of(0), bucket_of(11), bucket_of(10**12)), (0, 1, 48))

    def test_first_counts_are_written_at_once_then_by_budget_or_age(self) -> None:
        table, lines = Table(), []
        recorder = StatsRecorder(lambda: table, "state")
        job = {"jid": "j", "enqueued_at": "2026-12-06T12:00:30.000Z"}
        recorder.started("py", job, 120, HOUR_MS + 1_000)
        recorder.succeeded("py", job, HOUR_MS + 1_100)
        recorder.count_jobs(1)
        recorder.flush(HOUR_MS + 1_200, Logger(lines.append))
        self.assertEqual(len(table.updates), 2)  # the rollup and the cohort
        recorder.succeeded("py", job, HOUR_MS + 2_000)
        recorder.count_jobs(1)
        recorder.flush(HOUR_MS + 3_000, Logger(lines.append))
        self.assertEqual(len(table.updates), 2)  # not due: 1 job against a budget of 1,000 per write
        recorder.flush(HOUR_MS + 12_000, Logger(lines.append))
        self.assertEqual(len(table.updates), 4)  # its oldest count is 10 s old
        self.assertEqual(json.loads(json.dumps(table.updates[2]["ExpressionAttributeValues"][":p"])), {"N": "1"})


if __name__ == "__main__":
    unittest.main()
