"""Uncertainty the same way for every analysis: interval and null parameters, columns and notes.

Parameters (spec mixins; an analysis inherits the ones it uses, so its flags list only those):

* :class:`IntervalSpec` -- ``intervals`` (``--no-intervals`` skips them), ``ci_level`` (0.9),
  ``n_resamples`` (bootstrap resamples), ``n_blocks`` (delete-a-group jackknife blocks);
* :class:`NullSpec` -- ``n_permutations``: permutations of a cheap null baseline (0 = none);
* :class:`LabelNullSpec` -- ``n_label_permutations``: refits on shuffled labels (0 = none).

Columns: a value column ``v`` gets ``v_low`` and ``v_high`` next to it; a null baseline adds ``v_p``
(the permutation p-value) and ``v_null_q05`` / ``v_null_q50`` / ``v_null_q95`` (the null's quantiles).
``meta["intervals"][v]`` and ``meta["nulls"][v]`` say how each was obtained (method, level, resamples or
blocks, permutations, the resampling unit). The estimators live in :mod:`ftgeo.analysis.resampling`;
which statistic uses which is justified in ``docs/uncertainty.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ftgeo.analyses._spec import AnalysisSpec, param
from ftgeo.errors import ValidationError

NULL_QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class IntervalSpec(AnalysisSpec):
    """Interval parameters shared by every analysis that reports intervals."""

    intervals: bool = param(True, "compute confidence intervals")
    ci_level: float = param(0.9, "confidence level of the intervals")
    n_resamples: int = param(1000, "bootstrap resamples (where a bootstrap is used)")
    n_blocks: int = param(20, "delete-a-group jackknife blocks (where the bootstrap is biased, e.g. CKA)")

    def validate(self) -> None:
        super().validate()
        if not 0 < self.ci_level < 1:
            raise ValidationError(f"ci_level must be in (0, 1), e.g. 0.9; got {self.ci_level}")
        if self.n_resamples < 1:
            raise ValidationError(f"n_resamples must be >= 1; got {self.n_resamples} (use --no-intervals for none)")
        if self.n_blocks < 2:
            raise ValidationError(f"n_blocks must be >= 2; got {self.n_blocks}")


@dataclass(frozen=True)
class NullSpec(AnalysisSpec):
    """Permutation-null parameters (cheap nulls: the statistic is recomputed, nothing refitted)."""

    n_permutations: int = param(1000, "permutations of the null baseline (0: none)")

    def validate(self) -> None:
        super().validate()
        if self.n_permutations < 0:
            raise ValidationError(f"n_permutations must be >= 0; got {self.n_permutations}")


@dataclass(frozen=True)
class LabelNullSpec(AnalysisSpec):
    """Label-permutation baseline parameters (each permutation refits the classifier)."""

    n_label_permutations: int = param(20, "refits on shuffled training labels for the chance baseline (0: none)")

    def validate(self) -> None:
        super().validate()
        if self.n_label_permutations < 0:
            raise ValidationError(f"n_label_permutations must be >= 0; got {self.n_label_permutations}")


# ----------------------------------------------------------------------------- resampling units
def groups_of(reps, rows: np.ndarray | None = None) -> np.ndarray:
    """The resampling unit of each (selected) row of a set: its sentence (word-level pooling) or itself."""
    from ftgeo.analysis.resampling import row_groups
    from ftgeo.analyses._inputs import manifest_of
    ids = np.asarray(reps.ids)
    if rows is not None:
        ids = ids[rows]
    return row_groups(ids, manifest_of(reps).get("pooling"))


def unit_name(groups: np.ndarray) -> str:
    return "example" if np.unique(groups).size == groups.size else "sentence (its words move together)"


# ----------------------------------------------------------------------------- accuracies
def accuracy_with_interval(correct: Sequence[bool], groups: np.ndarray | None, spec) -> dict[str, Any]:
    """``{"accuracy", "accuracy_low", "accuracy_high", "method"}`` for per-row correctness: Wilson for
    independent examples, a cluster (sentence) bootstrap when rows share a sentence."""
    from ftgeo.analysis.resampling import proportion_interval
    c = np.asarray(correct, dtype=bool)
    out = {"accuracy": float(c.mean()) if c.size else float("nan")}
    if not getattr(spec, "intervals", False) or c.size == 0:
        return {**out, "accuracy_low": float("nan"), "accuracy_high": float("nan"), "method": ""}
    lo, hi, how = proportion_interval(c, groups, spec.ci_level, n_resamples=spec.n_resamples, random_state=spec.seed
                                      if hasattr(spec, "seed") else 0)
    return {**out, "accuracy_low": lo, "accuracy_high": hi, "method": how}


# ----------------------------------------------------------------------------- nulls
def null_summary(observed: float, null: Sequence[float], prefix: str, *, alternative: str = "greater") -> dict:
    """``{prefix_p, prefix_null_q05, prefix_null_q50, prefix_null_q95}`` from null draws (NaN when none)."""
    from ftgeo.analysis.resampling import permutation_pvalue
    t = np.asarray(null, dtype=np.float64)
    t = t[np.isfinite(t)]
    out = {f"{prefix}_p": permutation_pvalue(observed, t, alternative) if t.size else float("nan")}
    qs = np.quantile(t, NULL_QUANTILES) if t.size else [float("nan")] * len(NULL_QUANTILES)
    for q, v in zip(NULL_QUANTILES, qs):
        out[f"{prefix}_null_q{int(round(q * 100)):02d}"] = float(v)
    return out


def label_permutation_null(score: Callable[[np.ndarray], float], y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``score(y_shuffled)`` for ``n`` seeded shuffles of the training labels: what a classifier reaches
    when label and representation are unrelated (the chance baseline of probes, neurons, the threshold)."""
    rng = np.random.default_rng(seed)
    return np.array([score(rng.permutation(y)) for _ in range(int(n))], dtype=np.float64)


