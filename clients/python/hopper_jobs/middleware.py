"""Middleware and hooks for Python producers and workers, with the TypeScript chains' rules
(docs/middleware.md): a client chain over every job sent, a server chain around every handler, and
hooks after the worker's own moves. The TypeScript module a JobSystem declares does not run in
Python; a team that wants the same behaviour in a Python worker writes these.

- **Client** ``fn(job, ctx) -> job``, in order, on each job a ``Client`` enqueues (``ctx.via`` is
  ``client``) and each job the worker sends back to its queue (``retry``: a retry due within 15
  minutes; ``requeue``: a limiter's or the queue's wait). It gives back the job to send. What Hopper
  keys a job by may not change: ``jid``, ``queue``, ``jobtype``, ``custom.bid``, ``custom.callback``,
  ``custom.unique_for``, ``custom.unique_until``, and a unique job's ``args``. A refusal (a raise, a
  result that is not a job, a keyed field changed, a job over 256 KiB) raises ``MiddlewareError`` to
  a producer and sends nothing; the worker sends a refused retry to the retry function instead and
  hands a refused requeue back to SQS.
- **Server** ``fn(job, ctx, call_next) -> value``, in order, around the handler, after Hopper's own
  steps (expiry, unique release, the queue's lease). ``call_next()`` runs the rest of the chain and
  returns the handler's value; ``call_next(changed_job)`` hands on a changed job with the same
  ``jid`` (the handler gets its ``args``). What the first middleware returns is the job's value; one
  that does not call ``call_next`` ends the job there, as a success; calling it twice is an error.
- **Hooks** ``on_retry(job, ctx)`` after the worker sent a retry itself (``job`` as re-enqueued) and
  ``on_expired(job, ctx)`` after it dropped an expired job. A hook that raises is logged and
  changes nothing.

Example::

    def tenant(job, ctx):
        return {**job, "custom": {**job.get("custom", {}), "tenant": current_tenant()}}

    def timed(job, ctx, call_next):
        started = time.monotonic()
        try:
            return call_next()
        finally:
            ctx.logger.info("ran", ms=round((time.monotonic() - started) * 1000))

    handler = worker(jobs, middleware=define_middleware(client=[tenant], server=[timed]))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import HopperError, MiddlewareError
from .job import MAX_JOB_BYTES, Job, byte_length, describe_error, normalize_job, parse_time, serialize_job
from .logger import Logger
from .unique import lock_key

ClientMiddleware = Callable[[Job, "ClientContext"], Job]
ServerMiddleware = Callable[[Job, Any, Callable[..., Any]], Any]
Hook = Callable[[Job, "HookContext"], object]

#: What a client middleware may not change in ``custom``: Hopper keys batches, callbacks and locks by them.
FIXED_CUSTOM = ("bid", "callback", "unique_for", "unique_until")


@dataclass(frozen=True)
class ClientContext:
    """What a client middleware gets besides the job: the path of the enqueue and a logger."""

    #: ``client`` (a producer), ``retry`` (the worker's retry) or ``requeue`` (a wait).
    via: str
    logger: Logger | None = None


@dataclass(frozen=True)
class HookContext:
    logger: Logger | None = None


@dataclass(frozen=True)
class Middleware:
    """A team's chains and hooks; make one with :func:`define_middleware`."""

    client: tuple[ClientMiddleware, ...] = ()
    server: tuple[ServerMiddleware, ...] = ()
    on_retry: Hook | None = None
    on_expired: Hook | None = None


def define_middleware(
    *,
    client: Sequence[ClientMiddleware] = (),
    server: Sequence[ServerMiddleware] = (),
    on_retry: Hook | None = None,
    on_expired: Hook | None = None,
) -> Middleware:
    """Checks and bundles chains and hooks for ``worker(..., middleware=)`` and ``Client(middleware=)``.

    Raises:
        TypeError: naming the entry that is not a function.
    """
    for name, entries in (("client", client), ("server", server)):
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
            raise TypeError(f"middleware {name} must be a list of functions, not {type(entries).__name__}")
        for index, entry in enumerate(entries):
            if not callable(entry):
                raise TypeError(f"middleware {name}[{index}] must be a function, not {entry!r}")
    for name, hook in (("on_retry", on_retry), ("on_expired", on_expired)):
        if hook is not None and not callable(hook):
            raise TypeError(f"middleware {name} must be a function, not {hook!r}")
    return Middleware(tuple(client), tuple(server), on_retry, on_expired)


