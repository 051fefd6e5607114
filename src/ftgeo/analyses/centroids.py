"""``centroids``: label-centroid movement from before to after fine-tuning (A Closer Look family).

Zhou & Srikumar (2022), Sec. 5: per layer, each label's centroid moves from the pretrained space to
the fine-tuned one; the norms of the movements and the explained-variance spectrum of the movement
matrix say how far and along how many directions the labels move (Eq. C1-C3 of
:mod:`ftgeo.analysis.centroids`). The two sets may hold different examples of the same labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import labelled_rows, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["CentroidsSpec", "CentroidResult", "CentroidMovementDisplay", "run_centroids"]


@dataclass(frozen=True)
class CentroidsSpec(AnalysisSpec):
    """Parameters of :func:`run_centroids`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    center: bool = param(False, "PCA of centred movements (default: uncentred, the directions the labels move along)")


class CentroidResult(Result):
    """Label-centroid movement before -> after, per layer (tables ``movement`` (layer, label, norm) and
    ``movement_pca`` (layer, component, explained, cumulative), the columns of ``dynamics``); figure
    ``movement`` (:class:`CentroidMovementDisplay`)."""

    kind = "centroids"

    def summary(self) -> pd.DataFrame:
        mp = self.table("movement_pca")
        out = mp[mp["component"] <= 3].pivot(index="layer", columns="component", values="explained") \
            .rename(columns=lambda c: f"pc{c}_explained").reset_index()
        out.columns.name = None      # the pivot's column-axis name made an empty "component" header column
        norms = self.table("movement").groupby("layer")["norm"].mean().rename("mean_movement_norm").reset_index()
        return norms.merge(out, on="layer", how="left")

    def displays(self):
        return [("movement", CentroidMovementDisplay.from_result(self))]

    def findings(self):
        """The layer where the label centroids move most, and how many directions the movement spans there."""
        from ftgeo.results.findings import num
        mov, mp = self.table("movement"), self.table("movement_pca")
        if mov.empty:
            return []
        mean = mov.groupby("layer")["norm"].mean()
        top = int(mean.idxmax())
        pc1 = mp[(mp["layer"] == top) & (mp["component"] == 1)]["explained"]
        last = int(mean.index.max())
        first = int(mean.index.min())
        where = (f" (mean distance {num(mean[top])}, against {num(mean[first])} at layer {first})"
                 if top != first else f" (mean distance {num(mean[top])})")
        if top != last:
            where = where[:-1] + f" and {num(mean[last])} at layer {last})"
        return [(f"The label centroids move most at layer {top}{where}" + (
            f"; one direction explains {100 * float(pc1.iloc[0]):.0f}% of that movement" if len(pc1) else "") + ".",
            "movement")]


class CentroidMovementDisplay(Display):
    """Left: each label's centroid movement (pretrained -> fine-tuned distance) per layer; right: the share
    of the movement along its first principal direction per layer (Zhou & Srikumar 2022, Sec. 5)."""

    def __init__(self, movement: pd.DataFrame, pca: pd.DataFrame):
        self.movement, self.pca = movement.copy(), pca.copy()

    @classmethod
    def from_result(cls, result) -> "CentroidMovementDisplay":
        return cls(result.table("movement"), result.table("movement_pca"))

    def empty_reason(self) -> str | None:
        return "no layer had labels on both sides" if self.movement.empty else None

    def plot(self, ax=None) -> "CentroidMovementDisplay":
        from ftgeo.plot.helpers import LEGEND_MAX, label_colors
        fig, axes = self._new_axes(ncols=2, figsize=(8.5, 3.4)) if ax is None else (ax[0].figure, ax)
        axes = list(np.ravel(axes))
        labels = sorted(self.movement["label"].unique())
        colors = label_colors(len(labels))
        for c, lab in zip(colors, labels):
            g = self.movement[self.movement["label"] == lab].sort_values("layer")
            axes[0].plot(g["layer"], g["norm"], "-o", ms=3, color=c, label=str(lab))
        axes[0].set_xlabel("layer")
        axes[0].set_ylabel("centroid movement (distance)")
        axes[0].set_title("label centroids, pretrained -> fine-tuned", fontsize=9)
        if len(labels) <= LEGEND_MAX:
            axes[0].legend(fontsize=7)
        p1 = self.pca[self.pca["component"] == 1].sort_values("layer")
        axes[1].plot(p1["layer"], p1["explained"], "-o", ms=3, color="k")
        axes[1].set_ylim(0, 1.02)
        axes[1].set_xlabel("layer")
        axes[1].set_ylabel("share along the first direction")
        axes[1].set_title("how one-dimensional the movement is", fontsize=9)
        for a in axes:
            a.set_xticks(sorted(int(l) for l in self.movement["layer"].unique()))
            a.grid(alpha=0.3)
        self.figure_, self.ax_ = fig, axes
        return self


@register_analysis(
    "centroids", family="closer-look", order=40, spec=CentroidsSpec, result=CentroidResult,
    inputs=[Input("before", help="representations before fine-tuning (the pretrained model)"),
            Input("after", help="representations after fine-tuning (the same labels)")],
    help="label-centroid movement before -> after fine-tuning and its PCA, per layer")
def run_centroids(before, after, *, spec: CentroidsSpec) -> CentroidResult:
    """Label-centroid movement from ``before`` (pretrained) to ``after`` (fine-tuned) per layer and the
    explained-variance spectrum of the movements (Eq. C1-C3 of :mod:`ftgeo.analysis.centroids`).
    The two sets may hold different examples of the same labels (centroids are per label)."""
    from ftgeo.analysis.centroids import centroid_movement, movement_pca

    lay = select_layers(before, spec.layers)
    mov, mpca = [], []
    for layer in lay:
        Xb, yb, _ = labelled_rows(before, layer, "the 'before'", names=True)
        Xa, ya, _ = labelled_rows(after, layer, "the 'after'", names=True)
        classes, M = centroid_movement(Xb, yb, Xa, ya)
        for lab, v in zip(classes, np.linalg.norm(M, axis=1)):
            mov.append({"layer": layer, "label": str(lab), "norm": float(v)})
        ratio = movement_pca(M, center=spec.center)[0]
        for k, (v, c) in enumerate(zip(ratio, np.cumsum(ratio)), 1):
            mpca.append({"layer": layer, "component": k, "explained": float(v), "cumulative": float(c)})
    return CentroidResult(tables={"movement": pd.DataFrame(mov), "movement_pca": pd.DataFrame(mpca)},
                          meta={"layers": lay, "center": spec.center})
