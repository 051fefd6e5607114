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
           "random_dimension_draws", "CompressionCurve", "linear_accuracy"]

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


def random_dimension_draws(d: int, k: int, n_draws: int, random_state=0) -> np.ndarray:
    """(n_draws, k) sets of k distinct original dimensions, seeded (reproducible)."""
    if not 1 <= k <= d:
        raise ValidationError(f"k={k} must be between 1 and the number of dimensions ({d})")
    rng = check_random_state(random_state)
    return np.stack([np.sort(rng.choice(d, k, replace=False)) for _ in range(int(n_draws))])


def linear_accuracy(X_train, y_train, X_eval, y_eval, *, C: float = 1.0) -> float:
    """Eval accuracy of the softmax classifier (standardised features) trained on the train split."""
    return SoftmaxClassifier(C=C).fit(X_train, y_train).score(X_eval, y_eval)


class CompressionCurve(FtgeoEstimator):
    """Accuracy vs number of kept dimensions (Matton & de Oliveira 2019, PCA compression).

    Parameters: ``ks`` (default 1, 2, 4, ..., d), ``source``: one of ``in_domain``, ``general``,
    ``random`` or a sequence of them (default: those available: ``general`` needs ``X_general``),
    ``n_random`` seeded draws per k for ``random``, ``C`` of the classifier, ``random_state``,
    ``max_general`` (the general corpus is subsampled, seeded, to this many sentences; the paper
    found ~32k enough).

    Fitted: ``curve_`` (tidy DataFrame: source, k, accuracy, accuracy_std, n_draws),
    ``full_accuracy_`` (all dimensions), ``pca_`` (source -> fitted PCA dict), ``ks_``,
    ``random_dims_`` (k -> (n_random, k) dimension draws).

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
                acc = linear_accuracy(Ptr[:, :k], ytr, Pev[:, :k], yev, C=self.C)
                rows.append({"source": s, "k": k, "accuracy": acc, "accuracy_std": 0.0, "n_draws": 1})
        self.random_dims_ = {}
        if "random" in sources:
            rng = check_random_state(self.random_state)
            for k in _progress(ks, enabled=self.progress, desc="random dims", leave=False):
                draws = random_dimension_draws(d, k, 1 if k == d else self.n_random, rng)
                self.random_dims_[k] = draws
                accs = [linear_accuracy(Xtr[:, dr], ytr, Xev[:, dr], yev, C=self.C) for dr in draws]
                rows.append({"source": "random", "k": k, "accuracy": float(np.mean(accs)),
                             "accuracy_std": float(np.std(accs)), "n_draws": len(accs)})
        self.full_accuracy_ = linear_accuracy(Xtr, ytr, Xev, yev, C=self.C)
        self.curve_ = pd.DataFrame(rows, columns=["source", "k", "accuracy", "accuracy_std", "n_draws"])
        return self
