"""Intrinsic dimension of a layer: TwoNN (Facco, d'Errico, Rodriguez & Laio 2017) and a PCA count.

* **TwoNN** (Facco et al. 2017, Sci. Rep. 7:12140, Eq. 1-3): for every point, mu_i = r2 / r1, the
  ratio of its second to its first nearest-neighbour distance. On a d-dimensional manifold with
  locally constant density mu follows a Pareto law F(mu) = 1 - mu^{-d}, so -log(1 - F(mu)) = d log mu.
  ``method="linear"`` (the paper's estimator, and scikit-dimension's default): sort mu, drop the
  largest ``discard_fraction`` (0.1), take F_emp(mu_(i)) = i / n and fit the slope of
  -log(1 - F_emp) on log mu through the origin by least squares. ``method="mle"``: the maximum-likelihood
  d = (n_keep - 1) / (sum log mu_(i) + (n - n_keep) log mu_(n_keep)) (scikit-dimension's ``mle``).
  Points with r1 = 0 (duplicates) are dropped with a note. Invariant to translation, orthogonal maps
  and isotropic scaling (it reads only distance ratios).
* **PCA dimension**: the number of principal components needed to explain ``variance`` (0.9) of the
  total variance of the centred layer. Invariant to translation, orthogonal maps and scaling; a
  rogue dimension with a large share of the variance pulls it down to a handful.

Neighbour distances: the two nearest neighbours are found from the Gram expansion in chunks (n^2 d
flops, O(chunk n) memory) and their distances recomputed directly from the difference vectors, so
no cancellation error enters r1 and r2.
"""
from __future__ import annotations

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["two_nearest_distances", "twonn", "pca_dimension"]


def two_nearest_distances(X, *, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(r1, r2): every row's distances to its nearest and second-nearest other row (float64)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValidationError(f"TwoNN needs an (n, d) array with n >= 3 rows; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValidationError("the layer holds NaN or inf values")
    X = X - X.mean(axis=0, keepdims=True)
    n = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X)
    r1, r2 = np.empty(n), np.empty(n)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        D = sq[s:e, None] + sq[None, :] - 2.0 * (X[s:e] @ X.T)
        D[np.arange(e - s), np.arange(s, e)] = np.inf
        # 4 candidates: the expansion may swap near-equal neighbours; exact distances decide
        m = min(4, n - 1)
        cand = np.argpartition(D, m - 1, axis=1)[:, :m]
        diff = X[s:e, None, :] - X[cand]
        dist = np.sort(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), axis=1)
        r1[s:e], r2[s:e] = dist[:, 0], dist[:, 1]
    return r1, r2


def twonn(X, *, discard_fraction: float = 0.1, method: str = "linear", return_notes: bool = False):
    """TwoNN intrinsic dimension (module docstring); ``return_notes`` also returns a list of notes."""
    if method not in ("linear", "mle"):
        raise ValidationError(f"method must be 'linear' or 'mle'; got {method!r}")
    if not 0.0 <= discard_fraction < 1.0:
        raise ValidationError(f"discard_fraction must be in [0, 1); got {discard_fraction}")
    r1, r2 = two_nearest_distances(X)
    notes = []
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = r2 / r1
    bad = ~np.isfinite(mu)
    if bad.any():
        notes.append(f"TwoNN: dropped {int(bad.sum())} point(s) with a duplicate (nearest-neighbour distance 0)")
        mu = mu[~bad]
    N = mu.size
    n_keep = int(N * (1 - discard_fraction))
    if n_keep < 2:
        raise ValidationError(f"TwoNN: fewer than 2 points left to estimate the dimension ({N} after dropping "
                              "points whose nearest neighbour is a duplicate)")
    mu = np.sort(mu)[:n_keep]
    logmu = np.log(mu)
    if method == "mle":
        d = (n_keep - 1) / (np.sum(logmu) + (N - n_keep) * logmu[-1])
    else:
        y = -np.log(1.0 - np.arange(1, n_keep + 1) / N)
        den = float(logmu @ logmu)
        d = float(logmu @ y) / den if den > 0 else float("nan")
    return (float(d), notes) if return_notes else float(d)


def pca_dimension(X, variance: float = 0.9) -> int:
    """Number of principal components explaining ``variance`` of the total variance (0 for a constant layer)."""
    if not 0.0 < variance <= 1.0:
        raise ValidationError(f"variance must be in (0, 1]; got {variance}")
    from ftgeo.analysis.similarity import center
    Xc = center(np.asarray(X, dtype=np.float64))
    s = np.linalg.svd(Xc, compute_uv=False)
    tot = float(np.sum(s * s))
    if not tot > 0:
        return 0
    cum = np.cumsum(s * s) / tot
    return int(min(s.size, np.searchsorted(cum, variance - 1e-12) + 1))
