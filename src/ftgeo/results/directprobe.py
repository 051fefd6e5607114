"""Saved result of a DirectProbe fit (Zhou & Srikumar 2021): clusters, label-pair distances, per-label minima.

Tables (tidy, one row per observation):

* ``clusters``: cluster, label, size
* ``cluster_distances``: cluster_i, cluster_j, label_i, label_j, distance (hull distance = 2 x SVM margin)
* ``label_distances``: label_a, label_b, distance (minimum over the two labels' clusters; canonical order,
  the entries of the distance vector)
* ``label_min_distance``: label, min_distance (to any other label)

Arrays: ``assignments`` (cluster of each point), ``distance_vector``.
Meta: n_clusters, n_labels, n_points, timings (seconds), stats (merge / LP counts), plus anything the
caller adds (layer, model, task...).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ftgeo.results.base import Result

__all__ = ["DirectProbeResult"]


class DirectProbeResult(Result):
    kind = "directprobe"

    @classmethod
    def from_estimator(cls, dp, **meta: Any) -> "DirectProbeResult":
        """Build the result from a fitted :class:`ftgeo.analysis.directprobe.DirectProbe`."""
        if not hasattr(dp, "assignments_"):
            from ftgeo.errors import ValidationError
            raise ValidationError("DirectProbeResult.from_estimator needs a fitted DirectProbe; call fit(X, y) first.")
        labels = [_jsonable(v) for v in dp.labels_]
        clusters = pd.DataFrame({"cluster": np.arange(dp.n_clusters_), "label": labels,
                                 "size": dp.cluster_sizes_.astype(np.int64)})
        cd = dp.cluster_distances_.copy()
        cd["label_i"] = [_jsonable(v) for v in cd["label_i"]]
        cd["label_j"] = [_jsonable(v) for v in cd["label_j"]]
        la = [_jsonable(a) for a, _ in dp.distance_vector_pairs_]
        lb = [_jsonable(b) for _, b in dp.distance_vector_pairs_]
        label_d = pd.DataFrame({"label_a": la, "label_b": lb, "distance": np.asarray(dp.distance_vector_)})
        label_min = pd.DataFrame({"label": [_jsonable(c) for c in dp.classes_],
                                  "min_distance": np.asarray(dp.label_min_distance_)})
        m = {"n_clusters": int(dp.n_clusters_), "n_labels": int(dp.n_labels_),
             "n_points": int(dp.assignments_.size), "timings": {k: float(v) for k, v in dp.timings_.items()},
             "stats": {k: int(v) for k, v in dp.stats_.items()}, "pairs": dp.pairs, "distance": dp.distance}
        m.update(meta)
        return cls(tables={"clusters": clusters, "cluster_distances": cd, "label_distances": label_d,
                           "label_min_distance": label_min},
                   arrays={"assignments": np.asarray(dp.assignments_, dtype=np.int64),
                           "distance_vector": np.asarray(dp.distance_vector_, dtype=np.float64)},
                   meta=m)

    @property
    def n_clusters(self) -> int:
        return int(self.meta["n_clusters"])

    @property
    def n_labels(self) -> int:
        return int(self.meta["n_labels"])

    @property
    def distance_vector(self) -> np.ndarray:
        return self.array("distance_vector")

    def summary(self) -> pd.DataFrame:
        """One row per label: cluster count, points, and minimum distance to another label."""
        cl = self.table("clusters")
        lm = self.table("label_min_distance")
        per = cl.groupby("label", sort=False).agg(n_clusters=("cluster", "size"), n_points=("size", "sum"))
        out = lm.merge(per, left_on="label", right_index=True, how="left")
        return out[["label", "n_clusters", "n_points", "min_distance"]].reset_index(drop=True)


def _jsonable(v):
    return v.item() if isinstance(v, np.generic) else v
