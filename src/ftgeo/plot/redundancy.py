"""Displays of the redundancy results (Matton & de Oliveira 2019): compression curves,
variance-ratio bars, single-neuron accuracy histograms, best-neuron activations by class.
They read saved results only; nothing is recomputed here."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display

__all__ = ["CompressionCurveDisplay", "VarianceRatioDisplay", "NeuronHistogramDisplay", "BestNeuronDisplay"]

_STYLE = {"in_domain": "tab:blue", "general": "tab:green", "random": "tab:gray"}
_LINES = ["-", "--", ":", "-."]


def _pick_layer(df: pd.DataFrame, layer):
    layers = sorted(df["layer"].unique())
    if not layers:
        raise ValidationError("the result has no rows to draw")
    if layer is None:
        return layers[-1]
    if layer not in layers:
        raise ValidationError(f"layer {layer} is not in the result; it has {layers}")
    return layer


class CompressionCurveDisplay(Display):
    """Accuracy vs k (log2 axis): one colour per PCA source, one line style per model; the
    all-dimension accuracies and the fine-tuned accuracy as horizontal lines."""

    def __init__(self, curve: pd.DataFrame, full: pd.DataFrame, title: str = ""):
        self.curve, self.full, self.title = curve, full, title

    @classmethod
    def from_result(cls, result, layer=None) -> "CompressionCurveDisplay":
        cur = result.table("curve")
        layer = _pick_layer(cur, layer)
        full = result.table("full")
        return cls(cur[cur.layer == layer], full[full.layer == layer], title=f"layer {layer}")

    def plot(self, ax=None) -> "CompressionCurveDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.5, 4.2))
        ax = self.ax_
        models = list(dict.fromkeys(self.curve["model"]))
        for mi, model in enumerate(models):
            ls = _LINES[mi % len(_LINES)]
            for source, g in self.curve[self.curve.model == model].groupby("source", sort=False):
                g = g.sort_values("k")
                c = _STYLE.get(source, None)
                ax.plot(g.k, g.accuracy, ls, marker="o", ms=3, color=c, label=f"{model}: {source}")
                if (g.accuracy_std > 0).any():
                    ax.fill_between(g.k, g.accuracy - g.accuracy_std, g.accuracy + g.accuracy_std, color=c, alpha=0.15)
            f = self.full[self.full.model == model]
            if len(f):
                ax.axhline(float(f.accuracy.iloc[0]), color="k", ls=ls, lw=0.8, alpha=0.6,
                           label=f"{model}: all dims")
        if len(self.full) and np.isfinite(self.full.finetuned_accuracy.iloc[0]):
            ax.axhline(float(self.full.finetuned_accuracy.iloc[0]), color="tab:red", lw=1,
                       label=f"fine-tuned ({self.full.finetuned_accuracy_source.iloc[0]})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (components or random dimensions)")
        ax.set_ylabel("eval accuracy")
        ax.set_title(f"Compression curves, {self.title}")
        ax.legend(fontsize=7)
        return self


class VarianceRatioDisplay(Display):
    """Bars of r_i^ft / r_i^pre for the first components, the ratio-1 line, and a vertical line
    after component n_classes - 1 (the paper's prediction of where the ratio drops)."""

    def __init__(self, table: pd.DataFrame, drop: pd.Series, max_components: int = 30, title: str = ""):
        self.table, self.drop, self.max_components, self.title = table, drop, max_components, title

    @classmethod
    def from_result(cls, result, layer=None, max_components: int = 30) -> "VarianceRatioDisplay":
        t = result.table("variance")
        layer = _pick_layer(t, layer)
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


class NeuronHistogramDisplay(Display):
    """Histogram of single-neuron CV accuracies, pretrained and fine-tuned overlaid, with the threshold."""

    def __init__(self, single: pd.DataFrame, thresholds: dict, fractions: dict, layer: int):
        self.single, self.thresholds, self.fractions, self.layer = single, thresholds, fractions, layer

    @classmethod
    def from_result(cls, result, layer=None) -> "NeuronHistogramDisplay":
        s = result.table("single")
        layer = _pick_layer(s, layer)
        return cls(s[s.layer == layer], result.meta.get("threshold", {}), result.meta.get("fraction_above", {}), layer)

    def plot(self, ax=None, bins: int = 40) -> "NeuronHistogramDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.0, 3.8))
        ax = self.ax_
        lo, hi = float(self.single.cv_accuracy.min()), float(self.single.cv_accuracy.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, bins + 1)
        for model, g in self.single.groupby("model", sort=False):
            key = f"{model}|{self.layer}"
            frac = self.fractions.get(key)
            lab = model if frac is None else f"{model} ({100 * frac:.1f}% above threshold)"
            ax.hist(g.cv_accuracy, bins=edges, alpha=0.5, label=lab)
            if key in self.thresholds:
                ax.axvline(self.thresholds[key], color="k", ls="--", lw=0.8)
        ax.set_xlabel("single-neuron CV accuracy")
        ax.set_ylabel("number of neurons")
        ax.set_title(f"Single-neuron accuracies, layer {self.layer}")
        ax.legend(fontsize=7)
        return self


class BestNeuronDisplay(Display):
    """Violin plot of the best neuron's eval-split activation by class, one panel per model."""

    def __init__(self, activation: pd.DataFrame, label_names: list[str], layer: int, best: dict | None = None):
        self.activation, self.label_names, self.layer, self.best = activation, label_names, layer, best or {}

    @classmethod
    def from_result(cls, result, layer=None) -> "BestNeuronDisplay":
        a = result.table("activation")
        layer = _pick_layer(a, layer)
        sel = result.table("selection")
        sel = sel[(sel.layer == layer) & (sel.step == 1)]
        best = {m: int(d) for m, d in zip(sel.model, sel.dim)}
        return cls(a[a.layer == layer], list(result.meta.get("label_names", [])), layer, best)

    def plot(self, ax=None) -> "BestNeuronDisplay":
        models = list(dict.fromkeys(self.activation["model"]))
        if ax is None:
            self.figure_, axes = self._new_axes(None, ncols=len(models), figsize=(3.6 * len(models), 3.6))
            axes = list(np.ravel(axes)) if len(models) > 1 else [axes]
        else:
            self.figure_, axes = ax.figure, [ax] * len(models)
        self.ax_ = axes[0]
        for a, model in zip(axes, models):
            g = self.activation[self.activation.model == model]
            labels = sorted(g.label.unique())
            data = [g.value[g.label == l].to_numpy() for l in labels]
            keep = [i for i, v in enumerate(data) if v.size > 1]
            if keep:
                a.violinplot([data[i] for i in keep], positions=[i for i in keep], showmedians=True)
            names = [self.label_names[int(l)] if 0 <= int(l) < len(self.label_names) else str(l) for l in labels]
            a.set_xticks(range(len(labels)), names, rotation=30, fontsize=7)
            dim = f" (dim {self.best[model]})" if model in self.best else ""
            a.set_title(f"{model}: best neuron{dim}, layer {self.layer}", fontsize=9)
            a.set_ylabel("activation")
        return self
