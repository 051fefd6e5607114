"""SVCCA and PWCCA: canonical correlation analysis between two layers.

Canonical correlations (Hotelling 1936) of centred X (n x d_x) and Y (n x d_y) are the cosines of
the principal angles between their column spaces: with orthonormal bases Q_x, Q_y of col(X_c),
col(Y_c), rho_1 >= ... >= rho_c are the singular values of Q_x^T Q_y (Bjorck & Golub 1973),
c = min(r_x, r_y). Computing them from orthonormal bases (an SVD of each layer) instead of
inverting X^T X is what handles **d > n and rank deficiency explicitly**: only the r = rank(X_c)
directions above a relative tolerance ``max(n, d) eps s_1`` enter, where covariance-based code
(Raghu et al.'s ``cca_core``) must add an epsilon to a singular X^T X.

**Degenerate CCA.** The centred column spaces live in an (n - 1)-dimensional space, so when
r_x + r_y > n - 1 at least r_x + r_y - (n - 1) canonical correlations are exactly 1 whatever the
data: CCA of two layers with d >= n is 1 by construction. The measures still compute (the number
is what the definition gives) but record a note naming the pairs (:attr:`notes`); SVCCA's
variance truncation is the usual remedy (keep fewer directions than n / 2).

* **SVCCA** (Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, Sec. 2): keep the top singular directions
  of each centred layer that explain ``variance`` (0.99) of its variance (or ``n_components``),
  then CCA between the reduced layers; SVCCA = (1/c) sum_i rho_i, the mean canonical correlation.
  Invariant to translation, isotropic scaling and orthogonal maps (and, beyond the truncation, to
  invertible linear maps of the kept subspace). Symmetric.
* **PWCCA** (Morcos, Raghu & Bengio 2018, Sec. 3.1): the canonical correlations weighted by how much
  of X each canonical variate accounts for: with canonical variates h_i = Q_x p_i (unit vectors in
  R^n) and the neurons x_j (columns of X_c), alpha_i = sum_j |<h_i, x_j>|, and
  PWCCA(X, Y) = sum_i alpha_i rho_i / sum_i alpha_i. Asymmetric (weights from the first argument:
  the row layer of a grid). Invariant to translation and isotropic scaling; a rotation of X changes
  the neurons and so the weights (not the correlations).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftgeo.analysis.layerwise import Measure
from ftgeo.analysis.shape import thin_basis
from ftgeo.errors import ValidationError

__all__ = ["canonical_correlations", "svcca", "pwcca", "SVCCAMeasure", "PWCCAMeasure"]


@dataclass
class _Basis:
    Q: np.ndarray                   # n x k orthonormal basis of the (reduced) centred column space
    VS: np.ndarray | None = None    # d x k: X_c^T Q (the neurons' coordinates), PWCCA only
    n: int = 0
    rank: int = 0


def _keep(s: np.ndarray, variance: float | None, n_components: int | None) -> int:
    if n_components is not None:
        return int(min(n_components, s.size))
    if variance is None:
        return int(s.size)
    cum = np.cumsum(s * s) / float(np.sum(s * s))
    return int(min(s.size, np.searchsorted(cum, variance - 1e-12) + 1))


class _CCABase(Measure):
    symmetric = True
    kind = "similarity"
    bounds = (0.0, 1.0)

    def __init__(self, variance: float | None = 0.99, n_components: int | None = None):
        if variance is not None and not 0.0 < variance <= 1.0:
            raise ValidationError(f"variance must be in (0, 1] (fraction of variance kept), or None; got {variance}")
        if n_components is not None and n_components < 1:
            raise ValidationError(f"n_components must be >= 1; got {n_components}")
        self.variance = variance
        self.n_components = n_components
        self.notes: list[str] = []
        self._degenerate: set = set()

    def params(self) -> dict:
        return {"variance": self.variance, "n_components": self.n_components}

    def prepare(self, X: np.ndarray) -> _Basis:
        U, s, V = thin_basis(X)
        k = _keep(s, self.variance, self.n_components)
        return _Basis(U[:, :k], (V[:, :k] * s[:k]) if self.needs_vs else None, n=U.shape[0], rank=k)

    needs_vs = False

    def _check(self, a: _Basis, b: _Basis) -> None:
        if a.rank + b.rank > a.n - 1:
            key = (a.rank, b.rank)
            if key not in self._degenerate:
                self._degenerate.add(key)
                self.notes.append(
                    f"{self.name}: degenerate CCA for layers keeping {a.rank} and {b.rank} directions of n = {a.n} "
                    f"examples: {a.rank + b.rank - (a.n - 1)} canonical correlation(s) are 1 by construction "
                    "(r_x + r_y > n - 1); keep fewer directions (variance / n_components) or use more examples")


class SVCCAMeasure(_CCABase):
    """Mean canonical correlation of the SVD-reduced layers (Raghu et al. 2017)."""

    name = "svcca"

    def pair(self, a: _Basis, b: _Basis) -> float:
        self._check(a, b)
        rho = np.linalg.svd(a.Q.T @ b.Q, compute_uv=False)
        return float(np.clip(rho, 0.0, 1.0).mean()) if rho.size else float("nan")

    def pair_row(self, a: _Basis, bs) -> list[float]:
        if len(bs) <= 1:
            return [self.pair(a, b) for b in bs]
        big = a.Q.T @ np.concatenate([b.Q for b in bs], axis=1)
        out, k = [], 0
        for b in bs:
            self._check(a, b)
            rho = np.linalg.svd(big[:, k:k + b.rank], compute_uv=False)
            out.append(float(np.clip(rho, 0.0, 1.0).mean()) if rho.size else float("nan"))
            k += b.rank
        return out


class PWCCAMeasure(_CCABase):
    """Projection-weighted mean canonical correlation (Morcos et al. 2018); weights from the first layer."""

    name = "pwcca"
    symmetric = False
    needs_vs = True

    def __init__(self, variance: float | None = None, n_components: int | None = None):
        super().__init__(variance, n_components)

    def _value(self, a: _Basis, M: np.ndarray) -> float:
        if M.size == 0:
            return float("nan")
        P, rho, _ = np.linalg.svd(M, full_matrices=False)
        c = rho.size
        # <h_i, x_j> = (X_c^T Q_x p_i)_j = (VS p_i)_j
        alpha = np.abs(a.VS @ P[:, :c]).sum(axis=0)
        tot = float(alpha.sum())
        if not tot > 0:
            return float("nan")
        return float(np.clip(alpha @ np.clip(rho, 0.0, 1.0) / tot, 0.0, 1.0))

    def pair(self, a: _Basis, b: _Basis) -> float:
        self._check(a, b)
        return self._value(a, a.Q.T @ b.Q)

    def pair_row(self, a: _Basis, bs) -> list[float]:
        if len(bs) <= 1:
            return [self.pair(a, b) for b in bs]
        big = a.Q.T @ np.concatenate([b.Q for b in bs], axis=1)
        out, k = [], 0
        for b in bs:
            self._check(a, b)
            out.append(self._value(a, big[:, k:k + b.rank]))
            k += b.rank
        return out


def canonical_correlations(X, Y) -> np.ndarray:
    """All c = min(rank X_c, rank Y_c) canonical correlations of X and Y, descending (module docstring)."""
    a = _CCABase(None).prepare(np.asarray(X, dtype=np.float64))
    b = _CCABase(None).prepare(np.asarray(Y, dtype=np.float64))
    return np.clip(np.linalg.svd(a.Q.T @ b.Q, compute_uv=False), 0.0, 1.0)


def svcca(X, Y, *, variance: float | None = 0.99, n_components: int | None = None) -> float:
    """SVCCA of X and Y (module docstring)."""
    return SVCCAMeasure(variance, n_components)(X, Y)


def pwcca(X, Y, *, variance: float | None = None, n_components: int | None = None) -> float:
    """PWCCA of X and Y, weighted by X's neurons (module docstring)."""
    return PWCCAMeasure(variance, n_components)(X, Y)
