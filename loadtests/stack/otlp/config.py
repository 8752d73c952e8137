"""The OTLP receiver's settings: where it listens and which faults it injects, and their flags."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.errors import StackError

__all__ = ["REFUSE_STATUSES", "OtlpFaults", "ReceiverConfig", "parse_receiver_args"]

REFUSE_STATUSES = (503, 429)


@dataclass(frozen=True)
class OtlpFaults:
    """Faults of a misbehaving collector.

    A ``refuse_fraction`` of export requests is answered ``refuse_status`` (their items count as
    refused); every export answer waits ``latency_ms``; from ``stall_at_s`` seconds after the
    start, for ``stall_for_s`` seconds, exports are held unanswered (answered when it ends).
    """

    refuse_fraction: float = 0.0
    refuse_status: int = 503
    latency_ms: float = 0.0
    stall_at_s: float | None = None
    stall_for_s: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.refuse_fraction <= 1.0:
            problems.append(f"refuse_fraction must be in 0..1, got {self.refuse_fraction}")
        if self.refuse_status not in REFUSE_STATUSES:
            problems.append(f"refuse_status must be 503 or 429, got {self.refuse_status}")
        if not (0.0 <= self.latency_ms <= 60_000.0):
            problems.append(f"latency_ms must be in 0..60000, got {self.latency_ms}")
        if self.stall_at_s is not None and not (0.0 <= self.stall_at_s < math.inf):
            problems.append(f"stall_at_s must be >= 0, got {self.stall_at_s}")
        if not (0.0 <= self.stall_for_s < math.inf):
            problems.append(f"stall_for_s must be >= 0, got {self.stall_for_s}")
        if self.stall_for_s > 0 and self.stall_at_s is None:
            problems.append("stall_for_s needs stall_at_s (when the stall starts)")
        if problems:
            raise StackError("invalid OTLP receiver faults: " + "; ".join(problems))

    def to_args(self) -> list[str]:
        """The fault flags of ``python -m loadtests.stack.otlp``."""
        args = [
            "--refuse-fraction",
            repr(float(self.refuse_fraction)),
            "--refuse-status",
            str(self.refuse_status),
            "--latency-ms",
            repr(float(self.latency_ms)),
            "--stall-for-s",
            repr(float(self.stall_for_s)),
        ]
        if self.stall_at_s is not None:
            args += ["--stall-at-s", repr(float(self.stall_at_s))]
        return args


@dataclass(frozen=True)
class ReceiverConfig:
    """Where the receiver listens (0: a free port), how it misbehaves; ``seed`` draws refusals."""

    host: str = "127.0.0.1"
    port: int = 0
    metrics_port: int = 0
    faults: OtlpFaults = field(default_factory=OtlpFaults)
    seed: int = 1
    keep_spans: int = 0

    def __post_init__(self) -> None:
        for name in ("port", "metrics_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise StackError(f"invalid OTLP receiver config: {name} must be in 0..65535")
        if not 0 <= self.keep_spans <= 100_000:
            raise StackError("invalid OTLP receiver config: keep_spans must be in 0..100000")

    def to_args(self) -> list[str]:
        """The command-line flags of ``python -m loadtests.stack.otlp``."""
        return [
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            "--seed",
            str(self.seed),
            "--keep-spans",
            str(self.keep_spans),
            *self.faults.to_args(),
        ]


def _parser() -> argparse.ArgumentParser:
    d, f = ReceiverConfig(), OtlpFaults()
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.stack.otlp",
        description="OTLP/HTTP receiver standing in for the OpenTelemetry Collector.",
    )
    parser.add_argument("--host", default=d.host)
    parser.add_argument("--port", type=int, default=d.port, help="OTLP/HTTP port; 0: free port")
    parser.add_argument("--metrics-port", type=int, default=d.metrics_port)
    parser.add_argument("--ready-file", type=Path, help="JSON with pid, ports and URLs, once up")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the refusal draws")
    parser.add_argument(
        "--keep-spans",
        type=int,
        default=d.keep_spans,
        help="keep the last N accepted spans for GET /admin/spans (0: none)",
    )
    parser.add_argument("--refuse-fraction", type=float, default=f.refuse_fraction)
    parser.add_argument(
        "--refuse-status", type=int, choices=REFUSE_STATUSES, default=f.refuse_status
    )
    parser.add_argument("--latency-ms", type=float, default=f.latency_ms)
    parser.add_argument("--stall-at-s", type=float, default=f.stall_at_s)
    parser.add_argument("--stall-for-s", type=float, default=f.stall_for_s)
    return parser


def parse_receiver_args(argv: list[str] | None = None) -> tuple[ReceiverConfig, Path | None]:
    """Read the receiver's flags into a config and the ready-file path; exits 2 on bad flags."""
    parser = _parser()
    ns = parser.parse_args(argv)
    try:
        faults = OtlpFaults(
            refuse_fraction=ns.refuse_fraction,
            refuse_status=ns.refuse_status,
            latency_ms=ns.latency_ms,
            stall_at_s=ns.stall_at_s,
            stall_for_s=ns.stall_for_s,
        )
        config = ReceiverConfig(ns.host, ns.port, ns.metrics_port, faults, ns.seed, ns.keep_spans)
    except StackError as exc:
        parser.error(str(exc))
    return config, ns.ready_file
