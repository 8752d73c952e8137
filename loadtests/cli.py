"""The `edgeperf` command: parse, validate, call. Exits 0 pass, 1 fail, 2 cannot judge, 130."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from loadtests.engine.address import MasterAddress
from loadtests.errors import (
    EXIT_CANNOT_JUDGE,
    EXIT_INTERRUPTED,
    HarnessError,
    Interrupted,
    ScenarioError,
)


def _parser() -> argparse.ArgumentParser:
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


def _overrides(args: argparse.Namespace) -> dict[str, object]:
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


def _paired_overrides(args: argparse.Namespace, section: str) -> dict[str, object]:
    """The scenario overrides of a paired experiment's command line (``section``: its budgets)."""
    return {
        **_overrides(args),
        f"{section}.pairs": args.pairs,
        f"{section}.allow_inconclusive": True if args.allow_inconclusive else None,
    }


def _run(args: argparse.Namespace) -> int:
    # Locust's gevent must patch the standard library before anything opens sockets or ssl.
    import gevent
    from gevent import monkey

    monkey.patch_all()
    # A Ctrl-C that lands in gevent's hub is still raised here, but the hub would first print
    # it as a bare "KeyboardInterrupt" and a timestamp; main() says what was interrupted.
    hub = gevent.get_hub()
    hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)
    from loadtests.config.scenario import load_scenario
    from loadtests.experiments.run import RunOptions, execute

    scenario = load_scenario(args.scenario, _overrides(args))
    options = RunOptions(
        scenario=scenario,
        out_root=args.out,
        quiet=args.quiet,
        master_bind=MasterAddress.parse(args.master_bind) if args.master_bind else None,
        expect_workers=args.expect_workers,
        expect_workers_max_wait_s=args.expect_workers_max_wait,
    )
    if args.baseline is not None:
        from loadtests.experiments.baseline import execute_with_baseline

        return execute_with_baseline(options, args.baseline)
    return execute(options)


def _worker(args: argparse.Namespace) -> int:
    """Become ``locust -f loadtests/locustfile.py --worker``: Locust's own worker, our plan."""
    master = MasterAddress.parse(args.master, "--master")
    spec = importlib.util.find_spec("loadtests.locustfile")
    assert spec is not None and spec.origin is not None
    cmd = [
        *(sys.executable, "-m", "locust", "-f", spec.origin, "--worker"),
        *("--master-host", master.host, "--master-port", str(master.port)),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, cmd)
    return 0  # not reached


def _overhead(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()
    from loadtests.config.scenario import load_scenario
    from loadtests.experiments.overhead import execute_overhead

    overrides = {
        **_paired_overrides(args, "overhead"),
        "overhead.calibrate": True if args.calibrate else None,
    }
    scenario = load_scenario(args.scenario, overrides)
    if scenario.overhead is None:
        raise ScenarioError(f"{args.scenario}: field 'overhead': missing; it sets the budgets")
    return execute_overhead(scenario, args.out, scenario.overhead)


def _gateway(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()
    from loadtests.config.gateway import GatewaySpec, gateway_experiment
    from loadtests.config.scenario import load_scenario
    from loadtests.experiments.overhead import execute_overhead

    overrides = {
        **_paired_overrides(args, "gateway"),
        "gateway.direct": args.direct,
        "gateway.gateway": args.gateway,
    }
    scenario = load_scenario(args.scenario, overrides)
    if scenario.target.host is not None:
        raise ScenarioError(
            f"{args.scenario}: field 'target.host': a gateway experiment sends the load to two "
            "URLs; give them as --direct and --gateway (or gateway.direct and gateway.gateway)"
        )
    spec = gateway_experiment(scenario.gateway or GatewaySpec())
    return execute_overhead(scenario, args.out, spec)


def _capacity(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()
    from loadtests.config.capacity import CapacityOptions, search_settings
    from loadtests.config.scenario import load_scenario
    from loadtests.experiments.capacity import execute_capacity

    overrides = {
        "target.host": args.host,
        "target.prometheus": args.prometheus,
        "load.duration": args.probe_duration,
        "load.ramp": args.ramp,
    }
    scenario = load_scenario(args.scenario, overrides)
    settings = search_settings(
        scenario,
        start_rps=args.start_rate,
        min_rps=args.min_rate,
        max_rps=args.max_rate,
        precision=args.precision,
        time_budget=args.time_budget,
    )
    options = CapacityOptions(
        scenario, args.out, settings, args.require, args.goodput_floor, source=str(args.scenario)
    )
    return execute_capacity(options)


def _stack(args: argparse.Namespace) -> int:
    from loadtests.stack.launchers import control

    if args.action == "up":
        state = control.stack_up(
            args.scenario, args.state_dir, telemetry=args.telemetry, redis=args.redis
        )
        print(control.format_state(state, args.state_dir))
        return 0
    if args.action == "status":
        statuses = control.stack_status(args.state_dir)
        print(control.format_status(statuses))
        return 0 if statuses and all(alive for _, alive in statuses) else 1
    stopped = control.stack_down(args.state_dir)
    print(f"edgeperf: stopped {len(stopped)} process(es)" if stopped else "edgeperf: no stack")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from analysis.api import analyze_run, format_verdict_table, write_outputs
    from analysis.overhead.experiment import PLAN_FILE, analyze_experiment, write_experiment

    if (args.run_dir / PLAN_FILE).exists():  # an overhead experiment folder
        result = analyze_experiment(args.run_dir)
        write_experiment(args.run_dir, result)
        print(result.table)
        print(f"report: {args.run_dir / 'overhead.html'}")
        return result.exit_code

    if (args.run_dir / "capacity.json").exists():  # a capacity folder: its pages again
        from analysis.capacity.document import CapacityDoc
        from analysis.capacity.folder import REPORT_FILE, render_capacity
        from analysis.capacity.report import format_capacity

        render_capacity(args.run_dir)
        doc = CapacityDoc.read(args.run_dir)
        print(format_capacity(doc))
        print(f"report: {args.run_dir / REPORT_FILE}")
        return doc.exit_code

    analysis = analyze_run(args.run_dir)
    write_outputs(args.run_dir, analysis)
    print(format_verdict_table(analysis.result))
    print(f"report: {args.run_dir / 'index.html'}")
    return analysis.exit_code


def _compare(args: argparse.Namespace) -> int:
    from analysis.compare.comparison import parse_tolerances
    from analysis.compare.outputs import REPORT_FILE, compare_and_write, format_comparison

    tolerances = parse_tolerances(args.tolerance)
    comparison, folder = compare_and_write(args.run_a, args.run_b, tolerances, args.out)
    print(format_comparison(comparison))
    print(f"report: {folder / REPORT_FILE}")
    return comparison.exit_code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "stack":
            return _stack(args)
        if args.command == "overhead":
            return _overhead(args)
        if args.command == "gateway":
            return _gateway(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "capacity":
            return _capacity(args)
        return _analyze(args)
    except Interrupted as exc:  # Ctrl-C before the load: says when, and that nothing ran
        print(f"edgeperf: {exc}", file=sys.stderr)
        return exc.exit_code
    except HarnessError as exc:
        print(f"edgeperf: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # the analysis' RunDirError and other input errors
        print(f"edgeperf: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_JUDGE
    except KeyboardInterrupt:
        print("edgeperf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
