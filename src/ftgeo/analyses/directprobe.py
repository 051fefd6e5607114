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
from typing import Any, Literal

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, labelled_rows, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.analyses._uncertainty import (IntervalSpec, NullSpec, accuracy_with_interval, groups_of, has_interval,
                                         interval_note, null_note, null_summary, unit_name)
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["DirectProbeSpec", "DirectProbeResult", "DirectProbeLayersResult", "ClusterCountDisplay",
           "run_directprobe"]


#: default number of subsamples for DirectProbe's intervals (subsample 0 = the point estimate's)
N_SUBSAMPLES = 3


@dataclass(frozen=True)
class SubsampleSpec(AnalysisSpec):
    """How many DirectProbe fits the subsampling intervals take (``directprobe``, ``dynamics``, ``cross-task``)."""

    n_subsamples: int = param(N_SUBSAMPLES, "seeded stratified subsamples of the same size for DirectProbe's "
                                            "intervals (subsample 0 = the point estimate's; 1 = no interval)")

    def validate(self) -> None:
        super().validate()
        if self.n_subsamples < 1:
            raise ValidationError(f"n_subsamples must be >= 1; got {self.n_subsamples}")


@dataclass(frozen=True)
class DirectProbeSpec(IntervalSpec, NullSpec, SubsampleSpec):
    """Parameters of :func:`run_directprobe`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    max_points: int | None = param(1000, "seeded stratified subsample of the training rows", none=("all", "none", "0"))
    max_eval_points: int | None = param(500, "seeded stratified subsample of the eval rows", none=("all", "none", "0"))
    predict: bool = param(True, "nearest-hull prediction of the eval rows (on by default; --no-predict skips it)")
    seed: int = param(0, "seed of the subsamples (subsample 0; the others' seeds derive from it) and of the "
                         "resamples and permutations", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")
    labels: Literal["task", "control"] = param("task", "labelling: the task's, or the control task's (Hewitt & Liang "
                                                       "2019: a random label per word type; see `ftgeo analyze control`)")
    control_seed: int = param(0, "seed of the control labelling (type -> label hash; --labels control)")
    data_root: str | None = param(None, "folder with the local datasets, for the rows' word types (--labels control; "
                                        "default: $FTGEO_DATA_ROOT)", metavar="DIR")

    def validate(self) -> None:
        super().validate()
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

    Uncertainty (``docs/directprobe.md``, "Uncertainty"): ``eval_accuracy_low/high`` (Wilson, or a
    sentence bootstrap for word-level rows); ``n_clusters``, ``min_distance``, ``distance``,
    ``train_eval_similarity`` and ``similarity`` get ``_low/_high`` from ``n_subsamples`` seeded
    subsamples of the same size (Eq. S1 of :func:`ftgeo.analysis.dynamics.subsample_interval`);
    the similarities get a label-permutation (Mantel) null: ``_p`` and ``_null_q05/q50/q95``.
    Table ``set_change`` (set_a, set_b, layer, statistic in {n_clusters, train_eval_similarity},
    value_a, value_b, change = b - a, change_low, change_high): the paired change between sets over
    the same subsamples (the claims "train/test similarity falls after fine-tuning", "clusters
    shrink toward the labels"). Per-subsample values: tables ``subsamples`` (set, layer, subsample,
    n_clusters, train_eval_similarity), ``subsample_min_distance`` (set, layer, subsample, label,
    min_distance), ``subsample_similarity`` (set_a, set_b, layer, subsample, similarity).
    """

    kind = "directprobe_layers"

    def summary(self) -> pd.DataFrame:
        cols = ["set", "layer", "n_clusters", "n_clusters_low", "n_clusters_high", "n_labels", "eval_accuracy",
                "eval_accuracy_low", "eval_accuracy_high", "train_eval_similarity", "train_eval_similarity_low",
                "train_eval_similarity_high"]
        df = self.table("layers")
        return df[[c for c in cols if c in df.columns]]

    def displays(self):
        return [("clusters", ClusterCountDisplay.from_result(self))]

    def findings(self):
        """Per set: at which layers the clusters match the labels (linearly separable, DirectProbe Sec. 4.1),
        and the cluster-based eval accuracy at the last layer."""
        from ftgeo.results.findings import layer_list, level_of, row_ci
        t = self.table("layers")
        if t.empty:
            return []
        lev = level_of(self)
        out = []
        for s, g in t.groupby("set", sort=False):
            sep = g[g["n_clusters"] == g["n_labels"]]["layer"]
            last = g[g["layer"] == g["layer"].max()].iloc[0]
            acc = (f"; eval accuracy of the nearest cluster at layer {int(last['layer'])}: "
                   f"{row_ci(last, 'eval_accuracy', lev)}" if "eval_accuracy" in last else "")
            out.append((f"{s}: as many clusters as labels ({int(g['n_labels'].max())}, linearly separable) at layers "
                        f"{layer_list(sep) if len(sep) else 'none'} of {layer_list(g['layer'])}{acc}.", "clusters"))
        return out


