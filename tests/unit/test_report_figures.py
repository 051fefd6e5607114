"""The figure fixes of issue 15, one test each: what a reader of the demo report saw wrong.

Each test builds the Display from a small table of the shape the analysis saves and checks the
drawn matplotlib objects (legend handles, axis labels, ticks, line positions), so it fails if the
fix is undone.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ftgeo.plot.base import _pyplot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    _pyplot().close("all")


def _legend(ax):
    leg = ax.get_legend()
    assert leg is not None, "the figure has no legend"
    return {t.get_text(): h for t, h in zip(leg.get_texts(), leg.legend_handles)}


def test_probe_legend_draws_linear_dashed_like_its_line():
    from ftgeo.analyses.probe import ProbeAccuracyDisplay
    rows = [{"set": s, "layer": l, "kind": k, "mean": 0.6 + 0.01 * l, "std": 0.01}
            for s in ("pretrained", "fine-tuned") for k in ("linear", "mlp") for l in (0, 2, 4)]
    d = ProbeAccuracyDisplay(pd.DataFrame(rows)).plot()
    handles = _legend(d.ax_)
    for s in ("pretrained", "fine-tuned"):
        assert handles[f"{s} linear"].get_linestyle() == "--"
        assert handles[f"{s} mlp"].get_linestyle() == "-"
    # the handle is long enough for the dash pattern to show past the marker
    assert d.ax_.get_legend().handlelength >= 3.5
    lines = {ln.get_label(): ln.get_linestyle() for ln in d.ax_.get_lines()}
    assert lines["pretrained linear"] == "--" and lines["pretrained mlp"] == "-"


def test_rogue_spike_grid_has_axis_labels():
    from ftgeo.analyses.rogue import RogueSpikeDisplay
    vals = {l: np.abs(np.random.default_rng(l).standard_normal(16)) for l in range(5)}
    d = RogueSpikeDisplay(vals, {l: [0, 1] for l in vals}, "pre", "var").plot()
    visible = [a for a in np.ravel(d.ax_) if a.get_visible()]
    assert len(visible) == 5
    for a in visible:
        assert a.get_xlabel() == "dimension"
        assert a.get_ylabel() == "variance"
    # a constant layer (layer 0 of [CLS] pooling) says so instead of a pile of "0 1 2" labels at zero
    vals[0] = np.zeros(16)
    d = RogueSpikeDisplay(vals, {l: [0, 1] for l in vals}, "pre", "var").plot()
    first = np.ravel(d.ax_)[0]
    assert [t.get_text() for t in first.texts] == ["constant layer:\nzero variance in\nevery dimension"]
    assert first.get_xlabel() == "dimension"


def test_variance_ratio_colours_have_a_legend():
    from ftgeo.analyses.variance import VarianceRatioDisplay
    t = pd.DataFrame({"layer": 6, "component": [1, 2, 3, 4], "ratio": [17.0, 1.4, 0.7, 0.5]})
    drop = pd.Series({"layer": 6, "first_below_one": 3, "n_above_before_drop": 2, "n_classes": 2})
    d = VarianceRatioDisplay(t, drop).plot()
    handles = _legend(d.ax_)
    above = [k for k in handles if k.startswith("ratio >= 1")]
    below = [k for k in handles if k.startswith("ratio < 1")]
    assert above and below
    import matplotlib.colors as mc
    assert mc.to_hex(handles[above[0]].get_facecolor()) == mc.to_hex("tab:orange")
    bars = d.ax_.patches[:4]
    assert mc.to_hex(bars[0].get_facecolor()) == mc.to_hex("tab:orange")      # ratio 17 drawn orange
    assert mc.to_hex(bars[2].get_facecolor()) == mc.to_hex("tab:blue")        # ratio 0.7 drawn blue


def test_neuron_histogram_names_the_threshold_line_once():
    from ftgeo.analyses.neurons import NeuronHistogramDisplay
    rng = np.random.default_rng(0)
    single = pd.DataFrame({"model": np.repeat(["pretrained", "fine-tuned"], 50), "layer": 6,
                           "dim": np.tile(np.arange(50), 2), "cv_accuracy": rng.uniform(0.5, 0.9, 100)})
    d = NeuronHistogramDisplay(single, {"pretrained|6": 0.6, "fine-tuned|6": 0.6},
                               {"pretrained|6": 0.1, "fine-tuned|6": 0.9}, 6).plot()
    names = [k for k in _legend(d.ax_) if k.startswith("threshold")]
    assert names == ["threshold: CV accuracy 0.6"]


def test_threshold_plot_of_one_layer_has_one_whole_layer_tick():
    from ftgeo.analyses.threshold import ThresholdDisplay
    t = pd.DataFrame({"layer": [6, 6], "method": ["svm", "best"], "eval_accuracy": [0.807, 0.829],
                      "full_accuracy": [0.815, 0.815]})
    d = ThresholdDisplay(t).plot()
    assert list(d.ax_.get_xticks()) == [6]
    lo, hi = d.ax_.get_xlim()
    assert hi - lo >= 2 - 1e-9                      # not a "5.7-6.3" axis
    xs = sorted(float(ln.get_xdata()[0]) for ln in d.ax_.get_lines() if ln.get_label().startswith("1-D"))
    assert xs[0] < 6 < xs[1]                        # the two methods side by side, not on one x


def test_directprobe_cluster_lines_of_equal_counts_stay_visible():
    from ftgeo.analyses.directprobe import ClusterCountDisplay
    t = pd.DataFrame({"set": np.repeat(["pretrained", "fine-tuned"], 3), "layer": [1, 2, 3] * 2,
                      "n_clusters": 2, "n_labels": 2})
    d = ClusterCountDisplay(t).plot()
    lines = {ln.get_label(): ln for ln in d.ax_.get_lines()}
    a, b = lines["pretrained clusters"], lines["fine-tuned clusters"]
    assert (a.get_linestyle(), a.get_marker()) != (b.get_linestyle(), b.get_marker())
    assert not np.allclose(a.get_xdata(), b.get_xdata())             # offset sideways
    assert np.allclose(np.round(a.get_xdata()), [1, 2, 3])           # by less than half a layer
    assert all(float(t).is_integer() for t in d.ax_.get_yticks())    # counts: whole-number ticks


def test_dynamics_similarity_is_not_drawn_when_undefined(tmp_path):
    """Two labels: spatial similarity is NaN everywhere; no empty figure, one line why (saved and in the report)."""
    from ftgeo.analyses.dynamics import DynamicsResult, SimilarityOverTrainingDisplay
    d = SimilarityOverTrainingDisplay(pd.DataFrame({"checkpoint": [0, 1], "step": [0, 10], "layer": 6,
                                                    "similarity": [np.nan, np.nan]}), n_labels=2)
    assert "fewer than 3 labels" in d.empty_reason() and "has 2" in d.empty_reason()
    ok = SimilarityOverTrainingDisplay(pd.DataFrame({"checkpoint": [0, 1], "step": [0, 10], "layer": 6,
                                                     "similarity": [1.0, 0.8]}), n_labels=4)
    assert ok.empty_reason() is None

    from ftgeo.results import save_result
    from ftgeo.run import RunDir
    md = pd.DataFrame({"checkpoint": [0, 0, 1, 1], "step": [0, 0, 10, 10], "layer": 6, "label": ["a", "b"] * 2,
                       "min_distance": [0.1, 0.1, 0.3, 0.3]})
    res = DynamicsResult(tables={
        "similarity": pd.DataFrame({"checkpoint": [0, 1], "step": [0, 10], "layer": 6, "similarity": np.nan}),
        "min_distance": md,
        "movement_pca": pd.DataFrame({"layer": [6, 6], "component": [1, 2], "explained": [0.7, 0.3],
                                      "cumulative": [0.7, 1.0]}),
        "centroid_paths": pd.DataFrame({"layer": 6, "checkpoint": [0, 0, 1, 1], "step": [0, 0, 10, 10],
                                        "label": ["a", "b"] * 2, "pc1": [0., 1, 2, 3], "pc2": [0., 1, 0, 1]}),
        "path_pca": pd.DataFrame({"layer": [6, 6], "component": [1, 2], "explained": [0.8, 0.2]}),
        "checkpoints": pd.DataFrame({"checkpoint": [0, 1], "name": ["pre", "ck"], "step": [0, 10]})},
        meta={})
    run = RunDir(tmp_path / "r").ensure()
    save_result(res, run, "dynamics")
    assert not (run.figures / "dynamics_similarity.png").exists()
    assert (run.figures / "dynamics_min_distance.png").exists()
    from ftgeo.report import write_report
    page = write_report(run).read_text()
    assert "No figure dynamics_similarity: spatial similarity is undefined with fewer than 3 labels" in page
    assert "goes from 0.1 to 0.3 over training" in page                  # its finding


def test_centroids_table_has_no_empty_column_and_a_figure(tmp_path):
    from ftgeo.analyses.centroids import CentroidMovementDisplay, CentroidResult
    res = CentroidResult(tables={
        "movement": pd.DataFrame({"layer": [0, 0, 1, 1], "label": ["a", "b"] * 2, "norm": [0.1, 0.2, 2.0, 3.0]}),
        "movement_pca": pd.DataFrame({"layer": [0, 0, 1, 1], "component": [1, 2] * 2,
                                      "explained": [0.9, 0.1, 0.6, 0.4], "cumulative": [0.9, 1, 0.6, 1]})})
    s = res.summary()
    assert s.columns.name is None and "component" not in s.to_html()
    assert list(s.columns) == ["layer", "mean_movement_norm", "pc1_explained", "pc2_explained"]
    (suffix, disp), = res.displays()
    assert isinstance(disp, CentroidMovementDisplay) and disp.empty_reason() is None
    disp.plot()
    left, right = disp.ax_
    assert len(left.get_lines()) == 2 and left.get_ylabel() and right.get_ylabel()
    assert np.allclose(right.get_lines()[0].get_ydata(), [0.9, 0.6])
    assert "move most at layer 1" in res.findings()[0][0]


def test_finetune_curves_and_best_versus_final_note():
    from ftgeo.results.finetune import FinetuneCurveDisplay, FinetuneResult
    m = pd.DataFrame([{"step": s, "epoch": s / 10, "split": "train", "metric": "loss", "value": 1 / s} for s in (5, 10, 15)]
                     + [{"step": s, "epoch": s / 10, "split": "dev", "metric": k, "value": v}
                        for s, acc in ((10, 0.822), (20, 0.815)) for k, v in (("accuracy", acc), ("loss", 0.4))])
    res = FinetuneResult(tables={"metrics": m}, meta={
        "model": "m", "task": "t", "recipe": "r", "eval_split": "dev", "global_step": 20,
        "checkpoints": [{"step": 10, "epoch": 1.0, "path": "c10", "metrics": {"eval_accuracy": 0.822}},
                        {"step": 20, "epoch": 2.0, "path": "c20", "metrics": {"eval_accuracy": 0.815}}],
        "final": {"best_checkpoint": None, "step": 20, "metrics": {"eval_accuracy": 0.815}}})
    text = " ".join(f[0] for f in res.findings())
    assert "best checkpoint was step 10 (0.822)" in text and "final model step 20 (0.815)" in text
    assert "use the model of step 20" in text
    d = FinetuneCurveDisplay.from_result(res).plot()
    left, right = d.ax_
    assert {ln.get_label() for ln in left.get_lines()} == {"train loss", "dev loss"}
    labels = [ln.get_label() for ln in right.get_lines()]
    assert "dev accuracy" in labels and any(l.startswith("best: step 10") for l in labels)


def test_cka_heatmap_names_its_undefined_cells():
    from ftgeo.analyses.cka import CKAHeatmapDisplay
    M = np.eye(3)
    M[0, :] = M[:, 0] = np.nan                      # layer 0 constant
    d = CKAHeatmapDisplay([M], ["pre x pre"], [[0, 1, 2]], [[0, 1, 2]], ["pre"], ["pre"]).plot()
    texts = [t.get_text() for t in d.figure_.texts]
    assert any(t.startswith("grey cells: CKA undefined -- a constant layer") for t in texts)
    assert d.ax_[0].get_facecolor()[:3] != (1.0, 1.0, 1.0)
    ok = CKAHeatmapDisplay([np.eye(3)], ["x"], [[0, 1, 2]], [[0, 1, 2]], ["a"], ["a"]).plot()
    assert not ok.figure_.texts
