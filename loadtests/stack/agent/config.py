"""AgentConfig: the stand-in's settings, validated once, and their command-line form."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loadtests.errors import StackError
from loadtests.stack.agent.costs import TelemetryCost
from loadtests.stack.agent.upstream import DISTRIBUTIONS, Distribution
from loadtests.stack.settings import (
    Check,
    above,
    at_least,
    in_range,
    one_of,
    parse_process_args,
    problems,
    process_parser,
    setting,
    to_argv,
)

__all__ = ["HTTP_SERVERS", "AgentConfig", "HttpServer", "build_parser", "parse_agent_args"]

_OTLP_URL_RE = re.compile(r"https?://[^\s/]+/?")
_REDIS_URL_RE = re.compile(r"redis://[^\s/]+(/\d+)?")


_PORT = in_range(0, 65535)
HTTP_SERVERS = ("lean", "uvicorn")
HttpServer = Literal["lean", "uvicorn"]


def _url(pattern: re.Pattern[str], example: str) -> Check:
    return lambda v: None if pattern.fullmatch(v) else f"must be a base URL like {example}"


@dataclass(frozen=True)
class AgentConfig:
    """How the stand-in listens, how slow its simulated upstream is, how it caches and exports.

    Ports of 0 mean "pick a free port"; latencies are in milliseconds. ``telemetry`` on exports
    spans, metrics and logs over OTLP/HTTP to ``otlp_endpoint`` (a base URL) unless
    ``telemetry_export`` is off, and charges the ``telemetry_cost_*`` either way; ``redis_url``
    adds a Redis L2 cache behind the in-memory L1. Streams send ``stream_tokens_per_s`` tokens a
    second after a first token at the upstream latency (``stream_first_token_ms`` when set).
    ``capacity_rps`` queues chat requests behind one server of that rate; each chat request
    leaks ``leak_bytes_per_request``. The direct listener (``direct_port``) serves the simulated
    upstream alone; ``gateway_cost_ms`` is added to every chat answer of the gateway only.

    Each setting is declared once, here: its flag (``--upstream-median-ms``), help and check;
    the command line is derived from these declarations (loadtests/stack/settings.py).
    """

    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(0, "0 picks a free port", check=_PORT)
    metrics_port: int = setting(0, "port of /metrics; 0 picks a free port", check=_PORT)
    direct_port: int = setting(
        0,
        "port of the direct listener (the simulated upstream, no gateway); 0 picks a free port",
        check=_PORT,
    )
    upstream_distribution: Distribution = setting(
        "lognormal", "latency distribution of the simulated upstream", check=one_of(*DISTRIBUTIONS)
    )
    upstream_median_ms: float = setting(3.0, "median upstream latency", check=at_least(0))
    upstream_sigma: float = setting(0.4, "spread of a lognormal upstream", check=at_least(0))
    cache: bool = setting(True, "answer repeated prompts from the L1 cache")
    cache_max_entries: int = setting(
        10_000, "L1 cache size (entries of about 1 kB)", check=at_least(1)
    )
    completion_tokens: int = setting(
        32, "tokens of each completion (at most the request's max_tokens)", check=at_least(1)
    )
    honour_max_tokens: bool = setting(
        False, "a completion has exactly the request's max_tokens tokens when it gives one"
    )
    seed: int = setting(1, "seed of the upstream latency draws")
    telemetry: bool = setting(
        False, "export spans, metrics and logs over OTLP/HTTP (needs --otlp-endpoint)"
    )
    otlp_endpoint: str | None = setting(
        None,
        "OTLP/HTTP base URL, e.g. http://127.0.0.1:4318",
        check=_url(_OTLP_URL_RE, "http://127.0.0.1:4318"),
    )
    redis_url: str | None = setting(
        None,
        "L2 cache, e.g. redis://127.0.0.1:6379",
        check=_url(_REDIS_URL_RE, "redis://127.0.0.1:6379"),
    )
    stream_tokens_per_s: float = setting(50.0, "stream pace", check=above(0))
    stream_first_token_ms: float | None = setting(
        None,
        "time to first token of a streamed miss (default: the upstream latency)",
        check=at_least(0),
    )
    capacity_rps: float | None = setting(
        None, "serve chat requests through one server of this rate", check=above(0)
    )
    leak_bytes_per_request: int = setting(
        0, "bytes each chat request allocates and never frees", check=at_least(0)
    )
    telemetry_export: bool = setting(
        True, "with --telemetry, start the SDK and export (off: only the telemetry cost applies)"
    )
    telemetry_cost_latency_ms: float = setting(
        0.0, "with --telemetry, ms added to every chat answer", check=at_least(0)
    )
    telemetry_cost_cpu_us: float = setting(
        0.0, "with --telemetry, µs of CPU spun per chat request", check=at_least(0)
    )
    telemetry_cost_memory_bytes: int = setting(
        0, "with --telemetry, bytes allocated at start and held", check=at_least(0)
    )
    gateway_cost_ms: float = setting(
        0.0,
        "ms added to every chat answer of the gateway (not the direct listener)",
        check=at_least(0),
    )
    http_server: HttpServer = setting(
        "lean",
        "HTTP server: lean (loadtests/stack/http/server.py) or uvicorn (httptools, needs uvicorn)",
        check=one_of(*HTTP_SERVERS),
    )

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
        found = problems(self)
        if self.telemetry and self.telemetry_export and self.otlp_endpoint is None:
            found.append(
                "telemetry needs otlp_endpoint, e.g. http://127.0.0.1:4318 "
                "(or telemetry_export off)"
            )
        if found:
            raise StackError("invalid stand-in agent config: " + "; ".join(found))

    def to_args(self) -> list[str]:
        """The command-line flags of ``python -m loadtests.stack.agent`` for this config."""
        return to_argv(self)


def build_parser() -> argparse.ArgumentParser:
    """The agent's argument parser: one flag per AgentConfig field, defaults AgentConfig's."""
    return process_parser(
        AgentConfig,
        "python -m loadtests.stack.agent",
        "Stand-in of the LLM Edge-Agent: cached chat completions over a fake upstream.",
    )


def parse_agent_args(argv: list[str] | None = None) -> tuple[AgentConfig, Path | None]:
    """Read the agent's flags into a config and the ready-file path; exits 2 on bad flags."""
    return parse_process_args(AgentConfig, build_parser(), argv)
