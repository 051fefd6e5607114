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
  Steps 3-6 use the eigenvalues only through sum(lambda) = tr(C) and ||lambda|| = ||C||_F, which
  simplifies to IsoScore = (PR - 1) / (d - 1) with PR = tr(C)^2 / ||C||_F^2 the participation ratio
  (:func:`isoscore_from_moments`): no eigendecomposition is needed for a jackknife leave-out.
* Average cosine similarity between random pairs of distinct examples: the anisotropy baseline
  of Ethayarajh (2019), "How Contextual are Contextualized Word Representations?", Section 3.3.

Intervals (delete-a-group jackknife, :func:`isoscore_jackknife`, :func:`average_cosine_jackknife`):
each statistic recomputed with one block of examples left out, from per-block sums. A bootstrap
resample would duplicate examples, and a duplicated example is a pair of identical vectors (cosine 1,
no spread between them): both statistics are biased under resampling with replacement, deletion is not.
"""
from __future__ import annotations

import numpy as np

from ftgeo._checks import check_features, check_random_state
from ftgeo.errors import ValidationError

__all__ = ["pca_variances", "isoscore", "isoscore_from_variances", "isoscore_from_moments", "isoscore_jackknife",
           "average_cosine", "average_cosine_jackknife"]


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


def isoscore_from_moments(trace: float, fro2: float, d: int) -> float:
    """IsoScore from the covariance's trace and squared Frobenius norm: (tr^2 / ||C||_F^2 - 1) / (d - 1),
    the participation ratio rescaled to [0, 1] (Algorithm 1 rewritten; NaN for a zero covariance)."""
    if d < 2:
        raise ValidationError("IsoScore needs at least 2 dimensions")
    if not (fro2 > 0 and np.isfinite(fro2)):
        return float("nan")
    return float(np.clip((trace * trace / fro2 - 1.0) / (d - 1.0), 0.0, 1.0))


def isoscore_jackknife(X, blocks) -> np.ndarray:
    """IsoScore with each block of rows left out: ``out[g]`` = IsoScore of the rows whose ``blocks`` entry
    is not g (G = blocks.max() + 1 values), from the full cross-product and per-block sums.

    With Z the full-centred rows, s_g the column sums of Z over block g and n_g' the rows kept, the
    leave-out scatter is C_g = Z^T Z - Z[g]^T Z[g] - s_g s_g^T / n_g' (the normaliser 1 / (n_g' - 1)
    cancels in :func:`isoscore_from_moments`): one pass over the rows plus O(G d^2), no
    eigendecomposition. A leave-out whose scatter is 0 up to rounding is NaN."""
    X = check_features(X, "X", min_samples=2)
    b = _check_blocks(blocks, X.shape[0])
    n, d = X.shape
    Z = X - X.mean(axis=0)
    F = Z.T @ Z
    full = float(np.trace(F))
    out = np.full(int(b.max()) + 1, np.nan)
    for g in range(out.size):
        Zg = Z[b == g]
        s = Zg.sum(axis=0)
        C = F - Zg.T @ Zg
        C -= np.multiply.outer(s / (n - Zg.shape[0]), s)
        tr = float(np.trace(C))
        if tr > 64.0 * (n + d) * np.finfo(np.float64).eps * full:
            out[g] = isoscore_from_moments(tr, float(np.vdot(C, C)), d)
    return out


def _check_blocks(blocks, n: int) -> np.ndarray:
    b = np.asarray(blocks)
    if b.shape != (n,) or not np.issubdtype(b.dtype, np.integer) or b.min() < 0:
        raise ValidationError(f"blocks must hold one block index >= 0 per row ({n} rows); got shape {b.shape}")
    if np.bincount(b).min() == 0 or b.max() < 1:
        raise ValidationError("blocks must number 0..G-1 with G >= 2 and every block non-empty")
    return b.astype(np.int64)


def _unit_rows(X) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1)
    if (norms == 0).any():
        raise ValidationError(f"X has {int((norms == 0).sum())} all-zero row(s); their cosine is undefined")
    return X / norms[:, None]


def _random_pairs(n: int, n_pairs: int, random_state) -> tuple[np.ndarray, np.ndarray]:
    if n_pairs < 1:
        raise ValidationError(f"n_pairs must be >= 1 or None; got {n_pairs}")
    rng = check_random_state(random_state)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n      # j != i, uniform over the others
    return i, j


def average_cosine_jackknife(X, blocks, n_pairs: int | None = 10000, *, random_state=0) -> tuple[float, np.ndarray]:
    """:func:`average_cosine` (the same value) and its G leave-one-block-out values.

    Exact (``n_pairs=None``): with u the unit rows, S their sum and S_g the sum over block g, the
    leave-out is (||S - S_g||^2 - n') / (n' (n' - 1)), O(G d). Random pairs: the same seeded pairs;
    the leave-out averages the pairs with neither end in block g (O(n_pairs + G))."""
    X = check_features(X, "X", min_samples=2)
    b = _check_blocks(blocks, X.shape[0])
    G = int(b.max()) + 1
    U = _unit_rows(X)
    n = U.shape[0]
    if n_pairs is None:
        s = U.sum(axis=0)
        value = float((s @ s - n) / (n * (n - 1)))
        Sg = np.zeros((G, U.shape[1]))
        np.add.at(Sg, b, U)
        rest = s[None, :] - Sg
        m = (n - np.bincount(b, minlength=G)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (np.einsum("gi,gi->g", rest, rest) - m) / (m * (m - 1))
        return value, np.where(m >= 2, out, np.nan)
    i, j = _random_pairs(n, n_pairs, random_state)
    h = np.einsum("ij,ij->i", U[i], U[j])
    value = float(h.mean())
    bi, bj = b[i], b[j]
    same = bi == bj
    removed = (np.bincount(bi, h, G) + np.bincount(bj, h, G) - np.bincount(bi[same], h[same], G))
    count = (np.bincount(bi, minlength=G) + np.bincount(bj, minlength=G) - np.bincount(bi[same], minlength=G))
    kept = n_pairs - count
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (h.sum() - removed) / kept
    return value, np.where(kept > 0, out, np.nan)


def average_cosine(X, n_pairs: int | None = 10000, *, random_state=0) -> float:
    """Mean cosine similarity of ``n_pairs`` random pairs of distinct rows (seeded); exact over all
    pairs of distinct rows when ``n_pairs`` is None (O(n d): (||sum u^||^2 - n) / (n (n - 1)))."""
    X = check_features(X, "X", min_samples=2)
    U = _unit_rows(X)
    n = U.shape[0]
    if n_pairs is None:
        s = U.sum(axis=0)
        return float((s @ s - n) / (n * (n - 1)))
    i, j = _random_pairs(n, n_pairs, random_state)
    return float(np.einsum("ij,ij->i", U[i], U[j]).mean())
