"""`ftgeo analyze cka|rogue|threshold|ablation|projection|isotropy` end to end on stores on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ftgeo.cli.main import main
from ftgeo.results import load_result
from ftgeo.testing import write_store


def _store(path: Path, layers: list[np.ndarray], labels: np.ndarray, model: str, split: str = "validation"):
    return write_store(path, layers, labels, model=model, split=split, label_names=["neg", "pos"])


@pytest.fixture()
def stores(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 240, 10
    y = rng.integers(0, 2, n)
    base = rng.standard_normal((n, d))
    pre = [base + 0.3 * l * rng.standard_normal((n, d)) for l in range(3)]
    ft = [p.copy() for p in pre]
    for X in ft[1:]:
        X[:, 4] = 6.0 * ((2 * y - 1) + rng.standard_normal(n))
    reps = tmp_path / "run" / "reps"
    return (_store(reps / "pre__toy", pre, y, "pre"), _store(reps / "ft__toy", ft, y, "ft"),
            _store(reps / "ft__toy_train", ft, y, "ft", split="train"))


def test_cli_geometry_verbs(stores, capsys):
    pre, ft, ft_train = map(str, stores)
    run = Path(pre).parent.parent
    assert main(["analyze", "cka", "--reps", pre, ft, "--device", "numpy"]) == 0
    res = load_result(run / "results" / "cka")
    from ftgeo.analysis.similarity import cka
    from ftgeo.extract import open_reps
    a, b = open_reps(pre), open_reps(ft)
    assert res.matrix("pre", "ft")[2, 1] == pytest.approx(cka(a.layer(2), b.layer(1)), abs=1e-9)
    assert (run / "figures" / "cka_heatmaps.png").is_file()
    assert "cka: wrote" in capsys.readouterr().out

    assert main(["analyze", "rogue", "--reps", pre, ft, "--k", "1", "--layers", "last"]) == 0
    assert load_result(run / "results" / "rogue").top("ft").tolist() == [4]

    assert main(["analyze", "threshold", "--train-reps", ft_train, "--eval-reps", ft, "--full-accuracy", "0.9"]) == 0
    t = load_result(run / "results" / "threshold").table("threshold")
    assert t.dimension.tolist() == [4, 4] and (t.full_accuracy == 0.9).all() and (t.eval_accuracy > 0.75).all()

    assert main(["analyze", "isotropy", "--reps", pre, ft, "--n-pairs", "0"]) == 0
    assert len(load_result(run / "results" / "isotropy").table("isotropy")) == 6

    assert main(["analyze", "projection", "--reps", ft, "--method", "pca", "--layers", "0,2",
                 "--max-points", "100", "--name", "proj_pca"]) == 0
    assert (run / "figures" / "proj_pca_pca.png").is_file()

    # the old spellings still work for one release, with one deprecation line each
    capsys.readouterr()
    assert main(["analyze", "projection", "--reps", ft, "--method", "pca", "--layers", "0,2",
                 "--max-samples", "100", "--name", "proj_old", "--no-figures"]) == 0
    assert "--max-samples is deprecated" in capsys.readouterr().err
    assert len(load_result(run / "results" / "proj_old").table("coords")) == 200
    assert main(["analyze", "threshold", "--train-reps", ft_train, "--eval-reps", ft, "--full-accuracy", "0.9",
                 "--method", "both", "--name", "threshold_old", "--no-figures"]) == 0
    assert "--method is deprecated" in capsys.readouterr().err
    assert load_result(run / "results" / "threshold_old").table("threshold").method.tolist() == ["svm", "best"]

    # the ablation needs the fine-tuned head: no model folder in these manifests -> a clear error, exit 2
    assert main(["analyze", "ablation", "--train-reps", ft_train, "--eval-reps", ft]) == 2
    assert "pass it with --model DIR" in capsys.readouterr().err
