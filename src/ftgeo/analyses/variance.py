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
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, groups_of, interval_note, unit_name
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["VarianceSpec", "VarianceResult", "VarianceRatioDisplay", "run_variance"]


@dataclass(frozen=True)
class VarianceSpec(IntervalSpec):
    """Parameters of :func:`run_variance` (intervals: a delete-a-group jackknife with ``n_blocks`` blocks)."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    n_components: int | None = param(None, "keep the first n components (default all)")
    seed: int = param(0, "seed of the jackknife blocks")


class VarianceResult(Result):
    """Explained-variance ratios (Eq. 3 of :mod:`ftgeo.analysis.compression`) pretrained vs fine-tuned.

    Table ``variance``: layer, component (1-based), ratio_pre, ratio_pre_low, ratio_pre_high, ratio_ft,
    ratio_ft_low, ratio_ft_high, ratio (= ft / pre), ratio_low, ratio_high.
    Table ``drop``: layer, first_below_one (1-based component where the ratio first drops below 1),
    first_below_one_low, first_below_one_high, n_above_before_drop, n_above_before_drop_low,
    n_above_before_drop_high, n_classes, n_classes_minus_1 (the paper's prediction).

    Intervals (NaN with ``intervals=False``): a delete-a-group jackknife over the examples (sentences
    for word-level sets), a t-interval on the log scale around the bias-corrected estimate (so a point
    estimate may lie outside its interval); see ``docs/redundancy.md``. ``n_above_before_drop_low`` is
    the number of leading components whose whole ratio interval lies above 1, ``_high`` the number
    before the first component whose whole interval lies below 1 (bounded by the point count);
    ``first_below_one_low/high`` = those + 1. Arrays ``leave_out_{pre,ft,ratio}__L<layer>`` (G, m):
    the leave-one-block-out values.
    """

    kind = "variance"

    @property
    def variance(self) -> pd.DataFrame:
        return self.table("variance")

    def summary(self) -> pd.DataFrame:
        return self.table("drop")

    def displays(self):
        return [(f"layer{l}", VarianceRatioDisplay.from_result(self, layer=l)) for l in self.meta["layers"]]

    def findings(self):
        """Per layer: how many leading components concentrate more variance after fine-tuning (ratio > 1)
        against the paper's prediction (n_classes - 1), and the first component's ratio."""
        from ftgeo.results.findings import level_of, row_ci
        lev = level_of(self)
        v, out = self.table("variance"), []
        for _, d in self.table("drop").iterrows():
            layer = int(d["layer"])
            first = v[(v["layer"] == layer) & (v["component"] == 1)]
            r1 = f"; component 1 holds {row_ci(first.iloc[0], 'ratio', lev)} times the pretrained share" \
                if not first.empty else ""
            out.append((f"Layer {layer}: the fine-tuned / pretrained explained-variance ratio stays above 1 for the "
                        f"first {row_ci(d, 'n_above_before_drop', lev)} component(s) and first drops below 1 at "
                        f"component {row_ci(d, 'first_below_one', lev)} (the paper predicts n_classes - 1 = "
                        f"{int(d['n_classes_minus_1'])}){r1}.", f"layer{layer}"))
        return out


class VarianceRatioDisplay(Display):
    """Bars of r_i^ft / r_i^pre for the first components, the ratio-1 line, and a vertical line
    after component n_classes - 1 (the paper's prediction of where the ratio drops)."""

    def __init__(self, table: pd.DataFrame, drop: pd.Series, max_components: int = 30, title: str = "",
                 level: float | None = None):
        self.table, self.drop, self.max_components, self.title = table, drop, max_components, title
        self.level = level

    @classmethod
    def from_result(cls, result, layer=None, max_components: int = 30) -> "VarianceRatioDisplay":
        t = result.table("variance")
        layer = pick_layer(t, layer)
        d = result.table("drop")
        note = (result.meta.get("intervals") or {}).get("ratio") or {}
        return cls(t[t.layer == layer], d[d.layer == layer].iloc[0], max_components, title=f"layer {layer}",
                   level=note.get("level"))

    def plot(self, ax=None) -> "VarianceRatioDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.5, 3.8))
        ax = self.ax_
        t = self.table[self.table.component <= self.max_components]
        colors = np.where(t.ratio >= 1, "tab:orange", "tab:blue")
        ax.bar(t.component, t.ratio, color=colors)
        from matplotlib.patches import Patch
        colour_keys = [Patch(color="tab:orange", label="ratio >= 1: more variance after fine-tuning"),
                       Patch(color="tab:blue", label="ratio < 1: less variance after fine-tuning")]
        if "ratio_low" in t and np.isfinite(t[["ratio_low", "ratio_high"]].to_numpy(float)).any():
            # the jackknife interval is centred on the bias-corrected estimate: drawn as a range, not +-
            ax.vlines(t.component, t.ratio_low.to_numpy(float), t.ratio_high.to_numpy(float), color="k", lw=1.0,
                      label=f"{100 * self.level:.0f}% jackknife interval" if self.level else "jackknife interval")
        ax.axhline(1.0, color="k", lw=0.8)
        nc = int(self.drop.n_classes)
        ax.axvline(nc - 0.5, color="tab:red", ls="--", label=f"n_classes - 1 = {nc - 1}")
        fb = self.drop.first_below_one
        if fb is not None and not (isinstance(fb, float) and np.isnan(fb)):
            ax.axvline(float(fb), color="tab:green", ls=":", label=f"first ratio < 1: component {int(fb)}")
        lo, hi = (self.drop.get(f"n_above_before_drop_{e}") for e in ("low", "high"))
        if lo is not None and hi is not None and np.isfinite(float(lo)) and np.isfinite(float(hi)) and hi > lo:
            ax.axvspan(float(lo) + 0.5, float(hi) + 0.5, color="tab:green", alpha=0.12, lw=0,
                       label=f"components above 1: {int(lo)} to {int(hi)}")
        ax.set_yscale("log")
        ax.set_xlabel("principal component")
        ax.set_ylabel("explained-variance ratio, fine-tuned / pretrained")
        ax.set_title(f"Variance concentration, {self.title}")
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles=colour_keys + handles, fontsize=7)
        return self


@register_analysis("variance", family="emergent", order=20, spec=VarianceSpec, result=VarianceResult,
                   inputs=[Input("train_reps", n=(2, 2), spread=True, param="pretrained",
                                 help="training-split representations: PRETRAINED FINETUNED")],
                   help="explained-variance ratios fine-tuned / pretrained")
def run_variance(pretrained, finetuned, *, spec: VarianceSpec) -> VarianceResult:
    """Explained-variance ratios per component, fine-tuned / pretrained, with the first index
    where the ratio drops below 1 next to the number of classes (use the training split), and
    delete-a-group jackknife intervals of every ratio and of the count of components above 1."""
    from ftgeo.analysis.compression import drop_count_interval, variance_comparison, variance_jackknife
    from ftgeo.analysis.resampling import jackknife_blocks

    check_pair([pretrained, finetuned], "variance")
    lay = select_layers(pretrained, spec.layers, default="last")
    rows, drops, arrays = [], [], {}
    blocks, unit = None, ""
    for layer in lay:
        Xa, ya, ra = labelled_rows(pretrained, layer, "the pretrained")
        Xb, _, rb = labelled_rows(finetuned, layer, "the fine-tuned")
        n_classes = int(np.unique(ya).size)
        v = variance_comparison(Xa, Xb, n_classes=n_classes, n_components=spec.n_components)
        m = v["ratio"].size
        iv = {c: np.full(m, np.nan) for c in ("ratio_pre_low", "ratio_pre_high", "ratio_ft_low", "ratio_ft_high",
                                              "ratio_low", "ratio_high")}
        if spec.intervals:
            if blocks is None:
                blocks = _blocks(pretrained, ra, finetuned, rb, spec, jackknife_blocks)
                unit = unit_name(groups_of(pretrained, ra))
            j = variance_jackknife(Xa, Xb, *blocks, n_components=m, level=spec.ci_level)
            iv = {c: j[c] for c in iv}
            for c in ("pre", "ft", "ratio"):
                arrays[f"leave_out_{c}__L{layer}"] = j[f"leave_out_{c}"]
        rows.append(pd.DataFrame({"layer": layer, "component": np.arange(1, m + 1),
                                  "ratio_pre": v["ratio_pre"], "ratio_pre_low": iv["ratio_pre_low"],
                                  "ratio_pre_high": iv["ratio_pre_high"],
                                  "ratio_ft": v["ratio_ft"], "ratio_ft_low": iv["ratio_ft_low"],
                                  "ratio_ft_high": iv["ratio_ft_high"],
                                  "ratio": v["ratio"], "ratio_low": iv["ratio_low"], "ratio_high": iv["ratio_high"]}))
        _, n_lo, n_hi = drop_count_interval(v["ratio"], iv["ratio_low"], iv["ratio_high"])
        first_hi = n_hi + 1 if np.isfinite(n_hi) and n_hi < m else np.nan
        drops.append({"layer": layer, "first_below_one": v["first_below_one"],
                      "first_below_one_low": n_lo + 1, "first_below_one_high": first_hi,
                      "n_above_before_drop": v["n_above_before_drop"],
                      "n_above_before_drop_low": n_lo, "n_above_before_drop_high": n_hi,
                      "n_classes": n_classes, "n_classes_minus_1": n_classes - 1})
    meta = {"layers": lay, "n_components": spec.n_components, "seed": spec.seed, "intervals": {}}
    if spec.intervals:
        note = interval_note("delete-a-group jackknife, t-interval on the log scale (bias-corrected centre)", spec,
                             unit=unit,
                             blocks=int(blocks[0].max()) + 1,
                             paired=bool(blocks[1] is None))
        meta["intervals"] = {c: note for c in ("ratio_pre", "ratio_ft", "ratio")}
        count = {"method": "leading components whose whole ratio interval is above 1 (low) / before the first "
                           "wholly below 1 (high), bounded by the point count", "level": spec.ci_level}
        meta["intervals"]["n_above_before_drop"] = count
        meta["intervals"]["first_below_one"] = {**count, "method": "n_above_before_drop_low/high + 1"}
    return VarianceResult(tables={"variance": pd.concat(rows, ignore_index=True), "drop": pd.DataFrame(drops)},
                          arrays=arrays, meta=meta)


def _blocks(pre, rows_pre, ft, rows_ft, spec, jackknife_blocks):
    """Jackknife blocks of both sets' rows: the same blocks when both sets hold the same examples in the
    same order (left out together: a paired jackknife), else one blocking per set with as many blocks."""
    ga, gb = groups_of(pre, rows_pre), groups_of(ft, rows_ft)
    ids_a, ids_b = np.asarray(pre.ids)[rows_pre], np.asarray(ft.ids)[rows_ft]
    if ids_a.shape == ids_b.shape and np.array_equal(ids_a.astype(str), ids_b.astype(str)):
        return jackknife_blocks(ga, spec.n_blocks, spec.seed), None
    n_blocks = min(spec.n_blocks, int(ga.max()) + 1, int(gb.max()) + 1)
    return jackknife_blocks(ga, n_blocks, spec.seed), jackknife_blocks(gb, n_blocks, spec.seed + 1)