# ----------------------------------------------------------------------------- meta
def interval_note(method: str, spec, **extra) -> dict[str, Any]:
    """What ``meta["intervals"][column]`` records."""
    return {"method": method, "level": getattr(spec, "ci_level", None), **extra}


def null_note(method: str, n_permutations: int, **extra) -> dict[str, Any]:
    """What ``meta["nulls"][column]`` records."""
    return {"method": method, "n_permutations": int(n_permutations), **extra}


def has_interval(df, column: str) -> bool:
    """Whether ``df`` carries a finite interval for ``column`` (a Display draws a band only then)."""
    lo, hi = f"{column}_low", f"{column}_high"
    return lo in df.columns and hi in df.columns and np.isfinite(df[[lo, hi]].to_numpy(float)).any()


def band(ax, x, df, column: str, **kw) -> None:
    """Shade ``column``'s interval over ``x`` on ``ax`` (nothing when the table has none)."""
    if has_interval(df, column):
        ax.fill_between(x, df[f"{column}_low"].to_numpy(float), df[f"{column}_high"].to_numpy(float),
                        alpha=kw.pop("alpha", 0.2), linewidth=0, **kw)


# ----------------------------------------------------------------------------- many accuracies at once
def bootstrap_counts(n_groups: int, n_resamples: int, random_state=0, chunk: int = 128):
    """Yield ``(b, G)`` float64 arrays: how many times each of ``G = n_groups`` groups is drawn in each
    bootstrap resample, ``chunk`` resamples at a time. The draws are those of
    :func:`ftgeo.analysis.resampling.bootstrap_plan` over ``G`` groups with the same seed (resample ``r``
    of the plan holds group ``g`` ``counts[r, g]`` times), so a statistic that is a ratio of group sums
    gets the same bootstrap values without building row indices."""
    from ftgeo._checks import check_random_state
    G = int(n_groups)
    rng = check_random_state(random_state)
    for s in range(0, int(n_resamples), chunk):
        b = min(chunk, int(n_resamples) - s)
        out = np.zeros((b, G))
        for r in range(b):
            out[r] = np.bincount(rng.integers(0, G, G), minlength=G)
        yield out


