"""A fast, exact L2-regularised softmax (multinomial logistic regression) classifier, batched.

Matton & de Oliveira ("Emergent Properties of Finetuned Language Representation Models", 2019)
score representations with a linear softmax classifier on standardised features. This module
solves the same problem as scikit-learn's ``LogisticRegression(penalty="l2", C=C, solver="lbfgs")``
behind a ``StandardScaler``:

    minimise_W,b   sum_i  -log softmax(W^T z_i + b)_{y_i}  +  1/(2C) * ||W||_F^2          (1)

with ``z_i`` the standardised features (population std, as StandardScaler) and the intercept
``b`` not penalised. For two classes, as in scikit-learn, one logistic vector ``w`` is fitted
(``p(y=1|z) = sigmoid(w^T z + b)``, penalty ``||w||^2 / (2C)``); for K >= 3 the full K-column
multinomial model (1).

:func:`fit_logreg_batch` solves B independent problems of this form at once by Newton-Raphson
with the exact Hessian,

    H = sum_i m_i (x_i x_i^T) (x) (diag(p_i) - p_i p_i^T) + diag(pen)/C                   (2)

(``(x)`` the Kronecker product, ``m_i`` 0/1 sample weights, ``x_i = [1, z_i]``) and a batched
backtracking (Armijo) line search. A 1- to 10-feature problem has at most a few dozen
parameters, so B = (candidates x folds) Newton systems are tiny, and converge (quadratically)
in a handful of iterations; the work is a few batched matrix products over the examples. The
direction that adds the same constant to every class intercept leaves the softmax unchanged and
is a null direction of (2); it is removed by adding ``1 1^T`` to the intercept block of the
Hessian (the gradient is orthogonal to it, so the iterates keep ``sum_k b_k = 0``).

:func:`fit_candidates` is the same Newton method specialised to the salient-neuron search: D
problems that share a block of columns and differ in one candidate column, with every sum over the
examples written as one large matrix product over all candidates (see its docstring).

:class:`SoftmaxClassifier` is the estimator for one problem (Newton for few parameters,
L-BFGS on the same objective for many, e.g. 768 dimensions).
"""
from __future__ import annotations

import numpy as np

from sklearn.base import ClassifierMixin

from ftgeo._checks import check_features, check_X_y
from ftgeo.analysis._base import FtgeoEstimator, Integral, Interval, Real, StrOptions, check_fitted, fit_context
from ftgeo.errors import ValidationError

__all__ = ["fit_candidates", "fit_logreg_batch", "fit_logreg_batch_t", "predict_batch", "predict_batch_t", "standardize_stats", "SoftmaxClassifier", "encode_labels"]


def encode_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: the sorted distinct labels and ``y`` as indices 0..K-1 into them."""
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    return classes, codes.astype(np.int64)


def standardize_stats(X: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std (ddof=0) of each column over ``rows``; a zero std becomes 1
    (scikit-learn's StandardScaler convention)."""
    Xr = X if rows is None else X[rows]
    mu = Xr.mean(axis=0)
    sd = Xr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return mu, sd


# ----------------------------------------------------------------------------- batched Newton
def _loss_and_probs(Z, codes, binary):
    """Per-example loss (B, n) and probabilities from scores Z (B, K', n) (classes on axis 1)."""
    if binary:
        z = Z[:, 0]
        loss = np.logaddexp(0.0, z)
        loss -= np.where(codes == 1, z, 0.0)
        P = 1.0 / (1.0 + np.exp(-z))
        return loss, P[:, None]
    zmax = Z[:, 0].copy()
    for k in range(1, Z.shape[1]):
        np.maximum(zmax, Z[:, k], out=zmax)
    E = np.exp(Z - zmax[:, None])
    S = E[:, 0].copy()
    for k in range(1, Z.shape[1]):
        S += E[:, k]
    zy = np.take_along_axis(Z, np.broadcast_to(codes[None, None, :], (Z.shape[0], 1, Z.shape[2])), axis=1)[:, 0]
    loss = np.log(S) + zmax - zy
    E /= S[:, None]
    return loss, E


