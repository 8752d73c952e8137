"""Settings declared once: each field of a frozen dataclass carries its help and its check.

The stand-in's processes take their settings on the command line. Instead of writing every
setting again in a validator, an argv builder, a parser and a namespace reader, a config class
declares each field once with :func:`setting`; :func:`problems`, :func:`to_argv`,
:func:`add_arguments` and :func:`from_namespace` derive the rest from those declarations. Flags
are the field names with dashes (``upstream_median_ms`` -> ``--upstream-median-ms``); booleans
take ``--x`` / ``--no-x``; a nested dataclass field contributes its own fields' flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from loadtests.errors import StackError

__all__ = [
    "Check",
    "above",
    "add_arguments",
    "at_least",
    "from_namespace",
    "in_range",
    "nested",
    "one_of",
    "parse_process_args",
    "problems",
    "process_parser",
    "setting",
    "to_argv",
]

Check = Callable[[Any], str | None]
T = TypeVar("T")


def setting(default: Any, help: str = "", *, check: Check | None = None) -> Any:
    """A dataclass field with its flag help and the check its value must pass (None: any)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


def nested(factory: Callable[[], Any]) -> Any:
    """A dataclass field holding another settings dataclass (its flags join the parent's)."""
    return dataclasses.field(default_factory=factory, metadata={"nested": True})


def in_range(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be in {low:g}..{high:g}"


def at_least(low: float) -> Check:
    return lambda v: None if low <= v < math.inf else f"must be >= {low:g}"


def above(low: float) -> Check:
    return lambda v: None if low < v < math.inf else f"must be > {low:g}"


def one_of(*allowed: Any) -> Check:
    names = " or ".join(str(a) for a in allowed)
    return lambda v: None if v in allowed else f"must be {names}"


def _fields(obj_or_cls: Any) -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(obj_or_cls))


def problems(obj: Any) -> list[str]:
    """Every field whose value fails its check, as ``name must ..., got value``."""
    found = []
    for f in _fields(obj):
        value = getattr(obj, f.name)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            message = check(value)
            if message:
                found.append(f"{f.name} {message}, got {value!r}")
    return found


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def to_argv(obj: Any) -> list[str]:
    """The command-line flags that :func:`from_namespace` reads back into an equal ``obj``."""
    argv: list[str] = []
    for f in _fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("nested"):
            argv += to_argv(value)
        elif isinstance(value, bool):
            argv.append(_flag(f.name) if value else "--no-" + f.name.replace("_", "-"))
        elif value is None:
            continue
        elif isinstance(value, float):
            argv += [_flag(f.name), repr(value)]
        else:
            argv += [_flag(f.name), str(value)]
    return argv


def _hints(cls: type) -> dict[str, Any]:
    """Field annotations as types (``from __future__ import annotations`` leaves strings)."""
    return typing.get_type_hints(cls)


def _scalar(annotation: Any) -> tuple[Any, tuple[Any, ...] | None]:
    """The argparse type and choices of an annotation (``X | None`` unwrapped)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        return type(choices[0]), choices
    if args and get_origin(annotation) is not Literal:
        return _scalar(args[0])
    return annotation, None


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of ``cls`` (and of its nested settings), defaults from ``cls()``."""
    hints = _hints(cls)
    for f in _fields(cls):
        if f.metadata.get("nested"):
            add_arguments(parser, hints[f.name])
            continue
        default = f.default
        help_text = f.metadata.get("help", "")
        kind, choices = _scalar(hints[f.name])
        if kind is bool:
            parser.add_argument(
                _flag(f.name),
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
        else:
            parser.add_argument(
                _flag(f.name), type=kind, choices=choices, default=default, help=help_text
            )


def process_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """The parser of a stand-in process: ``--ready-file`` plus one flag per setting of ``cls``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--ready-file", type=Path, help="JSON with pid, ports and URLs, once up")
    add_arguments(parser, cls)
    return parser


def parse_process_args(
    cls: type[T], parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[T, Path | None]:
    """The settings and the ready-file path from ``argv``; a failed check exits 2 naming it."""
    ns = parser.parse_args(argv)
    try:
        config = from_namespace(cls, ns)
    except StackError as exc:
        parser.error(str(exc))
    return config, ns.ready_file


def from_namespace(cls: type[T], ns: argparse.Namespace) -> T:
    """An instance of ``cls`` from parsed flags (nested settings built the same way)."""
    hints = _hints(cls)
    values = {}
    for f in _fields(cls):
        if f.metadata.get("nested"):
            values[f.name] = from_namespace(hints[f.name], ns)
        else:
            values[f.name] = getattr(ns, f.name)
    return cls(**values)