class ClusterCountDisplay(Display):
    """DirectProbe cluster count per layer, one line per set, with the number of labels as a dashed line
    (as many clusters as labels = the labels are linearly separable; DirectProbe Sec. 4.1); error bars
    from the subsampling interval where the result has one."""

    def __init__(self, layers: pd.DataFrame, title: str = ""):
        self.layers = layers.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "ClusterCountDisplay":
        return cls(result.table("layers"), title)

    def plot(self, ax=None) -> "ClusterCountDisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        groups = list(self.layers.groupby("set", sort=False))
        styles, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
        for i, (s, g) in enumerate(groups):
            g = g.sort_values("layer")
            # equal counts (2 clusters for 2 labels at every layer) put one set's line on top of the other's:
            # each set gets its own line style and marker and a small sideways offset
            x = g["layer"].to_numpy(float) + 0.08 * (i - (len(groups) - 1) / 2)
            ax.plot(x, g["n_clusters"], ls=styles[i % 4], marker=markers[i % 4], ms=4, color=f"C{i}",
                    label=f"{s} clusters", zorder=3 + i)
            if has_interval(g, "n_clusters"):
                v = g["n_clusters"].to_numpy(float)
                lo, hi = g["n_clusters_low"].to_numpy(float), g["n_clusters_high"].to_numpy(float)
                ax.errorbar(x, v, yerr=[np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)], fmt="none",
                            ecolor=f"C{i}", elinewidth=0.8, capsize=2)
        ax.set_xticks(sorted(int(l) for l in self.layers["layer"].unique()))
        nl = int(self.layers["n_labels"].max())
        ax.axhline(nl, color="0.5", ls="--", lw=1, label=f"labels ({nl})", zorder=1)
        from matplotlib.ticker import MaxNLocator
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))       # counts: no "2.025" ticks
        ax.set_ylim(0, max(nl, float(np.nanmax(self.layers["n_clusters"].to_numpy(float)))) + 1)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("number of clusters")
        ax.set_title(self.title or "DirectProbe clusters per layer", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, handlelength=3.5)
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
    Intervals (``intervals``, ``ci_level``): the nearest-hull accuracy's from its per-row correctness;
    the DirectProbe statistics' from ``n_subsamples`` subsamples of the same sizes (subsample 0 is
    the point estimate's, the others are drawn with seeds derived from ``seed``); the similarities'
    Mantel null from ``n_permutations`` relabellings.
    """
    from ftgeo.analysis.dynamics import fit_directprobe, safe_spatial_similarity, subsample_seed
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    tr, ev = as_list(train_reps), as_list(eval_reps)
    if ev and len(ev) != len(tr):
        raise ValidationError(f"give one eval set per train set or none; got {len(tr)} train and {len(ev)} eval")
    nm = set_names(tr, spec.names)
    if spec.labels == "control":   # DirectProbe of the control task: each set's eval rows get its train's control labels
        from ftgeo.analyses._controls import control_views
        views = [control_views(t, [ev[i]] if ev else [], seed=spec.control_seed, data_root=spec.data_root)
                 for i, t in enumerate(tr)]
        tr, ev = [v[0] for v in views], ([v[1] for v in views] if ev else ev)
    lay = select_layers(tr[0], spec.layers)
    max_points, max_eval_points, random_state = spec.max_points, spec.max_eval_points, spec.seed
    K = spec.n_subsamples if spec.intervals else 1
    rows, mins, pairs, sims = [], [], [], []
    sub_rows, sub_mins, sub_sims = [], [], []
    fits: dict[tuple[str, int], list] = {}          # (set, layer) -> DirectProbe of each subsample
    te_sims: dict[tuple[str, int], list] = {}       # (set, layer) -> train/eval similarity of each subsample
    frac: dict[str, float] = {}                     # set -> sampling fraction b / N of its subsamples
    eval_whole: set[str] = set()                    # sets whose eval rows are all used (fixed across subsamples)
    acc_methods: set[str] = set()
    bar = _progress(total=len(tr) * len(lay), enabled=progress, desc="directprobe", unit="layer")
    for si, (s, t) in enumerate(zip(nm, tr)):
        e = ev[si] if ev else None
        subs = subs_e = None
        g_eval = None
        for layer in lay:
            X, y, _ = labelled_rows(t, layer, "the train", names=True)
            if subs is None:
                subs = [stratified_subsample(y, max_points, subsample_seed(random_state, k)) for k in range(K)]
                frac[s] = subs[0].size / y.size
            sub = subs[0]
            t0 = time.perf_counter()
            dp = fit_directprobe(X[sub], y[sub])
            row = {"set": s, "layer": layer, "n_clusters": int(dp.n_clusters_), "n_labels": int(dp.n_labels_),
                   "n_points": int(sub.size), "eval_accuracy": np.nan, "eval_accuracy_low": np.nan,
                   "eval_accuracy_high": np.nan, "n_eval": 0, "train_eval_similarity": np.nan, "n_common_labels": 0}
            dpe = None
            if e is not None:
                Xe, ye, rows_e = labelled_rows(e, layer, "the eval", names=True)
                if subs_e is None:
                    subs_e = [stratified_subsample(ye, max_eval_points, subsample_seed(random_state, k))
                              for k in range(K)]
                    if subs_e[0].size < ye.size:   # an eval split used whole is the same in every subsample:
                        frac[s] = max(frac[s], subs_e[0].size / ye.size)   # only the train rows vary
                    else:
                        eval_whole.add(s)
                    g_eval = groups_of(e, rows_e[subs_e[0]])
                sub_e = subs_e[0]
                if spec.predict:
                    correct = dp.predict(Xe[sub_e]) == ye[sub_e]
                    row["eval_accuracy"] = float(np.mean(correct))
                    row["n_eval"] = int(sub_e.size)
                    acc = accuracy_with_interval(correct, g_eval, spec)
                    row["eval_accuracy_low"], row["eval_accuracy_high"] = acc["accuracy_low"], acc["accuracy_high"]
                    acc_methods.add(acc["method"])
                dpe = fit_directprobe(Xe[sub_e], ye[sub_e])
                row["n_common_labels"] = int(np.intersect1d(dpe.classes_, dp.classes_).size)
                row["train_eval_similarity"] = safe_spatial_similarity(dp, dpe, labels="common")
            row["time_s"] = time.perf_counter() - t0
            # the other subsamples: the same statistics, for the intervals
            t1 = time.perf_counter()
            fits[(s, layer)] = [dp]
            te_sims[(s, layer)] = [row["train_eval_similarity"]]
            for k in range(1, K):
                dk = fit_directprobe(X[subs[k]], y[subs[k]])
                fits[(s, layer)].append(dk)
                if e is not None:
                    dke = fit_directprobe(Xe[subs_e[k]], ye[subs_e[k]])
                    te_sims[(s, layer)].append(safe_spatial_similarity(dk, dke, labels="common"))
                else:
                    te_sims[(s, layer)].append(np.nan)
            row["interval_time_s"] = time.perf_counter() - t1
            row.update(_null(dp, dpe, "train_eval_similarity", spec))
            rows.append(row)
            for lab, md in zip(dp.classes_, dp.label_min_distance_):
                mins.append({"set": s, "layer": layer, "label": str(lab), "min_distance": float(md)})
            for (a, b), d in zip(dp.distance_vector_pairs_, dp.distance_vector_):
                pairs.append({"set": s, "layer": layer, "label_a": str(a), "label_b": str(b), "distance": float(d)})
            for k, (dk, tk) in enumerate(zip(fits[(s, layer)], te_sims[(s, layer)])):
                sub_rows.append({"set": s, "layer": layer, "subsample": k, "n_clusters": int(dk.n_clusters_),
                                 "train_eval_similarity": float(tk)})
                for lab, md in zip(dk.classes_, dk.label_min_distance_):
                    sub_mins.append({"set": s, "layer": layer, "subsample": k, "label": str(lab),
                                     "min_distance": float(md)})
            bar.update(1)
    bar.close()
    for i in range(len(nm)):
        for j in range(i + 1, len(nm)):
            for layer in lay:
                fa, fb = fits[(nm[i], layer)], fits[(nm[j], layer)]
                row = {"set_a": nm[i], "set_b": nm[j], "layer": layer,
                       "similarity": safe_spatial_similarity(fa[0], fb[0], labels="common")}
                for k, (a, b) in enumerate(zip(fa, fb)):
                    sub_sims.append({"set_a": nm[i], "set_b": nm[j], "layer": layer, "subsample": k,
                                     "similarity": float(row["similarity"] if k == 0 else
                                                         safe_spatial_similarity(a, b, labels="common"))})
                row.update(_null(fa[0], fb[0], "similarity", spec))
                sims.append(row)
    tables = {"layers": pd.DataFrame(rows), "label_min_distance": pd.DataFrame(mins),
              "label_distances": pd.DataFrame(pairs),
              "set_similarity": pd.DataFrame(sims, columns=["set_a", "set_b", "layer", "similarity"] + (
                  list(sims[0])[4:] if sims else [])),
              "subsamples": pd.DataFrame(sub_rows), "subsample_min_distance": pd.DataFrame(sub_mins),
              "subsample_similarity": pd.DataFrame(sub_sims, columns=["set_a", "set_b", "layer", "subsample",
                                                                      "similarity"])}
    _add_subsample_intervals(tables, fits, frac, spec)
    _order_layers(tables)
    notes = ["spatial similarity is NaN with fewer than 3 labels (a correlation needs >= 2 label pairs)",
             "train/eval and between-set similarities use the labels both sides have "
             "(n_common_labels): rare labels can be missing from an eval subsample"]
    notes += _fraction_notes(frac, K, spec)
    notes += [f"{s}: the eval split is used whole in every subsample; the intervals reflect the train subsamples "
              f"(f = {frac[s]:.2f})" for s in sorted(eval_whole) if K > 1 and frac[s] < 1]
    unit = unit_name(g_eval) if g_eval is not None else "example"
    meta = {"sets": nm, "layers": lay, "max_points": max_points, "max_eval_points": max_eval_points,
            "labels": spec.labels if spec.labels == "task" else f"control (seed {spec.control_seed})",
            "random_state": random_state, "pairs": "label_min",
            "manifests": {n: manifest_summary(r) for n, r in zip(nm, tr)}, "notes": notes,
            "n_subsamples": K, "sampling_fraction": frac,
            "intervals": _interval_notes(spec, K, unit, sorted(m for m in acc_methods if m)) if spec.intervals else {},
            "nulls": _null_notes(spec)}
    return DirectProbeLayersResult(tables=tables, meta=meta)


# ----------------------------------------------------------------------------- uncertainty helpers
_SUBSAMPLING = ("subsampling: T_0 ± t_{K-1} sd / sqrt(1 - f) over K seeded stratified subsamples of the same size "
                "(subsample 0 = the point estimate's; f = subsample size / rows available)")


def _null(a, b, prefix: str, spec) -> dict:
    """The Mantel null of a spatial similarity between fits ``a`` and ``b`` (NaN columns without one)."""
    from ftgeo.analysis.dynamics import safe_spatial_similarity, similarity_null
    if b is None or not spec.n_permutations:
        return null_summary(float("nan"), [], prefix)
    null = similarity_null(a, b, spec.n_permutations, spec.seed, labels="common")
    return null_summary(safe_spatial_similarity(a, b, labels="common"), null, prefix)


#: the range of each subsampled statistic (intervals are clipped to it)
BOUNDS = {"n_clusters": (1, None), "distance": (0, None), "min_distance": (0, None), "similarity": (-1, 1),
          "train_eval_similarity": (-1, 1), "change": (None, None)}


def _interval_of(values, level: float, fraction: float, what: str = "change") -> tuple[float, float]:
    from ftgeo.analysis.dynamics import subsample_interval
    return subsample_interval(values, level, fraction=fraction, bounds=BOUNDS[what])


def _add_subsample_intervals(tables: dict, fits: dict, frac: dict, spec) -> None:
    """``_low``/``_high`` columns of the subsampled statistics, and the paired ``set_change`` table."""
    level = spec.ci_level
    lay = tables["layers"]
    sub = tables["subsamples"]
    by = {key: g.sort_values("subsample") for key, g in sub.groupby(["set", "layer"], sort=False)}
    for col in ("n_clusters", "train_eval_similarity"):
        iv = [_interval_of(by[(s, l)][col].to_numpy(float), level, frac[s], col)
              for s, l in zip(lay["set"], lay["layer"])]
        lay[f"{col}_low"] = [a for a, _ in iv]
        lay[f"{col}_high"] = [b for _, b in iv]
    md = tables["label_min_distance"]
    smd = tables["subsample_min_distance"]
    vals = {key: g.sort_values("subsample")["min_distance"].to_numpy(float)
            for key, g in smd.groupby(["set", "layer", "label"], sort=False)}
    iv = [_interval_of(vals[(s, l, lab)], level, frac[s], "min_distance")
          for s, l, lab in zip(md["set"], md["layer"], md["label"])]
    md["min_distance_low"] = [a for a, _ in iv]
    md["min_distance_high"] = [b for _, b in iv]
    ld = tables["label_distances"]
    low, high = [], []
    for s, l, a, b in zip(ld["set"], ld["layer"], ld["label_a"], ld["label_b"]):
        v = [_pair_distance(f, a, b) for f in fits[(s, l)]]
        lo, hi = _interval_of(v, level, frac[s], "distance")
        low.append(lo)
        high.append(hi)
    ld["distance_low"], ld["distance_high"] = low, high
    ss = tables["set_similarity"]
    sv = {key: g.sort_values("subsample")["similarity"].to_numpy(float)
          for key, g in tables["subsample_similarity"].groupby(["set_a", "set_b", "layer"], sort=False)}
    iv = [_interval_of(sv.get((a, b, l), []), level, max(frac[a], frac[b]), "similarity")
          for a, b, l in zip(ss["set_a"], ss["set_b"], ss["layer"])]
    ss.insert(4, "similarity_low", [x for x, _ in iv])
    ss.insert(5, "similarity_high", [y for _, y in iv])
    changes = []
    sets = list(dict.fromkeys(lay["set"]))
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            for l in sorted(set(lay["layer"])):
                for col in ("n_clusters", "train_eval_similarity"):
                    va, vb = by[(sets[i], l)][col].to_numpy(float), by[(sets[j], l)][col].to_numpy(float)
                    d = vb - va
                    lo, hi = _interval_of(d, level, max(frac[sets[i]], frac[sets[j]]))
                    changes.append({"set_a": sets[i], "set_b": sets[j], "layer": l, "statistic": col,
                                    "value_a": va[0], "value_b": vb[0], "change": d[0], "change_low": lo,
                                    "change_high": hi})
    tables["set_change"] = pd.DataFrame(changes, columns=["set_a", "set_b", "layer", "statistic", "value_a", "value_b",
                                                          "change", "change_low", "change_high"])


def _pair_distance(dp, a: str, b: str) -> float:
    """Label-pair minimum distance (a, b) of a fit (NaN when a label is missing)."""
    c = np.asarray(dp.classes_).astype(str)
    ia, ib = np.flatnonzero(c == a), np.flatnonzero(c == b)
    if ia.size == 0 or ib.size == 0:
        return float("nan")
    return float(dp.label_pair_distance_[ia[0], ib[0]])


def _order_layers(tables: dict) -> None:
    """``v_low``/``v_high`` right after each value column ``v`` of the ``layers`` table."""
    df = tables["layers"]
    cols = [c for c in df.columns if not c.endswith(("_low", "_high"))]
    out = []
    for c in cols:
        out.append(c)
        out += [x for x in (f"{c}_low", f"{c}_high") if x in df.columns]
    tables["layers"] = df[out]


def _fraction_notes(frac: dict, K: int, spec) -> list[str]:
    if K < 2:
        return []
    out = []
    for s, f in frac.items():
        if f >= 1:
            out.append(f"{s}: every row is used (max_points >= rows): the subsampling intervals are NaN; "
                       "lower max_points (or max_eval_points) to get them")
        elif f > 0.5:
            out.append(f"{s}: subsamples hold {f:.0%} of the rows: they share most extreme points, so the "
                       "subsampling intervals of hull distances may be too narrow (simulated coverage of a nominal "
                       "90%: 80-86% at 69% of the rows; docs/directprobe.md, Uncertainty)")
    return out


def _interval_notes(spec, K: int, unit: str, acc_methods: list[str]) -> dict:
    sub = {"unit": "row (stratified by label)", "subsamples": K}
    return {"eval_accuracy": interval_note(" / ".join(acc_methods) or "wilson", spec, unit=unit,
                                           resamples=spec.n_resamples),
            **{c: interval_note(_SUBSAMPLING, spec, **sub)
               for c in ("n_clusters", "min_distance", "distance", "train_eval_similarity", "similarity",
                         "change")}}


def _null_notes(spec) -> dict:
    m = ("Mantel: the labels of one side relabelled at random (rows and columns of its label-pair distance "
         "matrix together); all relabellings when L! - 1 <= n_permutations (exact)")
    return {c: null_note(m, spec.n_permutations, alternative="greater")
            for c in ("train_eval_similarity", "similarity")}
