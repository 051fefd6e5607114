"""``threshold``: a 1-D classifier on the principal rogue dimension (GPTology family).

Rudman, Chen & Eickhoff (2023), Section 5: after fine-tuning, a threshold on the single
highest-variance dimension of the last layer classifies nearly as well as the full model. Fitted
on the train split, scored on the eval split, next to the full model's eval accuracy. The numbers
come from :mod:`ftgeo.analysis.threshold`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ftgeo.analyses._head import SPLIT_INPUTS, resolve_head
from ftgeo.analyses._inputs import labelled_rows, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

METHODS = ("svm", "best")


@dataclass(frozen=True)
class ThresholdSpec(AnalysisSpec):
    """Parameters of :func:`run_threshold`."""

    layers: Layers = param("last", "layers: last, all, a list 0,3,6 or a range 0-6")
    methods: tuple[str, ...] = param(METHODS, "svm (1-D linear SVM), best (best training-accuracy cut), or both: "
                                              "svm,best", aliases=("method",))
    C: float = param(1.0, "LinearSVC regularisation")
    full_accuracy: float | None = param(None, "the full model's eval accuracy (default: computed through the "
                                              "classification head)")
    model: Path | None = param(None, "fine-tuned model folder for the classification head (default: from the "
                                     "manifest)", metavar="DIR")

    def __post_init__(self):
        # "both" (the old --method both) stands for svm,best
        object.__setattr__(self, "methods", _expand_both(self.methods))

    def validate(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValidationError(f"methods must be svm, best or both (svm,best); got {list(self.methods)}")


def _expand_both(value) -> tuple:
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
    out = []
    for v in items:
        out.extend(METHODS if v == "both" else [v])
    return tuple(out)


class ThresholdResult(Result):
    """Principal-dimension threshold classifiers per layer.

    Table ``threshold``: layer, method, dimension, threshold, polarity, variance_share,
    train_accuracy, eval_accuracy, full_accuracy. Arrays ``x_eval_<layer>`` (the eval values of
    the chosen dimension) and ``y_eval`` for the histogram plot.
    """

    kind = "threshold"

    def summary(self):
        return self.table("threshold")

    def displays(self):
        return [("accuracy", ThresholdDisplay.from_result(self))]


class ThresholdDisplay(Display):
    """Eval accuracy per layer of the threshold classifiers next to the full model's."""

    def __init__(self, table):
        self.table = table.copy()

    @classmethod
    def from_result(cls, result) -> "ThresholdDisplay":
        return cls(result.table("threshold"))

    def plot(self, ax=None) -> "ThresholdDisplay":
        fig, ax = self._new_axes(ax, figsize=(5, 3.2))
        t = self.table
        for method, g in t.groupby("method"):
            g = g.sort_values("layer")
            ax.plot(g["layer"], g["eval_accuracy"], marker="o", label=f"1-D threshold ({method})")
        full = t["full_accuracy"].dropna()
        if len(full):
            ax.axhline(float(full.iloc[0]), color="k", ls="--", lw=1, label="full model")
        ax.set_xlabel("layer")
        ax.set_ylabel("eval accuracy")
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


@register_analysis("threshold", family="gptology", order=30, spec=ThresholdSpec, result=ThresholdResult,
                   inputs=SPLIT_INPUTS,
                   help="1-D linear-SVM threshold on the principal rogue dimension")
def run_threshold(train_reps, eval_reps, *, spec: ThresholdSpec,
                  head: Callable[[np.ndarray], np.ndarray] | None = None) -> ThresholdResult:
    """1-D threshold classifiers on the principal rogue dimension (highest train variance) of each
    layer (default: the last), fitted on train, scored on eval (Rudman et al. 2023), next to the
    full model's eval accuracy: ``full_accuracy`` if given, else computed through ``head`` (or the
    head resolved from ``model`` / the manifest) on the last layer, else NaN (noted in meta)."""
    import pandas as pd

    from ftgeo.analysis.ablation import head_accuracy
    from ftgeo.analysis.threshold import PrincipalDimensionClassifier

    lay = select_layers(train_reps, spec.layers, default="last")
    full_accuracy = spec.full_accuracy
    notes = []
    if full_accuracy is None:
        try:
            if head is None:
                head = resolve_head(eval_reps, spec.model)
            Xl, yl, _ = labelled_rows(eval_reps, -1, "these")
            full_accuracy = head_accuracy(head, Xl, yl)
        except ValidationError as exc:
            notes.append(f"full-model accuracy not computed: {exc}")
    rows, arrays = [], {}
    for l in lay:
        Xtr, ytr, _ = labelled_rows(train_reps, l, "these")
        Xev, yev, _ = labelled_rows(eval_reps, l, "these")
        for m in spec.methods:
            clf = PrincipalDimensionClassifier(method=m, C=spec.C).fit(Xtr, ytr)
            rows.append({"layer": l, "method": m, "dimension": clf.dimension_, "threshold": clf.threshold_,
                         "polarity": clf.polarity_, "variance_share": clf.variance_share_,
                         "train_accuracy": clf.train_accuracy_, "eval_accuracy": clf.score(Xev, yev),
                         "full_accuracy": np.nan if full_accuracy is None else float(full_accuracy)})
            arrays[f"x_eval_{l}"] = Xev[:, clf.dimension_]
        arrays["y_eval"] = yev
    return ThresholdResult(tables={"threshold": pd.DataFrame(rows)}, arrays=arrays,
                           meta={"methods": list(spec.methods), "C": spec.C, "layers": lay, "notes": notes,
                                 "full_accuracy": full_accuracy})
