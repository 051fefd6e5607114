"""Centred Kernel Alignment (CKA): pairwise functions, minibatch CKA and the layer x layer matrix.

References
----------
* Kornblith, Norouzi, Lee & Hinton (2019), "Similarity of Neural Network Representations
  Revisited", ICML. Linear CKA (their Eq. 4 with HSIC from Eq. 3):

      HSIC(K, L) = tr(K H L H) / (n - 1)^2,     H = I - 11^T / n
      CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

  With linear kernels K = XX^T, L = YY^T and column-centred X, Y this equals the
  feature-space form (their Eq. 5)

      CKA_lin(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F).

  RBF kernel: k(x, x') = exp(-||x - x'||^2 / (2 sigma^2)) with sigma a fraction
  (``threshold``) of the median pairwise distance (Section 6.1 / their reference code).
* Song, Smola, Gretton, Bedo & Borgwardt (2012), "Feature Selection via Dependence
  Maximization", JMLR, Eq. 5: the unbiased HSIC estimator

      HSIC_1(K, L) = 1 / (n (n - 3)) [ tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n - 1)(n - 2))
                                        - 2 / (n - 2) 1^T K~ L~ 1 ],

  K~, L~ = K, L with their diagonals set to 0. "Debiased CKA" replaces HSIC by HSIC_1
  (Kornblith et al. reference code; Nguyen, Raghu & Kornblith 2021, Eq. 2).
* Nguyen, Raghu & Kornblith (2021), "Do Wide and Deep Networks Learn the Same Things?",
  ICLR, Eq. 3: minibatch CKA accumulates HSIC_1 over k minibatches,

      CKA_mb = (1/k sum_i HSIC_1(X_i X_i^T, Y_i Y_i^T))
               / sqrt(1/k sum_i HSIC_1(K_i, K_i) * 1/k sum_i HSIC_1(L_i, L_i)).

Numerical choices (documented here once):

* Everything accumulates in float64.  Centring is two-pass (subtract the mean, then the mean of
  the residual) and a column whose entries are all equal becomes exactly 0.
* A constant representation has no similarity defined.  "Constant" is scale-aware: X is constant
  up to rounding when ``||X - mean||_F <= 16 eps sqrt(n) ||X||_F`` (eps = 2^-52; the mean of n
  equal values is off by about eps sqrt(n) of them, so e.g. ``np.full((n, d), 0.1)`` is constant
  although 0.1 is not representable).  The pairwise functions raise
  :class:`ConstantRepresentationError` (a :class:`~ftgeo.errors.ValidationError`); the layer matrix
  puts NaN in that layer's row/column and warns, naming the layer (a BERT ``cls`` layer 0 is
  constant by construction).  ``standardize`` applies the same test per column (such a column
  becomes 0 instead of rounding noise blown up to unit variance).
* The debiased estimator can be 0/0 on a representation that is not constant: HSIC_1(K, K) =
  ||U(K)||_F^2 / (n (n - 3)) is 0 whenever U-centring removes K entirely (K_ij = a_i + a_j off the
  diagonal), e.g. for two distinct rows, one of them a single row.  Its computed value is then
  rounding noise and the ratio anything (1.0-3.9 was observed).  The self-similarity counts as 0
  when it is not resolved: in the feature form (a difference of terms of size T =
  ||X^T X||_F^2 + n/(n-2) ||r||^2 + (sum r)^2/((n-1)(n-2)), r the row norms squared) when it is
  <= 1024 (n + d) eps T; in the Gram form when ||U(K)||_F <= 32 (n + d) eps ||K~||_F (K~ = K with a
  zero diagonal).  Observed rounding noise on such inputs stays below 0.4 (n + d) eps T.  Then the
  pairwise functions raise :class:`ConstantRepresentationError`, the layer matrix writes NaN and warns.
* Bounds.  Biased CKA lies in [0, 1] (Cauchy-Schwarz on the Frobenius inner product of centred
  Grams, and <H K H, H L H> >= 0 as both are PSD).  Debiased / minibatch CKA lies in [-1, 1]
  (Cauchy-Schwarz for the U-centred inner product); its numerator is an unbiased estimate of a
  non-negative quantity and can be slightly negative for unrelated representations.  We do **not**
  clip values inside the bound: clipping would bias the estimator that debiasing is there to
  remove.  Negative values mean "no detectable similarity".  A computed value outside the bound
  by no more than its rounding-error estimate (4 (n + d) eps times the magnitudes involved, see
  :func:`_bounded`) is set to the bound (e.g. 1.0000000000000002 for X = Y becomes 1.0); a value
  outside by more is treated as unresolved (NaN / the error), never returned.
* The unbiased estimator divides by n - 3: it needs n >= 4 examples (per minibatch).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ftgeo._checks import check_features, check_in, check_random_state, check_same_rows
from ftgeo.analysis._base import RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, StrOptions, fit_context
from ftgeo.analysis.layerwise import resolve_pairs
from ftgeo.errors import ValidationError

KERNELS = ("linear", "rbf")

__all__ = [
    "center", "standardize_features", "gram_linear", "gram_rbf", "center_gram", "u_center_gram",
    "hsic", "hsic_unbiased", "cka", "cka_gram", "linear_cka_features", "minibatch_cka",
    "layer_cka_matrix", "layer_cka_matrices", "layer_cka_jackknife", "cka_permutation_null", "LayerCKA",
    "ConstantRepresentationError",
]

_EPS = float(np.finfo(np.float64).eps)
_CONST_FACTOR = 16.0        # constant up to rounding: ||X - mean||_F <= 16 eps sqrt(n) ||X||_F
_FEAT_RESOLVE = 1024.0      # debiased feature form: self-similarity resolved above 1024 (n + d) eps T
_GRAM_RESOLVE = 32.0        # Gram form: ||U(K)||_F (or ||H K H||_F) resolved above 32 (n + d) eps ||K||_F
_ERR_FACTOR = 4.0           # rounding-error estimate of a ratio: 4 (n + d) eps x (magnitudes / values)


class ConstantRepresentationError(ValidationError):
    """A representation with zero variance after centring (up to rounding), or whose debiased
    self-similarity is 0 up to rounding: CKA is 0/0 there."""


# ----------------------------------------------------------------------------- building blocks
def center(X: np.ndarray) -> np.ndarray:
    """Column-centre ``X`` in float64 (subtract each feature's mean).

    Two passes (the second removes the rounding error of the first mean), and a column whose
    entries are all equal becomes exactly 0 (its mean is not representable in general).
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0, keepdims=True)
    if Xc.shape[0] == 0:
        return Xc
    const = (Xc == Xc[:1]).all(axis=0)
    Xc -= Xc.mean(axis=0, keepdims=True)
    if const.any():
        Xc[:, const] = 0.0
    return Xc


def _const_tol(n: int) -> float:
    """Relative size of a centred representation below which it is constant up to rounding."""
    return _CONST_FACTOR * _EPS * math.sqrt(max(n, 1))


