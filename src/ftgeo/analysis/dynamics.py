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

__all__ = ["fit_directprobe", "safe_spatial_similarity", "layer_dynamics", "min_distance_trajectories",
           "similarity_null", "subsample_interval", "subsample_seed", "directprobe_over"]


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


def subsample_seed(seed: int, k: int) -> int:
    """Seed of subsample ``k`` of a run with ``seed``: ``seed`` itself for k = 0 (today's subsample),
    else a seed derived from (seed, k) (``numpy.random.SeedSequence``), so runs with nearby seeds do not
    share their extra subsamples."""
    if k == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0])


def subsample_interval(values, level: float = 0.9, *, fraction: float = 0.0,
                       bounds: tuple[float | None, float | None] = (None, None)) -> tuple[float, float]:
    """Interval of a statistic from its values on K seeded subsamples of the same size b, drawn without
    replacement from the N available rows; ``values[0]`` is the point estimate (subsample 0).

        T_0 ± t_{K-1, (1+level)/2} · s / sqrt(1 - f),      s = sd of the K values, f = b / N    (S1)

    The K values are independent draws of T given the data, so s estimates the within-data spread
    Var(T | D); a size-b sample from the population varies more, Var(T_b) = Var(T | D) + Var(E[T | D]),
    which the finite-population factor 1 / (1 - f) restores for statistics that behave like averages
    (Var(T | D) ≈ (1 - f) Var(T_b); Cochran 1977, Ch. 2; Politis, Romano & Wolf 1999, Ch. 2 for
    subsampling). Centring on T_0 keeps today's number as the point estimate and low <= T_0 <= high.
    The t quantile on K - 1 degrees of freedom pays for estimating s from few subsamples. NaN with
    fewer than 2 finite values or f >= 1 (every row used: no spread to read). ``bounds`` clips the
    interval to the statistic's range (distances >= 0, correlations in [-1, 1]): coverage can only gain.

    Hull distances are extreme-value statistics: when f is large the subsamples share the extreme
    points and Var(T | D) falls faster than (1 - f), so the interval is too narrow (see
    ``docs/directprobe.md``, "Uncertainty", for simulated coverage by f).
    """
    from scipy.stats import t as student_t
    v = np.asarray(values, dtype=np.float64)
    nan = (float("nan"), float("nan"))
    if v.size < 2 or not np.isfinite(v).all() or not 0 <= fraction < 1:
        return nan
    q = float(student_t.ppf(0.5 + level / 2, v.size - 1))
    half = q * float(v.std(ddof=1)) / np.sqrt(1.0 - fraction)
    lo, hi = float(v[0] - half), float(v[0] + half)
    if bounds[0] is not None:
        lo = max(lo, float(bounds[0]))
    if bounds[1] is not None:
        hi = min(hi, float(bounds[1]))
    return lo, hi


def _pair_matrices(a, b, labels: str):
    """The two (L, L) label-pair distance matrices over the labels both fits have (``labels="common"``)
    or over their one label set (``"same"``; None if the label sets differ)."""
    ca, cb = np.asarray(a.classes_), np.asarray(b.classes_)
    if labels == "same" and (ca.size != cb.size or np.any(ca != cb)):
        return None, None
    common = np.intersect1d(ca, cb)
    ka, kb = np.searchsorted(ca, common), np.searchsorted(cb, common)
    return a.label_pair_distance_[np.ix_(ka, ka)], b.label_pair_distance_[np.ix_(kb, kb)]


