"""Isotropy of a representation space: IsoScore and the average cosine similarity.

* IsoScore (Rudman, Gillman, Rayne & Eickhoff 2022, "IsoScore: Measuring the Uniformity of
  Embedding Space Utilization", Findings of ACL, Algorithm 1), for a point cloud in R^n:

  1. reorient the (centred) points to their principal components (PCA);
  2. take the variance vector Sigma_D of the PCA coordinates (the covariance eigenvalues);
  3. normalise it to length sqrt(n):  Sigma^_D = sqrt(n) Sigma_D / ||Sigma_D||;
  4. isotropy defect  delta(X) = ||Sigma^_D - 1|| / sqrt(2 (n - sqrt(n)));
  5. fraction of dimensions used  phi(X) = (n - delta^2 (n - sqrt(n)))^2 / n^2;
  6. IsoScore  iota(X) = (n phi(X) - 1) / (n - 1).

  Bounds (their Theorem 1): 0 <= IsoScore <= 1; 1 iff the variance is spread equally over all n
  dimensions, 0 iff a single dimension holds all of it. n = the ambient dimension d (PCA keeps
  all d components; with fewer samples than dimensions the missing eigenvalues are 0).
* Average cosine similarity between random pairs of distinct examples: the anisotropy baseline
  of Ethayarajh (2019), "How Contextual are Contextualized Word Representations?", Section 3.3.
"""
from __future__ import annotations

import numpy as np

from ftgeo._checks import check_features, check_random_state
from ftgeo.errors import ValidationError

__all__ = ["pca_variances", "isoscore", "isoscore_from_variances", "average_cosine"]


def pca_variances(X) -> np.ndarray:
    """Variances of the PCA coordinates (covariance eigenvalues, ddof=1), length d, descending."""
    X = check_features(X, "X", min_samples=2)
    n, d = X.shape
    Xc = X - X.mean(axis=0)
    if n > d:
        ev = np.linalg.eigvalsh(Xc.T @ Xc / (n - 1))[::-1]
    else:
        s = np.linalg.svd(Xc, compute_uv=False)
        ev = np.zeros(d)
        ev[: s.size] = s ** 2 / (n - 1)
    # variances below the float64 resolution of X's scale are rounding noise of the centring
    # (e.g. identical rows), not spread: treat them as exactly zero
    tol = max(n, d) * np.finfo(np.float64).eps * float(np.abs(X).max()) ** 2
    ev[ev <= tol] = 0.0
    return ev


def isoscore(X) -> float:
    """IsoScore of the rows of ``X`` (Rudman et al. 2022, Algorithm 1), in [0, 1]."""
    X = check_features(X, "X", min_samples=2)
    return isoscore_from_variances(pca_variances(X))


def isoscore_from_variances(var) -> float:
    """Steps 3-6 of Algorithm 1 from the PCA variance vector. Variance spread equally over k of
    d dimensions gives exactly (k - 1) / (d - 1) (phi = k / d)."""
    var = np.asarray(var, dtype=np.float64).ravel()
    if (var < 0).any():
        raise ValidationError("variances must be >= 0")
    d = var.size
    if d < 2:
        raise ValidationError("IsoScore needs at least 2 dimensions")
    norm = np.linalg.norm(var)
    if norm == 0:
        raise ValidationError("X is constant (zero variance in every direction); IsoScore is undefined")
    v = np.sqrt(d) * var / norm
    defect = np.linalg.norm(v - 1.0) / np.sqrt(2.0 * (d - np.sqrt(d)))
    phi = (d - defect ** 2 * (d - np.sqrt(d))) ** 2 / d ** 2
    return float(np.clip((d * phi - 1.0) / (d - 1.0), 0.0, 1.0))


def average_cosine(X, n_pairs: int | None = 10000, *, random_state=0) -> float:
    """Mean cosine similarity of ``n_pairs`` random pairs of distinct rows (seeded); exact over all
    pairs of distinct rows when ``n_pairs`` is None (O(n d): (||sum u^||^2 - n) / (n (n - 1)))."""
    X = check_features(X, "X", min_samples=2)
    norms = np.linalg.norm(X, axis=1)
    if (norms == 0).any():
        raise ValidationError(f"X has {int((norms == 0).sum())} all-zero row(s); their cosine is undefined")
    U = X / norms[:, None]
    n = U.shape[0]
    if n_pairs is None:
        s = U.sum(axis=0)
        return float((s @ s - n) / (n * (n - 1)))
    if n_pairs < 1:
        raise ValidationError(f"n_pairs must be >= 1 or None; got {n_pairs}")
    rng = check_random_state(random_state)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n      # j != i, uniform over the others
    return float(np.einsum("ij,ij->i", U[i], U[j]).mean())