def standardize_features(X: np.ndarray) -> np.ndarray:
    """z-score every dimension (float64); zero-variance dimensions become 0.

    With one rogue dimension of huge variance (Timkey & van Schijndel 2021) linear CKA is
    dominated by that dimension; standardizing first weighs every dimension equally.  A dimension
    is zero-variance when it is constant up to rounding (``||x - mean|| <= 16 eps sqrt(n) ||x||``):
    dividing its rounding noise by its (noise) standard deviation would invent a unit-variance signal.
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = center(X)
    return _standardize_centred(Xc, X)


def _standardize_centred(Xc: np.ndarray, X: np.ndarray) -> np.ndarray:
    n = Xc.shape[0]
    sd = Xc.std(axis=0, keepdims=True)
    rms = np.sqrt(np.mean(X * X, axis=0, keepdims=True))
    zero = ~(sd > _const_tol(n) * rms)
    return np.where(zero, 0.0, Xc / np.where(zero, 1.0, sd))


def gram_linear(X: np.ndarray) -> np.ndarray:
    """K = X X^T (float64)."""
    X = np.asarray(X, dtype=np.float64)
    return X @ X.T


def _sq_distances(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    g = X @ X.T
    sq = np.diag(g)
    d = sq[:, None] + sq[None, :] - 2.0 * g
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def gram_rbf(X: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """RBF Gram matrix exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma = threshold * median distance.

    As in Kornblith et al. (2019)'s reference code the median is taken over all n^2 squared
    distances (diagonal included), i.e. sigma^2 = threshold^2 * median(||x_i - x_j||^2).
    """
    if not threshold > 0:
        raise ValidationError(f"threshold (RBF bandwidth as a fraction of the median distance) must be > 0; got {threshold}")
    d = _sq_distances(X)
    med = float(np.median(d))
    if med <= 0:
        raise ConstantRepresentationError(
            "the median pairwise distance is 0 (more than half the rows are identical), so the RBF "
            "bandwidth is undefined; remove duplicate rows or use kernel='linear'.")
    return np.exp(-d / (2.0 * threshold ** 2 * med))


def center_gram(K: np.ndarray, unbiased: bool = False) -> np.ndarray:
    """H K H (biased) or the U-centred Gram (unbiased; Szekely & Rizzo 2014, Song et al. 2012).

    For the U-centred Gram, <U(K), U(L)>_F / (n (n - 3)) equals HSIC_1 of Song et al. (2012, Eq. 5).
    """
    K = np.array(K, dtype=np.float64, copy=True)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValidationError(f"a Gram matrix must be square; got shape {K.shape}")
    if not np.allclose(K, K.T, rtol=1e-8, atol=1e-10 * max(1.0, float(np.abs(K).max(initial=0.0)))):
        raise ValidationError("the Gram matrix is not symmetric; pass K = k(X, X)")
    if unbiased:
        return u_center_gram(K)
    K -= K.mean(axis=0, keepdims=True)
    K -= K.mean(axis=1, keepdims=True)
    return K


def u_center_gram(K: np.ndarray) -> np.ndarray:
    """U-centring of a square Gram (copy): zero diagonal, double-centred with n-2 / 2(n-1) weights."""
    K = np.array(K, dtype=np.float64, copy=True)
    n = K.shape[0]
    _need_n(n, 4, "the unbiased HSIC estimator")
    np.fill_diagonal(K, 0.0)
    means = K.sum(axis=0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    K -= means[:, None]
    K -= means[None, :]
    np.fill_diagonal(K, 0.0)
    return K


def _need_n(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise ValidationError(f"{what} needs at least {minimum} examples (it divides by n - 3); got n = {n}. "
                              "Use more examples, a larger batch_size, or debiased=False.")


def hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Biased HSIC (Gretton et al. 2005; Kornblith et al. 2019 Eq. 3): tr(K H L H) / (n - 1)^2."""
    Kc = center_gram(K)
    Lc = center_gram(L)
    n = Kc.shape[0]
    return float(np.vdot(Kc, Lc) / (n - 1) ** 2)


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Unbiased HSIC_1 of Song et al. (2012, Eq. 5), computed through U-centring."""
    n = np.shape(K)[0]
    if np.shape(L) != np.shape(K):
        raise ValidationError(f"K and L must have the same shape; got {np.shape(K)} and {np.shape(L)}")
    Ku = center_gram(K, unbiased=True)
    Lu = center_gram(L, unbiased=True)
    return float(np.vdot(Ku, Lu) / (n * (n - 3)))


# ----------------------------------------------------------------------------- pairwise CKA
def _prep_pair(X, Y, standardize: bool):
    X = check_features(X, "X", min_samples=2)
    Y = check_features(Y, "Y", min_samples=2)
    check_same_rows(X, Y)
    out = []
    for A, name in ((X, "X"), (Y, "Y")):
        Ac = center(A)
        if _is_constant(A, Ac):
            raise ConstantRepresentationError(
                f"{name} is constant (every row is the same after centring, up to rounding), so CKA is 0/0 and "
                "undefined; drop this layer (e.g. a 'cls'-pooled embedding layer) or check the extraction.")
        out.append(_standardize_centred(Ac, A) if standardize else Ac)
    return out[0], out[1]


def _is_constant(X: np.ndarray, Xc: np.ndarray) -> bool:
    """True when ``Xc`` (``X`` centred) is 0 up to rounding: ||Xc||_F <= 16 eps sqrt(n) ||X||_F."""
    norm = float(np.linalg.norm(Xc))
    return norm == 0.0 or norm <= _const_tol(X.shape[0]) * float(np.linalg.norm(X))


def _debiased_dot(xty_sq: float, rows_x: np.ndarray, rows_y: np.ndarray, nx: float, ny: float, n: int) -> float:
    """n (n - 3) HSIC_1 for linear kernels of centred features (Kornblith et al. reference code)."""
    return xty_sq - n / (n - 2.0) * float(rows_x @ rows_y) + nx * ny / ((n - 1.0) * (n - 2.0))


def _debiased_terms(xty_sq, dots, tx, ty, n, magnitude: bool = False):
    """:func:`_debiased_dot` (or :func:`_debiased_mag`) vectorised over leave-outs: ``dots`` = rows_x . rows_y,
    ``tx``, ``ty`` the row-norm totals, ``n`` the rows kept (arrays of one entry per leave-out)."""
    if magnitude:
        return np.abs(xty_sq) + n / (n - 2.0) * np.abs(dots) + np.abs(tx * ty) / ((n - 1.0) * (n - 2.0))
    return xty_sq - n / (n - 2.0) * dots + tx * ty / ((n - 1.0) * (n - 2.0))


def _debiased_mag(xty_sq: float, rows_x: np.ndarray, rows_y: np.ndarray, nx: float, ny: float, n: int) -> float:
    """The magnitude T of the terms :func:`_debiased_dot` cancels: its rounding error is about (n + d) eps T."""
    return abs(xty_sq) + n / (n - 2.0) * abs(float(rows_x @ rows_y)) + abs(nx * ny) / ((n - 1.0) * (n - 2.0))


_UNRESOLVED = ("{name} has zero debiased self-similarity up to rounding (HSIC_1(K, K) = ||U(K)||^2 / (n (n - 3)) "
               "is below the float64 resolution of its terms; e.g. every row but one is the same), so debiased "
               "CKA is 0/0 and undefined; use debiased=False or more varied examples.")


def _resolved(self_sim: float, mag: float, n: int, d: int, form: str) -> bool:
    """Is a (debiased or Gram) self-similarity distinguishable from 0 given the rounding of its terms?

    ``form="features"``: self_sim = n (n - 3) HSIC_1 from :func:`_debiased_dot`, mag = its T;
    resolved when self_sim > 1024 (n + d) eps T.  ``form="gram"``: self_sim = ||G||_F^2 of the
    centred / U-centred Gram G, mag = ||K~||_F^2 of the Gram it came from; resolved when
    ||G||_F > 32 (n + d) eps ||K~||_F.
    """
    if not (self_sim > 0.0 and math.isfinite(self_sim)):
        return False
    if form == "features":
        return self_sim > _FEAT_RESOLVE * (n + d) * _EPS * mag
    return math.sqrt(self_sim) > _GRAM_RESOLVE * (n + d) * _EPS * math.sqrt(mag)


def _bounded(xy: float, xx: float, yy: float, *, lower: float, err: float) -> float:
    """xy / sqrt(xx yy) for resolved xx, yy > 0, inside [lower, 1]: an excursion of at most ``err``
    (the rounding-error estimate) is set to the bound; a larger one gives NaN (unresolved)."""
    v = xy / math.sqrt(xx * yy)
    if v > 1.0:
        return 1.0 if v - 1.0 <= err else float("nan")
    if v < lower:
        return lower if lower - v <= err else float("nan")
    return v


def _feature_err(n: int, d: int, mx: float, my: float, xx: float, yy: float) -> float:
    """Rounding-error estimate of a debiased feature-form ratio (magnitudes mx, my of xx, yy)."""
    rx, ry = mx / xx, my / yy
    return _ERR_FACTOR * (n + d) * _EPS * (math.sqrt(rx * ry) + 0.5 * (rx + ry))


def _gram_err(n: int) -> float:
    """Rounding-error estimate of a Gram-form ratio (Cauchy-Schwarz holds for the computed Grams;
    only the n^2-term inner products round)."""
    return _ERR_FACTOR * (n * n + n) * _EPS


def linear_cka_features(X: np.ndarray, Y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA in feature space (Kornblith et al. 2019, Eq. 5) on already centred float64 X, Y.

    Costs O(n d_x d_y): the natural form when n > d. With ``debiased=True`` each Frobenius
    product is replaced by n (n - 3) HSIC_1 (Song et al. 2012, Eq. 5), written with row norms so
    no n x n matrix is formed.  Raises :class:`ConstantRepresentationError` when X or Y is 0 or
    (debiased) has a self-similarity that is 0 up to rounding; see the module notes for the bound.
    """
    n = X.shape[0]
    dx, dy = X.shape[1], Y.shape[1]
    d = max(dx, dy)
    xty = float(np.linalg.norm(X.T @ Y) ** 2)
    xtx = float(np.linalg.norm(X.T @ X) ** 2)
    yty = float(np.linalg.norm(Y.T @ Y) ** 2)
    if not debiased:
        _ratio(xty, xtx, yty)                         # raises when X or Y is 0
        return _checked(_bounded(xty, xtx, yty, lower=0.0, err=_ERR_FACTOR * (n + d) * _EPS))
    _need_n(n, 4, "debiased CKA")
    rx = np.einsum("ij,ij->i", X, X)
    ry = np.einsum("ij,ij->i", Y, Y)
    sx, sy = float(rx.sum()), float(ry.sum())
    mx = _debiased_mag(xtx, rx, rx, sx, sx, n)
    my = _debiased_mag(yty, ry, ry, sy, sy, n)
    xy = _debiased_dot(xty, rx, ry, sx, sy, n)
    xx = _debiased_dot(xtx, rx, rx, sx, sx, n)
    yy = _debiased_dot(yty, ry, ry, sy, sy, n)
    for val, mag, dim, name in ((xx, mx, dx, "X"), (yy, my, dy, "Y")):
        if not _resolved(val, mag, n, dim, "features"):
            raise ConstantRepresentationError(_UNRESOLVED.format(name=name))
    return _checked(_bounded(xy, xx, yy, lower=-1.0, err=_feature_err(n, d, mx, my, xx, yy)))


