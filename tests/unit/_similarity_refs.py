"""Slow, literal references for the similarity measures of issue 16 (tests only).

Each function follows the published definition step by step on dense arrays, with no reuse between
pairs: the references the fast engine is checked against. ``netrep_linear_metric`` re-states the
mathematics of netrep's ``LinearMetric(alpha).fit_score`` (Williams et al. 2021: regularised whitening
with eigenvalues clipped at 1e-7 and the total variance preserved, an orthogonal Procrustes alignment,
the angle between the aligned matrices); ``platonic_*`` re-state the formulas of platonic-rep's
``AlignmentMetrics.mutual_knn`` / ``cknna`` / ``hsic_unbiased`` (Huh et al. 2024) on dense n x n masks.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes


def centred(X):
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def pad_to(X, d):
    return np.hstack([X, np.zeros((X.shape[0], d - X.shape[1]))]) if X.shape[1] < d else X


# ----------------------------------------------------------------------------- shape metrics
def procrustes_literal(X, Y):
    X, Y = centred(X), centred(Y)
    d = max(X.shape[1], Y.shape[1])
    X, Y = pad_to(X / np.linalg.norm(X), d), pad_to(Y / np.linalg.norm(Y), d)
    R, _ = orthogonal_procrustes(Y, X)             # argmin_R ||Y R - X||
    return float(np.linalg.norm(X - Y @ R))


def _whiten(X, alpha, eig_tol=1e-7):
    if alpha > 1 - eig_tol:
        return X
    lam, V = np.linalg.eigh(X.T @ X)
    lam = np.maximum(lam, eig_tol)
    dvec = alpha + (1 - alpha) * lam ** -0.5
    new_var = np.sum(alpha ** 2 * lam + 2 * alpha * (1 - alpha) * lam ** 0.5 + (1 - alpha) ** 2)
    dvec = dvec * np.sqrt(np.sum(lam) / new_var)
    return X @ ((V * dvec) @ V.T)


def netrep_linear_metric(X, Y, alpha=1.0):
    """angular distance of netrep.metrics.LinearMetric(alpha, center_columns=True, zero_pad=True).fit_score(X, Y)"""
    d = max(X.shape[1], Y.shape[1])
    X, Y = pad_to(np.asarray(X, float), d), pad_to(np.asarray(Y, float), d)
    Xw, Yw = _whiten(X - X.mean(0), alpha), _whiten(Y - Y.mean(0), alpha)
    U, _, Vt = np.linalg.svd(Xw.T @ Yw)
    tX, tY = Xw @ U, Yw @ Vt.T
    c = np.dot(tX.ravel(), tY.ravel()) / (np.linalg.norm(tX) * np.linalg.norm(tY))
    return float(np.arccos(np.clip(c, -1.0, 1.0)))


# ----------------------------------------------------------------------------- CCA
def _inv_sqrt(S):
    lam, V = np.linalg.eigh(S)
    return (V / np.sqrt(lam)) @ V.T


def cca_literal(X, Y):
    """Canonical correlations and X's canonical variates from the covariance matrices (full-rank X, Y):
    the singular values of Sxx^-1/2 Sxy Syy^-1/2."""
    X, Y = centred(X), centred(Y)
    Sxx, Syy, Sxy = X.T @ X, Y.T @ Y, X.T @ Y
    Wx, Wy = _inv_sqrt(Sxx), _inv_sqrt(Syy)
    U, rho, _ = np.linalg.svd(Wx @ Sxy @ Wy)
    c = min(X.shape[1], Y.shape[1])
    H = X @ (Wx @ U[:, :c])                        # canonical variates of X (unit norm)
    return rho[:c], H


def svcca_literal(X, Y, variance=0.99):
    def reduce(Z):
        Z = centred(Z)
        U, s, _ = np.linalg.svd(Z, full_matrices=False)
        if variance is None:
            k = int(np.sum(s > s[0] * 1e-10))
        else:
            frac = np.cumsum(s ** 2) / np.sum(s ** 2)
            k = int(np.argmax(frac >= variance - 1e-12)) + 1
        return U[:, :k] * s[:k]
    rho, _ = cca_literal(reduce(X), reduce(Y))
    return float(np.mean(rho))


def pwcca_literal(X, Y):
    rho, H = cca_literal(X, Y)
    Xc = centred(X)
    alpha = np.array([sum(abs(H[:, i] @ Xc[:, j]) for j in range(Xc.shape[1])) for i in range(H.shape[1])])
    return float(np.sum(alpha * rho) / np.sum(alpha))


# ----------------------------------------------------------------------------- RSA
def rdm_literal(X, metric):
    from scipy.spatial import distance
    X = np.asarray(X, float)
    n = X.shape[0]
    f = {"cosine": distance.cosine, "correlation": distance.correlation, "euclidean": distance.euclidean,
         "sqeuclidean": distance.sqeuclidean}[metric]
    return np.array([f(X[i], X[j]) for i in range(n) for j in range(i + 1, n)])


def rsa_literal(X, Y, metric, method):
    from scipy.stats import pearsonr, spearmanr
    a, b = rdm_literal(X, metric), rdm_literal(Y, metric)
    return float((spearmanr if method == "spearman" else pearsonr)(a, b)[0])


# ----------------------------------------------------------------------------- kNN
def _normalise(X):
    X = np.asarray(X, float)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _knn_mask(K, k):
    n = K.shape[0]
    Kh = K.copy()
    np.fill_diagonal(Kh, -np.inf)
    M = np.zeros((n, n))
    for i in range(n):
        M[i, np.argsort(-Kh[i], kind="stable")[:k]] = 1.0
    return M


def platonic_mutual_knn(X, Y, k):
    X, Y = _normalise(X), _normalise(Y)
    A, B = _knn_mask(X @ X.T, k), _knn_mask(Y @ Y.T, k)
    return float(np.mean((A * B).sum(axis=1) / k))


def hsic_unbiased_dense(K, L):
    """Song et al. (2012, Eq. 5), written as platonic-rep's hsic_unbiased (sum(K~ * L~^T))."""
    m = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    v = np.sum(Kt * Lt.T) + Kt.sum() * Lt.sum() / ((m - 1) * (m - 2)) - 2 * np.sum(Kt @ Lt) / (m - 2)
    return v / (m * (m - 3))


