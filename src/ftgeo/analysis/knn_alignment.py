"""Mutual k-nearest-neighbour alignment and CKNNA (Huh, Cheung, Wang & Isola 2024, "The Platonic
Representation Hypothesis", ICML, Sec. 2 and App. A).

Neighbours are by inner product; with ``normalize=True`` (the platonic-rep default: its
``compute_score`` L2-normalises every row first) that is cosine similarity. N_k^X(i) is the set of
the k rows j != i with the largest <x_i, x_j>.

* **Mutual kNN** (their Eq. 11, ``AlignmentMetrics.mutual_knn``):

      m_NN(X, Y) = (1/n) sum_i |N_k^X(i) ∩ N_k^Y(i)| / k         in [0, 1].

  Invariant to orthogonal maps and isotropic scaling of either side (to any map that keeps the
  neighbour order); not to translation. Chance level is about k / (n - 1). Symmetric.

* **CKNNA** (their App. A, ``AlignmentMetrics.cknna`` with ``unbiased=True``): CKA restricted to
  mutual neighbours. With K = X X^T, L = Y Y^T and the mask M_ij = 1[j ∈ N_k^X(i)] 1[j ∈ N_k^Y(i)],

      CKNNA(X, Y) = HSIC_1(M∘K, M∘L) / sqrt(HSIC_1(M_X∘K, M_X∘K) HSIC_1(M_Y∘L, M_Y∘L)),

  M_X (M_Y) the kNN mask of X (Y) alone, HSIC_1 the unbiased estimator of Song et al. (2012,
  Eq. 5) as platonic-rep writes it (``tr(A B^T)``: the masks are not symmetric). With k = n - 1
  every mask is all ones off the diagonal and CKNNA is the debiased linear CKA. platonic-rep adds
  1e-6 to the denominator; we do not (so the value does not depend on the data's scale), and a
  self-similarity <= 0 gives NaN. platonic-rep's ``cknna`` raises a TypeError with its default
  ``topk=None`` (it compares None < 2 before replacing None by n - 1); here ``k=None`` means n - 1.
  Invariant to orthogonal maps and isotropic scaling. **Not exactly symmetric**: the kNN masks are
  not symmetric matrices, so the term 1^T A B 1 of HSIC_1 differs from 1^T B A 1 (by ~1e-3 on random
  data); CKNNA(X, Y) != CKNNA(Y, X) in platonic-rep's formula too. Layer grids compute both orders.

Cost: one n x n GEMM and a top-k selection per layer (prepared once), then O(n k log(n k)) per
pair: the n x n masks are never formed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftgeo.analysis.layerwise import Measure, UndefinedMeasure
from ftgeo.errors import ValidationError

__all__ = ["knn_indices", "mutual_knn", "cknna", "MutualKNNMeasure", "CKNNAMeasure"]


def _rows(X: np.ndarray, normalize: bool) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValidationError(f"kNN alignment needs an (n, d) array with n >= 3; got shape {X.shape}")
    spread = np.linalg.norm(X - X.mean(axis=0))
    if not spread > 16 * np.finfo(np.float64).eps * np.sqrt(X.shape[0]) * np.linalg.norm(X):
        raise UndefinedMeasure("constant layer (every row the same): nearest neighbours are undefined")
    if normalize:
        nrm = np.linalg.norm(X, axis=1)
        if not (nrm > 0).all():
            raise UndefinedMeasure(f"{int((nrm == 0).sum())} row(s) have zero norm and cannot be normalised")
        X = X / nrm[:, None]
    return X


def _check_k(k: int | None, n: int) -> int:
    if k is None:
        return n - 1
    if not 1 <= k <= n - 1:
        raise ValidationError(f"topk must be in 1..n-1 = 1..{n - 1} (or None for n - 1); got {k}")
    return int(k)


def knn_indices(X, k: int | None = 10, *, normalize: bool = True, chunk: int = 2048,
                values: bool = False):
    """Indices (n x k, each row sorted ascending) of every row's k largest inner products, self
    excluded; with ``values=True`` also the inner products at those indices. Ties in the inner
    product are broken towards the smaller index."""
    X = _rows(X, normalize)
    n = X.shape[0]
    k = _check_k(k, n)
    idx = np.empty((n, k), dtype=np.int64)
    val = np.empty((n, k)) if values else None
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        G = X[s:e] @ X.T
        G[np.arange(e - s), np.arange(s, e)] = -np.inf
        if k < n - 1:
            # the k-th largest value, then every index above it plus the first ties at it (smallest index)
            part = np.argpartition(-G, k - 1, axis=1)[:, :k]
            kth = np.min(np.take_along_axis(G, part, axis=1), axis=1)
            sel = np.sort(part, axis=1)
            cnt = (G >= kth[:, None]).sum(axis=1)
            for r in np.flatnonzero(cnt > k):                     # ties at the k-th value: rare
                above = np.flatnonzero(G[r] > kth[r])
                ties = np.flatnonzero(G[r] == kth[r])[:k - above.size]
                sel[r] = np.sort(np.concatenate([above, ties]))
        else:
            sel = np.sort(np.argsort(-G, axis=1, kind="stable")[:, :k], axis=1)
        idx[s:e] = sel
        if values:
            val[s:e] = np.take_along_axis(G, sel, axis=1)
    return (idx, val) if values else idx


class MutualKNNMeasure(Measure):
    """Mean fraction of shared k nearest neighbours."""

    name = "mutual_knn"
    symmetric = True
    kind = "similarity"
    bounds = (0.0, 1.0)

    def __init__(self, topk: int | None = 10, normalize: bool = True):
        if topk is not None and topk < 1:
            raise ValidationError(f"topk must be >= 1 (or None for n - 1); got {topk}")
        self.topk, self.normalize = topk, normalize

    def params(self) -> dict:
        return {"topk": self.topk, "normalize": self.normalize}

    def prepare(self, X: np.ndarray) -> np.ndarray:
        idx = knn_indices(X, self.topk, normalize=self.normalize)
        return idx

    def pair(self, a: np.ndarray, b: np.ndarray) -> float:
        n, k = a.shape
        s = np.sort(np.concatenate([a, b], axis=1), axis=1)
        shared = (s[:, 1:] == s[:, :-1]).sum(axis=1)     # rows are sets: a repeat is a shared neighbour
        return float(shared.mean() / k)


@dataclass
class _KNNGraph:
    keys: np.ndarray     # i * n + j for every (i, j ∈ N_k(i)), ascending
    vals: np.ndarray     # K_ij at those keys
    n: int
    self_hsic: float


def _hsic1_sparse(keys: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> float:
    """HSIC_1(A, B) of Song et al. (2012, Eq. 5) as platonic-rep's ``hsic_unbiased`` computes it
    (``sum(A * B^T)``), for A, B zero off ``keys`` (no diagonal entries), A = a, B = b on ``keys``."""
    if keys.size == 0:
        return 0.0
    i, j = np.divmod(keys, n)
    tkeys = j * n + i
    pos = np.searchsorted(keys, tkeys)
    pos = np.minimum(pos, keys.size - 1)
    hit = keys[pos] == tkeys
    t1 = float(np.sum(a[hit] * b[pos[hit]]))                         # sum_ij A_ij B_ji
    colsum_a = np.bincount(j, weights=a, minlength=n)                  # (1^T A)_j
    rowsum_b = np.bincount(i, weights=b, minlength=n)                  # (B 1)_j
    t2 = float(a.sum()) * float(b.sum()) / ((n - 1.0) * (n - 2.0))
    t3 = 2.0 * float(colsum_a @ rowsum_b) / (n - 2.0)
    return (t1 + t2 - t3) / (n * (n - 3.0))


class CKNNAMeasure(Measure):
    """CKA over mutual k nearest neighbours (unbiased HSIC); not exactly symmetric (module docstring)."""

    name = "cknna"
    symmetric = False
    kind = "similarity"
    bounds = (-1.0, 1.0)

    def __init__(self, topk: int | None = 10, normalize: bool = True):
        if topk is not None and topk < 2:
            raise ValidationError(f"CKNNA needs topk >= 2 (or None for n - 1); got {topk}")
        self.topk, self.normalize = topk, normalize

    def params(self) -> dict:
        return {"topk": self.topk, "normalize": self.normalize}

    def prepare(self, X: np.ndarray) -> _KNNGraph:
        idx, val = knn_indices(X, self.topk, normalize=self.normalize, values=True)
        n = idx.shape[0]
        if n < 4:
            raise ValidationError(f"CKNNA (unbiased HSIC) needs n >= 4 examples; got {n}")
        keys = (np.arange(n)[:, None] * n + idx).ravel()               # ascending: rows in order, idx sorted
        vals = val.ravel()
        h = _hsic1_sparse(keys, vals, vals, n)
        return _KNNGraph(keys, vals, n, h)

    def pair(self, a: _KNNGraph, b: _KNNGraph) -> float:
        if not (a.self_hsic > 0 and b.self_hsic > 0):
            return float("nan")
        keys, ia, ib = np.intersect1d(a.keys, b.keys, assume_unique=True, return_indices=True)
        h = _hsic1_sparse(keys, a.vals[ia], b.vals[ib], a.n)
        return float(h / np.sqrt(a.self_hsic * b.self_hsic))


def mutual_knn(X, Y, topk: int | None = 10, *, normalize: bool = True) -> float:
    """Mutual kNN alignment of X and Y (module docstring)."""
    return MutualKNNMeasure(topk, normalize)(X, Y)


def cknna(X, Y, topk: int | None = 10, *, normalize: bool = True) -> float:
    """CKNNA of X and Y (module docstring)."""
    return CKNNAMeasure(topk, normalize)(X, Y)