def _checked(v: float) -> float:
    if math.isnan(v):
        raise ConstantRepresentationError("the CKA estimate fell outside its bound by more than its rounding error "
                                          "(an unresolved 0/0); check for (nearly) constant layers.")
    return v


def _ratio(xy: float, xx: float, yy: float) -> float:
    den = math.sqrt(max(xx, 0.0) * max(yy, 0.0))
    if den == 0.0:
        raise ConstantRepresentationError("a representation has zero (debiased) self-similarity, so CKA is undefined; "
                                          "check for constant layers or use more examples.")
    return xy / den


def _gram_mag(K: np.ndarray) -> float:
    """||K~||_F^2: the Gram without its diagonal (what centring / U-centring works from)."""
    return float(np.vdot(K, K)) - float(np.sum(np.diag(K) ** 2))


def cka_gram(K: np.ndarray, L: np.ndarray, *, debiased: bool = False) -> float:
    """CKA of two Gram matrices (Kornblith et al. 2019, Eq. 4; HSIC_1 of Song et al. 2012 if ``debiased``).

    Raises :class:`ConstantRepresentationError` when a centred (U-centred) Gram is 0 up to rounding
    (``||G||_F <= 32 (n + d) eps ||K~||_F``, with d = n here); the result lies in [0, 1] (biased) or
    [-1, 1] (debiased), see the module notes.
    """
    return _cka_gram(K, L, debiased, ("K", "L"), None)


def _cka_gram(K, L, debiased: bool, names, dims: tuple | None) -> float:
    """CKA of two Grams with the resolution rule and the bound; ``dims`` = the feature counts
    (d_x, d_y) behind K and L (None: n)."""
    Kc = center_gram(K, unbiased=debiased)
    Lc = center_gram(L, unbiased=debiased)
    n = Kc.shape[0]
    dims = (n, n) if dims is None else dims
    xx, yy = float(np.vdot(Kc, Kc)), float(np.vdot(Lc, Lc))
    for val, G, d, name in ((xx, K, dims[0], names[0]), (yy, L, dims[1], names[1])):
        if not _resolved(val, _gram_mag(np.asarray(G, dtype=np.float64)), n, d, "gram"):
            if debiased:
                raise ConstantRepresentationError(_UNRESOLVED.format(name=name))
            raise ConstantRepresentationError(f"the centred Gram of {name} is 0 up to rounding (a constant "
                                              "representation), so CKA is 0/0 and undefined.")
    v = _bounded(float(np.vdot(Kc, Lc)), xx, yy, lower=-1.0 if debiased else 0.0, err=_gram_err(n))
    return _checked(v)


def cka(X, Y, *, kernel: str = "linear", debiased: bool = False, standardize: bool = False,
        threshold: float = 1.0) -> float:
    """CKA between two representations of the same n examples (rows aligned).

    ``kernel='linear'`` picks the feature-space form ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
    when n > max(d_x, d_y) and the Gram form (HSIC of centred Grams) otherwise; the two are
    equal (Kornblith et al. 2019, Eq. 4-5). ``kernel='rbf'`` uses :func:`gram_rbf` with
    sigma = ``threshold`` x median distance. ``debiased`` uses HSIC_1 (needs n >= 4).
    ``standardize`` z-scores every dimension first (see module notes on rogue dimensions).

    Raises :class:`ConstantRepresentationError` (a ValidationError) for a constant X or Y (up to
    rounding), or, with ``debiased``, when a debiased self-similarity is 0 up to rounding (0/0).
    The value is in [0, 1] (biased) or [-1, 1] (debiased); see the module notes.
    """
    check_in(kernel, KERNELS, "kernel")
    X, Y = _prep_pair(X, Y, standardize)
    n = X.shape[0]
    if debiased:
        _need_n(n, 4, "debiased CKA")
    dims = (X.shape[1], Y.shape[1])
    if kernel == "rbf":
        return _cka_gram(gram_rbf(X, threshold), gram_rbf(Y, threshold), debiased, ("X", "Y"), dims)
    if n > max(dims):
        return linear_cka_features(X, Y, debiased=debiased)
    return _cka_gram(gram_linear(X), gram_linear(Y), debiased, ("X", "Y"), dims)


def minibatch_cka(X, Y, *, batch_size: int = 1024, kernel: str = "linear", threshold: float = 1.0,
                  standardize: bool = False, shuffle: bool = True, random_state=0) -> float:
    """Minibatch CKA of Nguyen et al. (2021, Eq. 3): HSIC_1 summed over minibatches, then the ratio.

    Memory is O(batch_size^2) whatever n is. A last batch smaller than 4 examples is merged into
    the previous one. With ``batch_size >= n`` this is exactly the debiased CKA. For the RBF
    kernel the bandwidth is set per minibatch. ``standardize`` uses the full-data statistics.
    Raises :class:`ConstantRepresentationError` when X or Y is constant (up to rounding) or its
    summed HSIC_1 self-similarity is 0 up to rounding (the Gram-form rule of the module notes,
    with the summed ||K~||_F^2 of the batches); the value lies in [-1, 1].
    """
    check_in(kernel, KERNELS, "kernel")
    X, Y = _prep_pair(X, Y, standardize)
    idx = _batches(X.shape[0], batch_size, shuffle, random_state)
    xy = xx = yy = mx = my = 0.0
    m_max = 4
    for b in idx:
        K = _gram(X[b], kernel, threshold)
        L = _gram(Y[b], kernel, threshold)
        Ku, Lu = u_center_gram(K), u_center_gram(L)
        m = len(b)
        m_max = max(m_max, m)
        s = 1.0 / (m * (m - 3))
        xy += s * float(np.vdot(Ku, Lu))
        xx += s * float(np.vdot(Ku, Ku))
        yy += s * float(np.vdot(Lu, Lu))
        mx += s * _gram_mag(K)
        my += s * _gram_mag(L)
    for val, mag, d, name in ((xx, mx, X.shape[1], "X"), (yy, my, Y.shape[1], "Y")):
        if not _resolved(val, mag, m_max, d, "gram"):
            raise ConstantRepresentationError(_UNRESOLVED.format(name=name))
    return _checked(_bounded(xy, xx, yy, lower=-1.0, err=_gram_err(m_max)))


def _gram(X, kernel, threshold):
    return gram_linear(X) if kernel == "linear" else gram_rbf(X, threshold)


def _batches(n: int, batch_size: int, shuffle: bool, random_state) -> list[np.ndarray]:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 4:
        raise ValidationError(f"batch_size must be an int >= 4 for the unbiased HSIC estimator; got {batch_size!r}")
    _need_n(n, 4, "minibatch CKA")
    order = check_random_state(random_state).permutation(n) if shuffle else np.arange(n)
    out = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(out) > 1 and len(out[-1]) < 4:
        last = out.pop()                      # (popping inside the assignment to out[-2] shifted the index)
        out[-1] = np.concatenate([out[-1], last])
    return out


# ----------------------------------------------------------------------------- layer x layer
@dataclass
class _Stats:
    """What one layer contributes to every pair, computed once."""

    Z: Any                 # centred features (torch/np float64) or U/centred Gram (rbf / gram route)
    self_sim: float        # ||X^T X||_F^2 (or its debiased / Gram analogue)
    rows: np.ndarray | None = None   # row squared norms (debiased feature form)
    total: float = 0.0               # sum of rows
    constant: bool = False
    mag: float = 0.0                 # magnitude of the terms behind self_sim (rounding scale)
    d: int = 0                       # number of features
    why: str | None = None           # None, or why this layer's CKA is undefined ("constant", "debiased", "rbf")
    jack: "_Jack | None" = None      # leave-one-block-out statistics (feature route with blocks)


