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
from ftgeo.analyses._spec import AnalysisSpec, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class AblationSpec(AnalysisSpec):
    """Parameters of :func:`run_ablation`."""

    layer: int = param(-1, "layer to ablate (-1 = last)")
    ks: list[int] | None = param(None, "comma-separated k grid (default 0,1,2,4,...,d)")
    modes: tuple[str, ...] = param(("highest", "lowest", "random"),
                                   "which dimensions to zero: highest, lowest, random (comma-separated)")
    n_random: int = param(5, "random draws per k")
    seed: int = param(0, "seed of the random draws", aliases=("random_state",))
    model: Path | None = param(None, "fine-tuned model folder for the classification head (default: from the "
                                     "manifest)", metavar="DIR")

    def validate(self) -> None:
        from ftgeo.analysis.ablation import MODES
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ValidationError(f"modes must be some of {', '.join(MODES)}; got {list(self.modes)}")


class AblationResult(Result):
    """Accuracy after zeroing k dimensions. Table ``curve``: mode, k, draw, accuracy, dims;
    meta: layer, full_accuracy, variance_from, n_random, random_state."""

    kind = "ablation"

    def mean_curve(self):
        """mode, k, mean, min, max accuracy over draws."""
        c = self.table("curve")
        return (c.groupby(["mode", "k"])["accuracy"].agg(["mean", "min", "max"]).reset_index())

    def summary(self):
        m = self.mean_curve().pivot(index="k", columns="mode", values="mean").reset_index()
        m.columns.name = None
        return m

    def displays(self):
        return [("curve", AblationCurveDisplay.from_result(self))]


class AblationCurveDisplay(Display):
    """Accuracy vs number of zeroed dimensions: highest vs lowest variance vs random (band = min..max)."""

    def __init__(self, curve, full_accuracy: float | None = None, title: str = ""):
        self.curve, self.full_accuracy, self.title = curve, full_accuracy, title

    @classmethod
    def from_result(cls, result) -> "AblationCurveDisplay":
        return cls(result.mean_curve(), result.meta.get("full_accuracy"), f"layer {result.meta.get('layer', '')}")

    def plot(self, ax=None) -> "AblationCurveDisplay":
        fig, ax = self._new_axes(ax, figsize=(5, 3.4))
        colors = {"highest": "crimson", "lowest": "#2a6", "random": "#777"}
        for mode, g in self.curve.groupby("mode"):
            g = g.sort_values("k")
            ax.plot(g["k"], g["mean"], marker="o", ms=3, color=colors.get(mode), label=f"{mode} variance" if mode != "random" else "random")
            if mode == "random":
                ax.fill_between(g["k"], g["min"], g["max"], color=colors["random"], alpha=0.2)
        if self.full_accuracy is not None:
            ax.axhline(self.full_accuracy, color="k", ls="--", lw=1, label="no ablation")
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
    from ftgeo.analysis.ablation import ablation_curve, head_accuracy

    if head is None:
        head = resolve_head(eval_reps, spec.model)
    l_tr = select_layers(train_reps, [spec.layer])[0]
    l_ev = select_layers(eval_reps, [spec.layer])[0]
    var = train_reps.layer(l_tr, dtype=np.float64).var(axis=0)
    Xev, yev, _ = labelled_rows(eval_reps, l_ev, "these")
    curve = ablation_curve(Xev, yev, head, var, spec.ks, modes=spec.modes, n_random=spec.n_random,
                           random_state=spec.seed)
    return AblationResult(tables={"curve": curve},
                          meta={"layer": l_ev, "full_accuracy": head_accuracy(head, Xev, yev),
                                "variance_from": "train", "n_random": spec.n_random, "random_state": spec.seed,
                                "modes": list(spec.modes)})
