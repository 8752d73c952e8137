"""The `edgeperf` command line: its parser, and the scenario overrides its flags make."""

from __future__ import annotations

import argparse
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeperf", description="Performance harness for the LLM Edge-Agent."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario and judge it")
    run.add_argument("scenario", type=Path, help="scenario YAML file (see scenarios/)")
    run.add_argument("--host", help="target base URL; default: the embedded stand-in stack")
    run.add_argument("--prometheus", help="Prometheus URL for server-side series")
    run.add_argument(
        "--rate", type=float, help="override load.rate_rps (req/s); of a trace: its mean rate"
    )
    run.add_argument("--duration", help="override load.duration, the steady part (e.g. 20s)")
    run.add_argument("--ramp", help="override load.ramp (e.g. 5s)")
    run.add_argument("--workers", type=int, help="local Locust worker processes (0: in-process)")
    run.add_argument(
        "--placement",
        help="override load.placement: auto (own cores for the generator and the embedded "
        "stack), off, or GEN:STACK CPU lists such as 1:0",
    )
    _add_tls_options(run)
    run.add_argument("--out", type=Path, default=Path("reports"), help="where run folders go")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument(
        "--baseline",
        type=Path,
        help="compare the run with this run directory afterwards; WORSE makes the exit code 1",
    )
    _add_master_options(run)
    overhead = sub.add_parser(
        "overhead", help="interleaved baseline/treatment runs judged on the scenario's budgets"
    )
    overhead.add_argument("scenario", type=Path, help="scenario YAML with an overhead: section")
    overhead.add_argument("--host", help="target base URL; default: the embedded stand-in stack")
    overhead.add_argument("--prometheus", help="Prometheus URL for server-side series")
    _add_paired_options(overhead, "overhead")
    overhead.add_argument(
        "--calibrate",
        action="store_true",
        help="A/A calibration: baseline against itself; exit 0 when the MDE resolves every budget",
    )
    _add_gateway_parser(sub)
    _add_capacity_parser(sub)
    analyze = sub.add_parser("analyze", help="re-analyse a run directory and rewrite its report")
    analyze.add_argument("run_dir", type=Path)
    _add_stack_parser(sub)
    _add_worker_parser(sub)
    _add_compare_parser(sub)
    return parser


def _add_compare_parser(sub: argparse._SubParsersAction) -> None:
    compare = sub.add_parser(
        "compare", help="two runs of one scenario side by side: BETTER, SAME, WORSE per metric"
    )
    compare.add_argument("run_a", type=Path, help="the baseline run directory (A)")
    compare.add_argument("run_b", type=Path, help="the run directory judged against it (B)")
    compare.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="override a metric's tolerance: 10%% (of A), 2 (in its unit) or 10%%,2; repeatable",
    )
    compare.add_argument(
        "--out", type=Path, default=Path("reports"), help="where the compare folder goes"
    )


def _add_master_options(run: argparse.ArgumentParser) -> None:
    """Workers on other machines, on Locust's own master/worker mode (Locust's option names)."""
    run.add_argument(
        "--master-bind",
        metavar="HOST:PORT",
        help="listen for Locust workers here (0.0.0.0:5557 for every interface)",
    )
    run.add_argument(
        "--expect-workers",
        type=int,
        default=0,
        metavar="N",
        help="wait for N workers (`edgeperf worker --master HOST:PORT`) to join, then start",
    )
    run.add_argument(
        "--expect-workers-max-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="exit 2 (no load sent) if they have not all joined by then (default 60)",
    )


def _add_tls_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca-file", help="override target.ca_file: PEM CA bundle to verify an https:// host with"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="set target.insecure: do not verify an https:// host's certificate",
    )


def _add_paired_options(parser: argparse.ArgumentParser, section: str) -> None:
    """What the paired experiments (overhead, gateway) share: load overrides, pairs, TLS, output."""
    parser.set_defaults(workers=None)  # no --workers: the scenario's load.workers applies
    parser.add_argument("--rate", type=float, help="override load.rate_rps (req/s)")
    parser.add_argument("--duration", help="override load.duration of every run (e.g. 20s)")
    parser.add_argument("--ramp", help="override load.ramp, the warm-up of every run")
    parser.add_argument("--pairs", type=int, help=f"override {section}.pairs")
    parser.add_argument(
        "--allow-inconclusive", action="store_true", help="INCONCLUSIVE budgets do not fail"
    )
    parser.add_argument(
        "--placement", help="override load.placement of every run: auto, off or GEN:STACK"
    )
    _add_tls_options(parser)
    parser.add_argument("--out", type=Path, default=Path("reports"))


