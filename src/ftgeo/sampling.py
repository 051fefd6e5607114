"""Seeded stratified sampling: the one home of every split and subsample ftgeo draws label by label.

* :func:`stratified_holdout` -- a held-out part per label (derived data splits; probes' validation split);
* :func:`stratified_subsample` -- at most ``max_points`` rows, every label kept (DirectProbe, probes, dynamics);
* :func:`proportional_subsample` -- exactly ``max_points`` rows in proportion to the labels (projections);
* :func:`stratified_folds` -- k folds with every label dealt evenly (salient-neuron cross-validation).

All walk the labels through :func:`class_members` and draw from ``numpy.random.default_rng(seed)``;
the same inputs and seed always give the same indices.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["class_members", "stratified_holdout", "stratified_subsample", "proportional_subsample",
           "stratified_folds"]


def class_members(y: Sequence, *, order: str = "sorted") -> list[np.ndarray]:
    """The row indices of each label, labels in ``order``: ``sorted`` (numpy's sort of the values) or
    ``repr`` (sorted by ``repr`` of the label, the order the data layer has always used)."""
    if order == "sorted":
        arr = np.asarray(y)
        return [np.flatnonzero(arr == c) for c in np.unique(arr)]
    groups: dict = {}
    for i, s in enumerate(y):
        groups.setdefault(s, []).append(i)
    return [np.asarray(groups[k], dtype=np.int64) for k in sorted(groups, key=repr)]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def stratified_holdout(strata: Sequence, fraction: float, seed=0, *, order: str = "sorted") -> tuple[np.ndarray, np.ndarray]:
    """Seeded partition of ``range(len(strata))`` into sorted (kept, held_out) index arrays.

    Within every stratum (label) the indices are permuted and the first ``round(fraction * n)`` are
    held out -- at least one when the stratum has two or more members, never all of them; a stratum of
    one stays kept."""
    if not 0 < float(fraction) < 1:
        raise ValidationError(f"the held-out fraction must be strictly between 0 and 1; got {fraction!r}")
    rng = _rng(seed)
    held = []
    for idx in class_members(strata, order=order):
        n = idx.size
        k = min(max(int(round(fraction * n)), 1), n - 1) if n >= 2 else 0
        held.append(rng.permutation(idx)[:k])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(strata), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def stratified_subsample(y: Sequence, max_points: int | None, seed=0) -> np.ndarray:
    """Sorted indices of a seeded subsample of at most ``max_points`` rows (all if None or enough):
    every label keeps at least one row and otherwise the floor of its proportional share."""
    y = np.asarray(y)
    n = y.size
    if max_points is None or n <= max_points:
        return np.arange(n)
    if not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValidationError(f"max_points must be a positive int or None; got {max_points!r}")
    rng = _rng(seed)
    out = []
    for idx in class_members(y):
        k = int(min(idx.size, max(1, np.floor(max_points * idx.size / n))))
        out.append(rng.permutation(idx)[:k])
    return np.sort(np.concatenate(out))


def proportional_subsample(n: int, max_points: int | None, seed=0, labels: Sequence | None = None) -> np.ndarray:
    """Sorted indices of exactly ``max_points`` of ``n`` rows (all when None or >= n); with ``labels``,
    allocated to the labels in proportion by largest remainders (Hamilton's method)."""
    if max_points is None or max_points >= n:
        return np.arange(n)
    if max_points < 1:
        raise ValidationError(f"max_points must be >= 1; got {max_points}")
    rng = _rng(seed)
    if labels is None:
        return np.sort(rng.choice(n, size=max_points, replace=False))
    members = class_members(labels)
    counts = np.array([m.size for m in members])
    take = np.floor(counts / n * max_points).astype(int)
    rest = max_points - take.sum()
    take[np.argsort(-(counts / n * max_points - take), kind="stable")[:rest]] += 1
    out = [rng.choice(m, size=t, replace=False) for m, t in zip(members, take) if t]
    return np.sort(np.concatenate(out))


def stratified_folds(y: Sequence, n_splits: int = 5, seed=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, seeded k-fold split ``[(train_idx, test_idx), ...]``: each label's rows are shuffled
    and dealt round-robin into the folds, the deal of a label starting where the previous one ended, so
    every fold holds the floor or ceiling of ``n_c / n_splits`` rows of every label."""
    y = np.asarray(y)
    rng = _rng(seed)
    fold = np.empty(y.shape[0], dtype=np.int64)
    start = 0
    for members in class_members(y):
        idx = rng.permutation(members)
        fold[idx] = (start + np.arange(idx.size)) % n_splits
        start = (start + idx.size) % n_splits
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n_splits)]
