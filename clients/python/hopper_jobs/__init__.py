"""Hopper for Python: enqueue jobs and write Lambda workers on Hopper's wire format.

Standard library and boto3 only. See docs/protocol.md for the protocol this implements.
"""

from .client import Client
from .envelope import failure_envelope
from .errors import (
    ConfigurationError,
    EnqueueError,
    HopperError,
    InvalidJobArgsError,
    InvalidJobError,
    InvalidLimiterSpecError,
    InvalidTenantCapError,
    IterationBusyError,
    IterationError,
    LimiterUnavailableError,
    MiddlewareError,
    OnceStepBusyError,
    OnceStepError,
    PayloadTooLargeError,
    RateLimitedError,
    UnknownJobTypeError,
    UnrecoverableJobError,
)
from .iterate import iterate
from .job import JOB_DEFAULTS, normalize_job, parse_job, serialize_job
from .middleware import Middleware, define_middleware
from .typed import with_args
from .worker import JobContext, worker

__all__ = [
    "Client",
    "ConfigurationError",
    "EnqueueError",
    "HopperError",
    "InvalidJobArgsError",
    "InvalidJobError",
    "InvalidLimiterSpecError",
    "InvalidTenantCapError",
    "IterationBusyError",
    "IterationError",
    "JOB_DEFAULTS",
    "JobContext",
    "LimiterUnavailableError",
    "Middleware",
    "MiddlewareError",
    "OnceStepBusyError",
    "OnceStepError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "UnknownJobTypeError",
    "UnrecoverableJobError",
    "define_middleware",
    "failure_envelope",
    "iterate",
    "normalize_job",
    "parse_job",
    "serialize_job",
    "with_args",
    "worker",
]
