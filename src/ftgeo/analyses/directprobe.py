"""``directprobe``: DirectProbe on every layer (A Closer Look family).

DirectProbe (Zhou & Srikumar 2021, NAACL) clusters a labelled point cloud into the fewest groups of
one label whose convex hulls do not overlap, and measures the distances between them (2 x the SVM
margin). Per layer of each set: cluster count vs label count (as many clusters as labels = linearly
separable), label-pair and per-label minimum distances, nearest-hull accuracy on an eval split, the
train/eval spatial similarity (the train/test divergence of Zhou & Srikumar 2022) and the spatial
similarity between sets at the same layer. The numbers come from
:class:`ftgeo.analysis.directprobe.DirectProbe`.

:class:`DirectProbeResult` (kind ``directprobe``) is the saved form of one DirectProbe fit;
:class:`DirectProbeLayersResult` (kind ``directprobe_layers``) is the result of this analysis.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, labelled_rows, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["DirectProbeSpec", "DirectProbeResult", "DirectProbeLayersResult", "ClusterCountDisplay",
           "run_directprobe"]


@dataclass(frozen=True)
class DirectProbeSpec(AnalysisSpec):
    """Parameters of :func:`run_directprobe`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    max_points: int | None = param(1000, "seeded stratified subsample of the training rows", none=("all", "none", "0"))
    max_eval_points: int | None = param(500, "seeded stratified subsample of the eval rows", none=("all", "none", "0"))
    predict: bool = param(True, "nearest-hull prediction of the eval rows (on by default; --no-predict skips it)")
    seed: int = param(0, "seed of the subsamples", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")

    def validate(self) -> None:
        for f in ("max_points", "max_eval_points"):
            v = getattr(self, f)
            if v is not None and v < 1:
                raise ValidationError(f"{f} must be positive (or all); got {v}")


# ----------------------------------------------------------------------------- one fit
class DirectProbeResult(Result):
    """Saved result of one DirectProbe fit (Zhou & Srikumar 2021): clusters, label-pair distances,
    per-label minima.

    Tables (tidy, one row per observation):

    * ``clusters``: cluster, label, size
    * ``cluster_distances``: cluster_i, cluster_j, label_i, label_j, distance (hull distance = 2 x SVM margin)
    * ``label_distances``: label_a, label_b, distance (minimum over the two labels' clusters; canonical
      order, the entries of the distance vector)
    * ``label_min_distance``: label, min_distance (to any other label)

    Arrays: ``assignments`` (cluster of each point), ``distance_vector``.
    Meta: n_clusters, n_labels, n_points, timings (seconds), stats (merge / LP counts), plus anything
    the caller adds (layer, model, task...).
    """

    kind = "directprobe"
    family = "closer-look"      # no analysis returns it (``directprobe`` returns DirectProbeLayersResult)

    @classmethod
    def from_estimator(cls, dp, **meta: Any) -> "DirectProbeResult":
        """Build the result from a fitted :class:`ftgeo.analysis.directprobe.DirectProbe`."""
        if not hasattr(dp, "assignments_"):
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


# ----------------------------------------------------------------------------- every layer
class DirectProbeLayersResult(Result):
    """DirectProbe on every layer of one or more sets.

    Tables: ``layers`` (set, layer, n_clusters, n_labels, n_points, eval_accuracy, n_eval,
    train_eval_similarity, time_s), ``label_min_distance`` (set, layer, label, min_distance),
    ``label_distances`` (set, layer, label_a, label_b, distance), ``set_similarity`` (set_a,
    set_b, layer, similarity): spatial similarity between sets at the same layer.
    ``train_eval_similarity`` is the spatial similarity between the train and eval sets'
    DirectProbe distance vectors (train/test divergence; NaN with fewer than 3 labels).
    """

    kind = "directprobe_layers"

    def summary(self) -> pd.DataFrame:
        cols = ["set", "layer", "n_clusters", "n_labels", "eval_accuracy", "train_eval_similarity"]
        df = self.table("layers")
        return df[[c for c in cols if c in df.columns]]

    def displays(self):
        return [("clusters", ClusterCountDisplay.from_result(self))]


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


@register_analysis(
    "directprobe", family="closer-look", order=20, spec=DirectProbeSpec, result=DirectProbeLayersResult,
    inputs=[Input("train_reps", n=(1, None), help="training split representations (several sets are compared "
                                                  "layer by layer with spatial similarity)"),
            Input("eval_reps", n=(1, None), required=False,
                  help="evaluation split, one per --train-reps: nearest-hull accuracy and train/eval similarity")],
    help="DirectProbe clusters, inter-cluster distances, spatial similarity")
def run_directprobe(train_reps, eval_reps=None, *, spec: DirectProbeSpec,
                    progress: bool = True) -> DirectProbeLayersResult:
    """DirectProbe (Zhou & Srikumar 2021) on every layer of each set: cluster count vs label count,
    label-pair and per-label minimum distances, accuracy of nearest-hull prediction on the eval set,
    the train/eval spatial similarity (train/test divergence) and the spatial similarity between
    sets at the same layer (e.g. pretrained vs fine-tuned).

    ``max_points`` / ``max_eval_points``: seeded stratified subsamples (DirectProbe's cost grows
    fast with n); the same rows are used at every layer and, for aligned sets, in every set.
    """
    from ftgeo.analysis.dynamics import fit_directprobe, safe_spatial_similarity
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    tr, ev = as_list(train_reps), as_list(eval_reps)
    if ev and len(ev) != len(tr):
        raise ValidationError(f"give one eval set per train set or none; got {len(tr)} train and {len(ev)} eval")
    nm = set_names(tr, spec.names)
    lay = select_layers(tr[0], spec.layers)
    max_points, max_eval_points, random_state = spec.max_points, spec.max_eval_points, spec.seed
    rows, mins, pairs, sims = [], [], [], []
    vectors: dict[tuple[str, int], object] = {}
    bar = _progress(total=len(tr) * len(lay), enabled=progress, desc="directprobe", unit="layer")
    for si, (s, t) in enumerate(zip(nm, tr)):
        e = ev[si] if ev else None
        sub = sub_e = None
        for layer in lay:
            X, y, _ = labelled_rows(t, layer, "the train", names=True)
            if sub is None:
                sub = stratified_subsample(y, max_points, random_state)
            X, y = X[sub], y[sub]
            t0 = time.perf_counter()
            dp = fit_directprobe(X, y)
            row = {"set": s, "layer": layer, "n_clusters": int(dp.n_clusters_), "n_labels": int(dp.n_labels_),
                   "n_points": int(y.size), "eval_accuracy": np.nan, "n_eval": 0,
                   "train_eval_similarity": np.nan, "n_common_labels": 0}
            if e is not None:
                Xe, ye, _ = labelled_rows(e, layer, "the eval", names=True)
                if sub_e is None:
                    sub_e = stratified_subsample(ye, max_eval_points, random_state)
                Xe, ye = Xe[sub_e], ye[sub_e]
                if spec.predict:
                    row["eval_accuracy"] = float(np.mean(dp.predict(Xe) == ye))
                    row["n_eval"] = int(ye.size)
                dpe = fit_directprobe(Xe, ye)
                row["n_common_labels"] = int(np.intersect1d(dpe.classes_, dp.classes_).size)
                row["train_eval_similarity"] = safe_spatial_similarity(dp, dpe, labels="common")
            row["time_s"] = time.perf_counter() - t0
            rows.append(row)
            for lab, md in zip(dp.classes_, dp.label_min_distance_):
                mins.append({"set": s, "layer": layer, "label": str(lab), "min_distance": float(md)})
            for (a, b), d in zip(dp.distance_vector_pairs_, dp.distance_vector_):
                pairs.append({"set": s, "layer": layer, "label_a": str(a), "label_b": str(b), "distance": float(d)})
            vectors[(s, layer)] = dp
            bar.update(1)
    bar.close()
    for i in range(len(nm)):
        for j in range(i + 1, len(nm)):
            for layer in lay:
                a, b = vectors[(nm[i], layer)], vectors[(nm[j], layer)]
                sims.append({"set_a": nm[i], "set_b": nm[j], "layer": layer,
                             "similarity": safe_spatial_similarity(a, b, labels="common")})
    return DirectProbeLayersResult(
        tables={"layers": pd.DataFrame(rows), "label_min_distance": pd.DataFrame(mins),
                "label_distances": pd.DataFrame(pairs),
                "set_similarity": pd.DataFrame(sims, columns=["set_a", "set_b", "layer", "similarity"])},
        meta={"sets": nm, "layers": lay, "max_points": max_points, "max_eval_points": max_eval_points,
              "random_state": random_state, "pairs": "label_min",
              "manifests": {n: manifest_summary(r) for n, r in zip(nm, tr)},
              "notes": ["spatial similarity is NaN with fewer than 3 labels (a correlation needs >= 2 label pairs)",
                        "train/eval and between-set similarities use the labels both sides have "
                        "(n_common_labels): rare labels can be missing from an eval subsample"]})
