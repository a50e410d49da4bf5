"""Fault injection for the chaos suite in Python functions: the twin of faults-preload.mjs.

Python imports ``sitecustomize`` at startup from its path; the chaos run puts this folder on
``PYTHONPATH`` of every function. Configured by ``HOPPER_CHAOS_FAULTS`` (JSON: ``seed``, ``before``,
``after``, ``recordDir``); absent, it does nothing. It wraps botocore's ``_make_api_call``, above
botocore's own retries, so Hopper's code sees every fault as it would after the SDK gave up: calls
to SQS and DynamoDB fail before they reach the service (throttling, 500, 503, a reset connection, a
read timeout) or, having done their write, are reported as failed. Every fault is appended as one
JSON line to ``<recordDir>/faults.jsonl``, with the kinds faults-preload.mjs uses.
"""

import json
import os
import random


def _install(config: dict) -> None:
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "unknown")
    draw = random.Random(f"{config['seed']}:{function}:{os.getpid()}").random
    path = os.path.join(config["recordDir"], "faults.jsonl")

    def record(kind: str, phase: str, command: str) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(descriptor, (json.dumps({"kind": kind, "phase": phase, "command": command, "fn": function}) + "\n").encode())
        finally:
            os.close(descriptor)

    def service_error(code: str, status: int, message: str, command: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, command)

    before_kinds = [
        ("throttling", lambda service, command: service_error("ProvisionedThroughputExceededException" if service == "dynamodb" else "ThrottlingException", 400, "Rate exceeded", command)),
        ("internal-500", lambda service, command: service_error("InternalServerError", 500, "We encountered an internal error. Please try again.", command)),
        ("unavailable-503", lambda service, command: service_error("ServiceUnavailable", 503, "Service is unavailable. Please try again.", command)),
        ("econnreset", lambda service, command: ConnectionClosedError(endpoint_url="read ECONNRESET")),
        ("timeout", lambda service, command: ReadTimeoutError(endpoint_url="connection timed out")),
    ]
    original = BaseClient._make_api_call

    def make_api_call(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        service = self.meta.service_model.service_name
        if service not in ("sqs", "dynamodb"):
            return original(self, operation_name, api_params)
        roll = draw()
        if roll < config["before"]:
            kind, make = before_kinds[int(draw() * len(before_kinds))]
            record(kind, "before", operation_name)
            raise make(service, operation_name)
        output = original(self, operation_name, api_params)
        if roll < config["before"] + config["after"]:
            record("after-write", "after", operation_name)
            raise ConnectionClosedError(endpoint_url="read ECONNRESET (the request was processed)")
        return output

    BaseClient._make_api_call = make_api_call


_raw = os.environ.get("HOPPER_CHAOS_FAULTS")
if _raw:
    _install(json.loads(_raw))
