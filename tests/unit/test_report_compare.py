"""``ftgeo compare``: the same results of two runs side by side (tables joined on layer with a column per
run, one figure per measure with a line per run, the findings that differ marked, the config difference)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from ftgeo.run import RunDir
from ftgeo.testing.reps import planted_reps


def _run(root, seed):
    from ftgeo.analyses import ANALYSES
    run = RunDir(root).ensure()
    run.config.write_text(f"model: toy\nseed: {seed}\ntask: toy\n")
    pre = planted_reps(n=80, d=6, n_layers=3, seed=seed, model="pre")
    ft = planted_reps(n=80, d=6, n_layers=3, seed=seed + 10, model="ft", scale=20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = ANALYSES.get("isotropy")(pre, ft, run=run, names=["pretrained", "fine-tuned"], intervals=False)
    return run, iso


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    from ftgeo.report import compare_runs
    base = tmp_path_factory.mktemp("cmp")
    (a, iso_a), (b, iso_b) = _run(base / "s0", 0), _run(base / "s1", 1)
    out = compare_runs([a.root, b.root], out=base / "compare.html")
    return out.read_text(), iso_a, iso_b


def test_tables_are_joined_on_layer_with_a_column_per_run(compared):
    page, iso_a, iso_b = compared
    assert "<th>isoscore [s0]</th>" in page and "<th>isoscore [s1]</th>" in page
    from ftgeo.report.compare import joined_table
    t, keys, vals = joined_table([iso_a.summary(), iso_b.summary()], ["s0", "s1"])
    assert keys == ["set", "layer"] and "isoscore" in vals
    a, b = iso_a.summary(), iso_b.summary()
    row = t[(t["set"] == "fine-tuned") & (t["layer"] == 2)].iloc[0]
    assert row["isoscore [s0]"] == pytest.approx(a[(a["set"] == "fine-tuned") & (a["layer"] == 2)]["isoscore"].iloc[0])
    assert row["isoscore [s1]"] == pytest.approx(b[(b["set"] == "fine-tuned") & (b["layer"] == 2)]["isoscore"].iloc[0])


def test_one_figure_per_measure_and_the_differences(compared):
    page, _, _ = compared
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert "isotropy: isoscore, one line per run" in captions and "isotropy: avg_cosine, one line per run" in captions
    assert page.count("data:image/png;base64,") == len(captions) == 2
    assert "What differs between the runs" in page and "<td>seed</td><td>0</td><td>1</td>" in page
    assert "Findings, run by run" in page and "<b>differs</b>" in page       # the seeds give other numbers
    assert "http://" not in page and "https://" not in page


def test_compare_cli_and_bad_input(tmp_path, capsys):
    from ftgeo.cli.main import main
    a, _ = _run(tmp_path / "a", 0)
    b, _ = _run(tmp_path / "b", 1)
    assert main(["compare", str(a.root), str(b.root), "--out", str(tmp_path / "c.html"), "--names", "x,y"]) == 0
    assert "<th>isoscore [x]</th>" in (tmp_path / "c.html").read_text()
    assert main(["compare", str(a.root)]) == 2
    assert "at least two run folders" in capsys.readouterr().err
