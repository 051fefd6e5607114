"""The statistics the claims compute from saved results, with their intervals.

* :func:`cka_stat` -- any function of a CKA matrix with the delete-a-group jackknife interval, from the
  leave-one-block-out matrices the ``cka`` analysis saves (``jack_<i>``; without them: the point value).
* :func:`paired_accuracy_gap` -- the difference of two classifiers' accuracies on the same eval rows, with a
  percentile bootstrap over the rows (paired: each resample draws the same rows for both).
* :func:`minimum` -- of several values with intervals: ``[min low, min high]``.
* :func:`difference` / :func:`ratio` -- of two values that each carry an interval, with the conservative
  interval ``[a_low - b_high, a_high - b_low]`` (``[a_low / b_high, a_high / b_low]``): it holds the true
  difference whenever both intervals hold their values, whatever their dependence (a union bound: a 90%
  interval each gives at least 80% joint coverage; the claims say which statistics use it).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ftgeo.analysis.resampling import bootstrap_plan, jackknife_interval, percentile_interval

NAN = float("nan")


def finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def cka_stat(res, fn: Callable[[np.ndarray], float], set_a: str, set_b: str, level: float = 0.9):
    """``(value, low, high)`` of ``fn(matrix)`` for the pair (set_a, set_b) of a CKA result."""
    M = res.matrix(set_a, set_b)
    value = float(fn(M))
    jack = _jack(res, set_a, set_b)
    if jack is None or not np.isfinite(value):
        return value, NAN, NAN
    leave = [float(fn(J)) for J in jack]
    if not np.isfinite(leave).all():
        return value, NAN, NAN
    _, lo, hi = jackknife_interval(value, leave, level)
    return value, lo, hi


def _jack(res, set_a: str, set_b: str):
    for i, (a, b) in enumerate(res.pairs):
        name = f"jack_{i}"
        if name not in res.arrays:
            continue
        if (a, b) == (set_a, set_b):
            return np.asarray(res.arrays[name], dtype=np.float64)
        if (b, a) == (set_a, set_b):
            return np.transpose(np.asarray(res.arrays[name], dtype=np.float64), (0, 2, 1))
    return None


def minimum(triples) -> tuple[float, float, float]:
    """``(min value, min low, min high)`` of several ``(value, low, high)``: the minimum lies in that interval
    whenever every value lies in its own (so a claim "all of them above t" holds when every low is above t)."""
    v, lo, hi = (np.array(x, dtype=np.float64) for x in zip(*triples))
    if np.isfinite(lo).all() and np.isfinite(hi).all():
        return float(v.min()), float(lo.min()), float(hi.min())
    return float(v.min()), NAN, NAN


def same_layer(M: np.ndarray, layers: list[int]) -> np.ndarray:
    """The diagonal of a pretrained-vs-fine-tuned matrix restricted to ``layers`` (positions)."""
    return np.array([M[i, i] for i in layers])


def paired_accuracy_gap(correct_a, correct_b, *, level: float = 0.9, n_resamples: int = 2000, seed: int = 0,
                        groups=None):
    """``(value, low, high)`` of accuracy(a) - accuracy(b) on the same rows (paired bootstrap over rows,
    or over ``groups`` such as sentences)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    value = float(a.mean() - b.mean())
    plan = bootstrap_plan(a.size if groups is None else np.asarray(groups), n_resamples, seed)
    lo, hi = percentile_interval([a[i].mean() - b[i].mean() for i in plan], level)
    return value, lo, hi


def difference(a, a_low, a_high, b, b_low, b_high):
    """``(a - b, low, high)`` with the conservative interval (see the module doc)."""
    value = a - b
    if finite(a_low, a_high, b_low, b_high):
        return value, a_low - b_high, a_high - b_low
    return value, NAN, NAN


def ratio(a, a_low, a_high, b, b_low, b_high):
    """``(a / b, low, high)`` with the conservative interval, for positive quantities."""
    value = a / b if b else NAN
    if finite(a_low, a_high, b_low, b_high) and b_low > 0 and b_high > 0:
        return value, a_low / b_high, a_high / b_low
    return value, NAN, NAN


def row(df, **where):
    """The single row of ``df`` matching ``where`` (column == value), as a Series; LookupError if none."""
    m = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        m &= (df[k] == v).to_numpy()
    if not m.any():
        raise LookupError(f"no row with {where}")
    return df[m].iloc[0]


def cols(r, name: str) -> tuple[float, float, float]:
    """``(value, low, high)`` of column ``name`` of a row (NaN bounds when the result has no interval)."""
    return (float(r[name]), float(r.get(f"{name}_low", NAN)), float(r.get(f"{name}_high", NAN)))


def fmt(value, low, high, digits: int = 3) -> str:
    """``0.912 [0.88, 0.93]`` or ``0.912``."""
    s = f"{value:.{digits}g}"
    return s + (f" [{low:.{digits}g}, {high:.{digits}g}]" if finite(low, high) else "")
