"""`ftgeo analyze compression|variance|neurons` end to end on stores on disk (written like `ftgeo extract`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ftgeo.cli.main import main
from ftgeo.results import load_result
from ftgeo.testing import write_store

pytest.importorskip("sklearn")


def _store(path: Path, layers: list[np.ndarray], labels: np.ndarray, model: str, split: str):
    return write_store(path, layers, labels, model=model, split=split, label_names=["a", "b", "c"])


def _layers(n, signal, seed, d=10):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, d))
    X[:, 6] += signal * np.array([-1.0, 0.0, 1.0])[y]
    X[:, 2] += 0.6 * signal * np.array([1.0, -1.0, 0.0])[y]
    return [rng.standard_normal((n, d)), X], y


@pytest.fixture()
def stores(tmp_path):
    reps = tmp_path / "run" / "reps"
    out = {}
    for model, signal in [("pre", 0.2), ("ft", 2.5)]:
        for split, seed, n in [("train", 1, 300), ("validation", 2, 150)]:
            L, y = _layers(n, signal, seed + (10 if model == "ft" else 0))
            out[f"{model}_{split}"] = str(_store(reps / f"{model}__{split}", L, y, model, split))
    return out


def test_cli_redundancy_verbs(stores, capsys):
    s = stores
    run = Path(s["pre_train"]).parent.parent
    assert main(["analyze", "neurons", "--train-reps", s["pre_train"], s["ft_train"],
                 "--eval-reps", s["pre_validation"], s["ft_validation"], "--n-select", "3"]) == 0
    res = load_result(run / "results" / "neurons")
    sel = res.selection
    assert sel[sel.model == "finetuned"].dim.tolist()[:2] == [6, 2]
    assert (run / "figures" / "neurons_hist_layer1.png").is_file()
    assert main(["analyze", "variance", "--train-reps", s["pre_train"], s["ft_train"]]) == 0
    assert load_result(run / "results" / "variance").summary().first_below_one.iloc[0] == 3
    assert main(["analyze", "compression", "--train-reps", s["pre_train"], "--eval-reps", s["pre_validation"],
                 "--general-reps", s["ft_validation"], "--ks", "1,2,10", "--n-random", "2", "--max-general", "0"]) == 0
    comp = load_result(run / "results" / "compression")
    assert comp.meta["max_general"] is None                      # --max-general 0: every general sentence
    cur = comp.curve
    assert set(cur.source) == {"in_domain", "general", "random"} and sorted(set(cur.k)) == [1, 2, 10]
    out = capsys.readouterr().out
    assert "neurons: wrote" in out and "compression: wrote" in out
