"""Label centroids and how fine-tuning moves them (Zhou & Srikumar 2022, Sec. 5, "fine-tuning
pushes labels apart"; the label-centroid trajectories and the observation that the centroid
movements are low-dimensional).

For label c with examples {x_i : y_i = c} the centroid is

    mu_c = (1 / n_c) sum_{i: y_i = c} x_i                                                (C1)

its movement from representation space A (before fine-tuning) to B (after) is

    m_c = mu_c^B - mu_c^A                                                                  (C2)

and the dimensionality of the movements is read from the singular values s_k of the L x d
matrix M = [m_c] (uncentred by default: the question is which *directions* the labels move
along, so a common translation is one direction, not zero variance)

    explained_k = s_k^2 / sum_j s_j^2                                                      (C3)

(``center=True`` subtracts the mean movement first: ordinary PCA of the movements.)
"""
from __future__ import annotations

import numpy as np

from ftgeo._checks import check_features, check_labels
from ftgeo.errors import ValidationError

__all__ = ["label_centroids", "centroid_movement", "movement_pca", "shared_pca_2d"]


def label_centroids(X, y, classes=None) -> tuple[np.ndarray, np.ndarray]:
    """(classes, centroids (L, d)) by Eq. C1, float64. ``classes`` fixes the order (and may list
    labels absent from y only if none is absent: a missing label raises)."""
    X = check_features(X, "X")
    y = check_labels(y, X.shape[0])
    classes = np.unique(y) if classes is None else np.asarray(classes)
    C = np.empty((classes.size, X.shape[1]))
    for k, c in enumerate(classes):
        m = y == c
        if not m.any():
            raise ValidationError(f"label {c.item() if hasattr(c, 'item') else c!r} has no example in this set; centroids need every label present.")
        C[k] = X[m].mean(axis=0)
    return classes, C


def centroid_movement(X_before, y_before, X_after, y_after) -> tuple[np.ndarray, np.ndarray]:
    """(classes, movements (L, d)): Eq. C2 for every label present in both sets."""
    yb, ya = np.asarray(y_before), np.asarray(y_after)
    classes = np.intersect1d(np.unique(yb), np.unique(ya))
    if classes.size == 0:
        raise ValidationError("the two sets share no label; centroid movement compares the same labels.")
    _, A = label_centroids(X_before, yb, classes)
    _, B = label_centroids(X_after, ya, classes)
    if A.shape[1] != B.shape[1]:
        raise ValidationError(f"the sets have {A.shape[1]} and {B.shape[1]} features; they must share a space.")
    return classes, B - A


def movement_pca(M, *, center: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(explained ratio (k,), singular values (k,), components (k, d)) of the movement matrix (Eq. C3).

    k = min(L, d). All-zero movements (to rounding) give NaN ratios (nothing moved).
    """
    M = check_features(M, "M")
    scale = float(np.abs(M).max(initial=0.0))
    if center:
        M = M - M.mean(axis=0)
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    tot = float((s ** 2).sum())
    # rounding-level movements (e.g. a common translation after centring) count as no movement
    ratio = (s ** 2) / tot if np.sqrt(tot) > 1e-12 * max(scale, 1e-300) * np.sqrt(M.size) else np.full(s.shape, np.nan)
    return ratio, s, Vt


def shared_pca_2d(points_list) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Fit one 2-D PCA on the stacked point sets (e.g. every checkpoint's label centroids) and
    project each set into it: (projected sets, explained-variance ratios (2,), mean (d,)).

    Sign convention: each component's largest-|loading| coordinate is positive (deterministic).
    """
    P = [np.asarray(p, dtype=np.float64) for p in points_list]
    if not P:
        raise ValidationError("shared_pca_2d needs at least one point set")
    S = np.vstack(P)
    mu = S.mean(axis=0)
    Z = S - mu
    _, s, Vt = np.linalg.svd(Z, full_matrices=False)
    k = min(2, Vt.shape[0])
    V = Vt[:k]
    sign = np.sign(V[np.arange(k), np.abs(V).argmax(axis=1)])
    sign[sign == 0] = 1
    V = V * sign[:, None]
    tot = float((s ** 2).sum())
    ratio = (s[:k] ** 2) / tot if tot > 0 else np.full(k, np.nan)
    if k < 2:
        V = np.vstack([V, np.zeros((2 - k, S.shape[1]))])
        ratio = np.concatenate([ratio, np.zeros(2 - k)])
    return [(p - mu) @ V.T for p in P], ratio, mu
