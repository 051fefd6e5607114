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