@dataclass
class _Jack:
    """What one layer contributes to every pair's G leave-one-block-out values (feature route; NumPy)."""

    sums: np.ndarray                 # (G, d) column sums s_g of Z over each block
    w2: np.ndarray | None            # (G, d) 1 / leave-out variances (standardize), or None (weights 1)
    self_sim: np.ndarray             # (G,) leave-out self-similarity (debiased: n'(n'-3) HSIC_1)
    ok: np.ndarray                   # (G,) bool: the leave-out is defined (not constant / resolved)
    sw: Any                          # (G, d) w2 o s_g (backend)
    p: Any                           # (n,) z_k . (w2 o s)_{block of k} (backend)
    q: np.ndarray                    # (G,) s_g^T W s_g
    grams: Any                       # (G, m, m) block Grams Z[g] W_g Z[g]^T, zero-padded (backend), or None
    w2_t: Any = None                 # w2 on the backend
    rows: Any = None                 # (n, G) leave-out row norms (debiased; backend), 0 on the rows left out
    total: np.ndarray | None = None  # (G,) their sums
    mag: np.ndarray | None = None    # (G,) magnitudes behind self_sim (debiased rounding scale)


class _Engine:
    """Exact layer x layer CKA with per-layer statistics computed once."""

    def __init__(self, n: int, d: int, kernel: str, debiased: bool, standardize: bool,
                 threshold: float, device: str | None, blocks=None):
        self.n, self.kernel, self.debiased, self.standardize = n, kernel, debiased, standardize
        self.threshold, self.d_max, self.device_name = threshold, d, device
        # feature form for linear kernels when n > d; Gram form otherwise (rbf always)
        self.route = "features" if (kernel == "linear" and n > d) else "gram"
        self.torch, self.device = _backend(device)
        if debiased:
            _need_n(n, 4, "debiased CKA")
        self.G = 0
        if blocks is not None:
            self._set_blocks(blocks)

    def _set_blocks(self, blocks) -> None:
        """Delete-a-group jackknife blocks: ``blocks[i]`` in 0..G-1 for every row."""
        b = np.asarray(blocks)
        if b.shape != (self.n,) or not np.issubdtype(b.dtype, np.integer) or b.size == 0 or b.min() < 0:
            raise ValidationError(f"blocks must hold one block index >= 0 per row ({self.n} rows); got shape "
                                  f"{b.shape}, dtype {b.dtype}")
        b = b.astype(np.int64)
        counts = np.bincount(b)
        if counts.size < 2 or (counts == 0).any():
            raise ValidationError(f"blocks must number 0..G-1 with G >= 2 and every block non-empty; got counts "
                                  f"{counts.tolist()[:10]}")
        keep = self.n - counts
        need = 4 if self.debiased else 2
        if keep.min() < need:
            raise ValidationError(f"leaving out one block keeps only {int(keep.min())} rows; CKA needs at least "
                                  f"{need}: use more rows or fewer, smaller blocks")
        self.G = int(counts.size)
        self.block_of = b
        self.perm = np.argsort(b, kind="stable")
        self.bounds = np.r_[0, np.cumsum(counts)]
        self.n_keep = keep.astype(np.float64)
        self._perm_t = self._to_index(self.perm)
        pos = np.empty(self.n, dtype=np.int64)                 # each row's position within its block
        pos[self.perm] = np.arange(self.n) - np.repeat(self.bounds[:-1], counts)
        self._bo_t, self._pos_t, self._arange_t = (self._to_index(v) for v in (b, pos, np.arange(self.n)))
        ind = np.zeros((self.G, self.n))
        ind[b, np.arange(self.n)] = 1.0
        self._ind = self._to(ind)

    def prepare(self, X: np.ndarray) -> _Stats:
        X = check_features(X, "layer", min_samples=2)
        d = X.shape[1]
        Xc = center(X)
        if _is_constant(X, Xc):
            return _Stats(Z=None, self_sim=0.0, constant=True, d=d, why="constant")
        if self.standardize:
            Xc = _standardize_centred(Xc, X)
        if self.route == "features":
            Z = self._to(Xc)
            F = Z.T @ Z
            xtx = float(self._fro2(F))
            jack = self._jack_features(Z, F) if self.G else None
            del F
            if not self.debiased:
                return _Stats(Z=Z, self_sim=xtx, d=d, jack=jack)
            rows = np.einsum("ij,ij->i", Xc, Xc)
            tot = float(rows.sum())
            sim = _debiased_dot(xtx, rows, rows, tot, tot, self.n)
            mag = _debiased_mag(xtx, rows, rows, tot, tot, self.n)
            if not _resolved(sim, mag, self.n, d, "features"):
                return _Stats(Z=None, self_sim=0.0, d=d, why="debiased")
            return _Stats(Z=Z, self_sim=sim, rows=rows, total=tot, mag=mag, d=d, jack=jack)
        try:
            K = _gram(Xc, self.kernel, self.threshold)
        except ConstantRepresentationError:          # RBF bandwidth undefined (median distance 0)
            return _Stats(Z=None, self_sim=0.0, d=d, why="rbf")
        return self._from_gram(K, d)

    def _from_gram(self, K: np.ndarray, d: int) -> _Stats:
        """A layer's statistics from its (uncentred, float64, owned) Gram matrix K on the Gram route."""
        mag = _gram_mag(K)
        if self.debiased:
            G = u_center_gram(K)
        else:   # H K H in place (K is ours and symmetric by construction: skip center_gram's checks)
            K -= K.mean(axis=0, keepdims=True)
            K -= K.mean(axis=1, keepdims=True)
            G = K
        G = self._to(G)
        sim = float(self._dot(G, G))
        if not _resolved(sim, mag, self.n, d, "gram"):
            return _Stats(Z=None, self_sim=0.0, d=d, why="debiased" if self.debiased else "constant")
        return _Stats(Z=G, self_sim=sim, mag=mag, d=d)

    def pair(self, a: _Stats, b: _Stats) -> float:
        """CKA of two prepared layers: NaN when either is undefined, or (never seen) when the value
        falls outside its bound by more than its rounding-error estimate (see :func:`_bounded`)."""
        if a.why or b.why:
            return float("nan")
        d = max(a.d, b.d)
        if self.route == "features":
            xy = float(self._fro2(a.Z.T @ b.Z))
            if self.debiased:
                xy = _debiased_dot(xy, a.rows, b.rows, a.total, b.total, self.n)
                return _bounded(xy, a.self_sim, b.self_sim, lower=-1.0,
                                err=_feature_err(self.n, d, a.mag, b.mag, a.self_sim, b.self_sim))
            return _bounded(xy, a.self_sim, b.self_sim, lower=0.0, err=_ERR_FACTOR * (self.n + d) * _EPS)
        xy = float(self._dot(a.Z, b.Z))
        return _bounded(xy, a.self_sim, b.self_sim, lower=-1.0 if self.debiased else 0.0, err=_gram_err(self.n))

    # ------------------------------------------------------------------ jackknife (feature route)
    # With C_g = F - B_g - c_g s_a,g s_b,g^T (F = Z_a^T Z_b, B_g = Z_a[g]^T Z_b[g], c_g = 1 / n_g') and the
    # leave-out standardization weights w_a,g, w_b,g (1 without standardize), the weighted
    # ||C_g||^2 = sum_ij w_a,gi w_b,gj C_g,ij^2 expands into terms that need no d x d matrix per block:
    #   T2 = sum w w F^2                  (w_a,g^T (F o F) w_b,g: one (G, d) x (d, d) product)
    #   T1 = <F, B_g>_w                   (row k of block g: (z_a,k o w_a,g) F . (z_b,k o w_b,g); one n x d x d GEMM)
    #   T3 = ||B_g||_w^2                  (<Z_a[g] W_a,g Z_a[g]^T, Z_b[g] W_b,g Z_b[g]^T>: per-layer block Grams)
    #   T4 = c^2 (s_a^T W s_a)(s_b^T W s_b),  T5 = c (W s_a)^T F (W s_b),  T6 = c sum_k in g (z_a,k . W s_a)(z_b,k . W s_b)
    #   ||C_g||_w^2 = T2 + T3 + T4 - 2 T1 - 2 T5 + 2 T6.
    # All G leave-outs of a pair: about one more n x d x d GEMM than the point estimate, plus O(G d^2 + n^2 / G).
    _GRAM_BYTES = 64 * 2 ** 20      # per-layer block Grams (n^2 / G doubles) above this: direct block products

    def _jack_features(self, Z, F) -> _Jack:
        """Leave-one-block-out statistics of one layer from its centred (standardized) features ``Z``
        and ``F = Z^T Z`` (on the engine's backend; see :func:`layer_cka_jackknife`)."""
        n, d = Z.shape
        nk, bo, G = self.n_keep, self._bo_t, self.G
        sums = self._np(self._block_sums(Z))                               # (G, d)
        Z2 = Z * Z
        colsq_b = self._np(self._block_sums(Z2))
        colsq = self._np(Z2.sum(axis=0))
        del Z2
        diag = colsq[None, :] - colsq_b - sums * sums / nk[:, None]       # diag(C_g): leave-out sums of squares
        if self.standardize:
            # a column constant on the subset (its leave-out sum of squares is rounding noise of the
            # subtraction, which works at the scale of the full column) becomes 0, as in center()
            zero = ~(diag > 64.0 * (n + d) * _EPS * colsq[None, :])
            w2 = np.where(zero, 0.0, nk[:, None] / np.where(zero, 1.0, diag))
            trace = np.where(zero, 0.0, nk[:, None]).sum(axis=1)
            full_trace = float(np.count_nonzero(colsq)) * n
        else:
            w2 = None
            trace = diag.sum(axis=1)
            full_trace = float(colsq.sum())
        ok = trace > 64.0 * (n + d) * _EPS * full_trace                   # not constant on the subset
        W2 = self._to(w2 if w2 is not None else np.ones_like(sums))
        sw = W2 * self._to(sums)
        m_max = int(np.diff(self.bounds).max())
        grams = None
        if m_max <= d and G * m_max * m_max * 8 <= self._GRAM_BYTES:
            Zp = self._zeros((G, m_max, d))                                # blocks, zero-padded to m_max rows
            Zp[bo, self._pos_t] = Z
            grams = (Zp * W2[:, None, :]) @ Zp.swapaxes(1, 2)
            del Zp
        jack = _Jack(sums=sums, w2=w2, self_sim=np.zeros(G), ok=ok, sw=sw, p=(Z * sw[bo]).sum(axis=1),
                     q=self._np((sw * self._to(sums)).sum(axis=1)), grams=grams, w2_t=W2 if w2 is not None else None)
        xx = self._leave_out_fro2(F, Z, jack, Z, jack)
        if not self.debiased:
            ok &= xx > 0
            jack.self_sim = np.where(ok, xx, 0.0)
            return jack
        U = self._to(sums / nk[:, None])
        rows = (Z * Z) @ W2.T + 2.0 * (Z @ (U * W2).T) + (U * U * W2).sum(axis=1)[None, :]
        rows[self._arange_t, bo] = 0.0
        total = self._np(rows.sum(axis=0))
        dots = self._np((rows * rows).sum(axis=0))
        sim = _debiased_terms(xx, dots, total, total, nk)
        mag = _debiased_terms(xx, dots, total, total, nk, magnitude=True)
        for g in range(G):
            ok[g] = ok[g] and _resolved(float(sim[g]), float(mag[g]), int(nk[g]), d, "features")
        jack.self_sim, jack.rows, jack.total, jack.mag = np.where(ok, sim, 0.0), rows, total, mag
        return jack

    def _block_sums(self, M):
        """The rows of ``M`` summed over each block: (G, cols) for a matrix, (G,) for a vector (one
        product with the (G, n) block indicator: faster than a scatter on any backend)."""
        return self._ind @ M

    def _zeros(self, shape):
        if self.torch is None:
            return np.zeros(shape)
        return self.torch.zeros(shape, dtype=self.torch.float64, device=self.device)

    def pair_jack(self, a: _Stats, b: _Stats) -> tuple[float, np.ndarray]:
        """:meth:`pair` (the same value, bit for bit) and the pair's G leave-one-block-out values."""
        out = np.full(self.G, np.nan)
        if a.why or b.why:
            return float("nan"), out
        d = max(a.d, b.d)
        F = a.Z.T @ b.Z
        xy = float(self._fro2(F))
        if self.debiased:
            value = _bounded(_debiased_dot(xy, a.rows, b.rows, a.total, b.total, self.n), a.self_sim, b.self_sim,
                             lower=-1.0, err=_feature_err(self.n, d, a.mag, b.mag, a.self_sim, b.self_sim))
        else:
            value = _bounded(xy, a.self_sim, b.self_sim, lower=0.0, err=_ERR_FACTOR * (self.n + d) * _EPS)
        ja, jb = a.jack, b.jack
        xy_g = self._leave_out_fro2(F, a.Z, ja, b.Z, jb)
        del F
        nk = self.n_keep
        if self.debiased:
            dots = self._np((ja.rows * jb.rows).sum(axis=0))
            num = _debiased_terms(xy_g, dots, ja.total, jb.total, nk)
        for g in np.flatnonzero(ja.ok & jb.ok):
            m = int(nk[g])
            if self.debiased:
                out[g] = _bounded(float(num[g]), float(ja.self_sim[g]), float(jb.self_sim[g]), lower=-1.0,
                                  err=_feature_err(m, d, float(ja.mag[g]), float(jb.mag[g]),
                                                   float(ja.self_sim[g]), float(jb.self_sim[g])))
            else:
                out[g] = _bounded(float(xy_g[g]), float(ja.self_sim[g]), float(jb.self_sim[g]), lower=0.0,
                                  err=_ERR_FACTOR * (m + d) * _EPS)
        return value, out

    def _leave_out_fro2(self, F, Za, ja: _Jack, Zb, jb: _Jack) -> np.ndarray:
        """The weighted ||C_g||_F^2 of every block g (the expansion in the comment above), on the
        engine's backend (mixing torch and NumPy BLAS calls in one loop thrashes a small CPU)."""
        G = self.G
        c = 1.0 / self.n_keep
        bo = self._bo_t
        if ja.w2 is None:
            rowval = (Za @ F * Zb).sum(axis=1)
            t2 = np.full(G, float(self._fro2(F)))
        else:
            rowval = ((Za * ja.w2_t[bo]) @ F * (Zb * jb.w2_t[bo])).sum(axis=1)
            t2 = self._np(((ja.w2_t @ (F * F)) * jb.w2_t).sum(axis=1))
        t1 = self._np(self._block_sums(rowval))
        if ja.grams is not None and jb.grams is not None:
            t3 = self._np((ja.grams * jb.grams).sum(axis=(1, 2)))
        else:                                   # block products: one GEMM and one pass over d x d per block
            As, Bs = Za[self._perm_t], Zb[self._perm_t]
            t3 = np.empty(G)
            for g in range(G):
                lo, hi = int(self.bounds[g]), int(self.bounds[g + 1])
                A, B = As[lo:hi], Bs[lo:hi]
                if ja.w2 is not None:
                    A, B = A * ja.w2_t[g] ** 0.5, B * jb.w2_t[g] ** 0.5
                t3[g] = float(self._fro2(A.T @ B))
        t4 = c * c * ja.q * jb.q
        t5 = c * self._np(((ja.sw @ F) * jb.sw).sum(axis=1))
        t6 = c * self._np(self._block_sums(ja.p * jb.p))
        return t2 + t3 + t4 - 2.0 * t1 - 2.0 * t5 + 2.0 * t6

    def _to_index(self, v: np.ndarray):
        return v if self.torch is None else self.torch.from_numpy(np.ascontiguousarray(v)).to(self.device)

    def _np(self, A) -> np.ndarray:
        return A if self.torch is None else A.detach().cpu().numpy()

    # backend helpers
    def _to(self, A):
        if self.torch is None:
            return A
        return self.torch.from_numpy(np.ascontiguousarray(A)).to(self.device)

    def _fro2(self, M) -> float:
        if self.torch is None:
            return float(np.vdot(M, M))
        return float((M * M).sum().item())

    def _dot(self, A, B) -> float:
        if self.torch is None:
            return float(np.vdot(A, B))
        return float((A * B).sum().item())


