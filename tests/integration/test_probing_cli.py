"""`ftgeo analyze probe|directprobe|dynamics|cross-task` end to end on stores on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ftgeo.cli.main import main
from ftgeo.results import load_result
from ftgeo.testing import write_store

_OFF = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
_CENTRES = np.array([[0.0, 0, 0], [5, 0, 0], [0, 7, 0], [6, 6, 3]])
_NAMES = ["a", "b", "c", "d"]


def _store(path: Path, layers, labels, model: str, split: str, checkpoint=None):
    return write_store(path, layers, labels, model=model, split=split, label_names=_NAMES, checkpoint=checkpoint)


def _layers(scale, seed):
    rng = np.random.default_rng(seed)
    X1 = np.vstack([scale * c + _OFF for c in _CENTRES for _ in range(2)]) + 1e-3 * rng.normal(size=(48, 3))
    return [rng.normal(size=X1.shape), X1]


@pytest.fixture()
def run_folder(tmp_path):
    y = np.repeat(np.arange(4), 12)
    reps = tmp_path / "run" / "reps"
    _store(reps / "pre__train", _layers(1, 0), y, "pre", "train")
    _store(reps / "pre__dev", _layers(1, 1), y, "pre", "dev")
    _store(reps / "ft@checkpoint-50__train", _layers(1.5, 0), y, "ft", "train", "checkpoint-50")
    _store(reps / "ft@checkpoint-100__train", _layers(2.5, 0), y, "ft", "train", "checkpoint-100")
    _store(reps / "ft@checkpoint-100__dev", _layers(2.5, 1), y, "ft", "dev", "checkpoint-100")
    return tmp_path / "run"


def test_cli_probing_verbs(run_folder, capsys):
    reps = run_folder / "reps"
    pre_tr, pre_dev = str(reps / "pre__train"), str(reps / "pre__dev")
    ft_tr, ft_dev = str(reps / "ft@checkpoint-100__train"), str(reps / "ft@checkpoint-100__dev")
    grid = ["--hidden-sizes", "8", "--l2-grid", "1e-4,1e-1", "--n-seeds", "2", "--max-epochs", "150",
            "--learning-rate", "0.02"]
    old_grid = ["--hidden-sizes", "8", "--l2", "1e-4,1e-1", "--seeds", "2", "--max-epochs", "150", "--lr", "0.02"]

    assert main(["analyze", "probe", "--train-reps", pre_tr, ft_tr, "--eval-reps", pre_dev, ft_dev,
                 "--kinds", "linear", "--layers", "last", "--names", "pre,ft", "--max-train-points", "40",
                 *grid]) == 0
    best = load_result(run_folder / "results" / "probe").table("best")
    assert best["set"].tolist() == ["pre", "ft"] and (best["mean"] == 1.0).all()
    assert best["n_train"].tolist() == [40, 40]
    assert (run_folder / "figures" / "probe_accuracy.png").is_file()
    assert "probe: wrote" in capsys.readouterr().out

    assert main(["analyze", "directprobe", "--train-reps", pre_tr, ft_tr, "--eval-reps", pre_dev, ft_dev,
                 "--max-points", "all"]) == 0
    lay = load_result(run_folder / "results" / "directprobe").table("layers")
    assert lay[lay.layer == 1]["n_clusters"].tolist() == [4, 4]
    assert lay[lay.layer == 1]["eval_accuracy"].tolist() == [1.0, 1.0]

    assert main(["analyze", "dynamics", "--from-run", str(run_folder), "--model", "ft", "--pretrained", "pre",
                 "--split", "train"]) == 0
    dyn = load_result(run_folder / "results" / "dynamics")
    assert dyn.meta["steps"] == [0, 50, 100]
    md = dyn.table("min_distance")
    g = md[md.layer == 1].pivot(index="checkpoint", columns="label", values="min_distance")
    assert (np.diff(g.to_numpy(), axis=0) > 0).all()           # the planted run pushes every label away
    assert (run_folder / "figures" / "dynamics_centroid_paths.svg").is_file()

    assert main(["analyze", "dynamics", "--reps", pre_tr, ft_tr, "--steps", "0,7", "--name", "dyn2",
                 "--layers", "1"]) == 0
    assert load_result(run_folder / "results" / "dyn2").meta["steps"] == [0, 7]

    assert main(["analyze", "cross-task", "--pretrained-reps", pre_tr, "--finetuned-reps", ft_tr,
                 "--pretrained-eval", pre_dev, "--finetuned-eval", ft_dev, "--layers", "1", *grid]) == 0
    ct = load_result(run_folder / "results" / "cross_task")
    assert ct.table("layer_summary")["n_grew"].tolist() == [4]  # scaling 2.5x grows every label's distance
    assert set(ct.table("probe")["set"]) == {"pretrained", "finetuned"}

    # the old spellings of the probe flags still work, each with one deprecation line
    capsys.readouterr()
    assert main(["analyze", "cross-task", "--pretrained-reps", pre_tr, "--finetuned-reps", ft_tr,
                 "--pretrained-eval", pre_dev, "--finetuned-eval", ft_dev, "--layers", "1", "--name", "ct_old",
                 *old_grid]) == 0
    err = capsys.readouterr().err
    for old, new in (("--l2", "--l2-grid"), ("--seeds", "--n-seeds"), ("--lr", "--learning-rate")):
        assert f"{old} is deprecated and will be removed; use {new}" in err
    old_ct = load_result(run_folder / "results" / "ct_old")
    assert old_ct.table("probe")["mean"].tolist() == ct.table("probe")["mean"].tolist()
    assert old_ct.meta["params"]["n_seeds"] == 2 and old_ct.meta["params"]["learning_rate"] == 0.02


def test_cli_dynamics_argument_errors(run_folder, capsys):
    assert main(["analyze", "dynamics", "--from-run", str(run_folder)]) != 0
    assert "--model" in capsys.readouterr().err


def test_cli_centroids_verb(run_folder, capsys):
    reps = run_folder / "reps"
    assert main(["analyze", "centroids", "--before", str(reps / "pre__dev"), "--after",
                 str(reps / "ft@checkpoint-100__dev"), "--layers", "1", "--center"]) == 0
    res = load_result(run_folder / "results" / "centroids")
    assert res.kind == "centroids" and res.meta["params"] == {"layers": 1, "center": True}
    assert sorted(res.table("movement")["label"]) == _NAMES and set(res.table("movement")["layer"]) == {1}
    assert res.meta["figures"] == ["centroids_movement"]      # issue 15: centroids has a figure now
    assert "centroids: wrote" in capsys.readouterr().out
