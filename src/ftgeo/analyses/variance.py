"""``variance``: explained-variance ratios fine-tuned / pretrained (Emergent-properties family).

Matton & de Oliveira (2020): after fine-tuning, the variance of the sentence embedding
concentrates in about ``n_classes - 1`` principal components. Per component, the ratio of the
fine-tuned to the pretrained explained-variance ratio, and the first component where it drops
below 1. The numbers come from :func:`ftgeo.analysis.compression.variance_comparison`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import check_pair, labelled_rows, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["VarianceSpec", "VarianceResult", "VarianceRatioDisplay", "run_variance"]


@dataclass(frozen=True)
class VarianceSpec(AnalysisSpec):
    """Parameters of :func:`run_variance`."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    n_components: int | None = param(None, "keep the first n components (default all)")


class VarianceResult(Result):
    """Explained-variance ratios (Eq. 3 of :mod:`ftgeo.analysis.compression`) pretrained vs fine-tuned.

    Table ``variance``: layer, component (1-based), ratio_pre, ratio_ft, ratio (= ft / pre).
    Table ``drop``: layer, first_below_one (1-based component where the ratio first drops below 1),
    n_above_before_drop, n_classes, n_classes_minus_1 (the paper's prediction).
    """

    kind = "variance"

    @property
    def variance(self) -> pd.DataFrame:
        return self.table("variance")

    def summary(self) -> pd.DataFrame:
        return self.table("drop")

    def displays(self):
        return [(f"layer{l}", VarianceRatioDisplay.from_result(self, layer=l)) for l in self.meta["layers"]]


class VarianceRatioDisplay(Display):
    """Bars of r_i^ft / r_i^pre for the first components, the ratio-1 line, and a vertical line
    after component n_classes - 1 (the paper's prediction of where the ratio drops)."""

    def __init__(self, table: pd.DataFrame, drop: pd.Series, max_components: int = 30, title: str = ""):
        self.table, self.drop, self.max_components, self.title = table, drop, max_components, title

    @classmethod
    def from_result(cls, result, layer=None, max_components: int = 30) -> "VarianceRatioDisplay":
        t = result.table("variance")
        layer = pick_layer(t, layer)
        d = result.table("drop")
        return cls(t[t.layer == layer], d[d.layer == layer].iloc[0], max_components, title=f"layer {layer}")

    def plot(self, ax=None) -> "VarianceRatioDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.5, 3.8))
        ax = self.ax_
        t = self.table[self.table.component <= self.max_components]
        colors = np.where(t.ratio >= 1, "tab:orange", "tab:blue")
        ax.bar(t.component, t.ratio, color=colors)
        ax.axhline(1.0, color="k", lw=0.8)
        nc = int(self.drop.n_classes)
        ax.axvline(nc - 0.5, color="tab:red", ls="--", label=f"n_classes - 1 = {nc - 1}")
        fb = self.drop.first_below_one
        if fb is not None and not (isinstance(fb, float) and np.isnan(fb)):
            ax.axvline(float(fb), color="tab:green", ls=":", label=f"first ratio < 1: component {int(fb)}")
        ax.set_yscale("log")
        ax.set_xlabel("principal component")
        ax.set_ylabel("explained-variance ratio, fine-tuned / pretrained")
        ax.set_title(f"Variance concentration, {self.title}")
        ax.legend(fontsize=7)
        return self


@register_analysis("variance", family="emergent", order=20, spec=VarianceSpec, result=VarianceResult,
                   inputs=[Input("train_reps", n=(2, 2), spread=True, param="pretrained",
                                 help="training-split representations: PRETRAINED FINETUNED")],
                   help="explained-variance ratios fine-tuned / pretrained")
def run_variance(pretrained, finetuned, *, spec: VarianceSpec) -> VarianceResult:
    """Explained-variance ratios per component, fine-tuned / pretrained, with the first index
    where the ratio drops below 1 next to the number of classes (use the training split)."""
    from ftgeo.analysis.compression import variance_comparison

    check_pair([pretrained, finetuned], "variance")
    lay = select_layers(pretrained, spec.layers, default="last")
    rows, drops = [], []
    for layer in lay:
        Xa, ya, _ = labelled_rows(pretrained, layer, "the pretrained")
        Xb, _, _ = labelled_rows(finetuned, layer, "the fine-tuned")
        n_classes = int(np.unique(ya).size)
        v = variance_comparison(Xa, Xb, n_classes=n_classes, n_components=spec.n_components)
        m = v["ratio"].size
        rows.append(pd.DataFrame({"layer": layer, "component": np.arange(1, m + 1), "ratio_pre": v["ratio_pre"],
                                  "ratio_ft": v["ratio_ft"], "ratio": v["ratio"]}))
        drops.append({"layer": layer, "first_below_one": v["first_below_one"],
                      "n_above_before_drop": v["n_above_before_drop"], "n_classes": n_classes,
                      "n_classes_minus_1": n_classes - 1})
    return VarianceResult(tables={"variance": pd.concat(rows, ignore_index=True), "drop": pd.DataFrame(drops)},
                          meta={"layers": lay, "n_components": spec.n_components})
