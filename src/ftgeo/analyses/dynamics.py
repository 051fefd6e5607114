"""``dynamics``: DirectProbe and label-centroid measures over fine-tuning checkpoints (A Closer Look family).

Zhou & Srikumar (2022), Sec. 5: on representation sets of the same examples in checkpoint order
(the pretrained model first), per layer and checkpoint, each label's minimum distance to the other
labels (fine-tuning pushes labels apart), the DirectProbe cluster count, the spatial similarity to
the pretrained space, the label-centroid paths in one shared 2-D PCA, and the centroid movement
pretrained -> last checkpoint with its explained-variance spectrum. The numbers come from
:func:`ftgeo.analysis.dynamics.layer_dynamics`.

On the command line the sets are given in order (``--reps DIR ...``) or found from the manifests of
a run folder (``--from-run DIR --model NAME``, :func:`ftgeo.extract.discover_checkpoint_reps`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import check_aligned, labelled_rows, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, NullSpec, band, has_interval, interval_note, null_note, null_summary
from ftgeo.analyses.directprobe import _SUBSAMPLING, SubsampleSpec, _fraction_notes
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import LEGEND_MAX, axes_grid, label_colors, name_line_end, pick_layers
from ftgeo.results.base import Result

__all__ = ["DynamicsSpec", "DynamicsResult", "MinDistanceTrajectoryDisplay", "CentroidPathDisplay",
           "SimilarityOverTrainingDisplay", "run_dynamics"]


@dataclass(frozen=True)
class DynamicsSpec(IntervalSpec, NullSpec, SubsampleSpec):
    """Parameters of :func:`run_dynamics`."""

    steps: list[int | None] | None = param(None, "training step of each set, comma-separated "
                                                 "(default: from the manifests, 0 for the pretrained set)")
    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    plot_layers: Layers = param(None, "layers drawn in the per-layer figures (default: the last analysed layer)")
    max_points: int | None = param(1000, "seeded stratified subsample, the same rows at every checkpoint",
                                   none=("all", "none", "0"))
    seed: int = param(0, "seed of the subsample (the other subsamples' seeds derive from it) and of the "
                         "permutations", aliases=("random_state",))
    center_movement: bool = param(False, "PCA of centred centroid movements (default: uncentred)")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")

    def validate(self) -> None:
        super().validate()
        if self.max_points is not None and self.max_points < 1:
            raise ValidationError(f"max_points must be positive (or all); got {self.max_points}")


# ----------------------------------------------------------------------------- result and figures
class DynamicsResult(Result):
    """DirectProbe measures and label centroids over fine-tuning checkpoints, per layer.

    Tables: ``checkpoints`` (checkpoint, name, step), ``min_distance`` (checkpoint, step, layer,
    label, min_distance), ``clusters`` (checkpoint, step, layer, n_clusters, n_labels),
    ``similarity`` (checkpoint, step, layer, similarity: to the pretrained space),
    ``centroid_paths`` (layer, checkpoint, step, label, pc1, pc2), ``path_pca`` (layer, component,
    explained), ``movement`` (layer, label, norm), ``movement_pca`` (layer, component, explained,
    cumulative). Meta ``plot_layers``: the layers of the per-layer figures (None: the last one).

    Uncertainty (``docs/directprobe.md``, "Uncertainty"): ``min_distance``, ``n_clusters`` and
    ``similarity`` get ``_low/_high`` from ``n_subsamples`` seeded subsamples of the same rows at every
    checkpoint (Eq. S1 of :func:`ftgeo.analysis.dynamics.subsample_interval`); ``similarity`` gets a
    label-permutation (Mantel) null (``similarity_p``, ``similarity_null_q05/q50/q95``). Table
    ``layer_summary`` (layer, n_labels, mean_min_distance_change, _low, _high, n_labels_grew,
    similarity_last, _low, _high, similarity_last_p): the mean over labels of the last-minus-first
    minimum distance ("each label's minimum distance grows") and the similarity to the pretrained
    space at the last checkpoint ("lower layers move less"), each over the same subsamples.
    Per-subsample values: ``subsamples`` (checkpoint, step, layer, subsample, n_clusters, similarity),
    ``subsample_min_distance`` (checkpoint, step, layer, subsample, label, min_distance).
    """

    kind = "dynamics"

    def summary(self) -> pd.DataFrame:
        s = self.table("similarity")
        last = s[s["checkpoint"] == s["checkpoint"].max()][["layer", "similarity"]]
        mp = self.table("movement_pca")
        top = mp[mp["component"] == 1][["layer", "explained"]].rename(columns={"explained": "movement_pc1"})
        md = self.table("min_distance")
        first, lastc = md["checkpoint"].min(), md["checkpoint"].max()
        g = md.groupby(["layer", "checkpoint"])["min_distance"].mean().unstack()
        gm = pd.DataFrame({"layer": g.index, "mean_min_distance_first": g[first].to_numpy(),
                           "mean_min_distance_last": g[lastc].to_numpy()})
        out = gm.merge(last.rename(columns={"similarity": "similarity_last"}), on="layer").merge(top, on="layer")
        if "layer_summary" in self.tables:
            ls = self.table("layer_summary")
            extra = [c for c in ("mean_min_distance_change", "mean_min_distance_change_low",
                                 "mean_min_distance_change_high", "similarity_last_low", "similarity_last_high")
                     if c in ls.columns]
            out = out.merge(ls[["layer"] + extra], on="layer", how="left")
        return out

    def findings(self):
        """Per layer: the labels' mean minimum distance at the first and the last checkpoint, and the
        last checkpoint's spatial similarity to the pretrained space where it is defined."""
        from ftgeo.results.findings import level_of, num, row_ci
        lev = level_of(self)
        out = []
        md = self.table("min_distance")
        if md.empty:
            return out
        ck = self.table("checkpoints") if "checkpoints" in self.tables else None
        first, last = md["checkpoint"].min(), md["checkpoint"].max()
        steps = ""
        if ck is not None and "step" in ck:
            st = dict(zip(ck["checkpoint"], ck["step"]))
            steps = f" (step {num(st.get(first))} to step {num(st.get(last))})"
        summ = self.summary()
        for _, r in summ.iterrows():
            change = (f", a change of {row_ci(r, 'mean_min_distance_change', lev)}"
                      if "mean_min_distance_change" in r and np.isfinite(float(r["mean_min_distance_change"])) else "")
            sim = (f"; spatial similarity to pretrained at the last checkpoint: {row_ci(r, 'similarity_last', lev)}"
                   if np.isfinite(float(r.get("similarity_last", np.nan))) else "")
            out.append((f"Layer {int(r['layer'])}: the labels' mean minimum distance to the other labels goes from "
                        f"{num(r['mean_min_distance_first'])} to {num(r['mean_min_distance_last'])} over training"
                        f"{steps}{change}{sim}.", "min_distance"))
        return out

    def displays(self):
        layers = self.meta.get("plot_layers")
        return [("min_distance", MinDistanceTrajectoryDisplay.from_result(self, layers=layers)),
                ("centroid_paths", CentroidPathDisplay.from_result(self, layers=layers)),
                ("similarity", SimilarityOverTrainingDisplay.from_result(self))]


