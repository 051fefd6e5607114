"""Redundancy of sentence embeddings (Matton & de Oliveira 2019, "Emergent Properties of
Finetuned Language Representation Models", Sec. "Compression" and "Explained variance").

* PCA compression curve: the eval accuracy of the linear softmax classifier
  (:class:`ftgeo.analysis.linear.SoftmaxClassifier`, objective (1) there) trained on the top-k
  principal components of the training representations, for a grid of k. The PCA is fitted
  (a) in-domain, on the task's training split, (b) out-of-domain, on a general-domain corpus
  (Brown / WikiText-2) embedded with the same model, layer and pooling, or replaced by (c) k
  randomly chosen original dimensions (several seeded draws: mean and std). Each PCA is fitted
  once and every example projected once onto all its components; a k-component model uses the
  first k columns.
* Explained variance: the per-component explained-variance ratio

      r_i = lambda_i / sum_j lambda_j,   lambda_i the i-th largest eigenvalue of the covariance   (3)

  for the pretrained and the fine-tuned representations, and the ratio r_i^ft / r_i^pre per index.
  The paper observes that fine-tuning concentrates variance in about (n_classes - 1) components:
  the ratio is above 1 there and drops below 1 after.
* How many general-corpus sentences the out-of-domain PCA needs (the paper fits it on ~32k
  sentences and reports that more do not change the curve): :func:`general_size_correct` refits
  the general PCA on seeded subsamples of n sentences and scores the k-component classifier.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo._checks import check_features, check_random_state, check_X_y
from ftgeo.analysis._base import RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, fit_context
from ftgeo.analysis.linear import SoftmaxClassifier
from ftgeo.errors import ValidationError

__all__ = ["SOURCES", "default_ks", "pca_fit", "pca_project", "explained_variance_ratio", "variance_comparison",
           "variance_jackknife", "drop_count_interval", "random_dimension_draws", "CompressionCurve", "linear_accuracy", "linear_correct",
           "pca_correct", "general_size_correct"]

SOURCES = ("in_domain", "general", "random")


def default_ks(d: int) -> list[int]:
    """1, 2, 4, 8, ... up to ``d``, with ``d`` itself last."""
    ks, k = [], 1
    while k < d:
        ks.append(k)
        k *= 2
    ks.append(int(d))
    return ks


def pca_fit(X, n_components: int | None = None) -> dict:
    """PCA by SVD of the centred data (float64): ``mean`` (d,), ``components`` (m, d) (rows =
    principal axes, decreasing variance, sign fixed so each axis' largest |loading| is positive),
    ``explained_variance`` (m,) (eigenvalues of the covariance, ddof=1) and
    ``explained_variance_ratio`` (m,) (Eq. 3; the denominator is the total variance)."""
    X = check_features(X, "X", min_samples=2)
    mu = X.mean(axis=0)
    Xc = X - mu
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    ev = s ** 2 / (X.shape[0] - 1)
    total = Xc.var(axis=0, ddof=1).sum()
    idx = np.abs(Vt).argmax(axis=1)
    Vt = Vt * np.sign(Vt[np.arange(Vt.shape[0]), idx])[:, None]
    m = Vt.shape[0] if n_components is None else min(int(n_components), Vt.shape[0])
    ratio = ev / total if total > 0 else np.full_like(ev, np.nan)
    return {"mean": mu, "components": Vt[:m], "explained_variance": ev[:m], "explained_variance_ratio": ratio[:m]}


def pca_project(X, pca: dict) -> np.ndarray:
    """Coordinates of ``X`` on all components of ``pca`` (slice the first k columns for top-k)."""
    return (np.asarray(X, dtype=np.float64) - pca["mean"]) @ pca["components"].T


def explained_variance_ratio(X) -> np.ndarray:
    """Per-component explained-variance ratio (Eq. 3), length min(n - 1, d) at most (all components)."""
    return pca_fit(X)["explained_variance_ratio"]


def variance_comparison(X_pre, X_ft, n_classes: int | None = None, n_components: int | None = None) -> dict:
    """Explained-variance ratios of pretrained and fine-tuned representations side by side.

    Returns ``ratio_pre``, ``ratio_ft`` (Eq. 3), ``ratio`` = ratio_ft / ratio_pre per component
    (NaN where the pretrained ratio is 0), ``first_below_one`` (1-based index of the first
    component whose ratio is < 1; None if none), ``n_above_before_drop`` (= first_below_one - 1)
    and ``n_classes``. Identical inputs give ratios of exactly 1.
    """
    A = check_features(X_pre, "pretrained representations", min_samples=2)
    B = check_features(X_ft, "fine-tuned representations", min_samples=2)
    if A.shape[1] != B.shape[1]:
        raise ValidationError(f"pretrained representations have {A.shape[1]} dimensions and fine-tuned ones "
                              f"{B.shape[1]}; compare the same model's layer before and after fine-tuning")
    ra = pca_fit(A)["explained_variance_ratio"]
    rb = pca_fit(B)["explained_variance_ratio"]
    m = min(ra.size, rb.size) if n_components is None else min(ra.size, rb.size, int(n_components))
    ra, rb = ra[:m], rb[:m]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ra > 0, rb / np.where(ra > 0, ra, 1.0), np.nan)
    below = np.flatnonzero(ratio < 1.0)
    first = int(below[0]) + 1 if below.size else None
    return {"ratio_pre": ra, "ratio_ft": rb, "ratio": ratio, "first_below_one": first,
            "n_above_before_drop": None if first is None else first - 1,
            "n_classes": None if n_classes is None else int(n_classes)}


def _leave_out_ratios(X: np.ndarray, blocks: np.ndarray, n_blocks: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (Eq. 3) of the full sample (by eigendecomposition of its covariance)
    and of every leave-one-block-out sample, ``((m,), (G, m))``, from per-block sums.

    The data are centred once by the full mean (the covariance does not change under a shift, and the
    sums of centred data avoid cancellation); with ``S = sum_i x_i x_i^T``, ``s = sum_i x_i`` and the
    block's ``S_b``, ``s_b``, ``n_b``, the covariance without block b is

        Cov_(b) = (S - S_b - (s - s_b)(s - s_b)^T / (n - n_b)) / (n - n_b - 1)

    (no pass over the remaining rows). Components beyond the rank of a sample (n - 1) are NaN."""
    n, d = X.shape
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc
    s = Xc.sum(axis=0)

    def ratios(Sx, sx, nx):
        cov = (Sx - np.outer(sx, sx) / nx) / (nx - 1)
        ev = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)
        tot = float(np.trace(cov))
        r = ev / tot if tot > 0 else np.full(d, np.nan)
        r[min(nx - 1, d):] = np.nan
        return r[:m]

    full = ratios(S, s, n)
    out = np.full((n_blocks, m), np.nan)
    for b in range(n_blocks):
        rows = np.flatnonzero(blocks == b)
        if rows.size == 0 or n - rows.size < 2:
            continue
        Xb = Xc[rows]
        out[b] = ratios(S - Xb.T @ Xb, s - Xb.sum(axis=0), n - rows.size)
    return full, out


