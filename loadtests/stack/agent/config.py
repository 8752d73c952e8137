"""AgentConfig: the stand-in's settings, validated once, and their command-line form."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from loadtests.errors import StackError
from loadtests.stack.agent.costs import TelemetryCost
from loadtests.stack.agent.upstream import DISTRIBUTIONS, Distribution

__all__ = ["AgentConfig", "build_parser", "parse_agent_args"]

_OTLP_URL_RE = re.compile(r"https?://[^\s/]+/?")
_REDIS_URL_RE = re.compile(r"redis://[^\s/]+(/\d+)?")


@dataclass(frozen=True)
class AgentConfig:
    """How the stand-in listens, how slow its simulated upstream is, how it caches and exports.

    Ports of 0 mean "pick a free port"; latencies are in milliseconds. ``telemetry`` on exports
    spans, metrics and logs over OTLP/HTTP to ``otlp_endpoint`` (a base URL) unless
    ``telemetry_export`` is off, and charges the ``telemetry_cost_*`` either way; ``redis_url``
    adds a Redis L2 cache behind the in-memory L1. Streams send ``stream_tokens_per_s`` tokens a
    second after a first token at the upstream latency (``stream_first_token_ms`` when set).
    ``capacity_rps`` queues chat requests behind one server of that rate; each chat request
    leaks ``leak_bytes_per_request``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    metrics_port: int = 0
    upstream_distribution: Distribution = "lognormal"
    upstream_median_ms: float = 3.0
    upstream_sigma: float = 0.4
    cache: bool = True
    cache_max_entries: int = 100_000
    completion_tokens: int = 32
    seed: int = 1
    telemetry: bool = False
    otlp_endpoint: str | None = None
    redis_url: str | None = None
    stream_tokens_per_s: float = 50.0
    stream_first_token_ms: float | None = None
    capacity_rps: float | None = None
    leak_bytes_per_request: int = 0
    telemetry_export: bool = True
    telemetry_cost_latency_ms: float = 0.0
    telemetry_cost_cpu_us: float = 0.0
    telemetry_cost_memory_bytes: int = 0

    def telemetry_cost(self) -> TelemetryCost:
        """The telemetry cost to charge: the configured one with telemetry on, none off."""
        if not self.telemetry:
            return TelemetryCost()
        return TelemetryCost(
            latency_ms=self.telemetry_cost_latency_ms,
            cpu_us=self.telemetry_cost_cpu_us,
            memory_bytes=self.telemetry_cost_memory_bytes,
        )

    def __post_init__(self) -> None:
        problems = []
        for name in ("port", "metrics_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                problems.append(f"{name} must be in 0..65535, got {value}")
        if self.upstream_distribution not in DISTRIBUTIONS:
            problems.append(
                f"upstream_distribution must be one of {', '.join(DISTRIBUTIONS)}, "
                f"got {self.upstream_distribution!r}"
            )
        if not self.upstream_median_ms >= 0:
            problems.append(f"upstream_median_ms must be >= 0, got {self.upstream_median_ms}")
        if not self.upstream_sigma >= 0:
            problems.append(f"upstream_sigma must be >= 0, got {self.upstream_sigma}")
        if self.cache_max_entries < 1:
            problems.append(f"cache_max_entries must be >= 1, got {self.cache_max_entries}")
        if self.completion_tokens < 1:
            problems.append(f"completion_tokens must be >= 1, got {self.completion_tokens}")
        if self.telemetry and self.telemetry_export and self.otlp_endpoint is None:
            problems.append(
                "telemetry needs otlp_endpoint, e.g. http://127.0.0.1:4318 "
                "(or telemetry_export off)"
            )
        if self.otlp_endpoint is not None and not _OTLP_URL_RE.fullmatch(self.otlp_endpoint):
            problems.append(
                f"otlp_endpoint must be a base URL like http://127.0.0.1:4318, "
                f"got {self.otlp_endpoint!r}"
            )
        if self.redis_url is not None and not _REDIS_URL_RE.fullmatch(self.redis_url):
            problems.append(
                f"redis_url must look like redis://127.0.0.1:6379, got {self.redis_url!r}"
            )
        problems += self._cost_problems()
        if problems:
            raise StackError("invalid stand-in agent config: " + "; ".join(problems))

    def _cost_problems(self) -> list[str]:
        problems = []
        if not 0 < self.stream_tokens_per_s < float("inf"):
            problems.append(f"stream_tokens_per_s must be > 0, got {self.stream_tokens_per_s}")
        first_ms = self.stream_first_token_ms
        if first_ms is not None and not 0 <= first_ms < float("inf"):
            problems.append(f"stream_first_token_ms must be >= 0, got {first_ms}")
        if self.capacity_rps is not None and not 0 < self.capacity_rps < float("inf"):
            problems.append(f"capacity_rps must be > 0, got {self.capacity_rps}")
        for name in (
            "leak_bytes_per_request",
            "telemetry_cost_latency_ms",
            "telemetry_cost_cpu_us",
            "telemetry_cost_memory_bytes",
        ):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):
                problems.append(f"{name} must be >= 0, got {value}")
        return problems

    def to_args(self) -> list[str]:
        """The command-line flags of ``python -m loadtests.stack.agent`` for this config."""
        args = [
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            "--upstream-distribution",
            self.upstream_distribution,
            "--upstream-median-ms",
            repr(float(self.upstream_median_ms)),
            "--upstream-sigma",
            repr(float(self.upstream_sigma)),
            "--cache-max-entries",
            str(self.cache_max_entries),
            "--completion-tokens",
            str(self.completion_tokens),
            "--seed",
            str(self.seed),
        ]
        if not self.cache:
            args.append("--no-cache")
        args.append("--telemetry" if self.telemetry else "--no-telemetry")
        if self.otlp_endpoint is not None:
            args += ["--otlp-endpoint", self.otlp_endpoint]
        if self.redis_url is not None:
            args += ["--redis-url", self.redis_url]
        args += ["--stream-tokens-per-s", repr(float(self.stream_tokens_per_s))]
        if self.stream_first_token_ms is not None:
            args += ["--stream-first-token-ms", repr(float(self.stream_first_token_ms))]
        if self.capacity_rps is not None:
            args += ["--capacity-rps", repr(float(self.capacity_rps))]
        args += [
            "--leak-bytes-per-request",
            str(self.leak_bytes_per_request),
            "--telemetry-export" if self.telemetry_export else "--no-telemetry-export",
            "--telemetry-cost-latency-ms",
            repr(float(self.telemetry_cost_latency_ms)),
            "--telemetry-cost-cpu-us",
            repr(float(self.telemetry_cost_cpu_us)),
            "--telemetry-cost-memory-bytes",
            str(self.telemetry_cost_memory_bytes),
        ]
        return args


