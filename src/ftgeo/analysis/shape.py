"""Orthogonal Procrustes distance and the angular shape metric (Williams, Kunz, Kornblith & Linderman 2021).

Both compare the centred representations X (n x d_x) and Y (n x d_y) of the same n examples up to
an alignment learned between them (Williams et al. 2021, "Generalized Shape Metrics on Neural
Representations", NeurIPS, Sec. 2-3).

* **Orthogonal Procrustes distance** (their Eq. 3 with the orthogonal group, on unit-norm data):

      P(X, Y) = min_{Q orthogonal} || X~ - Y~ Q ||_F,   X~ = X_c / ||X_c||_F,
              = sqrt(2 - 2 ||X~^T Y~||_*)              (||.||_* the nuclear norm),

  in [0, sqrt(2)]. Invariant to translation, isotropic scaling and orthogonal maps of either
  side; not to other invertible linear maps.

* **Angular shape metric with partial whitening** (their Eq. 5-6; netrep's ``LinearMetric(alpha)``):

      phi_alpha(X) = X_c (alpha I + (1 - alpha) (X_c^T X_c)^{-1/2})
      theta_alpha(X, Y) = arccos( ||phi(X)^T phi(Y)||_* / (||phi(X)||_F ||phi(Y)||_F) )   in [0, pi/2].

  ``alpha = 1``: no whitening, the Procrustes angle (invariant like P); ``alpha = 0``: full
  whitening, invariant to every invertible linear map (then cos theta is the mean canonical
  correlation, as CCA); in between, a regularised interpolation, invariant to translation and
  orthogonal maps but not to isotropic scaling (w_i = alpha s_i + (1 - alpha) weighs large and small
  singular values differently at different scales; netrep's LinearMetric behaves the same). A metric
  (triangle inequality) for every alpha.

Computation (one SVD per layer, one GEMM + singular values per pair; for alpha = 1 and n > d the
centred layer itself serves, no SVD): with the thin SVD
X_c = U S V^T of rank r, phi(X) = U diag(w) V^T with w_i = alpha s_i + (1 - alpha), so
||phi(X)^T phi(Y)||_* = ||A_x^T A_y||_* for the prepared A = U diag(w) (n x r). This handles
d > n and rank deficiency explicitly: only the r = rank(X_c) directions above a relative tolerance
``max(n, d) eps s_1`` enter (netrep instead clips the eigenvalues of X^T X at 1e-7 in absolute
terms, and zero-pads different widths, which our nuclear norm of a d_x x d_y matrix does not need).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ftgeo.analysis.layerwise import Measure, UndefinedMeasure
from ftgeo.errors import ValidationError

__all__ = ["thin_basis", "ProcrustesMeasure", "ShapeMeasure", "procrustes_distance", "shape_distance"]

_EPS = float(np.finfo(np.float64).eps)


def thin_basis(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre X (float64, two-pass) and return ``(U_r, s_r, V_r)`` of its thin SVD truncated at the
    numerical rank r (singular values above ``max(n, d) eps s_1``). Raises :class:`UndefinedMeasure`
    for a constant X (rank 0)."""
    from ftgeo.analysis.similarity import center
    Xc = center(np.asarray(X, dtype=np.float64))
    n, d = Xc.shape
    if n < 2:
        raise ValidationError(f"need at least 2 examples; got {n}")
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    if s.size == 0 or not s[0] > 0:
        raise UndefinedMeasure("constant layer (zero variance after centring)")
    r = int(np.sum(s > max(n, d) * _EPS * s[0]))
    # a layer constant up to rounding: every singular value is rounding noise of the mean
    if np.linalg.norm(s) <= 16 * _EPS * math.sqrt(n) * np.linalg.norm(np.asarray(X, dtype=np.float64)):
        raise UndefinedMeasure("constant layer (zero variance after centring, up to rounding)")
    return U[:, :r], s[:r], Vt[:r].T


@dataclass
class _Aligned:
    A: np.ndarray          # n x r, U diag(w)
    norm: float            # ||A||_F


def _nuclear(M: np.ndarray) -> float:
    if M.size == 0:
        return 0.0
    return float(np.linalg.svd(M, compute_uv=False).sum())


class ShapeMeasure(Measure):
    """Angular shape metric theta_alpha (radians, 0 = same shape up to the alignment group)."""

    name = "shape"
    symmetric = True
    kind = "distance"
    bounds = (0.0, math.pi / 2)

    def __init__(self, alpha: float = 1.0):
        if not 0.0 <= alpha <= 1.0:
            raise ValidationError(f"alpha must be in [0, 1] (1: rotations only, 0: any invertible linear map); "
                                  f"got {alpha}")
        self.alpha = float(alpha)

    def params(self) -> dict:
        return {"alpha": self.alpha}

    def prepare(self, X: np.ndarray) -> _Aligned:
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        if self.alpha == 1.0 and n > d:
            # phi(X) = X_c and ||X_c^T Y_c||_* needs no SVD: A = X_c (n x d) has the same cross nuclear norms
            from ftgeo.analysis.similarity import center
            Xc = center(X)
            nrm = float(np.linalg.norm(Xc))
            if not nrm > 16 * _EPS * math.sqrt(n) * float(np.linalg.norm(X)):
                raise UndefinedMeasure("constant layer (zero variance after centring, up to rounding)")
            return _Aligned(Xc, nrm)
        U, s, _ = thin_basis(X)
        w = self.alpha * s + (1.0 - self.alpha)
        A = U * w
        return _Aligned(A, float(np.linalg.norm(w)))

    def _ratio(self, a: _Aligned, b: _Aligned, M: np.ndarray) -> float:
        return min(1.0, max(0.0, _nuclear(M) / (a.norm * b.norm)))

    def pair(self, a: _Aligned, b: _Aligned) -> float:
        return self.finish(self._ratio(a, b, a.A.T @ b.A))

    def pair_row(self, a: _Aligned, bs) -> list[float]:
        if len(bs) <= 1:
            return [self.pair(a, b) for b in bs]
        big = a.A.T @ np.concatenate([b.A for b in bs], axis=1)       # one GEMM for the row
        out, k = [], 0
        for b in bs:
            r = b.A.shape[1]
            out.append(self.finish(self._ratio(a, b, big[:, k:k + r])))
            k += r
        return out

    def finish(self, ratio: float) -> float:
        return math.acos(ratio)

    def to_similarity(self, v: float) -> float:
        return math.cos(v)


class ProcrustesMeasure(ShapeMeasure):
    """Orthogonal Procrustes distance between unit-Frobenius-norm centred representations, in [0, sqrt 2]."""

    name = "procrustes"
    bounds = (0.0, math.sqrt(2.0))

    def __init__(self):
        super().__init__(alpha=1.0)

    def params(self) -> dict:
        return {}

    def finish(self, ratio: float) -> float:
        return math.sqrt(max(0.0, 2.0 - 2.0 * ratio))

    def to_similarity(self, v: float) -> float:
        return 1.0 - v * v / 2.0


def procrustes_distance(X, Y) -> float:
    """Orthogonal Procrustes distance of the centred, unit-norm X and Y (module docstring)."""
    return ProcrustesMeasure()(X, Y)


def shape_distance(X, Y, alpha: float = 1.0) -> float:
    """Angular shape metric theta_alpha(X, Y) in radians (module docstring)."""
    return ShapeMeasure(alpha)(X, Y)
