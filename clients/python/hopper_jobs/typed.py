"""Typed arguments: a handler that says what its arguments must be, checked before it runs, as
``defineJobs`` schemas are in TypeScript. Arguments that do not match raise ``InvalidJobArgsError``
(an ``UnrecoverableJobError``): the job goes to the dead set with every problem named, instead of
failing inside the handler and being retried 25 times.

A schema is either a sequence with one checker per argument, or a function of the whole argument list
that returns the arguments to use (raising ``ValueError`` or ``TypeError`` to refuse them). A checker
is a type (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, or any class), a tuple of them
(any one of them), ``None`` (``null``), or a function of the value that returns the value to use (a
parsed date, a dataclass built from an object) or raises ``ValueError`` or ``TypeError``. Types follow
JSON: ``int`` does not take ``true``, and ``float`` takes any number.

Example::

    def send_email(args, ctx):
        to, template, count = args

    handler = worker({"SendEmail": with_args((str, str, int), send_email)})
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

from .errors import InvalidJobArgsError
from .job import describe

Checker = Union[type, tuple, None, Callable[[Any], Any]]
Schema = Union[Sequence[Checker], Callable[[list[Any]], list[Any]]]

_NAMES: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array", dict: "an object"}


def with_args(schema: Schema, handler: Callable[[list[Any], Any], object]) -> Callable[[list[Any], Any], object]:
    """``handler``, called with its arguments checked (and converted) by ``schema``.

    Raises:
        TypeError: at once, when ``schema`` is neither a sequence of checkers nor a function.
    """
    if isinstance(schema, (str, bytes)) or not (isinstance(schema, Sequence) or callable(schema)):
        raise TypeError(f"with_args: the schema must be a sequence of checkers or a function of the arguments, not {type(schema).__name__}")
    if isinstance(schema, Sequence):
        for index, checker in enumerate(schema):
            _check_checker(checker, f"with_args: the checker of args[{index}]")

    def typed(args: list[Any], ctx: Any) -> object:
        return handler(parse_args(schema, args, ctx.job["jobtype"]), ctx)

    typed.__name__ = getattr(handler, "__name__", "typed")
    typed.__doc__ = getattr(handler, "__doc__", None)
    return typed


def parse_args(schema: Schema, args: list[Any], jobtype: str) -> list[Any]:
    """``args`` checked by ``schema``: the arguments to run the handler with.

    Raises:
        InvalidJobArgsError: naming every argument that does not match.
    """
    if not isinstance(schema, Sequence):
        try:
            parsed = schema(args)  # type: ignore[operator]
        except (ValueError, TypeError) as error:
            raise InvalidJobArgsError(jobtype, [f"args: {error}"]) from error
        return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
    problems: list[str] = []
    if len(args) > len(schema):
        problems.append(f"args: expected {_count(len(schema))}, but {len(args)} were provided")
    parsed_args: list[Any] = []
    for index, checker in enumerate(schema):
        present = index < len(args)
        value = args[index] if present else None
        try:
            parsed_args.append(_check(checker, value, present))
        except (ValueError, TypeError) as error:
            problems.append(f"args[{index}]: {error}")
    if problems:
        raise InvalidJobArgsError(jobtype, problems)
    return parsed_args


def _count(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"


def _check_checker(checker: Any, where: str) -> None:
    if checker is None or isinstance(checker, type) or callable(checker):
        return
    if isinstance(checker, tuple) and checker and all(part is None or isinstance(part, type) for part in checker):
        return
    raise TypeError(f"{where} must be a type, a tuple of types, None or a function, not {checker!r}")


def _check(checker: Checker, value: Any, present: bool) -> Any:
    if isinstance(checker, tuple) or checker is None or isinstance(checker, type):
        options = checker if isinstance(checker, tuple) else (checker,)
        if present and any(_is(option, value) for option in options):
            return value
        raise TypeError(f"expected {' or '.join(_name(option) for option in options)}, but {describe(value, present)} was provided")
    if not present:
        raise TypeError("expected a value, but nothing was provided")
    return checker(value)  # type: ignore[misc]


def _is(option: type | None, value: Any) -> bool:
    if option is None:
        return value is None
    if option is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if option is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, option)


def _name(option: type | None) -> str:
    if option is None:
        return "null"
    return _NAMES.get(option, f"a {option.__name__}")