def _check_transposed(XT, codes, n_classes):
    """``(XT, codes, K)`` checked: XT (B, q, n) float64, codes (n,) in 0..K-1, K >= 2."""
    XT = np.asarray(XT, dtype=np.float64)
    if XT.ndim != 3:
        raise ValidationError(f"XT must be (batch, q, n) with the intercept row first; got shape {XT.shape}")
    n = XT.shape[2]
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (n,):
        raise ValidationError(f"codes must have shape ({n},); got {codes.shape}")
    K = int(n_classes)
    if K < 2:
        raise ValidationError("a classifier needs at least 2 classes")
    if codes.min(initial=0) < 0 or codes.max(initial=0) >= K:
        raise ValidationError(f"codes must lie in 0..{K - 1}")
    return XT, codes, K


def _objective(Z, W, pen, w, codes, binary, C):
    """Objective (1) of each problem (B,) and its probabilities, from scores Z (B, K', n)."""
    loss, P = _loss_and_probs(Z, codes, binary)
    if w is not None:
        loss = loss * w
    return loss.sum(axis=1) + 0.5 / C * np.einsum("bq,bqk->b", pen, W * W), P


def _newton_system(XT, W, P, w, pen, onehotT, C, binary, reg_diag):
    """Gradient ``g`` (b, p) and exact Hessian ``H`` (b, p, p) of (1) (Eq. 2) for b problems at ``W``
    (b, q, K'), with ``P`` (b, K', n) the probabilities there; parameter index a*K' + k."""
    b_, q, n = XT.shape
    Kp = P.shape[1]
    p = q * Kp
    R = P - onehotT  # (b, K', n)
    if w is not None:
        R = R * w[:, None]
        Xw = XT * np.sqrt(w)[:, None]
    else:
        Xw = XT
    G = np.matmul(XT, np.swapaxes(R, 1, 2)) + (pen[:, :, None] / C) * W  # (b, q, K')
    if binary:
        s = P[:, 0] * (1.0 - P[:, 0])
        H = np.matmul(Xw * s[:, None], np.swapaxes(Xw, 1, 2))
    else:
        # U[(a,k), i] = sqrt(m_i) x_ia p_ik;  H = sum_i m_i x_i x_i^T (x) (diag p_i - p_i p_i^T)   (2)
        U = (Xw[:, :, None, :] * P[:, None, :, :]).reshape(b_, p, n)
        H = -np.matmul(U, np.swapaxes(U, 1, 2))
        A = np.matmul(Xw, np.swapaxes(U, 1, 2)).reshape(b_, q, q, Kp)  # sum_i m_i x_ic x_ia p_ik
        H += np.einsum("bcak,kl->bakcl", A, np.eye(Kp)).reshape(b_, p, p)
        H[:, :Kp, :Kp] += 1.0  # removes the softmax null direction of the unpenalised intercepts
    H[:, np.arange(p), np.arange(p)] += reg_diag
    return G.reshape(b_, p), H


def _newton_step(H, g):
    """Newton steps ``H^-1 g`` (least squares where a Hessian is singular) and the squared Newton
    decrements ``g . step`` of a batch of problems."""
    try:
        step = np.linalg.solve(H, g[:, :, None])[..., 0]
    except np.linalg.LinAlgError:
        step = np.stack([np.linalg.lstsq(h, v, rcond=None)[0] for h, v in zip(H, g)])
    return step, np.einsum("bp,bp->b", g, step)


def _armijo(objective, XT, W, step, f0, lam2, pen, w):
    """Batched backtracking (Armijo) line search from ``W`` along ``-step``: halve each problem's
    step until it decreases the objective enough; returns the accepted ``(W, f, P)``."""
    t = np.ones(W.shape[0])
    Wn = W - step
    Zn = np.matmul(np.swapaxes(Wn, 1, 2), XT)
    fn, Pn = objective(Zn, Wn, pen, w)
    for _ in range(40):
        bad = fn > f0 - 1e-4 * t * lam2 + 1e-12 * np.abs(f0)
        if not bad.any():
            break
        t = np.where(bad, t * 0.5, t)
        bi = np.flatnonzero(bad)
        Wb = W[bi] - t[bi, None, None] * step[bi]
        Zb = np.matmul(np.swapaxes(Wb, 1, 2), XT[bi])
        fb, Pb = objective(Zb, Wb, pen[bi], None if w is None else w[bi])
        Wn[bi], fn[bi], Pn[bi] = Wb, fb, Pb
    return Wn, fn, Pn


