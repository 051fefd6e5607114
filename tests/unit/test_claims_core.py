"""The verdict rule of the claims: holds / does not hold / inconclusive from an interval and a threshold,
unanimity over seeds, and missing results reported as 'not run'."""
from __future__ import annotations

import math

import pytest

from ftgeo.studies.claims import Claim, Measurement, RunResults, combine, decide


@pytest.mark.parametrize("value, low, high, thr, d, want", [
    (0.95, 0.92, 0.97, 0.9, ">", "holds"),
    (0.80, 0.75, 0.85, 0.9, ">", "does not hold"),
    (0.91, 0.88, 0.94, 0.9, ">", "inconclusive"),
    (0.10, 0.05, 0.15, 0.5, "<", "holds"),
    (0.60, 0.55, 0.70, 0.5, "<", "does not hold"),
    (0.50, 0.45, 0.55, 0.5, "<", "inconclusive"),
    (0.95, math.nan, math.nan, 0.9, ">", "holds"),           # no interval: the point decides
    (0.90, 0.90, 0.95, 0.9, ">", "inconclusive"),           # touching the threshold is not above it
    (math.nan, math.nan, math.nan, 0.9, ">", "inconclusive"),
])
def test_decide(value, low, high, thr, d, want):
    assert decide(value, low, high, thr, d) == want


def test_combine_over_seeds():
    def v(word):
        return type("V", (), {"verdict": word})()
    assert combine([v("holds"), v("holds")]) == "holds"
    assert combine([v("does not hold")] * 3) == "does not hold"
    assert combine([v("holds"), v("does not hold")]) == "inconclusive"
    assert combine([v("not run"), v("holds")]) == "holds"
    assert combine([v("not run")]) == "not run"


def test_a_claim_on_missing_results_is_not_run(tmp_path):
    def needs_cka(results):
        results.get("cka")
        return Measurement(1.0)
    c = Claim("x", "gptology", "s", "stat", 0.5, ">", "", needs_cka)
    verdict = c.check(RunResults(tmp_path))
    assert verdict.verdict == "not run" and "no result 'cka'" in verdict.evidence
    ok = Claim("y", "gptology", "s", "stat", 0.5, ">", "", lambda r: Measurement(0.7, 0.6, 0.8, "0.7 [0.6, 0.8]"))
    assert ok.check(RunResults(tmp_path)).verdict == "holds"


def test_combine_runs_keeps_a_cross_run_claim_once():
    """A claim checked across runs (e.g. cross-task) is 'not run' in each single run: the combined table keeps its
    'across' row and drops those, and keeps every other row as it was."""
    import pandas as pd

    from ftgeo.studies.claims import ClaimsResult, combine_runs

    def res(rows):
        return ClaimsResult(tables={"overall": pd.DataFrame(rows, columns=["claim", "verdict", "value"])}, meta={})
    a = res([("x", "holds", 1.0), ("cross", "not run", float("nan")), ("y", "not run", float("nan"))])
    b = res([("x", "inconclusive", 0.5), ("cross", "not run", float("nan"))])
    across = res([("cross", "holds", 2.0), ("other", "not run", float("nan"))])
    t = combine_runs({"a": a, "b": b}, across).table("overall")
    assert list(zip(t["run"], t["claim"], t["verdict"])) == [
        ("a", "x", "holds"), ("a", "y", "not run"), ("b", "x", "inconclusive"), ("across", "cross", "holds")]
