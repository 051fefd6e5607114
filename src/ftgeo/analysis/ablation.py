"""Dimension ablation: zero the k highest- or lowest-variance dimensions and re-score through the head.

Timkey & van Schijndel (2021, Section 5) and Rudman et al. (2023, Section 4) show that the few
high-variance (rogue / outlier) dimensions of a fine-tuned model's last layer carry the task:
zeroing them collapses accuracy, while zeroing as many low-variance dimensions barely matters.
A seeded random-k control tells how much any k dimensions matter.

``head`` is any callable mapping an (n, d) float array to (n, C) logits, e.g. the fine-tuned
model's own classification head (``ftgeo.finetune.classification_head(folder)``). Accuracy is
argmax(logits) == label; argmax ties go to the lower class index (``np.argmax``).
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ftgeo._checks import check_features, check_labels, check_random_state
from ftgeo.errors import ValidationError

__all__ = ["default_ks", "ablate", "head_correct", "head_accuracy", "ablation_curve"]

MODES = ("highest", "lowest", "random")


def default_ks(d: int) -> list[int]:
    """0, then powers of two below d, then d: a log grid for the curve."""
    ks = [0] + [2 ** i for i in range(int(np.log2(max(d, 1))) + 1) if 2 ** i < d] + [d]
    return sorted(set(ks))


def ablate(X: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """A copy of ``X`` with the columns ``dims`` set to 0."""
    out = np.array(X, copy=True)
    out[:, np.asarray(dims, dtype=np.int64)] = 0
    return out


def head_correct(head: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row correctness of argmax(head(X)) against ``y`` (bool, one per row)."""
    logits = np.asarray(head(X))
    if logits.ndim != 2 or logits.shape[0] != X.shape[0]:
        raise ValidationError(f"head(X) must return logits of shape (n, n_classes) = ({X.shape[0]}, C); "
                              f"got {logits.shape}")
    return logits.argmax(axis=1) == y


def head_accuracy(head: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of argmax(head(X)) against ``y``."""
    return float(head_correct(head, X, y).mean())


def ablation_curve(X, y, head: Callable[[np.ndarray], np.ndarray], variance, ks: Iterable[int] | None = None, *,
                   modes: Sequence[str] = MODES, n_random: int = 5, random_state=0,
                   interval: Callable[[np.ndarray], tuple[float, float]] | None = None) -> pd.DataFrame:
    """Tidy table (mode, k, draw, accuracy, dims) of accuracies after zeroing k dimensions.

    ``variance`` (d,) ranks the dimensions (compute it on a reference split, e.g. train).
    'highest' zeroes the k largest, 'lowest' the k smallest (ties: lower index first),
    'random' zeroes k dimensions drawn without replacement, ``n_random`` draws per k, from a
    Generator seeded by ``random_state``. ``dims`` lists the zeroed dimensions (first 16).
    ``interval``: a function of one point's per-row correctness returning ``(low, high)`` (e.g. a
    Wilson interval); with it the table gets ``accuracy_low`` and ``accuracy_high`` after ``accuracy``.
    """
    X = check_features(X, "X_eval")
    y = check_labels(y, X.shape[0], "y_eval")
    var = np.asarray(variance, dtype=np.float64)
    d = X.shape[1]
    if var.shape != (d,):
        raise ValidationError(f"variance must have one entry per dimension ({d}); got shape {var.shape}")
    for m in modes:
        if m not in MODES:
            raise ValidationError(f"mode {m!r} is not one of {list(MODES)}")
    if n_random < 1 and "random" in modes:
        raise ValidationError("n_random must be >= 1 for the random control")
    ks = default_ks(d) if ks is None else sorted({int(k) for k in ks})
    if ks and (ks[0] < 0 or ks[-1] > d):
        raise ValidationError(f"every k must be between 0 and d = {d}; got {ks}")
    idx = np.arange(d)
    desc = np.lexsort((idx, -var))
    asc = np.lexsort((idx, var))
    rng = check_random_state(random_state)
    rows = []
    for k in ks:
        for m in modes:
            if m == "random":
                draws = [rng.choice(d, size=k, replace=False) for _ in range(n_random)]
            else:
                draws = [(desc if m == "highest" else asc)[:k]]
            for r, dims in enumerate(draws):
                correct = head_correct(head, ablate(X, dims), y)
                row = {"mode": m, "k": k, "draw": r, "accuracy": float(correct.mean())}
                if interval is not None:
                    row["accuracy_low"], row["accuracy_high"] = interval(correct)
                row["dims"] = " ".join(map(str, np.sort(dims)[:16]))
                rows.append(row)
    cols = ["mode", "k", "draw", "accuracy"] + (["accuracy_low", "accuracy_high"] if interval is not None else [])
    return pd.DataFrame(rows, columns=cols + ["dims"])
