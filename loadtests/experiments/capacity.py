"""`edgeperf capacity`: the highest request rate at which a scenario's targets hold, searched.

Each probe is an ordinary run (``run_scenario``) at one fixed rate, load.ramp then load.duration
(``--probe-duration``), in one capacity folder; the search (``analysis.capacity.search``) picks
the rates and the probes are judged by ``analysis.capacity.probe``. Each probe starts its own
embedded stack, without Prometheus unless a target needs it: a stack kept up across probes would
carry the queue an over-capacity probe left behind into the next one (and its warm cache), so the
next probe would be judged on its predecessor's backlog; a fresh stand-in costs about 1 s.
"""

from __future__ import annotations

import sys
import time

from analysis.capacity.document import CapacityDoc, from_search
from analysis.capacity.folder import REPORT_FILE, read_probe, write_capacity
from analysis.capacity.report import format_capacity
from analysis.capacity.search import StopSearch, Trial, search
from loadtests.config.capacity import CapacityOptions, capacity_targets, probe_scenario
from loadtests.errors import EXIT_INTERRUPTED, HarnessError, Interrupted
from loadtests.experiments.run import RunOptions, run_scenario
from loadtests.recording.metadata import create_experiment

SERVER_SIDE_METRICS = ("otlp_export_success",)  # need the embedded Prometheus


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def execute_capacity(options: CapacityOptions) -> int:
    """Search, write the capacity folder, print the result; the exit code of ``CapacityDoc``."""
    scenario, settings = options.scenario, options.settings
    targets, left_out = capacity_targets(options)
    probe_scenario(scenario, settings.start_rps, targets)  # a bad setting fails before any load
    folder = create_experiment(options.out_root, f"{scenario.name}-capacity", "capacity")
    with_prometheus = any(m in targets for m in SERVER_SIDE_METRICS)
    began = time.monotonic()
    count = [0]

    def probe(rate_rps: float) -> Trial:
        if count[0]:
            time.sleep(options.settle_s)
        count[0] += 1
        elapsed = time.monotonic() - began
        _say(
            f"edgeperf capacity: probe {count[0]} at {rate_rps:g} req/s "
            f"(elapsed {elapsed:.0f} s of {settings.time_budget_s:.0f} s)"
        )
        run = RunOptions(
            scenario=probe_scenario(scenario, rate_rps, targets),
            out_root=folder,
            quiet=True,
            quiet_summary=True,
            with_prometheus=with_prometheus,
        )
        try:
            outcome = run_scenario(run)
        except Interrupted:  # Ctrl-C while its stack started: nothing of this probe ran
            raise StopSearch from None
        except HarnessError as exc:  # the probes so far are kept; the search cannot go on
            _say(f"edgeperf capacity: the probe at {rate_rps:g} req/s could not run: {exc}")
            raise StopSearch(f"the probe at {rate_rps:g} req/s could not run: {exc}") from None
        if outcome.exit_code == EXIT_INTERRUPTED:
            raise StopSearch
        trial = read_probe(outcome.run_dir, targets)
        why = f": {'; '.join(trial.reasons)}" if trial.reasons else ""
        _say(f"edgeperf capacity:   {trial.status} (margin {trial.margin:+.0%}){why}")
        return trial

    result = search(settings, probe)
    doc = from_search(
        scenario.name,
        result,
        required_rps=options.required_rps,
        interrupted=result.stopped == "interrupted",
        broken=result.stopped.startswith("the probe at "),
        settings=_settings_record(options),
        targets=dict(scenario.targets),
        left_out=left_out,
        elapsed_s=time.monotonic() - began,
    )
    write_capacity(folder, doc)
    print(format_capacity(CapacityDoc.read(folder)))
    print(f"report: {folder / REPORT_FILE}")
    return doc.exit_code


def _settings_record(options: CapacityOptions) -> dict[str, object]:
    s, load = options.settings, options.scenario.load
    return {
        "start_rps": s.start_rps,
        "min_rps": s.min_rps,
        "max_rps": s.max_rps,
        "precision": s.precision,
        "time_budget_s": s.time_budget_s,
        "probe_s": load.ramp + load.duration,
        "close_margin": s.close_margin,
        "max_trials": s.max_trials,
        "goodput_floor_percent": options.goodput_floor_percent,
    }


__all__ = ["execute_capacity"]
