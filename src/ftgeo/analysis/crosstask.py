"""Does fine-tuning on task A change the space of task B? (Zhou & Srikumar 2022, Sec. 6: after
fine-tuning on PS-role, the PS-fxn labels move apart; after fine-tuning on POS, ...)

Given task B's representations from the pretrained model (X^pre) and from a model fine-tuned on
task A (X^ft), fit DirectProbe (Zhou & Srikumar 2021) on each and compare every B label's
minimum distance to the other labels (Eq. D1 of :mod:`ftgeo.analysis.dynamics`):

    delta(c) = dmin^ft(c) - dmin^pre(c)                                                      (X1)

A label *grew* if delta(c) > tol, *shrank* if delta(c) < -tol, else it stayed; the summary is
the three counts and the mean of delta over labels. Probe accuracy before / after comes from
:mod:`ftgeo.analysis.probes`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError

__all__ = ["min_distance_change", "count_changes", "cross_task_change"]


def min_distance_change(before, after, *, tol: float = 1e-9) -> pd.DataFrame:
    """Per label: before, after, change (Eq. X1), direction in {"grew", "shrank", "same"}.

    ``before`` and ``after`` are 1-D arrays in the same label order (NaN entries give direction "n/a").
    A label counts as changed when |change| > tol x max(1, |before|).
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.shape != a.shape or b.ndim != 1:
        raise ValidationError(f"before and after must be 1-D of the same length; got {b.shape} and {a.shape}")
    ch = a - b
    thr = tol * np.maximum(1.0, np.abs(np.nan_to_num(b)))
    direction = np.where(~np.isfinite(ch), "n/a", np.where(ch > thr, "grew", np.where(ch < -thr, "shrank", "same")))
    return pd.DataFrame({"before": b, "after": a, "change": ch, "direction": direction})


def count_changes(before, after, *, tol: float = 1e-9) -> dict:
    """{"n_labels", "n_grew", "n_shrank", "n_same", "mean_change"} over labels with finite values."""
    df = min_distance_change(before, after, tol=tol)
    fin = df["direction"] != "n/a"
    return {"n_labels": int(fin.sum()), "n_grew": int((df["direction"] == "grew").sum()),
            "n_shrank": int((df["direction"] == "shrank").sum()), "n_same": int((df["direction"] == "same").sum()),
            "mean_change": float(df.loc[fin, "change"].mean()) if fin.any() else float("nan")}


def cross_task_change(X_pre, y_pre, X_ft, y_ft, *, tol: float = 1e-9) -> tuple[pd.DataFrame, dict]:
    """DirectProbe on task B before and after fine-tuning on A: (per-label table with a ``label``
    column, summary counts). Labels are those present in both sets."""
    from ftgeo.analysis.dynamics import fit_directprobe
    dp_pre = fit_directprobe(X_pre, y_pre)
    dp_ft = fit_directprobe(X_ft, y_ft)
    common = np.intersect1d(dp_pre.classes_, dp_ft.classes_)
    if common.size < 2:
        raise ValidationError("the two sets share fewer than 2 labels; cross-task compares task B's labels")
    b = dp_pre.label_min_distance_[np.searchsorted(dp_pre.classes_, common)]
    a = dp_ft.label_min_distance_[np.searchsorted(dp_ft.classes_, common)]
    df = min_distance_change(b, a, tol=tol)
    df.insert(0, "label", common)
    summ = count_changes(b, a, tol=tol)
    summ.update({"n_clusters_before": int(dp_pre.n_clusters_), "n_clusters_after": int(dp_ft.n_clusters_)})
    return df, summ
