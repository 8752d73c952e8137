"""Outage detection on samples with a known down-time."""

import pandas as pd

from analysis.measuring.outages import find_outages

ORIGIN = 1_000_000_000_000


def _samples(errors: list[str], gap_us: int = 10_000) -> pd.DataFrame:
    intended = [ORIGIN + i * gap_us for i in range(len(errors))]
    return pd.DataFrame({"intended_us": intended, "error": errors})


def test_a_known_outage_is_found_with_its_times_and_classes():
    errors = [""] * 100 + ["connection refused"] * 240 + ["connection reset"] * 10 + [""] * 50
    outages = find_outages(_samples(errors).sample(frac=1, random_state=1), ORIGIN)
    assert len(outages) == 1
    outage = outages[0]
    assert outage.start_s == 1.0 and outage.end_s == 3.49
    assert outage.requests == 250
    assert outage.errors_by_class == {"connection refused": 240, "connection reset": 10}
    assert outage.recovered_s == 3.5
    assert "1.00 s to 3.49 s" in outage.describe() and "3.50 s" in outage.describe()


def test_scattered_errors_are_not_an_outage():
    errors = (["HTTP 503"] + [""] * 4) * 100
    assert find_outages(_samples(errors), ORIGIN) == []


def test_outage_until_the_end_has_no_recovery():
    outages = find_outages(_samples([""] * 5 + ["timeout"] * 20), ORIGIN)
    assert outages[0].recovered_s is None
    assert "not recovered" in outages[0].describe()


def test_empty_and_clean_runs():
    assert find_outages(_samples([]), ORIGIN) == []
    assert find_outages(_samples([""] * 50), ORIGIN) == []