def _x_of(df: pd.DataFrame):
    """Training step if every checkpoint has one, else the checkpoint index."""
    if "step" in df.columns and df["step"].notna().all():
        return "step", "training step"
    return "checkpoint", "checkpoint (0 = pretrained)"


class MinDistanceTrajectoryDisplay(Display):
    """Each label's minimum distance to the other labels over checkpoints, one panel per layer
    (Zhou & Srikumar 2022, Fig. 3: fine-tuning pushes labels apart); bands from the subsampling
    interval where the result has one."""

    def __init__(self, min_distance: pd.DataFrame, layers: list[int]):
        self.md = min_distance.copy()
        self.layers = layers

    @classmethod
    def from_result(cls, result, layers=None) -> "MinDistanceTrajectoryDisplay":
        md = result.table("min_distance")
        return cls(md, pick_layers(md["layer"].unique(), layers))

    def plot(self, ax=None) -> "MinDistanceTrajectoryDisplay":
        fig, axes = axes_grid(self, ax, len(self.layers))
        xcol, xlabel = _x_of(self.md)
        n_labels = self.md["label"].nunique()
        colors = label_colors(n_labels)
        for a, layer in zip(axes, self.layers):
            g = self.md[self.md["layer"] == layer]
            for i, (lab, gl) in enumerate(g.groupby("label", sort=True)):
                gl = gl.sort_values("checkpoint")
                a.plot(gl[xcol], gl["min_distance"], "-o", ms=2.5, color=colors[i], label=str(lab))
                band(a, gl[xcol].to_numpy(float), gl, "min_distance", color=colors[i], alpha=0.12)
                if n_labels > LEGEND_MAX:
                    name_line_end(a, gl[xcol].iloc[-1], gl["min_distance"].iloc[-1], str(lab), colors[i])
            a.set_title(f"layer {layer}", fontsize=9)
            a.set_xlabel(xlabel, fontsize=8)
            a.set_ylabel("min distance to other labels", fontsize=8)
            a.grid(alpha=0.3)
        if n_labels <= LEGEND_MAX:
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
        return cls(p, result.table("path_pca"), pick_layers(p["layer"].unique(), layers))

    def plot(self, ax=None) -> "CentroidPathDisplay":
        fig, axes = axes_grid(self, ax, len(self.layers), size=(3.8, 3.6))
        n_labels = self.paths["label"].nunique()
        colors = label_colors(n_labels)
        for a, layer in zip(axes, self.layers):
            g = self.paths[self.paths["layer"] == layer]
            for i, (lab, gl) in enumerate(g.groupby("label", sort=True)):
                gl = gl.sort_values("checkpoint")
                c = colors[i]
                a.plot(gl["pc1"], gl["pc2"], "-", color=c, lw=1.2, label=str(lab))
                a.plot(gl["pc1"].iloc[:1], gl["pc2"].iloc[:1], "o", color=c, ms=4)
                a.plot(gl["pc1"].iloc[-1:], gl["pc2"].iloc[-1:], "^", color=c, ms=5)
                if n_labels > LEGEND_MAX:
                    name_line_end(a, gl["pc1"].iloc[-1], gl["pc2"].iloc[-1], str(lab), c)
            ex = self.explained[self.explained["layer"] == layer].sort_values("component")["explained"].to_numpy()
            a.set_xlabel(f"PC1 ({100 * ex[0]:.0f}%)" if ex.size else "PC1", fontsize=8)
            a.set_ylabel(f"PC2 ({100 * ex[1]:.0f}%)" if ex.size > 1 else "PC2", fontsize=8)
            a.set_title(f"label centroids, layer {layer}", fontsize=9)
            a.grid(alpha=0.3)
        if n_labels <= LEGEND_MAX:
            axes[0].legend(fontsize=6, ncol=2)
        self.figure_, self.ax_ = fig, axes[0]
        return self


