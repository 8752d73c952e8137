"""The OTLP receiver's settings: where it listens and which faults it injects, and their flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from loadtests.errors import StackError
from loadtests.stack.settings import (
    at_least,
    in_range,
    nested,
    one_of,
    parse_process_args,
    problems,
    process_parser,
    setting,
    to_argv,
)

__all__ = ["REFUSE_STATUSES", "OtlpFaults", "ReceiverConfig", "parse_receiver_args"]

REFUSE_STATUSES = (503, 429)


_PORT = in_range(0, 65535)


@dataclass(frozen=True)
class OtlpFaults:
    """Faults of a misbehaving collector.

    A ``refuse_fraction`` of export requests is answered ``refuse_status`` (their items count as
    refused), with ``Retry-After: retry_after_s`` when that is set (the SDK then retries after
    that long instead of backing off 1, 2, 4 ... s); every export answer waits ``latency_ms``;
    from ``stall_at_s`` seconds after the start, for ``stall_for_s`` seconds, exports are held
    unanswered (answered when it ends).
    Each setting is declared once, here; its flag is derived (loadtests/stack/settings.py).
    """

    refuse_fraction: float = setting(
        0.0, "share of export requests refused with --refuse-status", check=in_range(0, 1)
    )
    refuse_status: int = setting(
        503, "status of a refused export (503 or 429)", check=one_of(*REFUSE_STATUSES)
    )
    retry_after_s: float | None = setting(
        None,
        "Retry-After of a refused export, in seconds (none: no header)",
        check=in_range(0, 600),
    )
    latency_ms: float = setting(0.0, "delay of every export answer", check=in_range(0, 60_000))
    stall_at_s: float | None = setting(
        None, "seconds after the start when exports stop being answered", check=at_least(0)
    )
    stall_for_s: float = setting(0.0, "how long the stall lasts", check=at_least(0))

    def __post_init__(self) -> None:
        found = problems(self)
        if self.stall_for_s > 0 and self.stall_at_s is None:
            found.append("stall_for_s needs stall_at_s (when the stall starts)")
        if found:
            raise StackError("invalid OTLP receiver faults: " + "; ".join(found))

    def to_args(self) -> list[str]:
        """The fault flags of ``python -m loadtests.stack.otlp``."""
        return to_argv(self)


@dataclass(frozen=True)
class ReceiverConfig:
    """Where the receiver listens (0: a free port), how it misbehaves; ``seed`` draws refusals."""

    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(0, "OTLP/HTTP port; 0: free port", check=_PORT)
    metrics_port: int = setting(0, "port of /metrics; 0: free port", check=_PORT)
    faults: OtlpFaults = nested(OtlpFaults)
    seed: int = setting(1, "seed of the refusal draws")
    keep_spans: int = setting(
        0, "keep the last N accepted spans for GET /admin/spans (0: none)", check=in_range(0, 1e5)
    )

    def __post_init__(self) -> None:
        found = problems(self)
        if found:
            raise StackError("invalid OTLP receiver config: " + "; ".join(found))

    def to_args(self) -> list[str]:
        """The command-line flags of ``python -m loadtests.stack.otlp``."""
        return to_argv(self)


def _parser() -> argparse.ArgumentParser:
    return process_parser(
        ReceiverConfig,
        "python -m loadtests.stack.otlp",
        "OTLP/HTTP receiver standing in for the OpenTelemetry Collector.",
    )


def parse_receiver_args(argv: list[str] | None = None) -> tuple[ReceiverConfig, Path | None]:
    """Read the receiver's flags into a config and the ready-file path; exits 2 on bad flags."""
    return parse_process_args(ReceiverConfig, _parser(), argv)
