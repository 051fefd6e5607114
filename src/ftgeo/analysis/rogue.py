"""Rogue dimensions (Timkey & van Schijndel 2021, "All Bark and No Bite: Rogue Dimensions in
Transformer Language Models Obscure Representational Quality", EMNLP).

The cosine similarity of two representations decomposes over dimensions (their Eq. 2-3):

    cos(u, v) = sum_i u_i v_i / (||u|| ||v||),
    E[cos(u, v)] = sum_i C_i,     C_i = E[ u_i v_i / (||u|| ||v||) ],

the expectation over random pairs of distinct examples. A rogue dimension has a C_i (and a
variance) far above the rest; a handful of them dominate the expected cosine similarity.

:func:`cosine_contributions` computes C_i *exactly* over all n(n-1) ordered pairs of distinct
rows in O(n d): with unit rows u^ = u / ||u||,

    sum_{a != b} u^_{a,i} u^_{b,i} = (sum_a u^_{a,i})^2 - sum_a u^_{a,i}^2.

The variance share var_i / sum_j var_j is the second measure of rogueness (their Section 3).

Intervals (:func:`variance_bootstrap`): a bootstrap over examples (rows, or sentences for word-level
sets) recomputes every dimension's variance per resample from count-weighted sums (one (B, n) x (n, d)
product for the sums and one for the squares), then the principal and top-k variance shares and the
top-k set itself (so the overlap of two sets' top-k can be bootstrapped too).
"""
from __future__ import annotations

import numpy as np

from ftgeo._checks import check_features
from ftgeo.analysis._base import FtgeoEstimator, Integral, Interval, StrOptions, fit_context
from ftgeo.errors import ValidationError

__all__ = ["dimension_stats", "cosine_contributions", "top_k_dimensions", "rogue_overlap", "variance_bootstrap",
           "bootstrap_overlap", "RogueDimensions"]


def dimension_stats(X) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and (population) variance in float64."""
    X = check_features(X, "X", min_samples=1)
    return X.mean(axis=0), X.var(axis=0)


def cosine_contributions(X) -> np.ndarray:
    """C_i = E_{a != b}[u_{a,i} u_{b,i} / (||u_a|| ||u_b||)] (Timkey & van Schijndel 2021, Eq. 3), exactly.

    Rows with zero norm are rejected (their cosine is undefined). ``C.sum()`` is the average
    cosine similarity over all pairs of distinct rows.
    """
    X = check_features(X, "X", min_samples=2)
    norms = np.linalg.norm(X, axis=1)
    if (norms == 0).any():
        raise ValidationError(f"X has {int((norms == 0).sum())} all-zero row(s); cosine similarity is undefined for them. "
                              "Drop them first.")
    U = X / norms[:, None]
    n = U.shape[0]
    s = U.sum(axis=0)
    return (s * s - (U * U).sum(axis=0)) / (n * (n - 1))


def top_k_dimensions(score, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of ``score``, largest first (ties: lower index first)."""
    score = np.asarray(score, dtype=np.float64)
    if score.ndim != 1:
        raise ValidationError(f"score must be 1-D (one value per dimension); got shape {score.shape}")
    if not 1 <= k <= score.size:
        raise ValidationError(f"k must be between 1 and the number of dimensions ({score.size}); got {k}")
    order = np.lexsort((np.arange(score.size), -score))
    return order[:k]


def rogue_overlap(top_a, top_b) -> int:
    """|top-k(A) ∩ top-k(B)| (e.g. 8 of the top 10 shared by SST-2 and QNLI fine-tunes)."""
    return int(len(np.intersect1d(np.asarray(top_a), np.asarray(top_b))))


