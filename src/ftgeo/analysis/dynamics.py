"""How the representation space changes over a fine-tuning run (Zhou & Srikumar 2022, Sec. 5:
"fine-tuning pushes each label away from the others", Fig. 3-5, and Sec. 4.3 on spatial
similarity to the pretrained space).

For one layer and an ordered list of representation sets X_0 (pretrained), X_1, ..., X_T (the
checkpoints) of the *same examples* with labels y, and DirectProbe (Zhou & Srikumar 2021) fitted
on each X_t:

* minimum distance of label c to the others at checkpoint t (paper Sec. 5)

      dmin_t(c) = min_{c' != c} min_{C in clusters(c), C' in clusters(c')} dist(conv C, conv C')   (D1)

  with dist the hull distance (= 2 x the hard-margin SVM margin, DirectProbe Eq. 2);
* spatial similarity to the pretrained space: Pearson correlation of the label-pair distance
  vectors of X_t and X_0 (DirectProbe Sec. 4.3)                                              (D2)
* the label centroid paths mu_c(t) (Eq. C1 of :mod:`ftgeo.analysis.centroids`) projected into
  one 2-D PCA fitted on all checkpoints' centroids together                                (D3)
* the centroid movements m_c = mu_c(T) - mu_c(0) and their explained-variance spectrum (Eq. C3).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ftgeo._checks import check_features, check_labels
from ftgeo.analysis.centroids import centroid_movement, label_centroids, movement_pca, shared_pca_2d
from ftgeo.errors import ValidationError

__all__ = ["fit_directprobe", "safe_spatial_similarity", "layer_dynamics", "min_distance_trajectories"]


def fit_directprobe(X, y, *, pairs: str = "label_min", tol: float = 1e-9):
    """A fitted :class:`ftgeo.analysis.directprobe.DirectProbe` (label-pair minima only by default:
    the distance vector and per-label minima are exact, other cluster pairs are skipped)."""
    from ftgeo.analysis.directprobe import DirectProbe
    return DirectProbe(pairs=pairs, tol=tol, progress=False).fit(X, y)


def safe_spatial_similarity(a, b, *, labels: str = "same") -> float:
    """DirectProbe spatial similarity (Eq. D2), NaN where it is undefined (fewer than 3 labels,
    a constant distance vector, a missing label-pair distance, different label sets with
    ``labels="same"``); ``labels="common"`` compares the labels both fits have."""
    from ftgeo.analysis.directprobe import _common_label_vectors, spatial_similarity
    if labels == "common":
        a, b = _common_label_vectors(a, b)
    va = np.asarray(getattr(a, "distance_vector_", a), dtype=np.float64)
    vb = np.asarray(getattr(b, "distance_vector_", b), dtype=np.float64)
    if va.shape != vb.shape or not (np.isfinite(va).all() and np.isfinite(vb).all()):
        return float("nan")
    try:
        return spatial_similarity(a, b)
    except ValidationError:
        return float("nan")


def min_distance_trajectories(Xs: Sequence[np.ndarray], y) -> tuple[np.ndarray, np.ndarray]:
    """(classes, (T, L) array of Eq. D1) for every set in ``Xs`` (same labels y for all)."""
    out = None
    classes = None
    for t, X in enumerate(Xs):
        dp = fit_directprobe(X, y)
        if out is None:
            classes = dp.classes_
            out = np.empty((len(Xs), classes.size))
        out[t] = dp.label_min_distance_
    return classes, out


def layer_dynamics(Xs: Sequence[np.ndarray], y, *, center_movement: bool = False) -> dict:
    """Everything the dynamics figures need for one layer.

    ``Xs``: T+1 arrays (n, d) of the same examples in checkpoint order, ``Xs[0]`` the pretrained
    model. Returns a dict with ``classes`` (L,), ``min_distance`` (T+1, L) (Eq. D1),
    ``n_clusters`` (T+1,), ``similarity`` (T+1,) to ``Xs[0]`` (Eq. D2; 1 at t=0 when defined),
    ``centroids`` (T+1, L, d), ``paths`` (T+1, L, 2) and ``path_explained`` (2,) (Eq. D3),
    ``movement`` (L, d) first -> last, ``movement_explained`` (min(L, d),) (Eq. C3).
    """
    if len(Xs) < 2:
        raise ValidationError(f"dynamics needs at least two representation sets (pretrained + checkpoints); got {len(Xs)}")
    Xs = [check_features(X, f"Xs[{t}]") for t, X in enumerate(Xs)]
    y = check_labels(y, Xs[0].shape[0], min_classes=2)
    for t, X in enumerate(Xs):
        if X.shape[0] != y.size:
            raise ValidationError(f"Xs[{t}] has {X.shape[0]} rows but y has {y.size}; every checkpoint must hold "
                                  "the same examples in the same order")
    dps = [fit_directprobe(X, y) for X in Xs]
    classes = dps[0].classes_
    mind = np.vstack([dp.label_min_distance_ for dp in dps])
    ncl = np.array([dp.n_clusters_ for dp in dps], dtype=np.int64)
    sim = np.array([safe_spatial_similarity(dp, dps[0]) for dp in dps])
    cents = np.stack([label_centroids(X, y, classes)[1] for X in Xs])
    paths, pexp, _ = shared_pca_2d(list(cents))
    _, mv = centroid_movement(Xs[0], y, Xs[-1], y)
    mexp = movement_pca(mv, center=center_movement)[0]
    return {"classes": classes, "min_distance": mind, "n_clusters": ncl, "similarity": sim, "centroids": cents,
            "paths": np.stack(paths), "path_explained": pexp, "movement": mv, "movement_explained": mexp,
            "distance_vectors": np.vstack([dp.distance_vector_ for dp in dps])}
