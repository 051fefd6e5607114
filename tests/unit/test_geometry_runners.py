"""Runners of the geometry analyses on planted in-memory representations: known answers,
saved results that load back identically, figures on disk."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.similarity import cka
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import load_result
from ftgeo.run import RunDir
from ftgeo.testing import planted_reps
from ftgeo.analyses._inputs import set_names
from ftgeo.analyses.ablation import run_ablation
from ftgeo.analyses.cka import run_cka
from ftgeo.analyses.isotropy import run_isotropy
from ftgeo.analyses.projection import run_projection
from ftgeo.analyses.rogue import run_rogue
from ftgeo.analyses.threshold import run_threshold


def _reps(n=300, d=12, L=4, seed=0, rogue=(3,), signal_dim=3, model="pre"):
    return planted_reps(n, d, L, seed=seed, rogue=rogue, model=model)


def test_run_cka_bowtie_saves_and_matches_pairwise(tmp_path):
    a, b = _reps(seed=0, model="pre"), _reps(seed=0, model="ft", rogue=(3, 7))
    run = RunDir(tmp_path / "run").ensure()
    res = run_cka(a, b, run=run, device="numpy", progress=False)
    assert res.pairs == [("pre", "pre"), ("ft", "ft"), ("pre", "ft")]
    assert res.matrix("pre", "ft")[1, 2] == pytest.approx(cka(a.layer(1, np.float64), b.layer(2, np.float64)), abs=1e-10)
    np.testing.assert_allclose(np.diag(res.matrix("ft")), 1.0, atol=1e-10)
    loaded = load_result(run.result_dir("cka"))
    assert type(loaded).__name__ == "CKAResult" and loaded.meta["kernel"] == "linear"
    np.testing.assert_array_equal(loaded.matrix("ft", "pre"), res.matrix("pre", "ft").T)
    t = loaded.table("cka")
    assert len(t) == 3 * 16 and set(t.columns) >= {"layer_a", "layer_b", "cka", "set_a", "set_b"}
    assert (run.figures / "cka_heatmaps.png").is_file() and (run.figures / "cka_heatmaps.svg").is_file()
    assert loaded.meta["figures"] == ["cka_heatmaps", "cka_same_layer"]     # two sets: + the same-layer figure
    assert loaded.summary().shape[0] == 3
    # a fresh process (e.g. the report) gets the typed class back from the saved kind
    import subprocess, sys
    out = subprocess.run([sys.executable, "-c", "from ftgeo.results import load_result as l; "
                          f"print(type(l({str(run.result_dir('cka'))!r})).__name__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "CKAResult"


def test_run_cka_refuses_misaligned_sets():
    a = _reps(n=50)
    b = InMemoryRepresentations([a.layer(0)], labels=a.labels, ids=[f"x{i}" for i in range(50)])
    with pytest.raises(ValidationError, match="hold different examples"):
        run_cka(a, b)


def test_run_rogue_overlap_and_principal(tmp_path):
    a, b = _reps(seed=1, model="sst2", rogue=(3, 5)), _reps(seed=2, model="qnli", rogue=(3, 9))
    res = run_rogue(a, b, run=tmp_path, k=2, layers=[-1])
    lay = res.table("layers")
    assert set(lay.principal) <= {3, 5, 9}
    assert sorted(res.top("sst2").tolist()) == [3, 5] and sorted(res.top("qnli").tolist()) == [3, 9]
    ov = res.table("overlap")
    assert ov.overlap.tolist() == [1] and ov.shared.tolist() == ["3"]
    assert res.summary().query("set == 'sst2'").overlap.tolist() == [1]
    assert (tmp_path / "figures" / "rogue_spikes_0.png").is_file()
    assert load_result(tmp_path / "results" / "rogue").table("top").shape == res.table("top").shape


def test_run_threshold_and_ablation_with_known_head(tmp_path):
    tr, ev = _reps(n=2000, seed=3), _reps(n=4000, seed=4)
    head = lambda Z: np.stack([-Z[:, 3], Z[:, 3]], axis=1)   # noqa: E731 - the Bayes rule on dim 3
    res = run_threshold(tr, ev, run=tmp_path, head=head)
    t = res.table("threshold")
    assert t.dimension.tolist() == [3, 3]
    full = t.full_accuracy.iloc[0]
    assert full == pytest.approx(0.841, abs=0.02)                  # Phi(1)
    assert np.all(np.abs(t.eval_accuracy - full) < 0.02)
    ab = run_ablation(tr, ev, head=head, run=tmp_path, ks=[0, 1, 12], n_random=3)
    c = ab.mean_curve()
    p0 = float((ev.labels == 0).mean())
    assert c[(c["mode"] == "highest") & (c.k == 1)]["mean"].item() == pytest.approx(p0)
    assert c[(c["mode"] == "lowest") & (c.k == 1)]["mean"].item() == pytest.approx(full)
    assert ab.meta["full_accuracy"] == pytest.approx(full)
    assert (tmp_path / "figures" / "ablation_curve.svg").is_file()
    with pytest.raises(ValidationError, match="pass it with --model DIR"):
        run_ablation(tr, ev)                                        # no head, no model folder in the manifest
    noted = run_threshold(tr, ev)
    assert np.isnan(noted.table("threshold").full_accuracy).all() and "not computed" in noted.meta["notes"][0]


def test_run_projection_and_isotropy(tmp_path):
    a = _reps(n=200, seed=5)
    res = run_projection(a, run=tmp_path, method=["pca"], layers=[0, -1], max_points=100)
    c = res.table("coords")
    assert len(c) == 200 and set(c.layer) == {0, 3} and set(c.label_name) == {"neg", "pos"}
    again = run_projection(a, method="pca", layers=[0, -1], max_points=100)
    np.testing.assert_array_equal(again.table("coords")[["x", "y"]].to_numpy(), c[["x", "y"]].to_numpy())
    with pytest.warns(FutureWarning, match="'max_samples' is deprecated"):   # the old keyword, for one release
        old = run_projection(a, method="pca", layers=[0, -1], max_samples=100)
    np.testing.assert_array_equal(old.table("coords")[["x", "y"]].to_numpy(), c[["x", "y"]].to_numpy())
    iso = run_isotropy(a, run=tmp_path, n_pairs=None)
    t = iso.table("isotropy")
    assert len(t) == 4 and t.isoscore.between(0, 1).all()
    assert t.isoscore.iloc[-1] < 0.6                     # the rogue dimension makes the space anisotropic
    assert (tmp_path / "figures" / "isotropy_layers.png").is_file()
    assert set_names([a, a]) == ["pre:toy/train#0", "pre:toy/train#1"]


def test_isotropy_runner_marks_constant_layer_nan_and_keeps_going(tmp_path):
    """MiniLM's [CLS] embedding layer is the same vector for every input: IsoScore is undefined there,
    but the other layers must still be scored (and the note kept for the report)."""
    import warnings as _w

    from ftgeo.reps import InMemoryRepresentations
    from ftgeo.analyses.isotropy import run_isotropy

    rng = np.random.default_rng(0)
    const = np.tile(rng.normal(size=(1, 8)), (50, 1))
    iso = rng.normal(size=(50, 8))
    reps = InMemoryRepresentations([const, iso], labels=np.arange(50) % 2)
    with _w.catch_warnings(record=True):
        _w.simplefilter("always")
        res = run_isotropy(reps, run=None, names=["m"])
    t = res.table("isotropy")
    assert np.isnan(t.loc[t.layer == 0, "isoscore"]).all()
    assert t.loc[t.layer == 0, "avg_cosine"].iloc[0] == pytest.approx(1.0)
    assert t.loc[t.layer == 1, "isoscore"].iloc[0] > 0.3
    assert "layer 0: IsoScore undefined" in res.meta["notes"][0]