def similarity_null(a, b, n_permutations: int = 1000, random_state=0, *, labels: str = "same") -> np.ndarray:
    """Spatial similarity (Eq. D2) under random relabellings of ``b``: the permutation null of a Mantel
    test (Mantel 1967). ``a`` and ``b`` are fitted DirectProbes, or (L, L) symmetric label-pair distance
    matrices over the same labels.

    The correspondence of the label pairs is shuffled by permuting the *labels* of ``b`` (rows and
    columns of its label-pair matrix together): pairs sharing a label are dependent, so a free shuffle
    of the L(L-1)/2 entries would not be exchangeable under the null (anti-conservative), while a
    relabelling is. When the L! - 1 non-identity relabellings number at most ``n_permutations`` they
    are enumerated (exact test: ``null_summary`` then gives the exact p-value), else
    ``n_permutations`` seeded random relabellings are drawn. Returns the null correlations (NaN where
    undefined); empty with fewer than 3 labels or undefined matrices.
    """
    import itertools
    import math
    from ftgeo._checks import check_random_state
    if hasattr(a, "label_pair_distance_"):
        A, B = _pair_matrices(a, b, labels)
        if A is None:
            return np.zeros(0)
    else:
        A, B = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    L = A.shape[0]
    if L < 3 or B.shape != A.shape or n_permutations < 1:
        return np.zeros(0)
    i, j = np.triu_indices(L, 1)
    va = A[i, j]
    if not (np.isfinite(va).all() and np.isfinite(B[i, j]).all()) or np.std(va) == 0:
        return np.zeros(0)
    if math.factorial(L) - 1 <= n_permutations:
        P = np.array([p for p in itertools.permutations(range(L))][1:], dtype=np.int64)   # all but the identity
    else:
        rng = check_random_state(random_state)
        P = np.stack([rng.permutation(L) for _ in range(int(n_permutations))])
    V = B[P[:, i], P[:, j]]                                                  # (n_perm, L(L-1)/2)
    za = (va - va.mean()) / va.std()
    sd = V.std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((V - V.mean(axis=1, keepdims=True)) @ za) / (va.size * sd)
    r[sd == 0] = np.nan
    return r


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
    ``movement`` (L, d) first -> last, ``movement_explained`` (min(L, d),) (Eq. C3), ``distance_vectors``
    (T+1, L(L-1)/2) and ``fits`` (the T+1 fitted DirectProbes).
    """
    if len(Xs) < 2:
        raise ValidationError(f"dynamics needs at least two representation sets (pretrained + checkpoints); got {len(Xs)}")
    Xs = [check_features(X, f"Xs[{t}]") for t, X in enumerate(Xs)]
    y = check_labels(y, Xs[0].shape[0], min_classes=2)
    for t, X in enumerate(Xs):
        if X.shape[0] != y.size:
            raise ValidationError(f"Xs[{t}] has {X.shape[0]} rows but y has {y.size}; every checkpoint must hold "
                                  "the same examples in the same order")
    dpm = directprobe_over(Xs, y)
    classes, mind, ncl, sim, dps = dpm["classes"], dpm["min_distance"], dpm["n_clusters"], dpm["similarity"], dpm["fits"]
    cents = np.stack([label_centroids(X, y, classes)[1] for X in Xs])
    paths, pexp, _ = shared_pca_2d(list(cents))
    _, mv = centroid_movement(Xs[0], y, Xs[-1], y)
    mexp = movement_pca(mv, center=center_movement)[0]
    return {"classes": classes, "min_distance": mind, "n_clusters": ncl, "similarity": sim, "centroids": cents,
            "paths": np.stack(paths), "path_explained": pexp, "movement": mv, "movement_explained": mexp,
            "distance_vectors": dpm["distance_vectors"], "fits": dps}


def directprobe_over(Xs: Sequence[np.ndarray], y) -> dict:
    """The DirectProbe part of :func:`layer_dynamics` (what a subsample adds to the intervals): ``classes``,
    ``min_distance`` (T+1, L) (Eq. D1), ``n_clusters`` (T+1,), ``similarity`` (T+1,) to ``Xs[0]`` (Eq. D2),
    ``distance_vectors`` and the fitted DirectProbes (``fits``)."""
    dps = [fit_directprobe(X, y) for X in Xs]
    return {"classes": dps[0].classes_, "min_distance": np.vstack([dp.label_min_distance_ for dp in dps]),
            "n_clusters": np.array([dp.n_clusters_ for dp in dps], dtype=np.int64),
            "similarity": np.array([safe_spatial_similarity(dp, dps[0]) for dp in dps]),
            "distance_vectors": np.vstack([dp.distance_vector_ for dp in dps]), "fits": dps}
