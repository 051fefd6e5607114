"""Runners of the probing analyses: results + figures in a run folder that load back unchanged."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import load_result
from ftgeo.analyses.centroids import run_centroids
from ftgeo.analyses.cross_task import CrossTaskResult, run_cross_task
from ftgeo.analyses.directprobe import DirectProbeLayersResult, run_directprobe
from ftgeo.analyses.dynamics import DynamicsResult, run_dynamics
from ftgeo.analyses.probe import ProbeResult, run_probe
from ftgeo.run import RunDir

PROBE = dict(hidden_sizes=(8,), l2_grid=(1e-4, 1e-1), n_seeds=2, max_epochs=150, learning_rate=2e-2, progress=False)
_OFF = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
_CENTRES = np.array([[0.0, 0, 0], [5, 0, 0], [0, 7, 0], [6, 6, 3]])


def _set(scale: float, name: str, checkpoint=None, seed=0, reps=2):
    """Layer 0: labels overlap (noise); layer 1: tight clusters at scale x the planted centres."""
    rng = np.random.default_rng(seed)
    X1 = np.vstack([scale * c + _OFF for c in _CENTRES for _ in range(reps)])
    X1 = X1 + 1e-3 * rng.normal(size=X1.shape)
    y = np.repeat(np.arange(len(_CENTRES)), len(_OFF) * reps)
    X0 = rng.normal(size=X1.shape)
    return InMemoryRepresentations([X0, X1], y, ["a", "b", "c", "d"],
                                   manifest={"model": name, "checkpoint": checkpoint, "task": "toy"})


def _same_tables(a, b):
    assert sorted(a.tables) == sorted(b.tables)
    for k in a.tables:
        pd.testing.assert_frame_equal(a.tables[k].reset_index(drop=True), b.tables[k].reset_index(drop=True),
                                      check_dtype=False)


def test_run_probe_saves_and_loads(tmp_path):
    run = RunDir(tmp_path).ensure()
    res = run_probe([_set(1, "pre"), _set(2, "ft")], [_set(1, "pre", seed=1), _set(2, "ft", seed=1)], run=run,
                    kinds=("linear",), **PROBE)
    best = res.best(kind="linear").set_index(["set", "layer"])
    assert best.loc[("pre", 1), "mean"] == 1.0 and best.loc[("ft", 1), "mean"] == 1.0   # separable clusters
    back = load_result(run.result_dir("probe"))
    assert isinstance(back, ProbeResult)
    _same_tables(res, back)
    assert back.sets == ["pre", "ft"]
    assert (run.figures / "probe_accuracy.png").is_file() and (run.figures / "probe_accuracy.svg").is_file()
    assert back.meta["figures"] == ["probe_accuracy"]


def test_run_probe_pairs_sets(tmp_path):
    with pytest.raises(ValidationError, match="as many eval sets as train sets"):
        run_probe([_set(1, "a"), _set(1, "b")], [_set(1, "a")], **PROBE)


def test_run_directprobe_layers_and_similarity(tmp_path):
    run = RunDir(tmp_path).ensure()
    pre, ft = _set(1, "pre"), _set(3, "ft")
    res = run_directprobe([pre, ft], [_set(1, "pre", seed=1), _set(3, "ft", seed=1)], run=run, progress=False)
    lay = res.table("layers").set_index(["set", "layer"])
    assert lay.loc[("pre", 1), "n_clusters"] == 4 and lay.loc[("ft", 1), "n_clusters"] == 4   # one per label
    assert lay.loc[("pre", 1), "eval_accuracy"] == 1.0
    assert lay.loc[("pre", 1), "train_eval_similarity"] == pytest.approx(1.0, abs=1e-3)
    sim = res.table("set_similarity").set_index("layer")
    # scaling the centres scales every label-pair distance by ~3 (minus the fixed cluster width): r close to 1
    assert sim.loc[1, "similarity"] > 0.99
    back = load_result(run.result_dir("directprobe"))
    assert isinstance(back, DirectProbeLayersResult)
    _same_tables(res, back)
    assert (run.figures / "directprobe_clusters.png").is_file()


def test_run_directprobe_train_eval_similarity_on_the_labels_both_splits_have():
    """An eval split missing a rare label still gets a train/test divergence, over the shared labels."""
    ev = _set(1, "pre", seed=1)
    keep = np.asarray(ev.labels) != 3
    ev_missing = InMemoryRepresentations([ev.layer(0)[keep], ev.layer(1)[keep]], np.asarray(ev.labels)[keep],
                                         ["a", "b", "c", "d"])
    lay = run_directprobe(_set(1, "pre"), ev_missing, layers=[1], progress=False).table("layers").iloc[0]
    assert lay["n_common_labels"] == 3
    assert lay["train_eval_similarity"] == pytest.approx(1.0, abs=1e-3)


def test_run_directprobe_subsample_is_stratified():
    res = run_directprobe(_set(1, "pre", reps=4), max_points=24, layers=[1], progress=False, figures=False)
    assert res.table("layers")["n_points"].tolist() == [24]
    assert res.table("layers")["n_clusters"].tolist() == [4]


def test_run_dynamics_saves_paths_and_trajectories(tmp_path):
    run = RunDir(tmp_path).ensure()
    sets = [_set(1, "m"), _set(1.5, "m-ft", "checkpoint-100"), _set(2.5, "m-ft", "checkpoint-200")]
    res = run_dynamics(sets, run=run, progress=False)
    assert res.meta["steps"] == [0, 100, 200]
    md = res.table("min_distance")
    for lab, g in md[md.layer == 1].groupby("label"):
        assert (np.diff(g.sort_values("checkpoint")["min_distance"].to_numpy()) > 0).all(), lab
    sim = res.table("similarity")
    assert sim[(sim.checkpoint == 0)]["similarity"].tolist() == pytest.approx([1.0, 1.0])
    assert len(res.table("centroid_paths")) == 2 * 3 * 4
    back = load_result(run.result_dir("dynamics"))
    assert isinstance(back, DynamicsResult)
    _same_tables(res, back)
    for stem in ("dynamics_min_distance", "dynamics_centroid_paths", "dynamics_similarity"):
        assert (run.figures / f"{stem}.png").is_file() and (run.figures / f"{stem}.svg").is_file()
    assert set(back.summary().columns) >= {"layer", "similarity_last", "movement_pc1"}


def test_run_dynamics_needs_aligned_sets():
    a = _set(1, "m")
    b = InMemoryRepresentations(a.arrays, a.labels, a.label_names, ids=[f"x{i}" for i in range(a.labels.size)])
    with pytest.raises(ValidationError, match="different examples"):
        run_dynamics([a, b], progress=False)


def test_run_centroids_planted_translation():
    a = _set(1, "pre")
    shift = np.array([3.0, 0, 0])
    b = InMemoryRepresentations([x + shift for x in a.arrays], a.labels, a.label_names)
    res = run_centroids(a, b)
    mv = res.table("movement")
    np.testing.assert_allclose(mv["norm"], 3.0, atol=1e-9)
    pc = res.table("movement_pca")
    np.testing.assert_allclose(pc[pc.component == 1]["explained"], 1.0, atol=1e-12)


def test_run_cross_task_counts_and_probe(tmp_path):
    run = RunDir(tmp_path).ensure()
    pre = _set(1, "pre")
    X1 = pre.arrays[1].copy()
    X1[pre.labels == 3] += [14.0, 14.0, 7.0]       # label d moves far away from the others; a-c stay put
    ft_arrays = [pre.arrays[0], X1]
    ft = InMemoryRepresentations(ft_arrays, pre.labels, pre.label_names, manifest={"model": "ft"})
    res = run_cross_task(pre, ft, pretrained_eval=pre, finetuned_eval=ft, run=run, layers=[0, 1],
                         **PROBE)
    change = res.table("label_change")
    assert (change.loc[change["layer"] == 0, "direction"] == "same").all()   # layer 0 was not touched
    ch = change[change["layer"] == 1].set_index("label")
    assert ch.loc["d", "direction"] == "grew"
    assert ch.loc["a", "direction"] == "same" and ch.loc["b", "direction"] == "same"
    s = res.table("layer_summary").set_index("layer").loc[1]
    assert s["n_grew"] + s["n_same"] + s["n_shrank"] == 4 and s["n_shrank"] == 0
    assert set(res.table("probe")["set"]) == {"pretrained", "finetuned"}
    back = load_result(run.result_dir("cross_task"))
    assert isinstance(back, CrossTaskResult)
    _same_tables(res, back)
    assert "acc_pretrained_linear" in back.summary().columns
    assert (run.figures / "cross_task_change.png").is_file() and (run.figures / "cross_task_layers.png").is_file()


def test_cross_task_layers_display_draws_the_counts():
    from ftgeo.analyses.cross_task import CrossTaskLayersDisplay
    summary = pd.DataFrame({"layer": [2, 0, 1], "n_grew": [5, 0, 2], "n_shrank": [1, 3, 4],
                            "mean_change": [0.5, -0.2, 0.0]})
    d = CrossTaskLayersDisplay(summary).plot()
    heights = [p.get_height() for p in d.ax_.patches]
    assert heights == [0, 2, 5, 3, 4, 1]            # grew bars, then shrank bars, in layer order
    with pytest.raises(ValidationError, match="mean_change"):
        CrossTaskLayersDisplay(summary.drop(columns="mean_change"))


def _fake_store(folder, **manifest):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


