"""Known answers for rogue dimensions, the principal-dimension threshold and dimension ablation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import norm

from ftgeo.analysis.ablation import ablation_curve, default_ks
from ftgeo.analysis.rogue import RogueDimensions, cosine_contributions, rogue_overlap, top_k_dimensions
from ftgeo.analysis.threshold import PrincipalDimensionClassifier, best_threshold, threshold_predict
from ftgeo.errors import ValidationError


def _planted(n=3000, d=32, dims=(17, 3, 25), scales=(30.0, 12.0, 6.0), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 0.5
    for j, s in zip(dims, scales):
        X[:, j] = s * rng.standard_normal(n) + 2 * s
    return X


def test_planted_rogue_dimensions_found_exactly():
    rd = RogueDimensions(k=3).fit(_planted())
    assert rd.top_.tolist() == [17, 3, 25] and rd.principal_ == 17
    assert rd.var_share_[17] > 0.8 and rd.var_share_.sum() == pytest.approx(1.0)
    by_cos = RogueDimensions(k=3, rank_by="cosine").fit(_planted())
    assert by_cos.top_.tolist() == [17, 3, 25]
    assert by_cos.cos_share_[[17, 3, 25]].sum() > 0.9


def test_cosine_contributions_equal_brute_force_over_pairs():
    X = _planted(n=40, d=6, dims=(2,), scales=(5.0,))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    pairs = [(a, b) for a, b in itertools.permutations(range(40), 2)]
    C = np.mean([U[a] * U[b] for a, b in pairs], axis=0)
    np.testing.assert_allclose(cosine_contributions(X), C, atol=1e-12)
    assert cosine_contributions(X).sum() == pytest.approx(np.mean([U[a] @ U[b] for a, b in pairs]))


def test_overlap_and_topk_ties():
    assert top_k_dimensions([1, 5, 5, 0], 2).tolist() == [1, 2]
    assert rogue_overlap([1, 2, 3, 4], [4, 3, 9, 8]) == 2
    with pytest.raises(ValidationError, match="k must be between 1 and the number of dimensions"):
        top_k_dimensions([1.0, 2.0], 3)


# ---------------------------------------------------------------- threshold
def _signal(n, seed, mu=1.0, d=8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, d))
    X[:, 5] = 10.0 * ((2 * y - 1) * mu + rng.standard_normal(n))   # principal dim, Bayes rate Phi(mu)
    return X, y


@pytest.mark.parametrize("method", ["svm", "best"])
def test_threshold_reaches_planted_bayes_rate(method):
    Xtr, ytr = _signal(4000, 0)
    Xev, yev = _signal(20000, 1)
    clf = PrincipalDimensionClassifier(method=method).fit(Xtr, ytr)
    assert clf.dimension_ == 5 and clf.polarity_ == 1
    assert abs(clf.threshold_) < 4.0                  # Bayes threshold is 0 (raw units; 0.4 sd)
    assert clf.score(Xev, yev) == pytest.approx(norm.cdf(1.0), abs=0.012)


def test_best_threshold_exact_vs_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 8, 60).astype(float)      # many ties
        y = (x + rng.normal(0, 2, 60) > 4).astype(int)
        thr, pol, acc = best_threshold(x, y)
        cands = np.r_[x.min() - 1, (np.unique(x)[:-1] + np.unique(x)[1:]) / 2, x.max() + 1]
        brute = max(((threshold_predict(x, t, p, [0, 1]) == y).mean() for t in cands for p in (1, -1)))
        assert acc == pytest.approx(brute)
        assert (threshold_predict(x, thr, pol, [0, 1]) == y).mean() == pytest.approx(acc)


def test_threshold_refuses_multiclass():
    X = np.random.default_rng(0).standard_normal((30, 3))
    with pytest.raises(ValidationError, match="has 3 classes .* is binary. Select two classes, or relabel one-vs-rest"):
        PrincipalDimensionClassifier().fit(X, np.arange(30) % 3)


# ---------------------------------------------------------------- ablation
def test_ablation_with_known_linear_head_gives_analytic_accuracies():
    rng = np.random.default_rng(0)
    n, d = 400, 6
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, d))
    X[:, 0] = 3.0 * (2 * y - 1)                      # the signal sits on the highest-variance dimension
    head = lambda Z: np.stack([-Z[:, 0], Z[:, 0]], axis=1)   # noqa: E731
    var = X.var(axis=0)
    p0 = float((y == 0).mean())                      # zeroed signal -> logits tie -> class 0
    df = ablation_curve(X, y, head, var, ks=[0, 1, 3, 6], n_random=4, random_state=1)
    acc = lambda m, k: df[(df["mode"] == m) & (df.k == k)].accuracy.tolist()  # noqa: E731
    assert acc("highest", 0) == [1.0] and acc("highest", 1) == [p0] and acc("highest", 3) == [p0]
    assert acc("lowest", 1) == [1.0] and acc("lowest", 3) == [1.0] and acc("lowest", 6) == [p0]
    rnd = df[df["mode"] == "random"]
    assert len(rnd) == 4 * 4
    for _, r in rnd.iterrows():
        dims = [int(v) for v in str(r.dims).split()] if r.k else []
        assert r.accuracy == (p0 if 0 in dims else 1.0)
    again = ablation_curve(X, y, head, var, ks=[0, 1, 3, 6], n_random=4, random_state=1)
    assert again.equals(df)                          # seeded random control
    assert default_ks(768) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768]


def test_ablation_rejects_bad_head_shape():
    X = np.zeros((5, 3)); y = np.zeros(5, int)
    with pytest.raises(ValidationError, match=r"head\(X\) must return logits of shape \(n, n_classes\)"):
        ablation_curve(X, y, lambda Z: Z[:, 0], np.ones(3), ks=[1], modes=["highest"])