def _name(entry: Any, fallback: str) -> str:
    name = getattr(entry, "__name__", "")
    return name if name and name != "<lambda>" else fallback


def run_client_chain(chain: Middleware | None, job: Job, via: str, logger: Logger | None = None) -> Job:
    """``job`` through the client chain, each result checked as a job with the same keyed fields.

    Raises:
        MiddlewareError: naming the entry that refused it.
    """
    if chain is None or not chain.client:
        return job
    current = job
    created = parse_time("created_at", current["created_at"]) if isinstance(current.get("created_at"), str) else datetime.now().astimezone()
    for index, entry in enumerate(chain.client):
        name = _name(entry, f"client[{index}]")
        try:
            result = entry(dict(current), ClientContext(via, logger))
        except Exception as error:  # noqa: BLE001 - any failure of the team's code refuses the job
            described = describe_error(error)
            raise MiddlewareError(name, via, f"threw {described['errtype']}: {described['message']}") from error
        try:
            following = normalize_job(result, created, default_queue=current["queue"], default_retry=current["retry"])
        except Exception as error:  # noqa: BLE001 - named in the refusal
            raise MiddlewareError(name, via, f"gave back something that is not a job ({error})") from error
        changed = _fixed_field_changed(current, following)
        if changed is not None:
            raise MiddlewareError(name, via, f"changed the job's {changed}; a middleware may not")
        current = following
    size = byte_length(serialize_job(current))
    if size > MAX_JOB_BYTES:
        raise MiddlewareError("the chain", via, f"made job {current['jid']} {size} bytes, over the limit of {MAX_JOB_BYTES} bytes")
    return current


def _fixed_field_changed(before: Job, after: Job) -> str | None:
    for field in ("jid", "queue", "jobtype"):
        if after.get(field) != before.get(field):
            return f"{field} from {before.get(field)} to {after.get(field)}"
    before_custom, after_custom = before.get("custom") or {}, after.get("custom") or {}
    for key in FIXED_CUSTOM:
        if json.dumps(before_custom.get(key), sort_keys=True) != json.dumps(after_custom.get(key), sort_keys=True):
            return f"custom.{key}"
    if before_custom.get("unique_for") is not None and lock_key(after) != lock_key(before):
        return "args (a unique job's lock is keyed by them)"
    return None


def run_server_chain(chain: Middleware | None, job: Job, ctx: Any, handler: Callable[[Job], Any]) -> Any:
    """Runs ``handler`` inside the server chain; returns what the first middleware returned."""
    entries = chain.server if chain is not None else ()

    def step(index: int, current: Job) -> Any:
        if index == len(entries):
            return handler(current)
        entry = entries[index]
        called = False

        def call_next(changed: Job | None = None) -> Any:
            nonlocal called
            if called:
                raise HopperError(f"server middleware {_name(entry, f'server[{index}]')} called call_next twice")
            called = True
            following = current if changed is None else changed
            if not isinstance(following, dict) or following.get("jid") != current["jid"]:
                raise HopperError(f"server middleware {_name(entry, f'server[{index}]')} handed on a job with another jid; it must keep {current['jid']}")
            return step(index + 1, following)

        return entry(current, ctx, call_next)

    return step(0, job)


def call_hook(chain: Middleware | None, name: str, job: Job, logger: Logger) -> None:
    """Calls hook ``name`` (``on_retry``, ``on_expired``) if there is one; a raise is logged."""
    hook = getattr(chain, name, None) if chain is not None else None
    if hook is None:
        return
    try:
        hook(job, HookContext(logger))
    except Exception as error:  # noqa: BLE001 - a hook changes nothing
        described = describe_error(error)
        logger.error(f"hook {name} threw; ignored", errtype=described["errtype"], error=described["message"], backtrace=described["backtrace"])
