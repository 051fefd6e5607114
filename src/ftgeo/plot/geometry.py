"""Figures of the layer-geometry results. Every Display copies data out of a saved result in
``from_result`` and only draws in ``plot``; nothing is recomputed."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ftgeo.plot.base import Display

__all__ = ["CKAHeatmapDisplay", "RogueSpikeDisplay", "ThresholdDisplay", "AblationCurveDisplay",
           "ProjectionGridDisplay"]


def _grid(n: int, ncols: int | None = None):
    ncols = ncols or min(n, 4)
    return math.ceil(n / ncols), ncols


class CKAHeatmapDisplay(Display):
    """Heatmaps side by side, one per pair (e.g. pre x pre, ft x ft, pre x ft: the "bow-tie")."""

    def __init__(self, matrices: Sequence[np.ndarray], titles: Sequence[str], layers_a: Sequence[Sequence[int]],
                 layers_b: Sequence[Sequence[int]], set_a: Sequence[str], set_b: Sequence[str], subtitle: str = ""):
        self.matrices, self.titles = list(matrices), list(titles)
        self.layers_a, self.layers_b = list(layers_a), list(layers_b)
        self.set_a, self.set_b, self.subtitle = list(set_a), list(set_b), subtitle

    @classmethod
    def from_result(cls, result, pairs: Sequence[tuple[str, str]] | None = None) -> "CKAHeatmapDisplay":
        pairs = list(pairs) if pairs is not None else result.pairs
        lay = result.meta["layers"]
        m = result.meta
        sub = f"{m.get('kernel', 'linear')} CKA" + (", debiased" if m.get("debiased") else "") + \
              (", standardized" if m.get("standardize") else "")
        return cls([result.matrix(a, b) for a, b in pairs], [f"{a} x {b}" for a, b in pairs],
                   [lay[a] for a, _ in pairs], [lay[b] for _, b in pairs],
                   [a for a, _ in pairs], [b for _, b in pairs], sub)

    def plot(self, ax=None, *, cmap: str = "magma", vmin: float = 0.0, vmax: float = 1.0) -> "CKAHeatmapDisplay":
        k = len(self.matrices)
        if ax is None:
            fig, axes = self._new_axes(ncols=k, figsize=(3.6 * k + 0.8, 3.6))
            axes = list(np.ravel(axes)) if k > 1 else [axes]
        else:
            axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            fig = axes[0].figure
        im = None
        for a, M, t, la, lb, sa, sb in zip(axes, self.matrices, self.titles, self.layers_a, self.layers_b,
                                           self.set_a, self.set_b):
            im = a.imshow(M, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="equal")
            a.set_title(t, fontsize=9)
            a.set_ylabel(f"{sa} layer", fontsize=8)
            a.set_xlabel(f"{sb} layer", fontsize=8)
            step_a = max(1, len(la) // 7)
            step_b = max(1, len(lb) // 7)
            a.set_yticks(range(0, len(la), step_a), [str(v) for v in la[::step_a]], fontsize=7)
            a.set_xticks(range(0, len(lb), step_b), [str(v) for v in lb[::step_b]], fontsize=7)
        if im is not None:
            fig.colorbar(im, ax=axes, shrink=0.8, label="CKA")
        if self.subtitle:
            fig.suptitle(self.subtitle, fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


class RogueSpikeDisplay(Display):
    """Per-dimension variance (or share) as spikes, one panel per layer; top dimensions annotated."""

    def __init__(self, values: dict[int, np.ndarray], top: dict[int, Sequence[int]], set_name: str, measure: str):
        self.values, self.top, self.set_name, self.measure = values, top, set_name, measure

    @classmethod
    def from_result(cls, result, set_name: str | None = None, layers: Sequence[int] | None = None,
                    measure: str = "var", annotate: int = 3) -> "RogueSpikeDisplay":
        dims = result.table("dims")
        set_name = set_name if set_name is not None else str(dims["set"].iloc[0])
        d = dims[dims["set"] == set_name]
        layers = sorted(d["layer"].unique()) if layers is None else list(layers)
        values, top = {}, {}
        for l in layers:
            dl = d[d["layer"] == l].sort_values("dim")
            values[int(l)] = dl[measure].to_numpy()
            top[int(l)] = result.top(set_name, int(l))[:annotate].tolist()
        return cls(values, top, set_name, measure)

    def plot(self, ax=None, *, ncols: int | None = None) -> "RogueSpikeDisplay":
        layers = list(self.values)
        nr, nc = _grid(len(layers), ncols)
        fig, axes = self._new_axes(nrows=nr, ncols=nc, figsize=(3.2 * nc, 2.2 * nr)) if ax is None else (ax.figure, ax)
        axes = np.ravel(axes) if not hasattr(axes, "plot") else np.array([axes])
        for a, l in zip(axes, layers):
            v = self.values[l]
            a.vlines(np.arange(v.size), 0, v, lw=0.6, color="#345")
            for dim in self.top[l]:
                a.annotate(str(dim), (dim, v[dim]), fontsize=7, color="crimson", ha="center", va="bottom")
            a.set_title(f"layer {l}", fontsize=8)
            a.tick_params(labelsize=6)
        for a in axes[len(layers):]:
            a.set_visible(False)
        fig.suptitle(f"{self.set_name}: {self.measure} per dimension", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


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


class ProjectionGridDisplay(Display):
    """One scatter panel per layer, points coloured by label."""

    def __init__(self, coords, method: str):
        self.coords, self.method = coords, method

    @classmethod
    def from_result(cls, result, method: str | None = None) -> "ProjectionGridDisplay":
        c = result.table("coords")
        method = method or str(c["method"].iloc[0])
        return cls(c[c["method"] == method], method)

    def plot(self, ax=None, *, ncols: int | None = None, s: float = 4) -> "ProjectionGridDisplay":
        layers = sorted(self.coords["layer"].unique())
        nr, nc = _grid(len(layers), ncols)
        fig, axes = self._new_axes(nrows=nr, ncols=nc, figsize=(2.8 * nc, 2.8 * nr)) if ax is None else (ax.figure, ax)
        axes = np.ravel(axes) if not hasattr(axes, "plot") else np.array([axes])
        names = self.coords.drop_duplicates("label").sort_values("label")
        cmap = _pyplot_cm()
        for a, l in zip(axes, layers):
            g = self.coords[self.coords["layer"] == l]
            for i, (_, r) in enumerate(names.iterrows()):
                sel = g[g["label"] == r["label"]]
                a.scatter(sel["x"], sel["y"], s=s, color=cmap(i % 10), label=str(r["label_name"]), linewidths=0)
            a.set_title(f"layer {l}", fontsize=8)
            a.set_xticks([])
            a.set_yticks([])
        for a in axes[len(layers):]:
            a.set_visible(False)
        if len(names) <= 12:
            axes[0].legend(fontsize=6, markerscale=2, loc="best")
        fig.suptitle(f"{self.method} projection per layer", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


def _pyplot_cm():
    import matplotlib
    return matplotlib.colormaps["tab10"]
