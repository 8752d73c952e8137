"""`edgeperf compare` and `edgeperf run --baseline` at the command line: exit codes, messages."""

from pathlib import Path

import pytest

from analysis.compare.comparison import CompareRefused
from analysis.compare.outputs import REPORT_FILE
from analysis.reading.errors import RunDirError
from analysis.reading.synthetic import SyntheticRun, write_synthetic_run
from loadtests.cli import main
from loadtests.config.scenario import load_scenario
from loadtests.experiments.baseline import check_baseline, fold_exit_codes


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare-cli")
    specs = {
        "a": SyntheticRun(rows=6000, rate_rps=500.0, seed=1),
        "slow": SyntheticRun(rows=6000, rate_rps=500.0, seed=3, service_median_ms=13.0),
        "other": SyntheticRun(rows=6000, rate_rps=500.0, seed=4, name="health"),
    }
    return {key: write_synthetic_run(root / key, spec) for key, spec in specs.items()}


def test_compare_exits_1_on_worse_and_writes_its_folder(runs, tmp_path, capsys):
    assert main(["compare", str(runs["a"]), str(runs["slow"]), "--out", str(tmp_path)]) == 1
    assert "synthetic compare: WORSE" in capsys.readouterr().out
    folders = list(tmp_path.glob("compare-*-a-vs-slow"))
    assert len(folders) == 1 and (folders[0] / REPORT_FILE).exists()


def test_compare_refuses_other_scenarios_and_bad_input_in_one_sentence(runs, tmp_path, capsys):
    assert main(["compare", str(runs["a"]), str(runs["other"]), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different scenarios" in err and "Traceback" not in err
    assert main(["compare", str(runs["a"]), str(tmp_path / "missing")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    bad = ["compare", str(runs["a"]), str(runs["a"]), "--tolerance", "latency_p50_ms=x"]
    assert main(bad) == 2
    assert "not a tolerance" in capsys.readouterr().err
    assert not list(tmp_path.glob("compare-*-a-vs-other"))


def test_a_baseline_of_another_scenario_or_rate_is_refused_before_the_run(runs, tmp_path):
    health = load_scenario("scenarios/health.yaml")
    with pytest.raises(CompareRefused, match=r"different scenarios \(synthetic and health\)"):
        check_baseline(runs["a"], health)
    week1 = load_scenario("scenarios/week1-baseline.yaml", {"load.rate_rps": 200})
    with pytest.raises(CompareRefused, match="different scenarios"):
        check_baseline(runs["a"], week1)
    with pytest.raises(RunDirError, match="run directory not found"):
        check_baseline(tmp_path / "missing", week1)
    assert not list(tmp_path.iterdir())  # nothing ran


@pytest.mark.parametrize(
    ("run", "compare", "folded"),
    [(0, 0, 0), (0, 1, 1), (1, 0, 1), (0, 2, 2), (2, 1, 1), (2, 0, 2), (130, 1, 130)],
)
def test_a_baseline_comparison_folds_into_the_run_exit_code(run, compare, folded):
    assert fold_exit_codes(run, compare) == folded
