"""The report's interactive figures without a browser (issue 15): the data each figure carries match the
saved result, old results without sentences still render, large projections are subsampled (and say so),
plotly.js goes into the page once, and without plotly the report is its PNGs plus one line."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from ftgeo.analyses.cka import CKAResult
from ftgeo.analyses.projection import ProjectionResult, run_projection
from ftgeo.errors import ValidationError
from ftgeo.report import interactive, write_report
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import save_result

needs_plotly = pytest.mark.skipif(not interactive.available(), reason="plotly is not installed (ftgeo[report])")


def _coords(n: int, layers=(1, 2), text: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for layer in layers:
        for i in range(n):
            r = {"layer": layer, "method": "pca", "index": i, "id": f"e{i}", "label": i % 2,
                 "label_name": ["neg", "pos"][i % 2], "x": rng.normal(), "y": rng.normal()}
            if text:
                r["text"] = f"sentence {i}"
            rows.append(r)
    return pd.DataFrame(rows)


def _payload(block: str) -> dict:
    m = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', block, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_old_projection_without_texts_still_renders():
    """A projection saved before the text / prediction columns and meta["set"] existed: hover falls back
    to the id, and the figure says the sentences and predictions were not saved."""
    res = ProjectionResult(tables={"coords": _coords(40)}, meta={"methods": ["pca"], "layers": [1, 2]})
    d = interactive.projection_data(res)
    assert d["points"]["text"] is None and d["points"]["pred"] is None and d["set"] is None
    assert any("sentences were not saved" in n for n in d["notes"])
    assert any("correctness is off" in n for n in d["notes"])
    assert d["shown"] == d["n"] == 40 and d["layers"] == [1, 2]


def test_projection_points_line_up_with_the_table_and_are_subsampled_above_the_limit():
    c = _coords(interactive.MAX_POINTS + 500, layers=(3,), text=True)
    d = interactive.projection_data(ProjectionResult(tables={"coords": c}, meta={"methods": ["pca"]}))
    assert d["n"] == interactive.MAX_POINTS + 500 and d["shown"] == interactive.MAX_POINTS
    assert any(f"showing {interactive.MAX_POINTS} of {interactive.MAX_POINTS + 500}" in n for n in d["notes"])
    x, y = d["coords"]["pca"]["3"]
    by_id = c.set_index("id")
    for k in (0, 17, len(x) - 1):                               # each point keeps its own id, text and place
        ex = d["points"]["id"][k]
        assert d["points"]["text"][k] == by_id.loc[ex, "text"]
        assert x[k] == pytest.approx(by_id.loc[ex, "x"], abs=1e-4) and y[k] == pytest.approx(by_id.loc[ex, "y"], abs=1e-4)
        assert d["points"]["label"][k] == by_id.loc[ex, "label"]


def test_run_projection_saves_texts_predictions_and_set_name():
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    reps = InMemoryRepresentations([rng.normal(size=(30, 5)) for _ in range(2)], labels=y,
                                   label_names=["a", "b", "c"], ids=[f"s{i}:0" for i in range(30)],
                                   manifest={"model": "m", "checkpoint": "checkpoint-5"})
    texts = {f"s{i}": f"text <{i}>" for i in range(30)}           # word-level rows "s1:0" take their sentence's text
    res = run_projection(reps, method=["pca"], texts=texts, predictions=list((y + 1) % 3), progress=False)
    c = res.table("coords")
    assert (c["text"] == [f"text <{r.split(':')[0][1:]}>" for r in c["id"]]).all()
    assert (c["prediction"] == (c["label"] + 1) % 3).all()
    assert (c["prediction_name"] == [["a", "b", "c"][p] for p in c["prediction"]]).all()
    assert res.meta["set"] == "m@checkpoint-5"
    assert run_projection(reps, method=["pca"], set_name="fine-tuned", progress=False).meta["set"] == "fine-tuned"
    plain = run_projection(reps, method=["pca"], progress=False).table("coords")
    assert "text" not in plain.columns and "prediction" not in plain.columns
    with pytest.raises(ValidationError, match="one value per row"):
        run_projection(reps, method=["pca"], texts=["x"] * 29, progress=False)
    # the hover text is escaped: a sentence's "<" is text, not markup
    d = interactive.projection_data(res)
    assert all("&lt;" in t and "<" not in t.replace("<br>", "") for t in d["points"]["text"])


def test_cka_data_matches_the_matrix_and_names_undefined_cells():
    M = np.array([[1.0, 0.5, 0.2], [np.nan, 0.9, 0.3]])
    res = CKAResult.from_matrices({("pre", "ft"): M}, {"pre": [0, 1], "ft": [0, 1, 2]})
    d = interactive.cka_data(res)
    (p,) = d["pairs"]
    assert (p["a"], p["b"], p["la"], p["lb"]) == ("pre", "ft", [0, 1], [0, 1, 2])
    assert p["z"] == [[1.0, 0.5, 0.2], [None, 0.9, 0.3]]
    assert "undefined" in p["text"][1][0] and "CKA 0.300" in p["text"][1][2] and "pre layer 1" in p["text"][1][2]


def test_cka_saved_before_intervals_still_renders():
    t = pd.DataFrame({"pair": "a x a", "set_a": "a", "set_b": "a", "layer_a": [0, 0, 1, 1], "layer_b": [0, 1, 0, 1],
                      "cka": [np.nan, np.nan, np.nan, 1.0]})
    (p,) = interactive.cka_data(CKAResult(tables={"cka": t}, meta={}))["pairs"]
    assert p["z"] == [[None, None], [None, 1.0]] and p["text"][1][1].endswith("CKA 1.000")


def test_a_result_the_figure_cannot_read_gets_one_line():
    res = ProjectionResult(tables={"coords": pd.DataFrame({"layer": [1]})}, meta={})
    out = interactive.block(None, "broken", res) if interactive.available() else ""
    assert out == "" or out.startswith("<p class=meta>No interactive figure for broken")
    from ftgeo.results.base import Result
    assert interactive.block(None, "x", Result()) == ""                         # a kind without a figure


@needs_plotly
def test_report_inlines_plotly_once_and_carries_each_figure(tmp_path):
    for k, name in enumerate(["proj_a", "proj_b"]):
        save_result(ProjectionResult(tables={"coords": _coords(20, text=True, seed=k)},
                                     meta={"methods": ["pca"], "set": name}), tmp_path, name, figures=False)
    page = write_report(tmp_path).read_text()
    assert len(re.findall(r"plotly\.js v\d", page)) == 1 and page.count("window.ftgeoReport") == 1
    assert page.count('class="ftgeo-ix"') == 2 and interactive.MISSING_NOTE not in page
    blocks = re.findall(r'<script type="application/json" id="ix-(proj_[ab])-data">', page)
    assert blocks == ["proj_a", "proj_b"]
    d = _payload(page[page.index('id="ix-proj_b-data"') - 40:])
    assert d["set"] == "proj_b" and d["points"]["text"][3] == "sentence 3"


def test_without_plotly_the_report_says_how_to_get_interactive_figures(tmp_path, monkeypatch):
    save_result(ProjectionResult(tables={"coords": _coords(20)}, meta={"methods": ["pca"]}), tmp_path, "p",
                figures=False)
    save_result(ProjectionResult(tables={"coords": _coords(20)}, meta={"methods": ["pca"]}), tmp_path, "q",
                figures=False)
    monkeypatch.setattr(interactive, "available", lambda: False)
    page = write_report(tmp_path).read_text()
    assert page.count(interactive.MISSING_NOTE) == 1                 # one line per report, not per figure
    assert "ftgeo-ix" not in page and "Plotly" not in page and "<!--ftgeo" not in page
    assert len(page) < 100_000


def test_a_report_with_no_interactive_kind_gets_no_bundle(tmp_path):
    from ftgeo.results.base import Result
    save_result(Result(tables={"t": pd.DataFrame({"a": [1]})}), tmp_path, "plain", figures=False)
    page = write_report(tmp_path).read_text()
    assert "Plotly" not in page and interactive.MISSING_NOTE not in page
