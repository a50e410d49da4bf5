"""The SQS side shared by the client and the worker: the client protocol, batching, limits."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .job import byte_length

#: Largest message body SQS accepts, and largest total payload of one SendMessageBatch (1 MiB).
MAX_MESSAGE_BYTES = 1_048_576
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_ENTRIES = 10
#: Longest DelaySeconds SQS accepts; later jobs wait in Hopper's scheduled set.
MAX_DELAY_SECONDS = 900
#: How many times entries that SQS reported as failed on its side are sent again.
RESEND_ATTEMPTS = 3


class SqsClient(Protocol):
    """The one call Hopper makes; a ``boto3.client("sqs")`` satisfies it."""

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outgoing:
    """One message to send; ``key`` is the caller's name for it (a jid, a record's message id)."""

    key: str
    queue_url: str
    body: str
    size: int
    delay_seconds: int = 0
    #: The SQS message group (a job's tenant, :func:`message_group_of`); ``None``: none.
    group_id: str | None = None


#: What SQS accepts as a ``MessageGroupId``: 1 to 128 letters, digits and ASCII punctuation.
MESSAGE_GROUP_ID_MAX_LENGTH = 128
MESSAGE_GROUP_ID_PATTERN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+")
#: The prefix of the group of a tenant that is not a valid group id itself.
HASHED_GROUP_PREFIX = "tenant-sha256:"


def message_group_of_tenant(tenant: str) -> str:
    """The message group of a tenant, as the TypeScript library makes it (lib/job/message-group.ts):
    the tenant itself when SQS accepts it as a ``MessageGroupId``, else ``tenant-sha256:`` and the
    SHA-256 of its UTF-8 bytes in hex, so that a send never fails for its tenant."""
    if len(tenant) <= MESSAGE_GROUP_ID_MAX_LENGTH and MESSAGE_GROUP_ID_PATTERN.fullmatch(tenant):
        return tenant
    return HASHED_GROUP_PREFIX + hashlib.sha256(tenant.encode("utf-8")).hexdigest()


def message_group_of(job: Mapping[str, Any]) -> str | None:
    """The message group a job is sent with: its tenant's (``custom.tenant``); none without one."""
    custom = job.get("custom")
    tenant = custom.get("tenant") if isinstance(custom, Mapping) else None
    return message_group_of_tenant(tenant) if isinstance(tenant, str) and tenant else None


def job_message(key: str, queue_url: str, job: Mapping[str, Any], body: str, delay_seconds: int = 0) -> Outgoing:
    """The message that carries ``job`` (or, as ``body``, a message about it such as its failure
    envelope) to ``queue_url``, with the job's tenant as its message group (SQS fair queues). Every
    job message the client and the worker send is made here."""
    return Outgoing(key=key, queue_url=queue_url, body=body, size=byte_length(body), delay_seconds=delay_seconds, group_id=message_group_of(job))


@dataclass(frozen=True)
class SendFailure:
    """A message that was not sent, and why."""

    key: str
    code: str
    message: str


def sqs_client_from_env(env: Mapping[str, str] | None = None) -> SqsClient:
    """A boto3 SQS client configured from ``env`` (default: ``os.environ``).

    The endpoint is ``AWS_ENDPOINT_URL_SQS`` (or ``AWS_ENDPOINT_URL``) when set: recent boto3
    releases read these variables themselves, older ones (Debian 12 ships 1.26) do not, so they are
    passed explicitly. Region and static credentials are taken from ``env`` too, so that a client
    built for an environment other than the process's talks as that environment.
    """
    return _client_from_env("sqs", "AWS_ENDPOINT_URL_SQS", env)


def dynamodb_client_from_env(env: Mapping[str, str] | None = None) -> Any:
    """A boto3 DynamoDB client configured from ``env`` as :func:`sqs_client_from_env` is
    (``AWS_ENDPOINT_URL_DYNAMODB``, else ``AWS_ENDPOINT_URL``)."""
    return _client_from_env("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB", env)


def _client_from_env(service: str, endpoint_variable: str, env: Mapping[str, str] | None) -> Any:
    import boto3  # Imported here so that the job model and its tests need only the standard library.

    env = os.environ if env is None else env
    options: dict[str, str] = {}
    endpoint = env.get(endpoint_variable) or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["region_name"] = region
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        options["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
        options["aws_secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            options["aws_session_token"] = env["AWS_SESSION_TOKEN"]
    return boto3.client(service, **options)


def pack_batches(messages: Sequence[Outgoing]) -> list[list[Outgoing]]:
    """Splits one queue's messages into batches of at most 10 entries and 1 MiB, in order."""
    batches: list[list[Outgoing]] = []
    current: list[Outgoing] = []
    size = 0
    for message in messages:
        if current and (len(current) == MAX_BATCH_ENTRIES or size + message.size > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(message)
        size += message.size
    if current:
        batches.append(current)
    return batches


def send_in_batches(sqs: SqsClient, messages: Sequence[Outgoing], pause: float = 0.05) -> list[SendFailure]:
    """Sends ``messages`` with as few SendMessageBatch requests as SQS allows.

    Entries SQS refused on its side (throttling, internal errors) are sent again; entries refused
    for the sender's fault are not. A request that fails as a whole (boto3 has already retried it)
    fails its entries only, not the other batches.

    Returns:
        The messages that were not sent (empty when all were).
    """
    failures: list[SendFailure] = []
    by_queue: dict[str, list[Outgoing]] = {}
    for message in messages:
        if message.size > MAX_MESSAGE_BYTES:
            failures.append(SendFailure(message.key, "PayloadTooLarge", f"message is {message.size} bytes, over the SQS limit of {MAX_MESSAGE_BYTES}"))
            continue
        by_queue.setdefault(message.queue_url, []).append(message)
    for queue_url, group in by_queue.items():
        for batch in pack_batches(group):
            failures.extend(_send_with_resends(sqs, queue_url, batch, pause))
    return failures


def _send_with_resends(sqs: SqsClient, queue_url: str, batch: list[Outgoing], pause: float) -> list[SendFailure]:
    pending = batch
    final: list[SendFailure] = []  # failures that another attempt cannot fix
    last: list[SendFailure] = []  # the latest failure of each message still pending
    for attempt in range(RESEND_ATTEMPTS):
        if attempt > 0:
            time.sleep(pause * 2**attempt)
        entries = [
            {
                "Id": str(index),
                "MessageBody": message.body,
                **({"DelaySeconds": message.delay_seconds} if message.delay_seconds > 0 else {}),
                **({"MessageGroupId": message.group_id} if message.group_id is not None else {}),
            }
            for index, message in enumerate(pending)
        ]
        try:
            output = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as error:  # noqa: BLE001 - boto3 has retried; this batch fails, not the others
            return final + [SendFailure(message.key, type(error).__name__, str(error)) for message in pending]
        failed = {entry.get("Id"): entry for entry in output.get("Failed", [])}
        succeeded = {entry.get("Id") for entry in output.get("Successful", [])}
        retry: list[Outgoing] = []
        last = []
        for index, message in enumerate(pending):
            entry = failed.get(str(index))
            if entry is None:
                if str(index) not in succeeded:
                    final.append(SendFailure(message.key, "Unknown", "SQS did not report this entry"))
                continue
            failure = SendFailure(message.key, str(entry.get("Code", "Error")), str(entry.get("Message", "")))
            if entry.get("SenderFault") is True:
                final.append(failure)
            else:
                retry.append(message)
                last.append(failure)
        if not retry:
            return final
        pending = retry
    return final + last