def _add_gateway_parser(sub: argparse._SubParsersAction) -> None:
    gateway = sub.add_parser(
        "gateway", help="what the gateway adds: interleaved runs direct to the upstream and via it"
    )
    gateway.add_argument(
        "scenario", type=Path, help="scenario YAML (its gateway: section optional)"
    )
    gateway.add_argument("--direct", metavar="URL", help="the upstream, called directly")
    gateway.add_argument("--gateway", metavar="URL", help="the gateway in front of that upstream")
    gateway.add_argument("--prometheus", help="Prometheus URL for the gateway's memory and CPU")
    _add_paired_options(gateway, "gateway")
    gateway.set_defaults(host=None)  # the two URLs are the arms' hosts


def _add_capacity_parser(sub: argparse._SubParsersAction) -> None:
    capacity = sub.add_parser(
        "capacity", help="search the highest request rate at which the scenario's targets hold"
    )
    capacity.add_argument("scenario", type=Path, help="scenario YAML (load.rate_rps: the start)")
    capacity.add_argument("--host", help="target base URL; default: the embedded stand-in stack")
    capacity.add_argument("--prometheus", help="Prometheus URL for server-side series")
    capacity.add_argument("--start-rate", type=float, help="first rate (default load.rate_rps)")
    capacity.add_argument("--min-rate", type=float, help="lowest rate to try (default start/64)")
    capacity.add_argument("--max-rate", type=float, help="highest rate to try (default start×64)")
    capacity.add_argument(
        "--precision", type=float, default=0.05, help="stop when fail − pass ≤ this × pass"
    )
    capacity.add_argument("--time-budget", default="10m", help="stop before this (e.g. 10m)")
    capacity.add_argument(
        "--probe-duration", help="judged part of each probe (default load.duration, e.g. 10s)"
    )
    capacity.add_argument("--ramp", help="unjudged warm-up of each probe (default load.ramp)")
    capacity.add_argument(
        "--goodput-floor", type=float, metavar="PERCENT", help="also require goodput ≥ PERCENT"
    )
    capacity.add_argument(
        "--require", type=float, metavar="RATE", help="exit 1 when the capacity is below RATE"
    )
    capacity.add_argument("--out", type=Path, default=Path("reports"))


def _add_worker_parser(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser(
        "worker", help="a Locust worker that joins `edgeperf run --master-bind` from any machine"
    )
    worker.add_argument("--master", required=True, metavar="HOST:PORT", help="the master")


def _add_stack_parser(sub: argparse._SubParsersAction) -> None:
    stack = sub.add_parser("stack", help="run the embedded stack on its own in the background")
    actions = stack.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start agent, OTLP receiver and Prometheus, detached")
    up.add_argument(
        "--scenario",
        type=Path,
        default=Path("scenarios/week1-baseline.yaml"),
        help="take the stand_in settings from this scenario",
    )
    up.add_argument(
        "--telemetry",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="agent exports OTLP (default: the scenario's stand_in.telemetry)",
    )
    up.add_argument("--redis", action="store_true", help="also start redis-server as L2 cache")
    down = actions.add_parser("down", help="stop the stack and remove its state file")
    status = actions.add_parser("status", help="each process up or down; exit 0 when all up")
    for action in (up, down, status):
        action.add_argument(
            "--state-dir", type=Path, default=Path(".stack"), help="where state.json lives"
        )


def overrides(args: argparse.Namespace) -> dict[str, object]:
    return {
        "target.host": args.host,
        "target.prometheus": args.prometheus,
        "load.rate_rps": args.rate,
        "load.duration": args.duration,
        "load.ramp": args.ramp,
        "load.workers": args.workers,
        "load.placement": getattr(args, "placement", None),
        "target.ca_file": getattr(args, "ca_file", None),
        "target.insecure": True if getattr(args, "insecure", False) else None,
    }


def paired_overrides(args: argparse.Namespace, section: str) -> dict[str, object]:
    """The scenario overrides of a paired experiment's command line (``section``: its budgets)."""
    return {
        **overrides(args),
        f"{section}.pairs": args.pairs,
        f"{section}.allow_inconclusive": True if args.allow_inconclusive else None,
    }


__all__ = ["build_parser", "overrides", "paired_overrides"]
