"""Test doubles shared by the unit tests: an in-memory SQS and a Lambda context."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
QUEUE_URLS = {
    "default": "https://sqs.us-east-1.amazonaws.com/123456789012/Jobs-default",
    "critical": "https://sqs.us-east-1.amazonaws.com/123456789012/Jobs-critical",
}
RETRIES_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/Jobs-retries"
DEFAULT_ARN = "arn:aws:sqs:us-east-1:123456789012:Jobs-default"


class FakeSqs:
    """Records SendMessageBatch calls; ``refuse`` maps a body substring to a failure entry."""

    def __init__(self, refuse: dict[str, dict[str, Any]] | None = None, refuse_times: int = 1_000) -> None:
        self.calls: list[dict[str, Any]] = []
        self.refuse = refuse or {}
        self.refuse_times = refuse_times

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append({"QueueUrl": QueueUrl, "Entries": Entries})
        successful, failed = [], []
        for entry in Entries:
            rule = next((rule for text, rule in self.refuse.items() if text in entry["MessageBody"]), None)
            if rule is not None and self.refuse_times > 0:
                failed.append({"Id": entry["Id"], **rule})
            else:
                successful.append({"Id": entry["Id"], "MessageId": f"m-{len(self.calls)}-{entry['Id']}"})
        if failed:
            self.refuse_times -= 1
        return {"Successful": successful, "Failed": failed}

    def bodies(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Every body sent (to ``queue_url`` when given), parsed."""
        return [json.loads(entry["MessageBody"]) for call in self.calls if queue_url in (None, call["QueueUrl"]) for entry in call["Entries"]]


class FakeContext:
    """A Lambda context whose remaining time is a list of answers, one per question."""

    def __init__(self, *remaining_ms: int) -> None:
        self.answers = list(remaining_ms) or [60_000]

    def get_remaining_time_in_millis(self) -> int:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def record(body: object, message_id: str = "m1", arn: str = DEFAULT_ARN) -> dict[str, Any]:
    """An SQS record as Lambda delivers it; ``body`` is serialized unless it is already text."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": message_id, "receiptHandle": "rh", "body": text, "eventSourceARN": arn, "attributes": {"ApproximateReceiveCount": "1"}}


class ConditionFailed(Exception):
    """What botocore raises for a failed DynamoDB condition (its ``response`` names the code)."""

    def __init__(self) -> None:
        super().__init__("The conditional request failed")
        self.response = {"Error": {"Code": "ConditionalCheckFailedException"}}