def _backend(device: str | None):
    """``None``/'numpy' -> NumPy BLAS; 'cpu'/'cuda'/'auto' -> torch float64 (faster GEMM on CPU too)."""
    if device in (None, "numpy"):
        return None, None
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        if device == "auto":
            return None, None
        raise ValidationError(f"device={device!r} needs torch; install it or pass device='numpy'") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValidationError(f"device={device!r} but CUDA is not available; use device='cpu' or 'auto'")
    return torch, torch.device(device)


def _as_layer_list(layers) -> list:
    if hasattr(layers, "layer") and hasattr(layers, "n_layers"):
        from ftgeo.reps import stored_layer_numbers
        return [(lambda i=i: layers.layer(i, dtype=None)) for i in stored_layer_numbers(layers)]
    if isinstance(layers, np.ndarray) and layers.ndim == 3:
        return [(lambda a=a: a) for a in layers]
    if isinstance(layers, (list, tuple)) and layers:
        # elements are arrays or zero-argument loaders (so stored layers load one at a time)
        return [(a if callable(a) else (lambda a=a: a)) for a in layers]
    raise ValidationError("layers must be a Representations object, a non-empty list of (n, d) arrays "
                          "or an (n_layers, n, d) array")


def layer_cka_matrices(sets: dict[str, Sequence], pairs: Sequence[tuple[str, str]] | None = None, *,
                       kernel: str = "linear", debiased: bool = False, standardize: bool = False,
                       threshold: float = 1.0, batch_size: int | None = None, device: str | None = "auto",
                       random_state=0, progress: bool = True) -> dict[tuple[str, str], np.ndarray]:
    """Layer x layer CKA matrices for several pairs of layer sets, each layer prepared once.

    ``sets`` maps a name to a list of (n, d) arrays (or a Representations object, or a 3-D
    array); ``pairs`` lists (name_a, name_b) to compute (default: every set with itself and
    every ordered pair a < b). Exact route (``batch_size=None``): linear kernel with n > d
    keeps each layer's centred features and ||X^T X||_F^2 and computes only ||X_a^T Y_b||_F^2
    per pair (one float64 GEMM); otherwise each layer's centred (or U-centred) Gram is kept.
    ``batch_size`` switches to minibatch CKA (Nguyen et al. 2021), accumulating HSIC_1 of every
    pair batch by batch so memory is O(L batch_size^2); minibatch CKA is always the unbiased
    estimator (``debiased`` is ignored) and runs on NumPy. ``device``: 'auto' (torch, CUDA if
    available), 'cpu', 'cuda' or 'numpy'. Layers whose CKA is undefined -- constant up to rounding, a
    debiased self-similarity that is 0 up to rounding, an undefined RBF bandwidth -- give NaN
    rows/columns and a RuntimeWarning naming the set and the layer positions (module notes); the
    matrix is never aborted for them.
    """
    check_in(kernel, KERNELS, "kernel")
    pairs, used = resolve_pairs(sets, pairs)
    loaders = {k: _as_layer_list(v) for k, v in sets.items()}
    firsts = {s: np.asarray(loaders[s][0]()) for s in used}      # each set's first layer, loaded once
    for s, f in firsts.items():
        if f.ndim != 2:
            raise ValidationError(f"each layer must be a 2-D (n, d) array; set {s!r} layer 0 has shape {f.shape}")
    n = firsts[used[0]].shape[0]
    if batch_size is not None:
        return _minibatch_matrices(loaders, used, pairs, n, kernel, threshold, standardize, batch_size,
                                   random_state, device, progress)
    return _exact_matrices(loaders, used, pairs, firsts, n, kernel, debiased, standardize, threshold, device,
                           progress)[0]