def variance_jackknife(X_pre, X_ft, blocks_pre, blocks_ft=None, *, n_components: int | None = None,
                       level: float = 0.9) -> dict:
    """Delete-a-group jackknife intervals of the explained-variance ratios and of their ratio
    fine-tuned / pretrained (:func:`variance_comparison`), per component.

    ``blocks_pre`` / ``blocks_ft``: the jackknife block (0..G-1) of each row
    (:func:`ftgeo.analysis.resampling.jackknife_blocks`); ``blocks_ft`` defaults to ``blocks_pre``
    (the same examples in both sets: block b of both is left out together). For two independent
    samples, leaving out block b of each at once gives the sum of both jackknife variances.
    The leave-out ratios come from per-block sums (:func:`_leave_out_ratios`): one eigendecomposition
    of a d x d covariance per block and set. The interval is the jackknife t-interval on G - 1 degrees
    of freedom (:func:`ftgeo.analysis.resampling.jackknife_interval`) **on the log scale**, mapped back
    with exp: the ratios are positive and right-skewed, and the log makes their sampling distribution
    closer to symmetric (and the bounds positive). Its centre is the bias-corrected (pseudo-value)
    estimate, so the point estimate need not lie inside an interval.

    Returns ``ratio_pre_low/high``, ``ratio_ft_low/high``, ``ratio_low/high`` (m,), the leave-out
    values ``leave_out_pre``, ``leave_out_ft``, ``leave_out_ratio`` (G, m) and ``n_blocks`` (G).
    """
    from ftgeo.analysis.neurons import _blas_limit
    A = check_features(X_pre, "pretrained representations", min_samples=2)
    B = check_features(X_ft, "fine-tuned representations", min_samples=2)
    if A.shape[1] != B.shape[1]:
        raise ValidationError(f"pretrained representations have {A.shape[1]} dimensions and fine-tuned ones "
                              f"{B.shape[1]}; compare the same model's layer before and after fine-tuning")
    bp = np.asarray(blocks_pre, dtype=np.int64)
    bf = bp if blocks_ft is None else np.asarray(blocks_ft, dtype=np.int64)
    if bp.shape != (A.shape[0],) or bf.shape != (B.shape[0],):
        raise ValidationError("give one jackknife block per row of each set")
    G = int(max(bp.max(), bf.max())) + 1
    m = min(min(A.shape), min(B.shape))            # as variance_comparison
    if n_components is not None:
        m = min(m, int(n_components))
    with _blas_limit(1):   # d x d eigendecompositions: one thread is faster on a few shared cores
        fa, la = _leave_out_ratios(A, bp, G, m)
        fb, lb = _leave_out_ratios(B, bf, G, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        fr, lr = np.where(fa > 0, fb / fa, np.nan), np.where(la > 0, lb / la, np.nan)
        out = {"leave_out_pre": la, "leave_out_ft": lb, "leave_out_ratio": lr, "n_blocks": G}
        for name, full, leave in (("ratio_pre", fa, la), ("ratio_ft", fb, lb), ("ratio", fr, lr)):
            ok = (full > 0) & np.all(leave > 0, axis=0)
            _, low, high = _log_jackknife(np.where(ok, full, 1.0), np.where(ok, leave, 1.0), level)
            out[f"{name}_low"], out[f"{name}_high"] = np.where(ok, low, np.nan), np.where(ok, high, np.nan)
    return out


def _log_jackknife(estimate: np.ndarray, leave_out: np.ndarray, level: float):
    """:func:`ftgeo.analysis.resampling.jackknife_interval` of ``log(estimate)`` for every column of
    ``leave_out`` (G, m) at once (same formula: pseudo-values, t on G - 1 df), mapped back with exp:
    ``(centre, low, high)``, each (m,)."""
    from scipy.stats import t as student_t
    from ftgeo.analysis.resampling import check_level
    theta, loo = np.log(estimate), np.log(leave_out)
    G = loo.shape[0]
    pseudo = G * theta[None] - (G - 1) * loo
    centre = pseudo.mean(axis=0)
    se = np.sqrt(np.sum((pseudo - centre) ** 2, axis=0) / (G * (G - 1)))
    q = float(student_t.ppf(0.5 + check_level(level) / 2, G - 1))
    return np.exp(centre), np.exp(centre - q * se), np.exp(centre + q * se)


def drop_count_interval(ratio, low, high) -> tuple[int | None, int, int]:
    """The number of leading components whose ratio is not below 1 (``n_above_before_drop``: the
    point count; None when no ratio drops below 1), and an interval for it from per-component
    intervals: ``low`` = the number of leading components whose whole interval lies above 1,
    ``high`` = the number of leading components before the first whose whole interval lies below 1;
    ``low`` is at most and ``high`` at least the point count (where the point estimate lies outside
    its bias-corrected interval). With NaN intervals both bounds are NaN."""
    r, lo, hi = (np.asarray(v, dtype=np.float64) for v in (ratio, low, high))
    below = np.flatnonzero(r < 1.0)
    point = int(below[0]) if below.size else None
    if not (np.isfinite(lo).any() or np.isfinite(hi).any()):
        return point, float("nan"), float("nan")
    pc = r.size if point is None else point

    def leading(mask):
        bad = np.flatnonzero(~mask)
        return int(bad[0]) if bad.size else int(mask.size)

    n_low = min(leading(lo > 1.0), pc)
    n_high = max(leading(~(hi < 1.0)), pc)
    return point, n_low, n_high


def random_dimension_draws(d: int, k: int, n_draws: int, random_state=0) -> np.ndarray:
    """(n_draws, k) sets of k distinct original dimensions, seeded (reproducible)."""
    if not 1 <= k <= d:
        raise ValidationError(f"k={k} must be between 1 and the number of dimensions ({d})")
    rng = check_random_state(random_state)
    return np.stack([np.sort(rng.choice(d, k, replace=False)) for _ in range(int(n_draws))])


def linear_accuracy(X_train, y_train, X_eval, y_eval, *, C: float = 1.0) -> float:
    """Eval accuracy of the softmax classifier (standardised features) trained on the train split."""
    return SoftmaxClassifier(C=C).fit(X_train, y_train).score(X_eval, y_eval)


def linear_correct(X_train, y_train, X_eval, y_eval, *, C: float = 1.0) -> np.ndarray:
    """Per-row correctness (bool, (n_eval,)) of the classifier of :func:`linear_accuracy` on the eval
    split; its mean is that accuracy, exactly."""
    clf = SoftmaxClassifier(C=C).fit(X_train, y_train)
    Xev, yev = check_X_y(X_eval, y_eval, x_name="X_eval", y_name="y_eval")
    return np.asarray(clf.predict(Xev) == yev, dtype=bool)


def pca_correct(pca: dict, X_train, y_train, X_eval, y_eval, k: int, *, C: float = 1.0) -> np.ndarray:
    """Per-row eval correctness of the classifier on the first ``k`` components of a fitted ``pca``
    (:func:`pca_fit`): one point of a compression curve, e.g. a k off the curve's grid."""
    m = pca["components"].shape[0]
    if not 1 <= int(k) <= m:
        raise ValidationError(f"k={k} must be between 1 and the number of components ({m})")
    k = int(k)
    Ptr = pca_project(X_train, {"mean": pca["mean"], "components": pca["components"][:k]})
    Pev = pca_project(X_eval, {"mean": pca["mean"], "components": pca["components"][:k]})
    return linear_correct(Ptr, y_train, Pev, y_eval, C=C)


class CompressionCurve(FtgeoEstimator):
    """Accuracy vs number of kept dimensions (Matton & de Oliveira 2019, PCA compression).

    Parameters: ``ks`` (default 1, 2, 4, ..., d), ``source``: one of ``in_domain``, ``general``,
    ``random`` or a sequence of them (default: those available: ``general`` needs ``X_general``),
    ``n_random`` seeded draws per k for ``random``, ``C`` of the classifier, ``random_state``,
    ``max_general`` (the general corpus is subsampled, seeded, to this many sentences; the paper
    found ~32k enough).

    Fitted: ``curve_`` (tidy DataFrame: source, k, accuracy, accuracy_std, n_draws),
    ``full_accuracy_`` (all dimensions), ``pca_`` (source -> fitted PCA dict), ``ks_``,
    ``random_dims_`` (k -> (n_random, k) dimension draws), and the per-row eval correctness behind
    every accuracy (for intervals and paired comparisons): ``eval_correct_`` ((source, k) ->
    (n_draws, n_eval) bool; one draw for a PCA source) and ``full_correct_`` ((n_eval,) bool).

    ``fit`` has no method that needs it afterwards: the fitted attributes are the result.
    """

    _parameter_constraints = {
        "ks": [None, "array-like"],
        "source": [None, str, list, tuple],        # the names themselves are checked at fit
        "n_random": [Interval(Integral, 1, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": RANDOM_STATE,
        "max_general": [Interval(Integral, 1, None, closed="left"), None],
        "progress": ["boolean"],
    }

    def __init__(self, ks: Sequence[int] | None = None, source: str | Sequence[str] | None = None,
                 n_random: int = 5, *, C: float = 1.0, random_state=0, max_general: int | None = 32000,
                 progress: bool = False):
        self.ks = ks
        self.source = source
        self.n_random = n_random
        self.C = C
        self.random_state = random_state
        self.max_general = max_general
        self.progress = progress

    @fit_context
    def fit(self, X_train, y_train, X_eval, y_eval, X_general=None) -> "CompressionCurve":
        Xtr, ytr = check_X_y(X_train, y_train, x_name="X_train", y_name="y_train", min_samples=2, min_classes=2)
        Xev, yev = check_X_y(X_eval, y_eval, x_name="X_eval", y_name="y_eval")
        d = Xtr.shape[1]
        if Xev.shape[1] != d:
            raise ValidationError(f"X_eval has {Xev.shape[1]} dimensions and X_train {d}; use the same model/layer")
        if self.source is None:
            sources = ["in_domain"] + (["general"] if X_general is not None else []) + ["random"]
        else:
            sources = [self.source] if isinstance(self.source, str) else list(self.source)
        for s in sources:
            if s not in SOURCES:
                raise ValidationError(f"source {s!r} is not one of {list(SOURCES)}")
        Xg = None
        if "general" in sources:
            if X_general is None:
                raise ValidationError("source 'general' needs X_general: representations of a general-domain corpus "
                                      "(e.g. brown or wikitext2) from the same model, layer and pooling")
            Xg = check_features(X_general, "X_general", min_samples=2)
            if Xg.shape[1] != d:
                raise ValidationError(f"X_general has {Xg.shape[1]} dimensions and X_train {d}; extract the "
                                      "general corpus with the same model, layer and pooling")
            if self.max_general and Xg.shape[0] > self.max_general:
                rng = check_random_state(self.random_state)
                Xg = Xg[np.sort(rng.choice(Xg.shape[0], int(self.max_general), replace=False))]
        ks = default_ks(d) if self.ks is None else sorted({int(k) for k in self.ks})
        if not ks or ks[0] < 1 or ks[-1] > d:
            raise ValidationError(f"ks={self.ks!r} must be integers between 1 and the dimension ({d})")
        self.ks_ = ks
        self.pca_ = {}
        self.eval_correct_ = {}
        rows = []
        from ftgeo.progress import progress as _progress
        for s in sources:
            if s == "random":
                continue
            pca = pca_fit(Xtr if s == "in_domain" else Xg)
            self.pca_[s] = pca
            Ptr, Pev = pca_project(Xtr, pca), pca_project(Xev, pca)
            m = pca["components"].shape[0]
            for k in _progress(ks, enabled=self.progress, desc=f"PCA {s}", leave=False):
                if k > m:  # fewer components than k (a small source): not defined
                    continue
                ok = linear_correct(Ptr[:, :k], ytr, Pev[:, :k], yev, C=self.C)
                self.eval_correct_[(s, k)] = ok[None]
                acc = float(np.mean(ok))
                rows.append({"source": s, "k": k, "accuracy": acc, "accuracy_std": 0.0, "n_draws": 1})
        self.random_dims_ = {}
        if "random" in sources:
            rng = check_random_state(self.random_state)
            for k in _progress(ks, enabled=self.progress, desc="random dims", leave=False):
                draws = random_dimension_draws(d, k, 1 if k == d else self.n_random, rng)
                self.random_dims_[k] = draws
                ok = np.stack([linear_correct(Xtr[:, dr], ytr, Xev[:, dr], yev, C=self.C) for dr in draws])
                self.eval_correct_[("random", k)] = ok
                accs = [float(np.mean(o)) for o in ok]
                rows.append({"source": "random", "k": k, "accuracy": float(np.mean(accs)),
                             "accuracy_std": float(np.std(accs)), "n_draws": len(accs)})
        self.full_correct_ = linear_correct(Xtr, ytr, Xev, yev, C=self.C)
        self.full_accuracy_ = float(np.mean(self.full_correct_))
        self.curve_ = pd.DataFrame(rows, columns=["source", "k", "accuracy", "accuracy_std", "n_draws"])
        return self


def general_size_correct(X_train, y_train, X_eval, y_eval, X_general, sizes: Sequence[int], ks: Sequence[int], *,
                         n_draws: int = 3, C: float = 1.0, random_state=0) -> dict:
    """Per-row eval correctness of the k-component classifier whose PCA is fitted on n general-corpus
    sentences (Matton & de Oliveira 2020, Sec. "Compression": the general-domain PCA, fitted there on ~32k sentences).

    For every n in ``sizes`` below the corpus size, ``n_draws`` seeded subsamples without
    replacement (the draws differ only in which sentences); the whole corpus (n = N) once. Sizes
    above N, or not above the largest k, are dropped; N is always added. Returns ``{(n, k): (draws, n_eval) bool}``.
    """
    Xg = check_features(X_general, "X_general", min_samples=2)
    Xtr, ytr = check_X_y(X_train, y_train, x_name="X_train", y_name="y_train", min_samples=2, min_classes=2)
    d, N = Xtr.shape[1], Xg.shape[0]
    if Xg.shape[1] != d:
        raise ValidationError(f"X_general has {Xg.shape[1]} dimensions and X_train {d}; extract the general corpus "
                              "with the same model, layer and pooling")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1 or ks[-1] > d:
        raise ValidationError(f"ks={list(ks)} must be integers between 1 and the dimension ({d})")
    if any(int(n) < 2 for n in sizes):
        raise ValidationError(f"sizes must be >= 2 sentences; got {list(sizes)}")
    if N <= ks[-1]:
        raise ValidationError(f"the general corpus has {N} sentences; the PCA needs more than k = {ks[-1]}")
    grid = sorted({int(n) for n in sizes if ks[-1] < int(n) < N} | {N})
    rng = check_random_state(random_state)
    out = {}
    for n in grid:
        draws = [np.arange(N)] if n == N else [np.sort(rng.choice(N, n, replace=False)) for _ in range(int(n_draws))]
        per_k: dict[int, list] = {k: [] for k in ks}
        for rows in draws:
            pca = pca_fit(Xg[rows], n_components=ks[-1])
            for k in ks:
                per_k[k].append(pca_correct(pca, Xtr, ytr, X_eval, y_eval, k, C=C))
        for k in ks:
            out[(n, k)] = np.stack(per_k[k])
    return out
