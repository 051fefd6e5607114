"""Representational similarity analysis (Kriegeskorte, Mur & Bandettini 2008).

Each layer is summarised by its representational dissimilarity matrix (RDM): D_X[i, j] = the
distance between examples i and j. Two layers are compared through the correlation of their RDMs'
upper triangles (i < j, the order of ``scipy.spatial.distance.pdist``):

    RSA(X, Y) = corr(vec(D_X), vec(D_Y))       Pearson, or Spearman (Pearson of average ranks).

RDM metrics: ``cosine`` (1 - cos(x_i, x_j)), ``correlation`` (cosine of the row-centred patterns, as
rsatoolbox's ``correlation``), ``euclidean`` (||x_i - x_j||) and ``sqeuclidean`` (its square;
rsatoolbox's ``euclidean`` divides it by d, which no correlation sees).

Invariances: with ``euclidean`` / ``sqeuclidean``: translation, orthogonal maps and isotropic scaling
of either side (the RDM changes by a factor that a correlation ignores); with ``cosine``: orthogonal
maps and isotropic scaling (not translation); with Spearman, also any monotone transform of the
distances. Symmetric; in [-1, 1].

Cost: the RDM has n (n - 1) / 2 entries (prepared once per layer: one GEMM of n^2 d, and a sort for
Spearman); memory is 8 n^2 / 2 bytes per layer (400 MB at n = 10,000), so runners subsample rows
(``max_points``).
"""
from __future__ import annotations

import numpy as np

from ftgeo.analysis.layerwise import Measure, UndefinedMeasure
from ftgeo.errors import ValidationError

__all__ = ["RDM_METRICS", "RSA_METHODS", "rdm", "rsa", "RSAMeasure"]

RDM_METRICS = ("cosine", "correlation", "euclidean", "sqeuclidean")
RSA_METHODS = ("pearson", "spearman")


def rdm(X, metric: str = "cosine", *, chunk: int = 2048) -> np.ndarray:
    """The condensed RDM (upper triangle, ``pdist`` order) of the rows of X, float64."""
    if metric not in RDM_METRICS:
        raise ValidationError(f"metric must be one of {RDM_METRICS}; got {metric!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValidationError(f"an RDM needs an (n, d) array with n >= 3 rows; got shape {X.shape}")
    n = X.shape[0]
    if metric == "correlation":
        X = X - X.mean(axis=1, keepdims=True)
    if metric in ("cosine", "correlation"):
        nrm = np.linalg.norm(X, axis=1)
        if not (nrm > 0).all():
            raise UndefinedMeasure(f"{int((nrm == 0).sum())} row(s) have zero norm: the {metric} distance is undefined "
                                   "for them")
        X = X / nrm[:, None]
    else:
        X = X - X.mean(axis=0, keepdims=True)        # distances do not change; the expansion loses less
        sq = np.einsum("ij,ij->i", X, X)
    out = np.empty(n * (n - 1) // 2)
    pos = 0
    for s in range(0, n - 1, chunk):
        e = min(n - 1, s + chunk)
        G = X[s:e] @ X[s:].T                          # rows s..e-1 against columns s..n-1
        for r in range(e - s):
            i = s + r
            g = G[r, r + 1:]
            if metric in ("cosine", "correlation"):
                v = 1.0 - g
            else:
                v = np.maximum(sq[i] + sq[i + 1:] - 2.0 * g, 0.0)
                if metric == "euclidean":
                    v = np.sqrt(v)
            out[pos:pos + v.size] = v
            pos += v.size
    return out


class RSAMeasure(Measure):
    """Pearson or Spearman correlation of two layers' RDMs."""

    name = "rsa"
    symmetric = True
    kind = "similarity"
    bounds = (-1.0, 1.0)

    def __init__(self, metric: str = "cosine", method: str = "spearman"):
        if metric not in RDM_METRICS:
            raise ValidationError(f"metric must be one of {RDM_METRICS}; got {metric!r}")
        if method not in RSA_METHODS:
            raise ValidationError(f"method must be one of {RSA_METHODS}; got {method!r}")
        self.metric, self.method = metric, method

    def params(self) -> dict:
        return {"metric": self.metric, "method": self.method}

    def prepare(self, X: np.ndarray) -> np.ndarray:
        v = rdm(X, self.metric)
        if self.method == "spearman":
            from scipy.stats import rankdata
            v = rankdata(v)                              # average ranks for ties
        v = v - v.mean()
        nv = float(np.linalg.norm(v))
        if not nv > 0:
            raise UndefinedMeasure("every pairwise distance is the same (constant RDM)")
        return v / nv

    def pair(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.clip(np.dot(a, b), -1.0, 1.0))


def rsa(X, Y, *, metric: str = "cosine", method: str = "spearman") -> float:
    """RSA of X and Y (module docstring)."""
    return RSAMeasure(metric, method)(X, Y)
