"""`edgeperf run --baseline DIR`: the new run judged, then compared with a stored baseline run.

The baseline is checked before any load (a run directory of the same scenario and load shape),
so a job that could never be compared does not spend its run. After the run, the comparison is
written beside it and folded into the exit code: a WORSE metric makes a passing run exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.compare.comparison import check_identity
from analysis.compare.judging import Tolerance
from analysis.compare.outputs import REPORT_FILE, compare_and_write, format_comparison
from analysis.contract.statuses import EXIT_CANNOT_JUDGE, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS
from analysis.reading.rundir import open_run
from loadtests.config.scenario import Scenario

if TYPE_CHECKING:
    from loadtests.experiments.run import RunOptions


def fold_exit_codes(run_code: int, compare_code: int) -> int:
    """One exit code: interrupted stays 130; a FAIL or WORSE (1) outweighs cannot judge (2)."""
    if run_code == EXIT_INTERRUPTED:
        return run_code
    codes = {run_code, compare_code}
    for code in (EXIT_FAIL, EXIT_CANNOT_JUDGE):
        if code in codes:
            return code
    return EXIT_PASS


def check_baseline(baseline: Path, scenario: Scenario) -> None:
    """Raise (exit 2) unless ``baseline`` is a run directory of this scenario and load shape."""
    check_identity(open_run(baseline), scenario.model_dump(mode="json"), "this run")


def execute_with_baseline(
    options: RunOptions, baseline: Path, tolerances: Mapping[str, Tolerance] | None = None
) -> int:
    """Check the baseline, run, compare the run with it; the folded exit code."""
    # The load engine (Locust, gevent's patching) is imported only when a run is really made.
    from loadtests.experiments.run import run_scenario

    check_baseline(baseline, options.scenario)
    outcome = run_scenario(options)
    if outcome.exit_code == EXIT_INTERRUPTED:
        return outcome.exit_code
    try:
        comparison, folder = compare_and_write(baseline, outcome.run_dir, tolerances,
                                               options.out_root)  # fmt: skip
    except ValueError as exc:  # the new run has nothing to compare: say so, keep its verdicts
        print(f"edgeperf: error: comparison with the baseline: {exc}", file=sys.stderr)
        return fold_exit_codes(outcome.exit_code, EXIT_CANNOT_JUDGE)
    print(format_comparison(comparison))
    print(f"comparison: {folder / REPORT_FILE}")
    return fold_exit_codes(outcome.exit_code, comparison.exit_code)


__all__ = ["check_baseline", "execute_with_baseline", "fold_exit_codes"]