def fit_logreg_batch_t(XT: np.ndarray, codes: np.ndarray, n_classes: int, *, C: float = 1.0,
                       pen: np.ndarray | None = None, weights: np.ndarray | None = None,
                       W0: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-10,
                       return_info: bool = False):
    """:func:`fit_logreg_batch` on transposed data ``XT`` (B, q, n) -- the layout the solver uses
    internally (class and feature axes before the example axis, so every reduction is over
    contiguous rows and every product a plain batched GEMM)."""
    XT, codes, K = _check_transposed(XT, codes, n_classes)
    B, q, n = XT.shape
    binary = K == 2
    Kp = 1 if binary else K
    p = q * Kp
    if pen is None:
        pen = np.ones(q)
        pen[0] = 0.0
    pen = np.broadcast_to(np.asarray(pen, dtype=np.float64), (B, q)).copy()
    onehotT = (codes == 1).astype(np.float64)[None] if binary else np.eye(K)[codes].T  # (K', n)
    W = np.zeros((B, q, Kp)) if W0 is None else np.array(W0, dtype=np.float64).reshape(B, q, Kp).copy()
    wts = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), (B, n))
    reg_diag = (pen[:, :, None] / C * np.ones(Kp)).reshape(B, p)  # parameter index a*K' + k

    def objective(Z, Wx, penx, wx):
        return _objective(Z, Wx, penx, wx, codes, binary, C)

    f, P = objective(np.matmul(np.swapaxes(W, 1, 2), XT), W, pen, wts)  # scores (B, K', n)
    dec = np.full(B, np.inf)
    active = np.arange(B)
    it = 0
    for it in range(1, max_iter + 1):
        a = active
        if a.size == B:
            Xa, Wa, Pa, wa, pena = XT, W, P, wts, pen
        else:
            Xa, Wa, Pa, wa, pena = XT[a], W[a], P[a], None if wts is None else wts[a], pen[a]
        g, H = _newton_system(Xa, Wa, Pa, wa, pena, onehotT, C, binary, reg_diag[a])
        step, lam2 = _newton_step(H, g)
        dec[a] = lam2
        # the accepted point's scores and probabilities are reused by the next iteration
        Wn, fn, Pn = _armijo(objective, Xa, Wa, step.reshape(a.size, q, Kp), f[a], lam2, pena, wa)
        W[a], f[a], P[a] = Wn, fn, Pn
        conv = 0.5 * lam2 <= tol * np.maximum(1.0, np.abs(fn))
        active = a[~conv]
        if active.size == 0:
            break
    if return_info:
        return W, {"n_iter": it, "decrement": dec}
    return W


def fit_logreg_batch(X: np.ndarray, codes: np.ndarray, n_classes: int, *, C: float = 1.0,
                     pen: np.ndarray | None = None, weights: np.ndarray | None = None,
                     W0: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-10,
                     return_info: bool = False):
    """Solve B L2-regularised logistic / softmax regressions (1) at once by Newton's method (2).

    Parameters
    ----------
    X : (B, n, q) float64. Column 0 must be the intercept column of ones; columns 1.. the
        (standardised) features of each problem. All problems share the labels.
    codes : (n,) int labels in 0..n_classes-1.
    n_classes : K. K = 2 fits one logistic vector (scikit-learn's binary case), K >= 3 the
        K-column multinomial model.
    C : inverse regularisation strength, as scikit-learn's ``C``.
    pen : (B, q) or (q,) per-coefficient penalty multipliers (default 1 for features and 0 for
        the intercept). The penalty is ``sum_a pen_a ||W_a||^2 / (2C)``.
    weights : optional (B, n) or (n,) non-negative sample weights (e.g. 0/1 fold masks).
    W0 : optional (B, q, K') warm start (K' = 1 if binary else K).
    tol : stop a problem when half its squared Newton decrement is below ``tol * max(1, |f|)``.

    Returns ``W`` (B, q, K') with row 0 the intercepts (and, with ``return_info``, a dict with
    the number of iterations and the last squared Newton decrements).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValidationError(f"X must be (batch, n, q) with an intercept column first; got shape {X.shape}")
    return fit_logreg_batch_t(np.ascontiguousarray(np.swapaxes(X, 1, 2)), codes, n_classes, C=C, pen=pen,
                              weights=weights, W0=W0, max_iter=max_iter, tol=tol, return_info=return_info)


def predict_batch_t(XT: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Class codes (B, n) predicted by the batched models ``W`` (B, q, K') on ``XT`` (B, q, n)."""
    Z = np.matmul(np.swapaxes(W, 1, 2), np.asarray(XT, dtype=np.float64))
    if Z.shape[1] == 1:
        return (Z[:, 0] > 0).astype(np.int64)
    return Z.argmax(axis=1)


