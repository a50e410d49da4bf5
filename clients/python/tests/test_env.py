"""The configuration document read by Python workers and clients (lib/config/document.ts)."""

from __future__ import annotations

import json
import unittest
from typing import Any

from hopper_jobs import env as hopper_env
from hopper_jobs.client import Client
from hopper_jobs.errors import ConfigurationError
from hopper_jobs.worker_config import configure

from .support import QUEUE_URLS, FakeSqs

TABLE = "Shop-StateTable"


class FakeDynamo:
    """Answers Query on the config partition from ``parts`` (sort key to variables), one item per page."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts
        self.queries: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        keys = sorted(self.parts)
        start = request.get("ExclusiveStartKey", {}).get("sk", {}).get("S")
        remaining = keys if start is None else keys[keys.index(start) + 1:]
        if not remaining:
            return {"Items": []}
        sk = remaining[0]
        value = self.parts[sk]
        page: dict[str, Any] = {"Items": [{"pk": {"S": "config"}, "sk": {"S": sk}, "variables": {"S": value if isinstance(value, str) else json.dumps(value)}}]}
        if len(remaining) > 1:
            page["LastEvaluatedKey"] = {"pk": {"S": "config"}, "sk": {"S": sk}}
        return page


class EnvironmentWithDocumentTest(unittest.TestCase):
    def setUp(self) -> None:
        hopper_env._documents.clear()

    def test_merges_every_part_with_one_consistent_query_per_process_the_environment_winning(self) -> None:
        dynamo = FakeDynamo({"document": {"HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_CRONS": "[]"}, "mappings": {"HOPPER_QUEUE_MAPPINGS": "{}"}})
        env = {"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v1", "HOPPER_CRONS": "[1]"}

        merged = hopper_env.environment_with_document(env, dynamo)
        again = hopper_env.environment_with_document(env, dynamo)

        self.assertEqual(merged, {"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v1", "HOPPER_CRONS": "[1]", "HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS), "HOPPER_QUEUE_MAPPINGS": "{}"})
        self.assertEqual(again, merged)
        # Two pages, read once for both calls.
        self.assertEqual(len(dynamo.queries), 2)
        self.assertEqual(dynamo.queries[0], {"TableName": TABLE, "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "config"}}, "ConsistentRead": True})

    def test_returns_the_environment_as_it_is_without_hopper_config(self) -> None:
        env = {"HOPPER_QUEUE_URLS": "{}"}
        self.assertIs(hopper_env.environment_with_document(env, FakeDynamo({})), env)

    def test_refuses_missing_or_malformed_items_naming_the_table(self) -> None:
        with self.assertRaisesRegex(ConfigurationError, f"the configuration items \\(pk config\\) of table {TABLE} are missing, though HOPPER_CONFIG is v2"):
            hopper_env.environment_with_document({"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v2"}, FakeDynamo({}))
        with self.assertRaisesRegex(ConfigurationError, "sk document, must hold a JSON object of variable name to string"):
            hopper_env.environment_with_document({"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v3"}, FakeDynamo({"document": {"HOPPER_QUEUE_URLS": {}}}))
        with self.assertRaisesRegex(ConfigurationError, "HOPPER_STATE_TABLE is not set, though HOPPER_CONFIG is"):
            hopper_env.environment_with_document({"HOPPER_CONFIG": "v4"}, FakeDynamo({}))

    def test_a_worker_finds_its_queue_urls_in_the_document(self) -> None:
        dynamo = FakeDynamo({"document": {"HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}})
        env = {"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v6", "HOPPER_RETRIES_QUEUE_URL": "https://sqs/retries"}

        config = configure(env, FakeSqs(), dynamo)

        self.assertEqual(config.queue_urls, QUEUE_URLS)
        self.assertEqual(len(dynamo.queries), 1)

    def test_a_client_finds_its_queue_urls_in_the_document(self) -> None:
        dynamo = FakeDynamo({"document": {"HOPPER_QUEUE_URLS": json.dumps(QUEUE_URLS)}})
        # The document is read once per process: here first, and the client finds it read.
        hopper_env.environment_with_document({"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v5"}, dynamo)
        sqs = FakeSqs()

        Client(sqs=sqs, env={"HOPPER_STATE_TABLE": TABLE, "HOPPER_CONFIG": "v5"}).enqueue("Greet", ["world"], queue="critical")

        self.assertEqual(sqs.calls[0]["QueueUrl"], QUEUE_URLS["critical"])


if __name__ == "__main__":
    unittest.main()