def variance_bootstrap(X, plan, k: int, *, chunk: int = 250) -> dict[str, np.ndarray]:
    """Per-resample variance statistics of the rows of ``X`` for a bootstrap ``plan`` (a list of row
    index arrays, e.g. :func:`ftgeo.analysis.resampling.bootstrap_plan`).

    Returns ``principal_var_share`` (B,) (the largest variance over the total), ``topk_var_share`` (B,)
    (the k largest), and ``top`` (B, k) (the top-k dimensions of each resample, largest first). The
    population variances of each resample come from count weights w (how often each row is drawn):
    var = sum w z^2 / N - (sum w z / N)^2 with z the rows centred on the full mean, in float32 products
    (the statistics are shares of variances: float32's relative error 1e-7 is far below their spread)."""
    X = check_features(X, "X", min_samples=2)
    n, d = X.shape
    k = int(min(k, d))
    Z = (X - X.mean(axis=0)).astype(np.float32)
    Z2 = Z * Z
    B = len(plan)
    out = {"principal_var_share": np.empty(B), "topk_var_share": np.empty(B), "top": np.empty((B, k), np.int64)}
    for c0 in range(0, B, chunk):
        idx = plan[c0:c0 + chunk]
        W = np.zeros((len(idx), n), dtype=np.float32)
        for r, rows in enumerate(idx):
            W[r] = np.bincount(rows, minlength=n)
        N = W.sum(axis=1, dtype=np.float64)[:, None]
        m = (W @ Z).astype(np.float64) / N
        var = np.maximum((W @ Z2).astype(np.float64) / N - m * m, 0.0)
        tot = var.sum(axis=1)
        top = np.argpartition(-var, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(var, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["principal_var_share"][c0:c0 + len(idx)] = var.max(axis=1) / tot
            out["topk_var_share"][c0:c0 + len(idx)] = np.take_along_axis(var, top, axis=1).sum(axis=1) / tot
        out["top"][c0:c0 + len(idx)] = top
    return out


def bootstrap_overlap(top_a: np.ndarray, top_b: np.ndarray, d: int) -> np.ndarray:
    """|top_a[r] ∩ top_b[r]| for every resample r of two (B, k) top-k arrays over d dimensions."""
    top_a, top_b = np.asarray(top_a), np.asarray(top_b)
    mask = np.zeros((top_a.shape[0], int(d)), dtype=bool)
    rows = np.arange(top_a.shape[0])[:, None]
    mask[rows, top_a] = True
    return mask[rows, top_b].sum(axis=1)


class RogueDimensions(FtgeoEstimator):
    """Fit per-dimension statistics of one layer; fitted attributes end in ``_``.

    Parameters: ``k`` (how many top dimensions; at most the dimension), ``rank_by``
    ('variance', or 'cosine': rank by C_i instead).

    ``mean_``, ``var_``, ``var_share_`` (var_i / sum var), ``cos_contribution_`` (C_i),
    ``cos_share_`` (C_i / sum C; undefined -> NaN when sum C = 0), ``top_`` (top-k by variance),
    ``principal_`` (the highest-variance dimension), ``expected_cosine_`` (sum C).
    """

    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "rank_by": [StrOptions({"variance", "cosine"})],
    }

    def __init__(self, k: int = 10, rank_by: str = "variance"):
        self.k = k
        self.rank_by = rank_by

    @fit_context
    def fit(self, X) -> "RogueDimensions":
        X = check_features(X, "X", min_samples=2)
        self.mean_, self.var_ = dimension_stats(X)
        tot = self.var_.sum()
        self.var_share_ = self.var_ / tot if tot > 0 else np.full_like(self.var_, np.nan)
        self.cos_contribution_ = cosine_contributions(X)
        self.expected_cosine_ = float(self.cos_contribution_.sum())
        self.cos_share_ = (self.cos_contribution_ / self.expected_cosine_ if self.expected_cosine_ != 0
                           else np.full_like(self.cos_contribution_, np.nan))
        score = self.var_ if self.rank_by == "variance" else self.cos_contribution_
        self.top_ = top_k_dimensions(score, min(self.k, score.size))
        self.principal_ = int(top_k_dimensions(self.var_, 1)[0])
        return self