def predict_batch(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Class codes (B, n) predicted by the batched models ``W`` on ``X`` (B, n, q; intercept column first)."""
    return predict_batch_t(np.swapaxes(np.asarray(X, dtype=np.float64), 1, 2), W)


# ----------------------------------------------------------------------------- shared base + one candidate
class _CandidateProblem:
    """Objective (1) on ``[S, c_j]`` for candidate columns ``c_j`` sharing the columns of ``S``, with
    its gradient and exact Hessian (2) for all candidates at once (see :func:`fit_candidates`).

    Arrays are held class plane first: scores and probabilities are (K', n, d) -- one (n, d) plane
    per class, every reduction over classes an elementwise op over planes -- or (K', n, 1) while
    every candidate is still at the shared starting point. Parameters: ``ts`` (d, q_s, K') on the
    shared columns, ``tc`` (d, K') on the candidate's; the parameter vector is ``[ts.ravel(), tc]``
    with index a*K' + k.
    """

    def __init__(self, S: np.ndarray, codes: np.ndarray, K: int, C: float):
        n, qs = S.shape
        self.S, self.n, self.qs, self.C = S, n, qs, C
        self.binary = K == 2
        Kp = self.Kp = 1 if self.binary else K
        # class pairs (k <= l) of the K'(K'+1)/2 distinct entries of diag(p) - p p^T, and S column pairs (a <= b)
        self.pairs = [(0, 0)] if self.binary else [(k, l) for k in range(K) for l in range(k, K)]
        self.mid = np.zeros((Kp, Kp), dtype=np.int64)
        for m, (k, l) in enumerate(self.pairs):
            self.mid[k, l] = self.mid[l, k] = m
        sp = [(a, b) for a in range(qs) for b in range(a, qs)]
        sid = np.zeros((qs, qs), dtype=np.int64)
        for m, (a, b) in enumerate(sp):
            sid[a, b] = sid[b, a] = m
        self.S2T = np.ascontiguousarray(np.stack([S[:, a] * S[:, b] for a, b in sp], axis=0))  # (Q2, n)
        self.ST = np.ascontiguousarray(S.T)
        self.ps = qs * Kp
        self.p = self.ps + Kp
        # where each entry of the shared block / the shared-candidate block of H is found in the sums
        self.ra, rk = np.divmod(np.arange(self.ps), Kp)
        self.AB = sid[self.ra[:, None], self.ra[None, :]]
        self.MM = self.mid[rk[:, None], rk[None, :]]
        self.MK = self.mid[rk[:, None], np.arange(Kp)[None, :]]
        Y = (codes == 1).astype(np.float64)[None] if self.binary else np.eye(K)[codes].T
        self.Y = Y[:, :, None]  # (K', n, 1)
        self.pen_s = np.ones(qs)
        self.pen_s[0] = 0.0
        self.diag = np.concatenate([np.repeat(self.pen_s, Kp), np.ones(Kp)]) / C

    def scores(self, ts, tc, Ca):
        """Z = S theta_s + c theta_c, (K', n, d)."""
        Z = np.empty((self.Kp, self.n, Ca.shape[1]))
        for k in range(self.Kp):
            np.matmul(self.S, ts[:, :, k].T, out=Z[k])
            Z[k] += Ca * tc[:, k]
        return Z

    def loss_probs(self, Z, ts, tc):
        """Objective (1) of each candidate (d,) and the probabilities (K', n, d) from the scores."""
        Kp, Y = self.Kp, self.Y
        if self.binary:
            z = Z[0]
            loss = np.logaddexp(0.0, z)
            loss -= Y[0] * z
            P = 1.0 / (1.0 + np.exp(-Z))
        else:
            zmax = Z[0].copy()
            for k in range(1, Kp):
                np.maximum(zmax, Z[k], out=zmax)
            P = np.exp(Z - zmax)
            Ssum = P[0].copy()
            for k in range(1, Kp):
                Ssum += P[k]
            P /= Ssum
            loss = np.log(Ssum)
            loss += zmax
            for k in range(Kp):
                loss -= Y[k] * Z[k]
        pen = (self.pen_s[None, :, None] * ts * ts).sum(axis=(1, 2)) + (tc * tc).sum(axis=1)
        return loss.sum(axis=0) + 0.5 / self.C * pen, P

    def gradient(self, P, ts, tc, Ca, shared: bool):
        """(d, p) gradients; ``shared``: P is (K', n, 1), the same for every candidate."""
        d_, Kp = ts.shape[0], self.Kp
        R = P - self.Y  # (K', n, d) or (K', n, 1) while shared
        Gs = np.stack([self.ST @ R[k] for k in range(Kp)], axis=2).transpose(1, 0, 2)
        Gs = Gs + self.pen_s[None, :, None] / self.C * ts
        if shared:
            Gc = np.stack([Ca.T @ R[k, :, 0] for k in range(Kp)], axis=1) + tc / self.C
        else:
            Gc = np.stack([(Ca * R[k]).sum(axis=0) for k in range(Kp)], axis=1) + tc / self.C
        return np.concatenate([Gs.reshape(d_, self.ps), Gc], axis=1)

    def hessian(self, P, Ca, shared: bool):
        """(d, p, p) exact Hessians (2), from its three blocks' sums over the examples:

            H_ss[j] = sum_i (s_i s_i^T) (x) W_ij   ->  (pairs of S columns)^T @ W
            H_sc[j] = sum_i c_ij s_i (x) W_ij      ->  S^T @ (c * W)
            H_cc[j] = sum_i c_ij^2 W_ij,           W_ij = diag(p_ij) - p_ij p_ij^T (binary: p(1-p))
        """
        d_, M = Ca.shape[1], len(self.pairs)
        Hss = np.empty((self.S2T.shape[0], d_, M))
        Hsc = np.empty((self.qs, d_, M))
        Hcc = np.empty((d_, M))
        if shared:
            Ca2 = Ca * Ca
            for m, (k, l) in enumerate(self.pairs):
                w = P[k, :, 0] * (1.0 - P[k, :, 0]) if k == l else -(P[k, :, 0] * P[l, :, 0])  # (n,)
                Hss[:, :, m] = (self.S2T @ w)[:, None]
                Hsc[:, :, m] = (self.ST * w) @ Ca
                Hcc[:, m] = w @ Ca2
            del Ca2
        else:
            for m, (k, l) in enumerate(self.pairs):
                Wkl = P[k] * (1.0 - P[k]) if k == l else -(P[k] * P[l])  # (n, d)
                Hss[:, :, m] = self.S2T @ Wkl
                Wkl *= Ca
                Hsc[:, :, m] = self.ST @ Wkl
                Wkl *= Ca
                Hcc[:, m] = Wkl.sum(axis=0)
        return self._assemble(Hss, Hsc, Hcc)

    def _assemble(self, Hss, Hsc, Hcc):
        d_, ps, p, Kp = Hcc.shape[0], self.ps, self.p, self.Kp
        H = np.empty((d_, p, p))
        H[:, :ps, :ps] = np.moveaxis(Hss[self.AB, :, self.MM], 2, 0)
        blk = np.moveaxis(Hsc[self.ra[:, None], :, self.MK], 2, 0)  # (d, ps, K')
        H[:, :ps, ps:] = blk
        H[:, ps:, :ps] = np.swapaxes(blk, 1, 2)
        H[:, ps:, ps:] = Hcc[:, self.mid]
        H[:, np.arange(p), np.arange(p)] += self.diag
        if not self.binary:
            H[:, :Kp, :Kp] += 1.0  # softmax null direction of the unpenalised intercepts
        return H

    def armijo(self, ts, tc, ss, sc, Ca, f0, lam2):
        """Batched backtracking (Armijo) line search from ``(ts, tc)`` along ``-(ss, sc)``; returns
        the accepted ``(theta_s, theta_c, f, P)``."""
        te = np.ones(ts.shape[0])
        es, ec = ts - ss, tc - sc
        fn, Pn = self.loss_probs(self.scores(es, ec, Ca), es, ec)
        for _ in range(40):
            bad = fn > f0 - 1e-4 * te * lam2 + 1e-12 * np.abs(f0)
            if not bad.any():
                break
            te = np.where(bad, 0.5 * te, te)
            bi = np.flatnonzero(bad)
            bs, bc = ts[bi] - te[bi, None, None] * ss[bi], tc[bi] - te[bi, None] * sc[bi]
            fb, Pb = self.loss_probs(self.scores(bs, bc, Ca[:, bi]), bs, bc)
            es[bi], ec[bi], fn[bi], Pn[:, :, bi] = bs, bc, fb, Pb
        return es, ec, fn, Pn


def fit_candidates(S: np.ndarray, Cm: np.ndarray, codes: np.ndarray, n_classes: int, *, C: float = 1.0,
                   W0_base: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-10,
                   return_info: bool = False):
    """Fit objective (1) on features ``[S, Cm[:, j]]`` for every candidate column ``j`` at once.

    This is the greedy-selection / single-neuron problem: every candidate model shares the
    ``q_s`` columns of ``S`` (column 0 must be the intercept column of ones, the rest the already
    selected standardised features) and adds one standardised column of ``Cm`` (n, D). Newton's
    method with the exact Hessian (2) is run for all D problems together, and every sum over the
    examples is written as one large matrix product over all candidates instead of D small ones:

        H_ss[j] = sum_i (s_i s_i^T) (x) W_ij   ->  (pairs of S columns)^T @ W      (n x D*K'(K'+1)/2)
        H_sc[j] = sum_i c_ij s_i (x) W_ij      ->  S^T @ (c * W)
        H_cc[j] = sum_i c_ij^2 W_ij,           W_ij = diag(p_ij) - p_ij p_ij^T (binary: p(1-p))

    and likewise the scores ``Z = S theta_s + c theta_c`` and the gradients. ``W0_base``
    ((q_s, K') model fitted on ``S`` alone) warm-starts every candidate at ``[W0_base; 0]``.

    Returns ``W`` (D, q_s + 1, K') with row 0 the intercepts and row q_s the candidate's weights.
    """
    S = np.asarray(S, dtype=np.float64)
    Cm = np.asarray(Cm, dtype=np.float64)
    n, qs = S.shape
    D = Cm.shape[1]
    if Cm.shape[0] != n:
        raise ValidationError(f"S has {n} rows and Cm {Cm.shape[0]}; they must describe the same examples")
    prob = _CandidateProblem(S, np.asarray(codes, dtype=np.int64), int(n_classes), C)
    Kp, ps = prob.Kp, prob.ps
    theta_s = np.zeros((D, qs, Kp))
    if W0_base is not None:
        theta_s[:] = np.asarray(W0_base, dtype=np.float64).reshape(qs, Kp)[None]
    theta_c = np.zeros((D, Kp))
    # Every candidate starts at the same point ([W0_base; 0]): the scores, probabilities and
    # objective are shared, and the first Newton step needs only matrix products with Cm.
    Z1 = np.stack([S @ theta_s[0, :, k] for k in range(Kp)])[:, :, None]  # (K', n, 1)
    f1, P = prob.loss_probs(Z1, theta_s[:1], theta_c[:1])
    f = np.full(D, f1[0])
    shared = True
    active = np.arange(D)
    Ca = Cm
    dec = np.full(D, np.inf)
    it = 0
    for it in range(1, max_iter + 1):
        a = active
        d_ = a.size
        ts, tc = theta_s[a], theta_c[a]
        g = prob.gradient(P, ts, tc, Ca, shared)
        step, lam2 = _newton_step(prob.hessian(P, Ca, shared), g)
        dec[a] = lam2
        ss, sc = step[:, :ps].reshape(d_, qs, Kp), step[:, ps:]
        ns, nc = ts - ss, tc - sc
        # converged: lam^2/2 (the predicted decrease) is negligible -> take the full Newton step,
        # which is safe in the quadratic-convergence region, and evaluate nothing more
        done = 0.5 * lam2 <= tol * np.maximum(1.0, np.abs(f))
        ev = np.flatnonzero(~done)
        if ev.size:
            Ce = Ca[:, ev]
            ns[ev], nc[ev], fn, Pn = prob.armijo(ts[ev], tc[ev], ss[ev], sc[ev], Ce, f[ev], lam2[ev])
        theta_s[a], theta_c[a] = ns, nc
        shared = False
        if ev.size == 0:
            break
        active, f, P = a[ev], fn, Pn
        Ca = Ce if ev.size < d_ else Ca
    W = np.concatenate([theta_s, theta_c[:, None, :]], axis=1)
    if return_info:
        return W, {"n_iter": it, "decrement": dec}
    return W


# ----------------------------------------------------------------------------- one problem, any size
def _lbfgs(Xs: np.ndarray, codes: np.ndarray, K: int, C: float, max_iter: int, tol: float,
           W0: np.ndarray | None = None) -> np.ndarray:
    """Objective (1) minimised by SciPy's L-BFGS-B with the analytic gradient (for many features)."""
    from scipy.optimize import minimize
    n, q = Xs.shape
    binary = K == 2
    Kp = 1 if binary else K
    onehot = (codes == 1).astype(np.float64)[:, None] if binary else np.eye(K)[codes]
    pen = np.ones((q, 1))
    pen[0] = 0.0

    def fg(w):
        W = w.reshape(q, Kp)
        Z = Xs @ W
        if binary:
            z = Z[:, 0]
            f = np.logaddexp(0.0, z).sum() - (onehot[:, 0] * z).sum()
            R = (1.0 / (1.0 + np.exp(-z)) - onehot[:, 0])[:, None]
        else:
            zmax = Z.max(axis=1, keepdims=True)
            E = np.exp(Z - zmax)
            S = E.sum(axis=1, keepdims=True)
            f = (np.log(S) + zmax).sum() - (Z * onehot).sum()
            R = E / S - onehot
        f += 0.5 / C * float((pen * W * W).sum())
        G = Xs.T @ R + pen / C * W
        return f, G.ravel()

    w0 = np.zeros(q * Kp) if W0 is None else np.asarray(W0, dtype=np.float64).ravel()
    res = minimize(fg, w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15, "maxcor": 30})
    return res.x.reshape(q, Kp)


class SoftmaxClassifier(ClassifierMixin, FtgeoEstimator):
    """L2 softmax / logistic regression on standardised features, as scikit-learn's
    ``make_pipeline(StandardScaler(), LogisticRegression(C=C))`` (objective (1), Matton & de
    Oliveira's linear classifier).

    ``solver='auto'`` uses the exact Newton method (2) for at most ``newton_max_params``
    parameters and L-BFGS otherwise; both minimise the same objective to tight tolerance.
    Fitted: ``classes_``, ``mean_``, ``scale_`` (standardisation), ``coef_`` (K', d) and
    ``intercept_`` (K',) in standardised units, as scikit-learn's.
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "standardize": ["boolean"],
        "solver": [StrOptions({"auto", "newton", "lbfgs"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "newton_max_params": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, C: float = 1.0, *, standardize: bool = True, solver: str = "auto",
                 max_iter: int = 1000, tol: float = 1e-10, newton_max_params: int = 64):
        self.C = C
        self.standardize = standardize
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.newton_max_params = newton_max_params

    @fit_context
    def fit(self, X, y) -> "SoftmaxClassifier":
        X, y = check_X_y(X, y, min_samples=2, min_classes=2)
        self.classes_, codes = encode_labels(y)
        K = self.classes_.size
        if self.standardize:
            self.mean_, self.scale_ = standardize_stats(X)
        else:
            self.mean_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        Xs = np.empty((X.shape[0], X.shape[1] + 1))
        Xs[:, 0] = 1.0
        np.subtract(X, self.mean_, out=Xs[:, 1:])
        Xs[:, 1:] /= self.scale_
        Kp = 1 if K == 2 else K
        solver = self.solver
        if solver == "auto":
            solver = "newton" if Xs.shape[1] * Kp <= self.newton_max_params else "lbfgs"
        if solver == "newton":
            W = fit_logreg_batch(Xs[None], codes, K, C=self.C, max_iter=min(self.max_iter, 100), tol=self.tol)[0]
        else:
            W = _lbfgs(Xs, codes, K, self.C, self.max_iter, 1e-8)
        self.intercept_ = W[0].copy()
        self.coef_ = W[1:].T.copy()
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        check_fitted(self)
        X = check_features(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValidationError(f"X has {X.shape[1]} features; the classifier was fitted on {self.n_features_in_}")
        Z = ((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_proba(self, X) -> np.ndarray:
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-Z))
            return np.column_stack([1.0 - p1, p1])
        Z = Z - Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        Z = self.decision_function(X)
        return self.classes_[(Z > 0).astype(int) if Z.ndim == 1 else Z.argmax(axis=1)]

    def score(self, X, y) -> float:
        """Accuracy of :meth:`predict` on (X, y)."""
        check_fitted(self)
        X, y = check_X_y(X, y)
        return float(np.mean(self.predict(X) == y))
