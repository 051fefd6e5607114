"""Evaluation metrics from a confusion matrix, and the tidy metrics table.

Accuracy = trace(C) / sum(C). Macro-F1 = mean over classes k of
``F1_k = 2 C_kk / (sum_j C_kj + sum_i C_ik)`` (precision and recall's harmonic mean), taken
over the classes that occur in the gold labels or the predictions (scikit-learn's
``f1_score(average="macro")`` with its default label set). The confusion matrix is additive,
so several processes each count their share and the counts are summed.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from ftgeo.results.finetune import METRIC_COLUMNS  # noqa: E402  (defined with FinetuneResult)


def confusion(y_true, y_pred, num_labels: int) -> np.ndarray:
    """``C[i, j]`` = number of examples with gold ``i`` predicted ``j`` (int64, ``num_labels`` square)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_labels + y_pred, minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def scores(C: np.ndarray) -> dict[str, float]:
    """``{"accuracy", "macro_f1", "n"}`` from a confusion matrix."""
    C = np.asarray(C, dtype=np.float64)
    n = C.sum()
    if n == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "n": 0}
    tp = np.diag(C)
    gold, pred = C.sum(1), C.sum(0)
    present = (gold + pred) > 0
    f1 = np.where(present, 2 * tp / np.maximum(gold + pred, 1e-300), 0.0)
    return {"accuracy": float(tp.sum() / n), "macro_f1": float(f1[present].mean()), "n": int(n)}


def tidy_log(log_history: Iterable[dict[str, Any]], split_names: dict[str, str]) -> pd.DataFrame:
    """Trainer ``log_history`` -> long table (step, epoch, split, metric, value).

    Training logs (``loss``, ``learning_rate``, ``grad_norm``) go to split ``train``; a key
    ``<prefix>_<metric>`` goes to ``split_names[prefix]`` (e.g. ``eval`` -> ``dev``,
    ``heldout`` -> ``heldout``); run summaries (``train_runtime``, ...) are skipped.
    """
    rows = []
    for entry in log_history:
        step, epoch = entry.get("step"), entry.get("epoch")
        for key, value in entry.items():
            if key in ("step", "epoch") or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if key in ("loss", "learning_rate", "grad_norm"):
                rows.append((step, epoch, "train", key, float(value)))
                continue
            prefix, _, metric = key.partition("_")
            if prefix in split_names and metric and not metric.endswith(("runtime", "per_second")):
                rows.append((step, epoch, split_names[prefix], metric, float(value)))
    df = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    if len(df):
        df = df.drop_duplicates(subset=["step", "split", "metric"], keep="last").reset_index(drop=True)
    return df
