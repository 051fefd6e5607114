"""``ablation``: zero the k highest/lowest-variance dimensions, re-score through the head (GPTology family).

Timkey & van Schijndel (2021, Section 5) and Rudman et al. (2023, Section 4): the few
high-variance dimensions of a fine-tuned model's last layer carry the task. Variances come from
the train split; the eval split is scored through the fine-tuned model's own classification head,
with a seeded random-k control. The numbers come from :mod:`ftgeo.analysis.ablation`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ftgeo.analyses._head import SPLIT_INPUTS, resolve_head
from ftgeo.analyses._inputs import labelled_rows, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import param
from ftgeo.analyses._uncertainty import IntervalSpec
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class AblationSpec(IntervalSpec):
    """Parameters of :func:`run_ablation` (intervals: Wilson for sentence-level sets, a sentence
    bootstrap with ``n_resamples`` for word-level sets, for every point of the curve)."""

    layer: int = param(-1, "layer to ablate (-1 = last)")
    ks: list[int] | None = param(None, "comma-separated k grid (default 0,1,2,4,...,d)")
    modes: tuple[str, ...] = param(("highest", "lowest", "random"),
                                   "which dimensions to zero: highest, lowest, random (comma-separated)")
    n_random: int = param(5, "random draws per k")
    seed: int = param(0, "seed of the random draws", aliases=("random_state",))
    model: Path | None = param(None, "fine-tuned model folder for the classification head (default: from the "
                                     "manifest)", metavar="DIR")

    def validate(self) -> None:
        super().validate()
        from ftgeo.analysis.ablation import MODES
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ValidationError(f"modes must be some of {', '.join(MODES)}; got {list(self.modes)}")


class AblationResult(Result):
    """Accuracy after zeroing k dimensions. Table ``curve``: mode, k, draw, accuracy, accuracy_low,
    accuracy_high, dims (the interval of each point, each random draw its own; NaN without intervals);
    meta: layer, full_accuracy (with full_accuracy_low / full_accuracy_high), variance_from, n_random,
    random_state, intervals."""

    kind = "ablation"

    def mean_curve(self):
        """mode, k, mean, min, max accuracy over draws, and low, high: the interval of a mode with one
        draw per k (highest, lowest; NaN for random, whose band is the min..max spread over draws)."""
        c = self.table("curve")
        out = c.groupby(["mode", "k"])["accuracy"].agg(["mean", "min", "max"]).reset_index()
        if "accuracy_low" in c.columns:
            one = c.groupby(["mode", "k"]).agg(n=("draw", "size"), low=("accuracy_low", "first"),
                                                high=("accuracy_high", "first")).reset_index()
            out = out.merge(one, on=["mode", "k"], how="left")
            single = (out["n"] == 1) & (out["mode"] != "random")
            out["low"] = out["low"].where(single)
            out["high"] = out["high"].where(single)
            out = out.drop(columns="n")
        return out

    def summary(self):
        m = self.mean_curve().pivot(index="k", columns="mode", values="mean").reset_index()
        m.columns.name = None
        return m

    def displays(self):
        return [("curve", AblationCurveDisplay.from_result(self))]

    def findings(self):
        """Accuracy after zeroing the most dimensions tried, per mode (highest / lowest variance, random),
        against the full model."""
        from ftgeo.results.findings import level_of, num, with_ci
        m = self.mean_curve()
        if m.empty:
            return []
        lev = level_of(self)
        # the k where zeroing the highest-variance dimensions hurts most against zeroing random ones
        w = m.pivot(index="k", columns="mode", values="mean")
        if not {"highest", "random"} <= set(w.columns) or not (w.index > 0).any():
            return []
        gap = (w["random"] - w["highest"])[w.index > 0]
        k = int(gap.idxmax())
        parts = []
        for _, r in m[m["k"] == k].iterrows():
            parts.append(f"{r['mode']} variance {with_ci(r['mean'], r.get('low'), r.get('high'), lev)}"
                         if r["mode"] != "random" else f"random {num(r['mean'])} (mean of the draws)")
        full = with_ci(self.meta.get("full_accuracy"), self.meta.get("full_accuracy_low"),
                       self.meta.get("full_accuracy_high"), lev)
        return [(f"Layer {num(self.meta.get('layer'))}: zeroing {k} dimensions leaves eval accuracy "
                 + ", ".join(parts) + f" (full model {full}); k = {k} is where the highest-variance dimensions "
                 "matter most against random ones.", "curve")]


class AblationCurveDisplay(Display):
    """Accuracy vs number of zeroed dimensions: highest vs lowest variance vs random (band = min..max)."""

    def __init__(self, curve, full_accuracy: float | None = None, title: str = "", full_band=None):
        self.curve, self.full_accuracy, self.title = curve, full_accuracy, title
        self.full_band = None if full_band is None else tuple(float(v) for v in full_band)

    @classmethod
    def from_result(cls, result) -> "AblationCurveDisplay":
        m = result.meta
        band = (m.get("full_accuracy_low"), m.get("full_accuracy_high"))
        return cls(result.mean_curve(), m.get("full_accuracy"), f"layer {m.get('layer', '')}",
                   band if None not in band else None)

    def plot(self, ax=None) -> "AblationCurveDisplay":
        fig, ax = self._new_axes(ax, figsize=(5, 3.4))
        colors = {"highest": "crimson", "lowest": "#2a6", "random": "#777"}
        for mode, g in self.curve.groupby("mode"):
            g = g.sort_values("k")
            ax.plot(g["k"], g["mean"], marker="o", ms=3, color=colors.get(mode), label=f"{mode} variance" if mode != "random" else "random")
            if mode == "random":
                ax.fill_between(g["k"], g["min"], g["max"], color=colors["random"], alpha=0.2)
            elif "low" in g.columns and np.isfinite(g["low"].to_numpy(float)).any():
                ax.fill_between(g["k"], g["low"].to_numpy(float), g["high"].to_numpy(float), color=colors.get(mode),
                                alpha=0.15, linewidth=0)
        if self.full_accuracy is not None:
            ax.axhline(self.full_accuracy, color="k", ls="--", lw=1, label="no ablation")
            if self.full_band is not None and np.isfinite(self.full_band).all():
                ax.axhspan(*self.full_band, color="k", alpha=0.07, linewidth=0)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("dimensions zeroed (k)")
        ax.set_ylabel("accuracy")
        ax.set_title(self.title, fontsize=9)
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


@register_analysis("ablation", family="gptology", order=40, spec=AblationSpec, result=AblationResult,
                   inputs=SPLIT_INPUTS,
                   help="zero the k highest/lowest-variance dimensions, re-score through the head")
def run_ablation(train_reps, eval_reps, *, spec: AblationSpec,
                 head: Callable[[np.ndarray], np.ndarray] | None = None) -> AblationResult:
    """Zero the k highest/lowest-variance dimensions (variance from ``train_reps``) of ``layer``
    (default last) of ``eval_reps`` and score through the fine-tuned model's classification head;
    seeded random-k control with ``n_random`` draws. ``head`` defaults to the head of ``model`` or of
    the model recorded in the eval manifest (``model_source``)."""
    from ftgeo.analysis.ablation import ablation_curve, head_correct
    from ftgeo.analyses._uncertainty import accuracy_with_interval, groups_of, interval_note, unit_name

    if head is None:
        head = resolve_head(eval_reps, spec.model)
    l_tr = select_layers(train_reps, [spec.layer])[0]
    l_ev = select_layers(eval_reps, [spec.layer])[0]
    var = train_reps.layer(l_tr, dtype=np.float64).var(axis=0)
    Xev, yev, rows = labelled_rows(eval_reps, l_ev, "these")
    groups = groups_of(eval_reps, rows)
    methods: set = set()

    def interval(correct):
        out = accuracy_with_interval(correct, groups, spec)
        methods.add(out["method"])
        return out["accuracy_low"], out["accuracy_high"]

    curve = ablation_curve(Xev, yev, head, var, spec.ks, modes=spec.modes, n_random=spec.n_random,
                           random_state=spec.seed, interval=interval if spec.intervals else None)
    if not spec.intervals:
        curve.insert(curve.columns.get_loc("accuracy") + 1, "accuracy_low", np.nan)
        curve.insert(curve.columns.get_loc("accuracy_low") + 1, "accuracy_high", np.nan)
    full = accuracy_with_interval(head_correct(head, Xev, yev), groups, spec)
    meta = {"layer": l_ev, "full_accuracy": full["accuracy"], "full_accuracy_low": full["accuracy_low"],
            "full_accuracy_high": full["accuracy_high"], "variance_from": "train", "n_random": spec.n_random,
            "random_state": spec.seed, "modes": list(spec.modes), "ci_level": spec.ci_level, "intervals": {}}
    if spec.intervals:
        how = full["method"] or next(iter(methods), "")
        note = interval_note(how, spec, unit=unit_name(groups),
                             **({"resamples": spec.n_resamples} if how.startswith("cluster") else {}))
        meta["intervals"] = {"accuracy": {**note, "per": "point of the curve (each random draw its own; the "
                                                         "random mode's spread over draws is the min..max band)"},
                             "full_accuracy": note}
    return AblationResult(tables={"curve": curve}, meta=meta)
