"""Figures of the probing results (Zhou & Srikumar 2022). Every Display copies data out of a
saved result in ``from_result`` and only draws in ``plot``; nothing is recomputed."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display

__all__ = ["ProbeAccuracyDisplay", "ClusterCountDisplay", "MinDistanceTrajectoryDisplay", "CentroidPathDisplay",
           "SimilarityOverTrainingDisplay", "CrossTaskChangeDisplay", "CrossTaskLayersDisplay"]

_STYLE = {"linear": "--", "mlp": "-"}


def _axes_grid(self, ax, k, size=(3.8, 3.2), ncols=None):
    ncols = ncols or min(k, 3)
    nrows = math.ceil(k / ncols)
    if ax is None:
        fig, axes = self._new_axes(nrows=nrows, ncols=ncols, figsize=(size[0] * ncols, size[1] * nrows))
        axes = list(np.ravel(axes)) if k > 1 or nrows * ncols > 1 else [axes]
    else:
        axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        fig = axes[0].figure
    if len(axes) < k:
        raise ValidationError(f"this figure needs {k} axes; got {len(axes)}")
    for a in axes[k:]:
        a.set_visible(False)
    return fig, axes[:k]


def _label_colors(n: int) -> list:
    """Distinct colours for n labels: tab10, tab20, then evenly spaced turbo."""
    import matplotlib
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(i / (n - 1)) for i in range(n)]


_LEGEND_MAX = 12   # more labels than this: each line is named at its end instead of in a legend


def _name_line_end(a, x, y, text: str, color) -> None:
    a.annotate(text, (x, y), xytext=(3, 0), textcoords="offset points", fontsize=5, color=color, va="center")


def _pick_layers(available: Sequence[int], layers) -> list[int]:
    available = sorted(int(l) for l in available)
    if layers is None:
        return [available[-1]]
    if layers == "all":
        return available
    out = [int(l) if int(l) >= 0 else available[int(l)] for l in np.atleast_1d(layers)]
    missing = [l for l in out if l not in available]
    if missing:
        raise ValidationError(f"layers {missing} are not in this result; it has {available}")
    return out


class ProbeAccuracyDisplay(Display):
    """Probe accuracy per layer: mean ± std over seeds, one line per (set, kind); linear dashed, MLP solid."""

    def __init__(self, best: pd.DataFrame, title: str = ""):
        self.best = best.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "ProbeAccuracyDisplay":
        return cls(result.table("best"), title)

    def plot(self, ax=None) -> "ProbeAccuracyDisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        sets = list(dict.fromkeys(self.best["set"]))
        colors = {s: f"C{i}" for i, s in enumerate(sets)}
        for (s, k), g in self.best.groupby(["set", "kind"], sort=False):
            g = g.sort_values("layer")
            x, m, sd = g["layer"].to_numpy(), g["mean"].to_numpy(), g["std"].fillna(0).to_numpy()
            ax.plot(x, m, _STYLE.get(k, "-"), marker="o", ms=3, color=colors[s], label=f"{s} {k}")
            ax.fill_between(x, m - sd, m + sd, color=colors[s], alpha=0.15, lw=0)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("eval accuracy (mean ± std over seeds)")
        ax.set_title(self.title or "probe accuracy per layer", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


class ClusterCountDisplay(Display):
    """DirectProbe cluster count per layer, one line per set, with the number of labels as a dashed line
    (as many clusters as labels = the labels are linearly separable; DirectProbe Sec. 4.1)."""

    def __init__(self, layers: pd.DataFrame, title: str = ""):
        self.layers = layers.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "ClusterCountDisplay":
        return cls(result.table("layers"), title)

    def plot(self, ax=None) -> "ClusterCountDisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        for i, (s, g) in enumerate(self.layers.groupby("set", sort=False)):
            g = g.sort_values("layer")
            ax.plot(g["layer"], g["n_clusters"], "-o", ms=3, color=f"C{i}", label=f"{s} clusters")
        nl = int(self.layers["n_labels"].max())
        ax.axhline(nl, color="k", ls="--", lw=1, label=f"labels ({nl})")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("number of clusters")
        ax.set_title(self.title or "DirectProbe clusters per layer", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


def _x_of(df: pd.DataFrame):
    """Training step if every checkpoint has one, else the checkpoint index."""
    if "step" in df.columns and df["step"].notna().all():
        return "step", "training step"
    return "checkpoint", "checkpoint (0 = pretrained)"


class MinDistanceTrajectoryDisplay(Display):
    """Each label's minimum distance to the other labels over checkpoints, one panel per layer
    (Zhou & Srikumar 2022, Fig. 3: fine-tuning pushes labels apart)."""

    def __init__(self, min_distance: pd.DataFrame, layers: list[int]):
        self.md = min_distance.copy()
        self.layers = layers

    @classmethod
    def from_result(cls, result, layers=None) -> "MinDistanceTrajectoryDisplay":
        md = result.table("min_distance")
        return cls(md, _pick_layers(md["layer"].unique(), layers))

    def plot(self, ax=None) -> "MinDistanceTrajectoryDisplay":
        fig, axes = _axes_grid(self, ax, len(self.layers))
        xcol, xlabel = _x_of(self.md)
        n_labels = self.md["label"].nunique()
        colors = _label_colors(n_labels)
        for a, layer in zip(axes, self.layers):
            g = self.md[self.md["layer"] == layer]
            for i, (lab, gl) in enumerate(g.groupby("label", sort=True)):
                gl = gl.sort_values("checkpoint")
                a.plot(gl[xcol], gl["min_distance"], "-o", ms=2.5, color=colors[i], label=str(lab))
                if n_labels > _LEGEND_MAX:
                    _name_line_end(a, gl[xcol].iloc[-1], gl["min_distance"].iloc[-1], str(lab), colors[i])
            a.set_title(f"layer {layer}", fontsize=9)
            a.set_xlabel(xlabel, fontsize=8)
            a.set_ylabel("min distance to other labels", fontsize=8)
            a.grid(alpha=0.3)
        if n_labels <= _LEGEND_MAX:
            axes[0].legend(fontsize=6, ncol=2)
        self.figure_, self.ax_ = fig, axes[0]
        return self


class CentroidPathDisplay(Display):
    """Label centroid paths over checkpoints in one shared 2-D PCA per layer; circle = pretrained,
    triangle = last checkpoint."""

    def __init__(self, paths: pd.DataFrame, explained: pd.DataFrame, layers: list[int]):
        self.paths = paths.copy()
        self.explained = explained.copy()
        self.layers = layers

    @classmethod
    def from_result(cls, result, layers=None) -> "CentroidPathDisplay":
        p = result.table("centroid_paths")
        return cls(p, result.table("path_pca"), _pick_layers(p["layer"].unique(), layers))

    def plot(self, ax=None) -> "CentroidPathDisplay":
        fig, axes = _axes_grid(self, ax, len(self.layers), size=(3.8, 3.6))
        n_labels = self.paths["label"].nunique()
        colors = _label_colors(n_labels)
        for a, layer in zip(axes, self.layers):
            g = self.paths[self.paths["layer"] == layer]
            for i, (lab, gl) in enumerate(g.groupby("label", sort=True)):
                gl = gl.sort_values("checkpoint")
                c = colors[i]
                a.plot(gl["pc1"], gl["pc2"], "-", color=c, lw=1.2, label=str(lab))
                a.plot(gl["pc1"].iloc[:1], gl["pc2"].iloc[:1], "o", color=c, ms=4)
                a.plot(gl["pc1"].iloc[-1:], gl["pc2"].iloc[-1:], "^", color=c, ms=5)
                if n_labels > _LEGEND_MAX:
                    _name_line_end(a, gl["pc1"].iloc[-1], gl["pc2"].iloc[-1], str(lab), c)
            ex = self.explained[self.explained["layer"] == layer].sort_values("component")["explained"].to_numpy()
            a.set_xlabel(f"PC1 ({100 * ex[0]:.0f}%)" if ex.size else "PC1", fontsize=8)
            a.set_ylabel(f"PC2 ({100 * ex[1]:.0f}%)" if ex.size > 1 else "PC2", fontsize=8)
            a.set_title(f"label centroids, layer {layer}", fontsize=9)
            a.grid(alpha=0.3)
        if n_labels <= _LEGEND_MAX:
            axes[0].legend(fontsize=6, ncol=2)
        self.figure_, self.ax_ = fig, axes[0]
        return self


class SimilarityOverTrainingDisplay(Display):
    """Spatial similarity to the pretrained space (DirectProbe distance vectors' Pearson r) per layer
    over training: one line per layer, coloured from light (low layers) to dark (high layers)."""

    def __init__(self, similarity: pd.DataFrame):
        self.sim = similarity.copy()

    @classmethod
    def from_result(cls, result) -> "SimilarityOverTrainingDisplay":
        return cls(result.table("similarity"))

    def plot(self, ax=None) -> "SimilarityOverTrainingDisplay":
        import matplotlib
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        xcol, xlabel = _x_of(self.sim)
        layers = sorted(self.sim["layer"].unique())
        cmap = matplotlib.colormaps["viridis"]
        for i, layer in enumerate(layers):
            g = self.sim[self.sim["layer"] == layer].sort_values("checkpoint")
            ax.plot(g[xcol], g["similarity"], "-o", ms=2.5, color=cmap(i / max(1, len(layers) - 1)),
                    label=f"layer {layer}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("spatial similarity to pretrained")
        ax.set_title("spatial similarity over training", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        self.figure_, self.ax_ = fig, ax
        return self


class CrossTaskChangeDisplay(Display):
    """Change of each task-B label's minimum distance after fine-tuning on task A (Eq. X1), one panel per layer."""

    def __init__(self, change: pd.DataFrame, layers: list[int]):
        self.change = change.copy()
        self.layers = layers

    @classmethod
    def from_result(cls, result, layers=None) -> "CrossTaskChangeDisplay":
        c = result.table("label_change")
        return cls(c, _pick_layers(c["layer"].unique(), layers))

    def plot(self, ax=None) -> "CrossTaskChangeDisplay":
        fig, axes = _axes_grid(self, ax, len(self.layers), size=(4.5, 3.4))
        for a, layer in zip(axes, self.layers):
            g = self.change[self.change["layer"] == layer].sort_values("change")
            colors = ["C2" if v > 0 else "C3" if v < 0 else "0.6" for v in g["change"]]
            a.barh([str(l) for l in g["label"]], g["change"], color=colors)
            a.axvline(0, color="k", lw=0.8)
            a.set_title(f"layer {layer}", fontsize=9)
            a.set_xlabel("min-distance change (fine-tuned - pretrained)", fontsize=8)
            a.tick_params(axis="y", labelsize=6)
        self.figure_, self.ax_ = fig, axes[0]
        return self


class CrossTaskLayersDisplay(Display):
    """Per layer: how many task-B labels moved away from / towards the others after fine-tuning on task A
    (bars), and the mean change of their minimum distance (line, right axis). Zhou & Srikumar (2022), Sec. 5.3."""

    def __init__(self, summary: pd.DataFrame):
        need = {"layer", "n_grew", "n_shrank", "mean_change"}
        if not need <= set(summary.columns):
            raise ValidationError(f"a cross-task layer summary needs columns {sorted(need)}; "
                                  f"got {sorted(summary.columns)}")
        self.summary = summary.sort_values("layer").reset_index(drop=True)

    @classmethod
    def from_result(cls, result) -> "CrossTaskLayersDisplay":
        return cls(result.table("layer_summary"))

    def plot(self, ax=None) -> "CrossTaskLayersDisplay":
        fig, ax = self._new_axes(ax, figsize=(5.6, 3.7))
        s, x = self.summary, np.arange(len(self.summary))
        ax.bar(x - 0.2, s["n_grew"], width=0.4, color="C2", label="labels farther apart")
        ax.bar(x + 0.2, s["n_shrank"], width=0.4, color="C3", label="labels closer")
        ax.set_xticks(x, [str(int(l)) for l in s["layer"]])
        ax.set_xlabel("layer")
        ax.set_ylabel("number of task-B labels")
        twin = ax.twinx()
        twin.plot(x, s["mean_change"], "k.-", label="mean min-distance change")
        twin.axhline(0, color="0.5", lw=0.8, ls=":")
        twin.set_ylabel("mean min-distance change")
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=7, ncols=3, frameon=False,
                  loc="upper center", bbox_to_anchor=(0.5, -0.16))
        ax.set_title("task B after fine-tuning on task A", fontsize=9)
        self.figure_, self.ax_ = fig, ax
        return self
