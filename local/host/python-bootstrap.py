"""Runs a Python Lambda function under Hopper's local runtime, as Lambda's Python runtime does.

A client of the Lambda Runtime API at ``AWS_LAMBDA_RUNTIME_API``: imports the handler named by
``_HANDLER`` once from ``LAMBDA_TASK_ROOT`` (reporting a failure to ``init/error``), then asks for
one invocation at a time and posts the handler's return value as JSON, or the exception it raised
as ``{errorMessage, errorType, stackTrace}``. Standard library only: a function brings its own
packages in its code directory, and boto3 is whatever the interpreter has (Lambda's has boto3).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request
from typing import Any, Callable

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


class InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def call(method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[bytes, Any]:
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    # `next` waits as long as no invocation comes.
    with urllib.request.urlopen(request, timeout=None) as response:
        return response.read(), response.headers


def post_error(path: str, error_type: str, message: str, stack: list[str]) -> None:
    body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack}).encode()
    call("POST", path, body, {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type})


def load_handler(spec: str) -> Callable[[Any, Any], Any]:
    """``dir/module.function`` or ``package.module.function``, as Lambda's Python runtime reads it."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)") from None
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}") from None
    except Exception as error:
        raise InitError(type(error).__name__, f"Unable to import module '{module_name}': {error}") from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


class LambdaContext:
    """The context object Lambda's Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def report(error: BaseException, error_type: str) -> list[str]:
    """Logs the error as Lambda's Python runtime does and returns its stack trace."""
    stack = traceback.format_list(traceback.extract_tb(error.__traceback__))
    print(f"[ERROR] {error_type}: {error}\nTraceback (most recent call last):\n{''.join(stack)}", end="", flush=True)
    return stack


def run(handler: Callable[[Any, Any], Any]) -> None:
    while True:
        body, headers = call("GET", "/invocation/next")
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id", "")
        context = LambdaContext(request_id, int(headers["Lambda-Runtime-Deadline-Ms"]), headers.get("Lambda-Runtime-Invoked-Function-Arn", ""))
        path = f"/invocation/{request_id}"
        try:
            result = handler(json.loads(body or b"null"), context)
        except Exception as error:
            error_type = type(error).__name__
            post_error(f"{path}/error", error_type, str(error), report(error, error_type))
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            message = f"Unable to marshal response: {error}"
            print(f"[ERROR] Runtime.MarshalError: {message}", flush=True)
            post_error(f"{path}/error", "Runtime.MarshalError", message, [])
            continue
        call("POST", f"{path}/response", payload, {"Content-Type": "application/json"})


def main() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except InitError as error:
        print(f"[ERROR] {error.error_type}: {error}", flush=True)
        post_error("/init/error", error.error_type, str(error), [])
        sys.exit(1)
    try:
        run(handler)
    except (urllib.error.URLError, ConnectionError):
        # The runtime went away: nothing will ask this instance again.
        sys.exit(0)


if __name__ == "__main__":
    main()
