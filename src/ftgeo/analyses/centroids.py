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
from ftgeo.results.base import Result

__all__ = ["CentroidsSpec", "CentroidResult", "run_centroids"]


@dataclass(frozen=True)
class CentroidsSpec(AnalysisSpec):
    """Parameters of :func:`run_centroids`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    center: bool = param(False, "PCA of centred movements (default: uncentred, the directions the labels move along)")


class CentroidResult(Result):
    """Label-centroid movement before -> after, per layer (tables ``movement`` (layer, label, norm) and
    ``movement_pca`` (layer, component, explained, cumulative), the columns of ``dynamics``). No figures."""

    kind = "centroids"

    def summary(self) -> pd.DataFrame:
        mp = self.table("movement_pca")
        return mp[mp["component"] <= 3].pivot(index="layer", columns="component", values="explained") \
            .rename(columns=lambda c: f"pc{c}").reset_index()


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
