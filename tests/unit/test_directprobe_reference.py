"""DirectProbe's fast merge loop vs the slow literal reference (all pairs, full LP every time)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ftgeo.analysis.directprobe import DirectProbe, directprobe_reference


@pytest.mark.parametrize("seed", range(3))
def test_fast_equals_slow_reference(seed):
    rng = np.random.default_rng(100 + seed)
    n, d, L = 40, int(rng.integers(2, 5)), int(rng.integers(2, 4))
    X = rng.normal(size=(n, d))
    y = rng.integers(0, L, size=n)
    dp = DirectProbe(progress=False, pairs="label_min").fit(X, y)
    ra, rl = directprobe_reference(X, y)
    assert dp.n_clusters_ > dp.n_labels_          # overlapping classes: more clusters than labels
    assert np.array_equal(dp.assignments_, ra)
    assert np.array_equal(dp.cluster_label_codes_, rl)


def test_fast_equals_reference_with_ties_on_a_grid():
    # integer grid: many exactly equal centroid distances, tie-breaking must agree
    g = np.array(list(itertools.product(range(5), repeat=2)), float)
    y = (np.arange(len(g)) * 7) % 3
    dp = DirectProbe(progress=False).fit(g, y)
    ra, _ = directprobe_reference(g, y)
    assert np.array_equal(dp.assignments_, ra)


def test_fast_equals_reference_higher_dim_with_duplicates():
    # d = 10 (Wolfe certificates and cached directions do the work) plus duplicated points
    # carrying different labels (trivially overlapping singletons)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(44, 10)) + np.repeat(rng.normal(scale=0.8, size=(4, 10)), 11, axis=0)
    y = np.repeat(np.arange(4), 11)
    X = np.vstack([X, X[:3]])
    y = np.r_[y, [1, 2, 3]]
    dp = DirectProbe(progress=False, pairs="label_min").fit(X, y)
    ra, rl = directprobe_reference(X, y)
    assert np.array_equal(dp.assignments_, ra)
    assert np.array_equal(dp.cluster_label_codes_, rl)
    # a duplicated point and its copy end in different clusters whose hull distance is 0
    for a, b in [(0, 44), (1, 45), (2, 46)]:
        ca, cb = dp.assignments_[a], dp.assignments_[b]
        assert ca != cb
        i, j = sorted((ca, cb))
        lab = sorted((dp.cluster_label_codes_[i], dp.cluster_label_codes_[j]))
        assert dp.label_pair_distance_[lab[0], lab[1]] == 0.0


@pytest.mark.parametrize("seed", range(2))
def test_every_certificate_path_gives_the_reference_clusters(seed, monkeypatch):
    """With the SVM tried on every pair and whole-label certificates off or on, the clusters are
    the reference's: certificates only skip LPs whose answer they prove."""
    from ftgeo.analysis import directprobe as dpmod
    rng = np.random.default_rng(300 + seed)
    X = rng.normal(size=(45, 3)) + np.repeat(rng.normal(scale=1.5, size=(3, 3)), 15, axis=0)
    y = np.repeat(np.arange(3), 15)
    y[rng.choice(45, 6, replace=False)] = rng.integers(0, 3, 6)      # some overlap
    ra, rl = directprobe_reference(X, y)
    monkeypatch.setattr(dpmod, "_SVM_MIN_POINTS", 0)
    monkeypatch.setattr(dpmod, "_QUICK_ITERS", 1)                    # Wolfe rarely certifies: the SVM does
    svm_everywhere = DirectProbe(progress=False).fit(X, y)
    assert svm_everywhere.stats_["svm_pruned"] > 0 and svm_everywhere.stats_["lp_pairs"] > 0
    monkeypatch.setattr(dpmod, "_LABEL_ITERS", 0)
    monkeypatch.setattr(dpmod._hull, "svm_direction", lambda A, B, **k: None)
    monkeypatch.setattr(dpmod, "_LABEL_LP_AFTER", 10**9)             # nor the label-pair LP after cluster LPs
    no_label_certs = DirectProbe(progress=False).fit(X, y)
    assert no_label_certs.stats_["label_pairs_certified"] == 0
    monkeypatch.setattr(dpmod, "_LABEL_LP_AFTER", 1)                 # label-pair LP after the first cluster LP
    eager_label_lp = DirectProbe(progress=False).fit(X, y)
    assert eager_label_lp.stats_["label_pair_lps"] > 0
    for dp in (svm_everywhere, no_label_certs, eager_label_lp):
        np.testing.assert_array_equal(dp.assignments_, ra)
        np.testing.assert_array_equal(dp.cluster_label_codes_, rl)