def layer_cka_jackknife(sets: dict[str, Sequence], blocks, pairs: Sequence[tuple[str, str]] | None = None, *,
                        kernel: str = "linear", debiased: bool = False, standardize: bool = False,
                        threshold: float = 1.0, device: str | None = "auto", progress: bool = True
                        ) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Layer x layer CKA matrices and their delete-a-group jackknife leave-outs, each layer prepared once.

    ``blocks``: the jackknife block (0..G-1) of each row (e.g.
    :func:`ftgeo.analysis.resampling.jackknife_blocks` over sentences, so a sentence's words leave
    together). Returns ``(matrices, leave_outs)``: ``matrices`` exactly as :func:`layer_cka_matrices`
    gives them (the same values, bit for bit), ``leave_outs[(a, b)]`` of shape (G, L_a, L_b) with
    entry ``[g, i, j]`` = the CKA of the pair recomputed without the rows of block g (re-centred,
    re-standardized, with the RBF bandwidth of the remaining rows: the estimator applied to the subset).

    Feature route (linear kernel, n > d): with Z the full-centred features of a layer, s_g the column
    sums of Z over block g and R_g the other n_g' rows, the cross-product of two layers re-centred on R_g is

        C_g = Z_a^T Z_b - Z_a[g]^T Z_b[g] - s_a,g s_b,g^T / n_g'

    (the mean of Z over R_g is -s_g / n_g'), so all G leave-outs of a pair cost one more pass over the
    rows (the block products) plus O(G d^2); standardization divides C_g by the leave-out standard
    deviations (diag(C_g) / n_g'), and the debiased form needs the leave-out row norms
    ||(z_i + s_g / n_g') / sd_g||^2, an (n, G) matrix per layer. Gram route (RBF, or n <= d): every
    layer is prepared again on each subset (G times the point estimate's cost). A leave-out that is
    undefined (a constant or unresolved layer on the subset) is NaN, silently; layers undefined on
    the full data are NaN everywhere with the usual warning. Minibatch CKA has no jackknife here.
    """
    check_in(kernel, KERNELS, "kernel")
    pairs, used = resolve_pairs(sets, pairs)
    loaders = {k: _as_layer_list(v) for k, v in sets.items()}
    firsts = {s: np.asarray(loaders[s][0]()) for s in used}
    for s, f in firsts.items():
        if f.ndim != 2:
            raise ValidationError(f"each layer must be a 2-D (n, d) array; set {s!r} layer 0 has shape {f.shape}")
    n = firsts[used[0]].shape[0]
    return _exact_matrices(loaders, used, pairs, firsts, n, kernel, debiased, standardize, threshold, device,
                           progress, blocks=blocks)


def _exact_matrices(loaders, used, pairs, firsts, n, kernel, debiased, standardize, threshold, device, progress,
                    blocks=None):
    """The exact route of :func:`layer_cka_matrices` (and, with ``blocks``, its jackknife leave-outs)."""
    d_max = max(f.shape[1] for f in firsts.values())
    eng = _Engine(n, d_max, kernel, debiased, standardize, threshold, device, blocks=blocks)
    if eng.route == "gram":
        need = sum(len(loaders[s]) for s in used) * n * n * 8
        if need > 8 * 2 ** 30:
            raise ValidationError(f"the exact Gram route would hold {need / 2 ** 30:.1f} GiB of n x n matrices "
                                  f"(n = {n}); pass batch_size=... for minibatch CKA or subsample examples")
    from ftgeo.progress import progress as _progress
    stats: dict[str, list[_Stats]] = {}
    raw: dict[str, list] = {}            # the layers themselves, for the Gram route's jackknife
    for s in used:
        st = []
        for i, load in enumerate(_progress(loaders[s], enabled=progress, desc=f"CKA prepare {s}", leave=False)):
            X = firsts[s] if i == 0 else np.asarray(load())
            if X.shape[0] != n:
                raise ValidationError(f"set {s!r} layer {i} has {X.shape[0]} rows but the first layer has {n}; "
                                      "every set must hold the same examples in the same order")
            st.append(eng.prepare(X))
            if eng.G and eng.route == "gram":
                raw.setdefault(s, []).append(X)
        stats[s] = st
    del firsts
    _warn_undefined({s: [t.why for t in v] for s, v in stats.items()}, stacklevel=4)
    out = {}
    jack: dict = {}
    feat_jack = bool(eng.G) and eng.route == "features"
    off: list = []
    for a, b in pairs:
        A, B = stats[a], stats[b]
        M = np.empty((len(A), len(B)))
        J = np.full((eng.G, len(A), len(B)), np.nan) if eng.G else None
        sym = a == b
        for i in _progress(range(len(A)), enabled=progress, desc=f"CKA {a} x {b}", leave=False):
            for j in range(i if sym else 0, len(B)):
                if feat_jack:
                    M[i, j], J[:, i, j] = eng.pair_jack(A[i], B[j])
                else:
                    M[i, j] = eng.pair(A[i], B[j])
                if np.isnan(M[i, j]) and not (A[i].why or B[j].why):
                    off.append(((a, i), (b, j)))
                if sym:
                    M[j, i] = M[i, j]
                    if feat_jack:
                        J[:, j, i] = J[:, i, j]
        out[(a, b)] = M
        if J is not None:
            jack[(a, b)] = J
    _warn_off_bound(off, stacklevel=4)
    if eng.G and eng.route == "gram":
        del stats                      # the full-data Grams: the subsets' take their place, one block at a time
        jack = _gram_jackknife(eng, raw, used, pairs, progress)
    return out, (jack if eng.G else None)


def cka_permutation_null(X, Y, *, n_permutations: int = 1000, kernel: str = "linear", debiased: bool = False,
                         standardize: bool = False, threshold: float = 1.0, max_points: int | None = 2000,
                         random_state=0) -> dict[str, Any]:
    """Permutation null of CKA(X, Y): the statistic with the row correspondence of Y shuffled.

    Under H0 (the rows of Y are exchangeable given X: no correspondence between the two sets) CKA of
    X and P Y, P a uniformly random permutation, has the observed statistic's distribution. On a
    seeded subsample of at most ``max_points`` rows (the same rows of X and Y; all rows if None or
    n is smaller), both layers are prepared once as centred (U-centred if ``debiased``) Gram matrices
    K, L (standardization, the RBF bandwidth and the self-similarities do not depend on the row
    order) and each permutation costs one gather of L and an inner product:
    ``CKA_pi = <K, L[pi][:, pi]> / sqrt(<K, K> <L, L>)``, in float32 row chunks, gathering only the
    upper triangle's columns (symmetry): a permutation of a 2,000-row subsample takes milliseconds. The observed statistic is computed the same way
    (identity permutation), so the p-value compares like with like.

    Returns ``{"observed", "null" (n_permutations,), "n_rows", "subsampled"}``; ``observed`` and
    ``null`` are NaN when CKA is undefined on the subsample (a constant or unresolved layer).
    Use :func:`ftgeo.analysis.resampling.permutation_pvalue` on the two (Phipson & Smyth 2010).
    """
    check_in(kernel, KERNELS, "kernel")
    if n_permutations < 0:
        raise ValidationError(f"n_permutations must be >= 0; got {n_permutations}")
    n = np.shape(X)[0]
    if np.shape(Y)[0] != n:
        raise ValidationError(f"X and Y must hold the same rows; got {n} and {np.shape(Y)[0]}")
    rng = check_random_state(random_state)
    sub = max_points is not None and n > int(max_points)
    rows = np.sort(rng.choice(n, int(max_points), replace=False)) if sub else np.arange(n)
    m = rows.size
    Xs = check_features(np.asarray(X)[rows], "X", min_samples=4 if debiased else 2)
    Ys = check_features(np.asarray(Y)[rows], "Y", min_samples=4 if debiased else 2)
    eng = _Engine(m, max(Xs.shape[1], Ys.shape[1]), kernel, debiased, standardize, threshold, "numpy")
    eng.route = "gram"
    a, b = eng.prepare(Xs), eng.prepare(Ys)
    out = {"n_rows": int(m), "subsampled": bool(sub)}
    if a.why or b.why:
        return {**out, "observed": float("nan"), "null": np.full(int(n_permutations), np.nan)}
    K = np.ascontiguousarray(a.Z, dtype=np.float32)
    L = np.ascontiguousarray(b.Z, dtype=np.float32)
    del a.Z, b.Z
    scale = 1.0 / math.sqrt(a.self_sim * b.self_sim)
    chunk = max(16, min(64, 65536 // max(m, 1)))      # a chunk of gathered rows stays in cache
    rows_buf = np.empty((chunk, m), dtype=np.float32)
    flat = np.empty(chunk * m, dtype=np.float32)

    def stat(p: np.ndarray) -> float:
        # <K, L[p][:, p]> over row chunks I = [r0, r1): both Grams are symmetric, so only the columns
        # j >= r0 are gathered: the off-diagonal part (j >= r1) counts twice, the block I x I once
        tot = 0.0
        for r0 in range(0, m, chunk):
            pi = p[r0:r0 + chunk]
            k, w = pi.size, m - r0
            np.take(L, pi, axis=0, out=rows_buf[:k], mode="clip")       # indices are valid: skip the check
            g = flat[:k * w].reshape(k, w)
            np.take(rows_buf[:k], p[r0:], axis=1, out=g, mode="clip")
            tot += float(np.vdot(K[r0:r0 + k, r0:r0 + k], g[:, :k])) + 2.0 * float(np.vdot(K[r0:r0 + k, r0 + k:],
                                                                                           g[:, k:]))
        return tot * scale

    observed = stat(np.arange(m))
    null = np.array([stat(rng.permutation(m)) for _ in range(int(n_permutations))], dtype=np.float64)
    return {**out, "observed": observed, "null": null}


def _gram_jackknife(eng: "_Engine", raw: dict, used, pairs, progress) -> dict:
    """Leave-one-block-out matrices on the Gram route: every layer's Gram built again on each subset (the
    estimator applied to the subset: re-centred, its own RBF bandwidth), then centred and compared as in
    the point estimate. Without standardization the subset's linear Gram / squared distances are the
    full matrix's rows and columns (both are invariant to the re-centring), so each layer's n x n matrix
    is computed once and sliced per block while memory allows (twice the point estimate's); otherwise
    (standardize: the subset's own scaling) every layer is prepared again from its rows. Cost: G times the
    point estimate's centring and inner products. Undefined leave-outs are NaN, silently."""
    from ftgeo.progress import progress as _progress
    jack = {(a, b): np.full((eng.G, len(raw[a]), len(raw[b])), np.nan) for a, b in pairs}
    n_layers = sum(len(raw[s]) for s in used)
    sliced = not eng.standardize and 2 * n_layers * eng.n * eng.n * 8 <= 8 * 2 ** 30
    bases: dict[str, list] = {}
    if sliced:
        for s in used:
            bases[s] = []
            for X in raw[s]:
                X = check_features(X, "layer", min_samples=2)
                Xc = center(X)
                if _is_constant(X, Xc):
                    bases[s].append(None)                 # constant everywhere: NaN on every subset too
                else:
                    bases[s].append((Xc @ Xc.T if eng.kernel == "linear" else _sq_distances(Xc), X.shape[1]))
    for g in _progress(range(eng.G), enabled=progress, desc="CKA jackknife", leave=False):
        keep = eng.block_of != g
        sub = _Engine(int(keep.sum()), eng.d_max, eng.kernel, eng.debiased, eng.standardize, eng.threshold,
                      eng.device_name)
        sub.route = "gram"
        if sliced:
            idx = np.flatnonzero(keep)
            st = {s: [_sliced_stats(sub, b, idx) for b in bases[s]] for s in used}
        else:
            st = {s: [sub.prepare(np.asarray(X)[keep]) for X in raw[s]] for s in used}
        for a, b in pairs:
            A, B, J = st[a], st[b], jack[(a, b)]
            for i in range(len(A)):
                for j in range(i if a == b else 0, len(B)):
                    J[g, i, j] = sub.pair(A[i], B[j])
                    if a == b:
                        J[g, j, i] = J[g, i, j]
        del st
    return jack


def _sliced_stats(sub: "_Engine", base, idx: np.ndarray) -> _Stats:
    """A layer on a subset from its full linear Gram or squared-distance matrix (see :func:`_gram_jackknife`)."""
    if base is None:
        return _Stats(Z=None, self_sim=0.0, constant=True, why="constant")
    M, d = base
    K = M[np.ix_(idx, idx)]
    if sub.kernel == "rbf":
        med = float(np.median(K))
        if med <= 0:
            return _Stats(Z=None, self_sim=0.0, d=d, why="rbf")
        K *= -1.0 / (2.0 * sub.threshold ** 2 * med)
        np.exp(K, out=K)
    return sub._from_gram(K, d)


_WHY = {
    "constant": "constant layer(s) {bad} (zero variance after centring, up to rounding): their CKA is undefined "
                "and set to NaN",
    "debiased": "layer(s) {bad} have zero debiased self-similarity up to rounding (HSIC_1(K, K) = 0: e.g. every row "
                "but one the same), so their debiased CKA is 0/0; set to NaN",
    "rbf": "layer(s) {bad}: the RBF bandwidth is undefined (median pairwise distance 0: more than half the rows "
           "identical), so their CKA is set to NaN",
}


def _warn_undefined(whys: dict[str, list], stacklevel: int = 3) -> None:
    """One RuntimeWarning per reason, naming the set and the layer positions whose CKA is NaN."""
    for why, text in _WHY.items():
        bad = {s: [i for i, w in enumerate(v) if w == why] for s, v in whys.items()}
        bad = {s: v for s, v in bad.items() if v}
        if bad:
            warnings.warn(text.format(bad=bad), RuntimeWarning, stacklevel=stacklevel)


def _warn_off_bound(off: list, stacklevel: int = 3) -> None:
    if off:
        warnings.warn(f"CKA of layer pair(s) {off[:10]}{' ...' if len(off) > 10 else ''} fell outside its bound by "
                      "more than its rounding-error estimate (unresolved); set to NaN", RuntimeWarning, stacklevel=stacklevel)


def _column_stats(X, standardize: bool, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray, bool]:
    """float64 column means, divisors (standard deviations, or ones) and whether the layer is
    constant up to rounding, in two chunked passes, so a memory-mapped layer is never loaded whole.

    The same rules as :func:`center` / :func:`standardize_features`: a column whose entries are all
    equal gets that value as its mean (so it centres to exactly 0); with ``standardize`` a column
    that is constant up to rounding gets divisor inf (it becomes 0); the layer is constant when
    ||X - mean||_F <= 16 eps sqrt(n) ||X||_F.
    """
    n = X.shape[0]
    tot = np.zeros(X.shape[1])
    lo = np.full(X.shape[1], np.inf)
    hi = np.full(X.shape[1], -np.inf)
    raw = np.zeros(X.shape[1])
    for i in range(0, n, chunk):
        c = np.asarray(X[i:i + chunk], dtype=np.float64)
        tot += c.sum(axis=0)
        raw += (c * c).sum(axis=0)
        np.minimum(lo, c.min(axis=0), out=lo)
        np.maximum(hi, c.max(axis=0), out=hi)
    const_col = lo == hi
    mean = np.where(const_col, lo, tot / n)
    ss = np.zeros_like(mean)
    for i in range(0, n, chunk):
        ss += ((np.asarray(X[i:i + chunk], dtype=np.float64) - mean) ** 2).sum(axis=0)
    tol = _const_tol(n)
    constant = bool(math.sqrt(float(ss.sum())) <= tol * math.sqrt(float(raw.sum())))
    if not standardize:
        return mean, np.ones_like(mean), constant
    sd = np.sqrt(ss / n)
    zero = ~(sd > tol * np.sqrt(raw / n))
    return mean, np.where(zero, np.inf, sd), constant


def _minibatch_matrices(loaders, used, pairs, n, kernel, threshold, standardize, batch_size, random_state,
                        device, progress):
    """Minibatch CKA for every pair. Layers stay in their own dtype (a memory-mapped store layer
    is read batch by batch); each batch is centred with full-data float64 means.  A layer that is
    constant (up to rounding), whose RBF bandwidth is undefined in some batch, or whose summed HSIC_1
    self-similarity is 0 up to rounding gets NaN and a warning naming it."""
    from ftgeo.progress import progress as _progress
    idx = [np.sort(b) for b in _batches(n, batch_size, True, random_state)]
    data = {}
    why: dict[str, list] = {}
    for s in used:
        layers = []
        for load in loaders[s]:
            X = load()
            if not hasattr(X, "shape") or len(X.shape) != 2:
                X = check_features(X, "layer", min_samples=2)
            if X.shape[0] != n:
                raise ValidationError(f"set {s!r} has a layer with {X.shape[0]} rows; expected {n}")
            mean, sd, constant = _column_stats(X, standardize)
            layers.append((X, mean, sd))
            why.setdefault(s, []).append("constant" if constant else None)
        data[s] = layers
    cross = {p: np.zeros((len(data[p[0]]), len(data[p[1]]))) for p in pairs}
    self_ = {s: np.zeros(len(data[s])) for s in used}
    mag = {s: np.zeros(len(data[s])) for s in used}
    m_max = 4
    for b in _progress(idx, enabled=progress, desc="minibatch CKA", leave=False):
        m = len(b)
        m_max = max(m_max, m)
        scale = 1.0 / (m * (m - 3))
        G = {}
        for s in used:
            G[s] = []
            for i, (X, mu, sd) in enumerate(data[s]):
                g = None
                if why[s][i] is None:
                    try:
                        K = _gram((np.asarray(X[b], dtype=np.float64) - mu) / sd, kernel, threshold)
                    except ConstantRepresentationError:       # RBF bandwidth undefined in this batch
                        why[s][i] = "rbf"
                    else:
                        mag[s][i] += scale * _gram_mag(K)
                        g = u_center_gram(K)
                G[s].append(g)
        for s in used:
            self_[s] += scale * np.array([np.vdot(g, g) if g is not None else 0.0 for g in G[s]])
        for (a, c), M in cross.items():
            for i, ga in enumerate(G[a]):
                for j, gc in enumerate(G[c]):
                    if a == c and j < i:
                        continue
                    if ga is not None and gc is not None:
                        M[i, j] += scale * float(np.vdot(ga, gc))
    for s in used:
        for i, X in enumerate(data[s]):
            if why[s][i] is None and not _resolved(float(self_[s][i]), float(mag[s][i]), m_max, X[0].shape[1], "gram"):
                why[s][i] = "debiased"
    err = _gram_err(m_max)
    out = {}
    off: list = []
    for (a, c), M in cross.items():
        R = np.full(M.shape, np.nan)
        for i in range(M.shape[0]):
            for j in range(M.shape[1]):
                if a == c and j < i:
                    R[i, j] = R[j, i]
                    continue
                if why[a][i] or why[c][j]:
                    continue
                R[i, j] = _bounded(float(M[i, j]), float(self_[a][i]), float(self_[c][j]), lower=-1.0, err=err)
                if np.isnan(R[i, j]):
                    off.append(((a, i), (c, j)))
        out[(a, c)] = R
    _warn_undefined(why)
    _warn_off_bound(off)
    return out


def layer_cka_matrix(layers_a, layers_b=None, **kwargs) -> np.ndarray:
    """The (L_a, L_b) CKA matrix between two layer sets (or within one if ``layers_b`` is None).

    Keyword arguments as in :func:`layer_cka_matrices`.
    """
    if layers_b is None:
        return layer_cka_matrices({"a": layers_a}, [("a", "a")], **kwargs)[("a", "a")]
    return layer_cka_matrices({"a": layers_a, "b": layers_b}, [("a", "b")], **kwargs)[("a", "b")]


class LayerCKA(FtgeoEstimator):
    """Layer x layer CKA, scikit-learn style.

    Parameters are stored untouched by ``__init__``; :meth:`fit` computes ``matrix_``
    (L_a x L_b; within one set when ``reps_b`` is None), plus ``layers_a_`` / ``layers_b_``.

    Parameters
    ----------
    kernel : 'linear' or 'rbf'
    debiased : use HSIC_1 (Song et al. 2012) instead of the biased HSIC
    standardize : z-score each dimension first
    threshold : RBF bandwidth as a fraction of the median distance
    batch_size : None for the exact computation, an int for minibatch CKA (Nguyen et al. 2021)
    layers : stored layer indices to use (default all) when fitting Representations objects
    device : 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'numpy'
    random_state : None, int or numpy Generator: the minibatch order (minibatch CKA only)
    progress : show progress bars

    Every layer array is checked (2-D, finite, the same rows in every layer) as it is prepared.
    """

    _parameter_constraints = {
        "kernel": [StrOptions(set(KERNELS))],
        "debiased": ["boolean"],
        "standardize": ["boolean"],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 4, None, closed="left"), None],
        "layers": [None, "array-like"],
        "device": [None, str],                     # which devices exist is checked at fit
        "random_state": RANDOM_STATE,
        "progress": ["boolean"],
    }

    def __init__(self, kernel: str = "linear", *, debiased: bool = False, standardize: bool = False,
                 threshold: float = 1.0, batch_size: int | None = None, layers: Sequence[int] | None = None,
                 device: str | None = "auto", random_state=0, progress: bool = True):
        self.kernel = kernel
        self.debiased = debiased
        self.standardize = standardize
        self.threshold = threshold
        self.batch_size = batch_size
        self.layers = layers
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _select(self, reps):
        if hasattr(reps, "layer") and hasattr(reps, "n_layers"):
            from ftgeo.reps import resolve_layer, stored_layer_numbers
            held = stored_layer_numbers(reps)
            idx = held if self.layers is None else [resolve_layer(i, held) for i in self.layers]
            return [(lambda i=i: reps.layer(i, dtype=None)) for i in idx], idx
        arrs = list(reps)
        idx = list(range(len(arrs))) if self.layers is None else list(self.layers)
        return [arrs[i] for i in idx], idx

    @fit_context
    def fit(self, reps_a, reps_b=None) -> "LayerCKA":
        la, self.layers_a_ = self._select(reps_a)
        sets = {"a": la}
        pair = ("a", "a")
        if reps_b is not None:
            lb, self.layers_b_ = self._select(reps_b)
            sets["b"] = lb
            pair = ("a", "b")
        else:
            self.layers_b_ = list(self.layers_a_)
        self.matrix_ = layer_cka_matrices(
            sets, [pair], kernel=self.kernel, debiased=self.debiased, standardize=self.standardize,
            threshold=self.threshold, batch_size=self.batch_size, device=self.device,
            random_state=self.random_state, progress=self.progress)[pair]
        return self
