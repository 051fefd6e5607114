"""The report explains itself: findings first (sentences that match the tables, with their intervals,
each linking to an anchor that exists), the claims' verdicts next, every note in full, no empty
parameter lines, layer 0 of [CLS] pooling explained, old results without intervals still rendered."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ftgeo.reps import InMemoryRepresentations
from ftgeo.run import RunDir


def _sets(n=120, d=6, L=4, seed=0):
    """Two sets whose layer 0 is one constant vector (as [CLS] pooling's embedding layer)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    out = []
    for k, name in enumerate(("pretrained", "fine-tuned")):
        layers = [np.tile(np.arange(d, dtype=float), (n, 1))]
        h = rng.standard_normal((n, d))
        for _ in range(1, L):
            h = h + 0.3 * rng.standard_normal((n, d)) + k * np.outer(2 * y - 1, np.eye(d)[0])
            layers.append(h.copy())
        out.append(InMemoryRepresentations(layers, labels=y, label_names=["neg", "pos"],
                                           manifest={"model": name, "task": "toy", "split": "dev", "pooling": "cls"}))
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    import warnings

    from ftgeo.analyses import ANALYSES
    from ftgeo.report import write_report
    from ftgeo.results.base import Result
    from ftgeo.studies.claims import ClaimsResult

    run = RunDir(tmp_path_factory.mktemp("rep") / "run").ensure()
    pre, ft = _sets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = ANALYSES.get("isotropy")(pre, ft, run=run, names=["pretrained", "fine-tuned"], n_blocks=5, progress=False)
        ANALYSES.get("cka")(pre, ft, run=run, names=["pretrained", "fine-tuned"], n_blocks=5, progress=False)
    # an old result: no interval columns, a long note and an empty notes list elsewhere
    old = iso.table("isotropy")[["set", "layer", "isoscore", "avg_cosine", "n", "d"]].copy()
    long_note = ("spatial similarity is NaN with fewer than 3 labels (a correlation needs >= 2 label pairs) -- "
                 "and this sentence is well over one hundred and twenty characters long, so the old report hid it")
    type(iso)(tables={"isotropy": old}, meta={"notes": [long_note], "figures": []}).save(run.result_dir("isotropy_old"))
    Result(tables={"t": pd.DataFrame({"x": [1]})}, meta={"notes": [], "empty": {}}).save(run.result_dir("plain"))
    overall = pd.DataFrame([{"study": "gptology", "claim": "cka-drops", "statement": "CKA falls in the top layers",
                             "statistic": "same-layer CKA", "verdict": "holds", "value": 0.1, "low": 0.05,
                             "high": 0.2, "threshold": 0.5, "direction": "<", "paper": "0.3", "seeds": "1/1 hold",
                             "evidence": "CKA at layer 3 is 0.1"}])
    ClaimsResult(tables={"overall": overall}, meta={"rule": "holds: the whole interval on the claimed side"}) \
        .save(run.result_dir("claims"))
    return write_report(run).read_text(), iso, long_note


def test_findings_come_first_and_match_the_tables(page):
    text, iso, _ = page
    f0, claims, s0 = text.index("id=findings"), text.index("The papers' claims"), text.index("id='s0'")
    assert f0 < claims < s0                       # findings, then claims, then the sections
    t = iso.table("isotropy")
    r = t[(t["set"] == "fine-tuned") & (t["layer"] == 3)].iloc[0]
    from ftgeo.results.findings import row_ci
    expected = row_ci(r, "isoscore", 0.9)
    assert "[90% CI " in expected                 # the new result carries its interval ...
    findings = text[f0:claims]
    assert f"fine-tuned IsoScore {expected}" in findings
    assert "Same-layer CKA between pretrained and fine-tuned" in findings
    assert "undefined at layer 0: a constant layer" in findings


def test_old_results_without_intervals_give_bare_numbers(page):
    text, iso, _ = page
    t = iso.table("isotropy")
    r = t[(t["set"] == "fine-tuned") & (t["layer"] == 3)].iloc[0]
    from ftgeo.results.findings import num
    # ... the old copy (no *_low/*_high columns) the bare number, and the page still renders
    assert re.search(rf"fine-tuned IsoScore {re.escape(num(r['isoscore']))}, average", text)


def test_every_finding_links_to_an_anchor_on_the_page(page):
    text, _, _ = page
    findings = text[text.index("id=findings"):text.index("</section>")]
    targets = re.findall(r"href='#([^']+)'", findings)
    assert targets
    for t in targets:
        assert f"id='{t}'" in text, t


def test_every_note_in_full_and_no_empty_meta_lines(page):
    text, _, long_note = page
    import html
    assert html.escape(long_note) in text
    assert "notes: []" not in text and "empty: {}" not in text


def test_layer0_of_cls_pooling_is_explained(page):
    text, _, _ = page
    assert "at layer 0: layer 0 is the embedding layer: with [CLS] pooling" in text
    assert "holds" in text and "CKA at layer 3 is 0.1" in text          # the claims table


def test_a_broken_findings_generator_is_one_line_not_a_crash(tmp_path):
    from ftgeo.report import write_report
    from ftgeo.results.base import Result

    class _Broken(Result):
        kind = "broken_findings_test"

        def findings(self):
            raise KeyError("no such column")

    run = RunDir(tmp_path / "r").ensure()
    _Broken(tables={"t": pd.DataFrame({"x": [1]})}).save(run.result_dir("b"))
    text = write_report(run).read_text()
    assert "b: findings could not be generated (KeyError" in text


def test_with_ci_and_layer_list():
    from ftgeo.results.findings import layer_list, with_ci
    assert with_ci(0.8261, 0.81, 0.84) == "0.826 [90% CI 0.81, 0.84]"
    assert with_ci(0.8261, float("nan"), 0.84) == "0.826"
    assert with_ci(0.0043, 0.004, 0.005, percent=True) == "0.43% [90% CI 0.4%, 0.5%]"
    assert layer_list([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"


def test_an_interval_that_leaves_out_its_value_is_called_bias_corrected():
    from ftgeo.results.findings import with_ci
    assert with_ci(0.083, 0.064, 0.082) == "0.083 [90% bias-corrected CI 0.064, 0.082]"
    assert with_ci(0.07, 0.064, 0.082) == "0.07 [90% CI 0.064, 0.082]"


@pytest.mark.parametrize("model, shown", [("smollm2-135m", True), ("some/hub-model", False)])
def test_a_packaged_model_is_named_as_the_stand_in_it_is(tmp_path, model, shown):
    from ftgeo.report import write_report
    from ftgeo.results.base import Result

    run = RunDir(tmp_path / "r").ensure()
    run.config.write_text(f"model: {model}\ntask: sst2\n")
    Result(tables={"t": pd.DataFrame({"x": [1]})}).save(run.result_dir("plain"))
    text = write_report(run).read_text()
    assert ("de-quantised to float32" in text and "packaged stand-in" in text) is shown