class SimilarityOverTrainingDisplay(Display):
    """Spatial similarity to the pretrained space (DirectProbe distance vectors' Pearson r) per layer
    over training: one line per layer, coloured from light (low layers) to dark (high layers); bands
    from the subsampling interval and a dotted line at the Mantel null's 95% quantile, where present."""

    def __init__(self, similarity: pd.DataFrame, n_labels: int | None = None):
        self.sim = similarity.copy()
        self.n_labels = n_labels

    @classmethod
    def from_result(cls, result) -> "SimilarityOverTrainingDisplay":
        n = None
        if "min_distance" in result.tables and "label" in result.table("min_distance"):
            n = int(result.table("min_distance")["label"].nunique())
        return cls(result.table("similarity"), n)

    def empty_reason(self) -> str | None:
        if self.sim.empty or not np.isfinite(self.sim["similarity"].to_numpy(float)).any():
            labels = f" (this task has {self.n_labels})" if self.n_labels is not None else ""
            return (f"spatial similarity is undefined with fewer than 3 labels{labels}: it correlates the "
                    "distances between label pairs, and a correlation needs at least 2 pairs")
        return None

    def plot(self, ax=None) -> "SimilarityOverTrainingDisplay":
        import matplotlib
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        xcol, xlabel = _x_of(self.sim)
        layers = sorted(self.sim["layer"].unique())
        cmap = matplotlib.colormaps["viridis"]
        null_label = "relabelled (Mantel) null, 95% quantile"
        for i, layer in enumerate(layers):
            g = self.sim[self.sim["layer"] == layer].sort_values("checkpoint")
            c = cmap(i / max(1, len(layers) - 1))
            ax.plot(g[xcol], g["similarity"], "-o", ms=2.5, color=c, label=f"layer {layer}")
            band(ax, g[xcol].to_numpy(float), g, "similarity", color=c, alpha=0.12)
            if "similarity_null_q95" in g.columns and np.isfinite(g["similarity_null_q95"].to_numpy(float)).any():
                ax.plot(g[xcol], g["similarity_null_q95"], ":", lw=0.8, color=c, label=null_label)
                null_label = None
        ax.set_xlabel(xlabel)
        ax.set_ylabel("spatial similarity to pretrained")
        ax.set_title("spatial similarity over training", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        self.figure_, self.ax_ = fig, ax
        return self


# ----------------------------------------------------------------------------- finding the checkpoints
def _step_of(text) -> int | None:
    m = re.search(r"(\d+)(?!.*\d)", str(text or ""))
    return int(m.group(1)) if m else None


class DynamicsInputs:
    """The command line's inputs of ``dynamics``: ``--reps DIR ...`` in checkpoint order, or
    ``--from-run DIR --model NAME`` (``--model-folder``, ``--pretrained``, ``--task/--split/--pooling``)
    found by :func:`ftgeo.extract.discover_checkpoint_reps`."""

    def add_arguments(self, p) -> None:
        g = p.add_argument_group("inputs")
        g.add_argument("--reps", nargs="+", default=None, metavar="DIR",
                       help="representation folders in checkpoint order, the pretrained model first")
        g.add_argument("--from-run", default=None, metavar="DIR",
                       help="instead of --reps: find the stores of --model's checkpoints under DIR/reps")
        g.add_argument("--model", default=None, help="with --from-run: the fine-tuned model's name in the manifests")
        g.add_argument("--model-folder", default=None, metavar="DIR",
                       help="with --from-run: the folder `ftgeo finetune` wrote; checkpoints and steps come from it "
                            "(stores are matched by their manifest's model_id)")
        g.add_argument("--pretrained", default=None,
                       help="with --from-run: the pretrained model's name (default: --model's store without "
                            "checkpoint)")
        g.add_argument("--task", default=None, help="with --from-run: only stores of this task")
        g.add_argument("--split", default=None, help="with --from-run: only stores of this split")
        g.add_argument("--pooling", default=None, help="with --from-run: only stores with this pooling")

    def resolve(self, args) -> tuple[dict[str, list], dict, str]:
        from ftgeo.extract import open_reps
        if bool(args.reps) == bool(args.from_run):
            raise ValidationError("give either --reps DIR ... (checkpoint order, pretrained first) or "
                                  "--from-run DIR --model NAME")
        extra: dict = {}
        if args.from_run:
            if not (args.model or args.model_folder):
                raise ValidationError("--from-run needs --model NAME (the fine-tuned model's name in the manifests) "
                                      "or --model-folder DIR")
            from ftgeo.extract import discover_checkpoint_reps
            found = discover_checkpoint_reps(args.from_run, args.model, pretrained=args.pretrained, task=args.task,
                                             split=args.split, pooling=args.pooling, model_folder=args.model_folder,
                                             with_steps=True)
            paths = [str(p) for p, _ in found]
            if getattr(args, "steps", None) is None and args.model_folder:
                extra["steps"] = [s for _, s in found]       # the fine-tuning run's own steps
            if args.run is None:
                args.run = args.from_run
        else:
            paths = list(args.reps)
        return {"reps": [open_reps(p) for p in paths]}, extra, paths[0]


# ----------------------------------------------------------------------------- the analysis
@register_analysis(
    "dynamics", family="closer-look", order=30, spec=DynamicsSpec, result=DynamicsResult,
    inputs=[Input("reps", n=(2, None), param="reps_list",
                  help="representation sets of the same examples in checkpoint order, the pretrained model first")],
    cli=DynamicsInputs(),
    help="DirectProbe measures over fine-tuning checkpoints and layers")
def run_dynamics(reps_list: Sequence, *, spec: DynamicsSpec, progress: bool = True) -> DynamicsResult:
    """DirectProbe and centroid measures over a fine-tuning run (Zhou & Srikumar 2022, Sec. 5).

    ``reps_list``: representation sets of the same examples in checkpoint order, the first from
    the pretrained model. ``steps``: training step of each (default: the last number of each
    manifest's ``checkpoint``, 0 for the pretrained set). The same seeded stratified subsample
    of ``max_points`` rows is used at every checkpoint and layer. ``plot_layers``: the layers of
    the per-layer figures (default: the last analysed layer).
    """
    from ftgeo.analysis.dynamics import directprobe_over, layer_dynamics, similarity_null, subsample_seed
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    reps_list = list(reps_list)
    if len(reps_list) < 2:
        raise ValidationError(f"dynamics needs the pretrained set and at least one checkpoint; got {len(reps_list)} set(s)")
    for i, r in enumerate(reps_list[1:], 1):
        check_aligned(reps_list[0], r, f"sets 0 and {i}", "dynamics follows the same examples over training")
    nm = set_names(reps_list, spec.names)
    steps = spec.steps
    if steps is None:
        steps = [0] + [_step_of((r.manifest or {}).get("checkpoint")) for r in reps_list[1:]]
    steps = list(steps)
    if len(steps) != len(reps_list):
        raise ValidationError(f"steps has {len(steps)} entries for {len(reps_list)} sets")
    lay = select_layers(reps_list[0], spec.layers)
    plot_layers = _plot_layers(reps_list[0], spec.plot_layers)
    max_points, random_state = spec.max_points, spec.seed
    ckpt = pd.DataFrame({"checkpoint": np.arange(len(reps_list)), "name": nm,
                         "step": pd.array(steps, dtype="Int64")})
    md, cl, sim, paths, ppca, mov, mpca = [], [], [], [], [], [], []
    sub_rows, sub_md, summ = [], [], []
    K = spec.n_subsamples if spec.intervals else 1
    subs = None
    frac = float("nan")
    for layer in _progress(lay, enabled=progress, desc="dynamics", unit="layer"):
        Xfull = []
        for r in reps_list:
            X, y_all, _ = labelled_rows(r, layer, "the", names=True)
            if subs is None:
                subs = [stratified_subsample(y_all, max_points, subsample_seed(random_state, k)) for k in range(K)]
                frac = subs[0].size / y_all.size
            Xfull.append(X)
        sub = subs[0]
        Xs = [X[sub] for X in Xfull]
        y = y_all[sub]
        d = layer_dynamics(Xs, y, center_movement=spec.center_movement)
        per = [d] + [directprobe_over([X[sk] for X in Xfull], y_all[sk]) for sk in subs[1:]]
        L = d["classes"].size
        for t in range(len(Xs)):
            base = {"checkpoint": t, "step": steps[t], "layer": layer}
            for j, (lab, v) in enumerate(zip(d["classes"], d["min_distance"][t])):
                lo, hi = _interval([p["min_distance"][t, j] for p in per], spec, frac, (0, None))
                md.append({**base, "label": str(lab), "min_distance": float(v), "min_distance_low": lo,
                           "min_distance_high": hi})
            lo, hi = _interval([p["n_clusters"][t] for p in per], spec, frac, (1, None))
            cl.append({**base, "n_clusters": int(d["n_clusters"][t]), "n_clusters_low": lo, "n_clusters_high": hi,
                       "n_labels": int(L)})
            lo, hi = _interval([p["similarity"][t] for p in per], spec, frac, (-1, 1))
            srow = {**base, "similarity": float(d["similarity"][t]), "similarity_low": lo, "similarity_high": hi}
            null = similarity_null(d["fits"][t], d["fits"][0], spec.n_permutations, spec.seed) \
                if t > 0 and spec.n_permutations else []
            srow.update(null_summary(float(d["similarity"][t]), null, "similarity"))
            sim.append(srow)
            for k, p in enumerate(per):
                sub_rows.append({**base, "subsample": k, "n_clusters": int(p["n_clusters"][t]),
                                 "similarity": float(p["similarity"][t])})
                for lab, v in zip(p["classes"], p["min_distance"][t]):
                    sub_md.append({**base, "subsample": k, "label": str(lab), "min_distance": float(v)})
            for lab, (p1, p2) in zip(d["classes"], d["paths"][t]):
                paths.append({"layer": layer, "checkpoint": t, "step": steps[t], "label": str(lab),
                              "pc1": float(p1), "pc2": float(p2)})
        summ.append(_layer_summary(layer, per, spec, frac, sim[-1]))
        for k, v in enumerate(d["path_explained"], 1):
            ppca.append({"layer": layer, "component": k, "explained": float(v)})
        for lab, v in zip(d["classes"], np.linalg.norm(d["movement"], axis=1)):
            mov.append({"layer": layer, "label": str(lab), "norm": float(v)})
        cum = np.cumsum(d["movement_explained"])
        for k, (v, c) in enumerate(zip(d["movement_explained"], cum), 1):
            mpca.append({"layer": layer, "component": k, "explained": float(v), "cumulative": float(c)})
    tables = {"checkpoints": ckpt, "min_distance": pd.DataFrame(md), "clusters": pd.DataFrame(cl),
              "similarity": pd.DataFrame(sim), "centroid_paths": pd.DataFrame(paths),
              "path_pca": pd.DataFrame(ppca), "movement": pd.DataFrame(mov), "movement_pca": pd.DataFrame(mpca),
              "layer_summary": pd.DataFrame(summ), "subsamples": pd.DataFrame(sub_rows),
              "subsample_min_distance": pd.DataFrame(sub_md)}
    for k in ("min_distance", "clusters", "similarity", "centroid_paths", "subsamples", "subsample_min_distance"):
        tables[k]["step"] = pd.array(tables[k]["step"], dtype="Int64")
    notes = _fraction_notes({"the sets": frac}, K, spec)
    return DynamicsResult(tables=tables, meta={
        "sets": nm, "steps": [None if s is None else int(s) for s in steps], "layers": lay,
        "max_points": max_points, "n_points": int(sub.size), "random_state": random_state,
        "center_movement": spec.center_movement, "manifests": {n: manifest_summary(r) for n, r in zip(nm, reps_list)},
        "plot_layers": plot_layers,
        "n_subsamples": K, "sampling_fraction": frac,
        "intervals": {c: interval_note(_SUBSAMPLING, spec, unit="row (stratified by label)", subsamples=K)
                      for c in ("min_distance", "n_clusters", "similarity", "mean_min_distance_change",
                                "similarity_last")} if spec.intervals else {},
        "nulls": {c: null_note("Mantel: labels of checkpoint t relabelled at random against checkpoint 0",
                               spec.n_permutations, alternative="greater") for c in ("similarity", "similarity_last")},
        "notes": ["similarity: Pearson r of DirectProbe distance vectors vs checkpoint 0 (NaN with < 3 labels)",
                  "movement: last checkpoint minus pretrained label centroids; movement_pca uses the "
                  + ("centred" if spec.center_movement else "uncentred") + " movement matrix"] + notes})


def _interval(values, spec, fraction: float, bounds) -> tuple[float, float]:
    from ftgeo.analysis.dynamics import subsample_interval
    return subsample_interval(values, spec.ci_level, fraction=fraction, bounds=bounds)


def _layer_summary(layer: int, per: list[dict], spec, frac: float, last_sim: dict) -> dict:
    """The two statistics the claims read, per layer, over the same subsamples: the mean over labels of
    the last-minus-first minimum distance, and the similarity to the pretrained space at the last checkpoint."""
    change = [float(np.nanmean(p["min_distance"][-1] - p["min_distance"][0])) for p in per]
    d0 = per[0]["min_distance"]
    lo, hi = _interval(change, spec, frac, (None, None))
    slo, shi = _interval([p["similarity"][-1] for p in per], spec, frac, (-1, 1))
    return {"layer": layer, "n_labels": int(per[0]["classes"].size), "mean_min_distance_change": change[0],
            "mean_min_distance_change_low": lo, "mean_min_distance_change_high": hi,
            "n_labels_grew": int(np.sum(d0[-1] > d0[0])), "similarity_last": float(per[0]["similarity"][-1]),
            "similarity_last_low": slo, "similarity_last_high": shi,
            "similarity_last_p": last_sim.get("similarity_p", float("nan"))}


def _plot_layers(reps, plot_layers):
    """``None`` (the last analysed layer) and ``"all"`` (every analysed layer) as they are; anything else
    as stored-layer indices of ``reps`` (``last`` = its last layer, negatives from its end)."""
    if plot_layers is None or (isinstance(plot_layers, str) and plot_layers.strip() == "all"):
        return plot_layers if plot_layers is None else "all"
    return select_layers(reps, plot_layers)
