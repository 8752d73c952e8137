"""AgentConfig: the stand-in's settings, validated once, and their command-line form."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from loadtests.errors import StackError
from loadtests.stack.upstream import DISTRIBUTIONS, Distribution

__all__ = ["AgentConfig", "build_parser", "parse_agent_args"]


@dataclass(frozen=True)
class AgentConfig:
    """How the stand-in listens, how slow its simulated upstream is and whether it caches.

    Ports of 0 mean "pick a free port"; latencies are in milliseconds.
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
        if problems:
            raise StackError("invalid stand-in agent config: " + "; ".join(problems))

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
        )
    except StackError as exc:
        parser.error(str(exc))
    return config, ns.ready_file