def build_parser() -> argparse.ArgumentParser:
    """The agent's argument parser; defaults are AgentConfig's."""
    d = AgentConfig()
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.stack.agent",
        description="Stand-in of the LLM Edge-Agent: cached chat completions over a fake upstream.",
    )
    parser.add_argument("--host", default=d.host)
    parser.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    parser.add_argument("--metrics-port", type=int, default=d.metrics_port)
    parser.add_argument("--ready-file", type=Path, help="JSON with pid, ports and URLs, once up")
    parser.add_argument(
        "--upstream-distribution", choices=DISTRIBUTIONS, default=d.upstream_distribution
    )
    parser.add_argument("--upstream-median-ms", type=float, default=d.upstream_median_ms)
    parser.add_argument("--upstream-sigma", type=float, default=d.upstream_sigma)
    parser.add_argument("--no-cache", action="store_true", help="answer every request upstream")
    parser.add_argument("--cache-max-entries", type=int, default=d.cache_max_entries)
    parser.add_argument("--completion-tokens", type=int, default=d.completion_tokens)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--telemetry",
        action=argparse.BooleanOptionalAction,
        default=d.telemetry,
        help="export spans, metrics and logs over OTLP/HTTP (needs --otlp-endpoint)",
    )
    parser.add_argument("--otlp-endpoint", help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    parser.add_argument("--redis-url", help="L2 cache, e.g. redis://127.0.0.1:6379")
    parser.add_argument(
        "--stream-tokens-per-s", type=float, default=d.stream_tokens_per_s, help="stream pace"
    )
    parser.add_argument(
        "--stream-first-token-ms",
        type=float,
        help="time to first token of a streamed miss (default: the upstream latency)",
    )
    parser.add_argument(
        "--capacity-rps", type=float, help="serve chat requests through one server of this rate"
    )
    parser.add_argument(
        "--leak-bytes-per-request",
        type=int,
        default=d.leak_bytes_per_request,
        help="bytes each chat request allocates and never frees",
    )
    parser.add_argument(
        "--telemetry-export",
        action=argparse.BooleanOptionalAction,
        default=d.telemetry_export,
        help="with --telemetry, start the SDK and export (off: only the telemetry cost applies)",
    )
    parser.add_argument(
        "--telemetry-cost-latency-ms",
        type=float,
        default=d.telemetry_cost_latency_ms,
        help="with --telemetry, ms added to every chat answer",
    )
    parser.add_argument(
        "--telemetry-cost-cpu-us",
        type=float,
        default=d.telemetry_cost_cpu_us,
        help="with --telemetry, µs of CPU spun per chat request",
    )
    parser.add_argument(
        "--telemetry-cost-memory-bytes",
        type=int,
        default=d.telemetry_cost_memory_bytes,
        help="with --telemetry, bytes allocated at start and held",
    )
    return parser


def parse_agent_args(argv: list[str] | None = None) -> tuple[AgentConfig, Path | None]:
    """Read the agent's flags into a config and the ready-file path; exits 2 on bad flags."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        config = AgentConfig(
            host=ns.host,
            port=ns.port,
            metrics_port=ns.metrics_port,
            upstream_distribution=ns.upstream_distribution,
            upstream_median_ms=ns.upstream_median_ms,
            upstream_sigma=ns.upstream_sigma,
            cache=not ns.no_cache,
            cache_max_entries=ns.cache_max_entries,
            completion_tokens=ns.completion_tokens,
            seed=ns.seed,
            telemetry=ns.telemetry,
            otlp_endpoint=ns.otlp_endpoint,
            redis_url=ns.redis_url,
            stream_tokens_per_s=ns.stream_tokens_per_s,
            stream_first_token_ms=ns.stream_first_token_ms,
            capacity_rps=ns.capacity_rps,
            leak_bytes_per_request=ns.leak_bytes_per_request,
            telemetry_export=ns.telemetry_export,
            telemetry_cost_latency_ms=ns.telemetry_cost_latency_ms,
            telemetry_cost_cpu_us=ns.telemetry_cost_cpu_us,
            telemetry_cost_memory_bytes=ns.telemetry_cost_memory_bytes,
        )
    except StackError as exc:
        parser.error(str(exc))
    return config, ns.ready_file
