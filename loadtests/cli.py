"""The `edgeperf` command: parse, validate, call. Exits 0 pass, 1 fail, 2 cannot judge, 130."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from loadtests.cliargs import build_parser, overrides, paired_overrides
from loadtests.engine.address import MasterAddress
from loadtests.errors import (
    EXIT_CANNOT_JUDGE,
    EXIT_INTERRUPTED,
    HarnessError,
    Interrupted,
    ScenarioError,
)


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

    scenario = load_scenario(args.scenario, overrides(args))
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
        **paired_overrides(args, "overhead"),
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
        **paired_overrides(args, "gateway"),
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
    args = build_parser().parse_args(argv)
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