def group_sums(values, groups) -> tuple[np.ndarray, np.ndarray]:
    """``(sums, sizes)``: per-group sums ``(P, G)`` of per-row values ``(P, n)`` (or ``(n,)``), and the
    group sizes ``(G,)``; groups numbered 0..G-1 as :func:`groups_of` numbers them."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    g = np.asarray(groups, dtype=np.int64)
    G = int(g.max()) + 1 if g.size else 0
    sizes = np.bincount(g, minlength=G).astype(np.float64)
    if np.all(sizes == 1):
        order = np.empty(G, dtype=np.int64)
        order[g] = np.arange(g.size)
        return v[:, order], sizes
    sums = np.zeros((v.shape[0], G))
    np.add.at(sums.T, g, v.T)
    return sums, sizes


def wilson_intervals(k, n: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ftgeo.analysis.resampling.wilson_interval`, vectorised over ``k`` (same formula)."""
    from ftgeo.analysis.resampling import _z
    z = _z(level)
    p = np.asarray(k, dtype=np.float64) / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def mean_intervals(sums, sizes, spec, *, binary: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """``(low, high, method)`` of the means of ``P`` per-row statistics given as per-group sums
    ``(P, G)`` and group sizes ``(G,)`` (see :func:`group_sums`): Wilson for 0/1 rows that are
    independent examples (as :func:`accuracy_with_interval`), else a percentile bootstrap over the
    groups with the spec's ``n_resamples`` and ``seed`` -- the same resamples for every statistic
    (common random numbers), and the same as :func:`accuracy_with_interval`'s cluster bootstrap.
    NaN bounds when intervals are off."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n_g = np.asarray(sizes, dtype=np.float64)
    nan = np.full(S.shape[0], np.nan)
    if not getattr(spec, "intervals", False) or n_g.size == 0:
        return nan, nan.copy(), ""
    if binary and np.all(n_g == 1):
        lo, hi = wilson_intervals(S.sum(axis=1), float(n_g.size), spec.ci_level)
        return lo, hi, "wilson"
    boot = np.concatenate([(M @ S.T) / (M @ n_g)[:, None]
                           for M in bootstrap_counts(n_g.size, spec.n_resamples, getattr(spec, "seed", 0))])
    a = (1 - spec.ci_level) / 2
    lo, hi = np.quantile(boot, [a, 1 - a], axis=0)
    how = "cluster bootstrap (percentile)" if not np.all(n_g == 1) else "bootstrap (percentile)"
    return lo, hi, how


def accuracy_intervals(values, groups, spec, *, binary: bool | None = None) -> dict[str, Any]:
    """:func:`accuracy_with_interval` for many classifiers scored on the same rows at once.

    ``values``: ``(P, n)`` per-row correctness (bool), or per-row scores in [0, 1] (e.g. a row's
    correctness averaged over several classifiers: then always a bootstrap). Returns arrays
    ``accuracy``, ``accuracy_low``, ``accuracy_high`` (``(P,)``) and ``method``."""
    v = np.atleast_2d(np.asarray(values))
    if binary is None:
        binary = v.dtype == bool or bool(np.isin(v, (0, 1)).all())
    g = np.arange(v.shape[1]) if groups is None else np.asarray(groups)
    sums, sizes = group_sums(v, g)
    lo, hi, how = mean_intervals(sums, sizes, spec, binary=binary)
    return {"accuracy": v.astype(np.float64).mean(axis=1), "accuracy_low": lo, "accuracy_high": hi, "method": how}


def paired_difference(a, b, groups, spec) -> dict[str, Any]:
    """Difference of two accuracies on the same rows, ``mean(a) - mean(b)``, with a paired
    percentile bootstrap over the resampling units (a row's two outcomes move together, so the
    interval uses their correlation): ``{"diff", "diff_low", "diff_high", "method"}``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValidationError(f"a paired difference needs the same rows; got {a.shape} and {b.shape}")
    d = a - b
    out = {"diff": float(d.mean()) if d.size else float("nan")}
    if not getattr(spec, "intervals", False) or d.size == 0:
        return {**out, "diff_low": float("nan"), "diff_high": float("nan"), "method": ""}
    g = np.arange(d.size) if groups is None else np.asarray(groups)
    sums, sizes = group_sums(d, g)
    lo, hi, _ = mean_intervals(sums, sizes, spec, binary=False)
    how = "paired " + ("cluster " if not np.all(sizes == 1) else "") + "bootstrap (percentile)"
    return {**out, "diff_low": float(lo[0]), "diff_high": float(hi[0]), "method": how}