def platonic_cknna(X, Y, k, eps=0.0):
    """platonic-rep's cknna(unbiased=True, distance_agnostic=False) on L2-normalised rows; ``eps`` is its
    1e-6 added to the denominator (0 = ftgeo's definition)."""
    X, Y = _normalise(X), _normalise(Y)
    K, L = X @ X.T, Y @ Y.T

    def sim(K, L):
        M = _knn_mask(K, k) * _knn_mask(L, k)
        return hsic_unbiased_dense(M * K, M * L)
    return float(sim(K, L) / (np.sqrt(sim(K, K) * sim(L, L)) + eps))


def platonic_cknna_default_topk(X, Y, topk=None):
    """platonic-rep's argument check, in its order: ``topk < 2`` is evaluated before ``topk is None``."""
    if topk < 2:                                   # TypeError for None, as in platonic-rep
        raise ValueError("CKNNA requires topk >= 2")
    if topk is None:
        topk = X.shape[0] - 1
    return platonic_cknna(X, Y, topk)


# ----------------------------------------------------------------------------- TwoNN
def twonn_literal(X, discard_fraction=0.1):
    X = np.asarray(X, float)
    n = X.shape[0]
    mu = []
    for i in range(n):
        d = np.sort([np.linalg.norm(X[i] - X[j]) for j in range(n) if j != i])
        mu.append(d[1] / d[0])
    mu = np.sort(mu)[:int(n * (1 - discard_fraction))]
    F = np.arange(1, mu.size + 1) / n
    x, y = np.log(mu), -np.log(1 - F)
    return float(x @ y / (x @ x))
