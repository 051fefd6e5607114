"""``cross-task``: task B's space before and after fine-tuning on task A (A Closer Look family).

Zhou & Srikumar (2022), Sec. 6: task B represented by the pretrained model and by a model fine-tuned
on task A (e.g. PS-fxn after PS-role, vs after POS). Per layer: each B label's DirectProbe minimum
distance before and after, how many labels moved apart / closer, the mean change, and with task B's
eval split from both models, probe accuracy before / after (the ``probe`` analysis, sharing its
parameters through :class:`~ftgeo.analyses.probe.ProbeOptions`). The numbers come from
:func:`ftgeo.analysis.crosstask.cross_task_change`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import labelled_rows, manifest_summary, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import has_interval, interval_note
from ftgeo.analyses.directprobe import _SUBSAMPLING, SubsampleSpec, _fraction_notes
from ftgeo.analyses.probe import ProbeAccuracyDisplay, ProbeKind, ProbeOptions
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import axes_grid, pick_layers
from ftgeo.results.base import Result

__all__ = ["CrossTaskSpec", "CrossTaskResult", "CrossTaskChangeDisplay", "CrossTaskLayersDisplay", "run_cross_task"]


@dataclass(frozen=True)
class CrossTaskSpec(SubsampleSpec, ProbeOptions):
    """Parameters of :func:`run_cross_task`: its own, and the probe parameters of ``probe`` (used with
    the eval sets)."""

    kinds: tuple[ProbeKind, ...] = param(("linear",), "probe kinds for the accuracy comparison: linear, mlp "
                                                      "or linear,mlp", aliases=("probe_kinds",))
    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    max_points: int | None = param(1000, "seeded stratified subsample for DirectProbe", none=("all", "none", "0"))
    tol: float = param(1e-9, "a label's minimum distance is unchanged when |change| <= tol x max(1, |before|)")

    def validate(self) -> None:
        super().validate()
        if self.max_points is not None and self.max_points < 1:
            raise ValidationError(f"max_points must be positive (or all); got {self.max_points}")


class CrossTaskResult(Result):
    """Task B before / after fine-tuning on task A, per layer.

    Tables: ``label_change`` (layer, label, before, after, change, direction), ``layer_summary``
    (layer, n_labels, n_grew, n_shrank, n_same, mean_change, n_clusters_before, n_clusters_after),
    and optionally ``probe`` (the ``probe`` result's ``best`` table of both models, set in
    {pretrained, finetuned}, with its intervals and label-permutation baseline; the baseline's draws in
    ``probe_label_null``).

    Uncertainty (``docs/directprobe.md``, "Uncertainty"): ``before``, ``after``, ``change`` and
    ``mean_change`` get ``_low/_high`` from ``n_subsamples`` seeded subsamples of the same size (Eq. S1
    of :func:`ftgeo.analysis.dynamics.subsample_interval`; the change is paired: before and after on
    subsample k each). Per-subsample values: ``subsample_change`` (layer, subsample, label, before,
    after, change).
    """

    kind = "cross_task"

    def summary(self) -> pd.DataFrame:
        s = self.table("layer_summary")
        if "probe" in self.tables:
            p = self.tables["probe"]
            wide = p.pivot_table(index="layer", columns=["set", "kind"], values="mean")
            wide.columns = [f"acc_{a}_{b}" for a, b in wide.columns]
            s = s.merge(wide.reset_index(), on="layer", how="left")
        return s

    def displays(self):
        out = [("change", CrossTaskChangeDisplay.from_result(self))]
        if len(self.table("layer_summary")) > 1:
            out.append(("layers", CrossTaskLayersDisplay.from_result(self)))
        if "probe" in self.tables:
            out.append(("probe", ProbeAccuracyDisplay(self.tables["probe"], "task B probe accuracy")))
        return out


class CrossTaskChangeDisplay(Display):
    """Change of each task-B label's minimum distance after fine-tuning on task A (Eq. X1), one panel per layer;
    error bars from the subsampling interval where the result has one."""

    def __init__(self, change: pd.DataFrame, layers: list[int]):
        self.change = change.copy()
        self.layers = layers

    @classmethod
    def from_result(cls, result, layers=None) -> "CrossTaskChangeDisplay":
        c = result.table("label_change")
        return cls(c, pick_layers(c["layer"].unique(), layers))

    def plot(self, ax=None) -> "CrossTaskChangeDisplay":
        fig, axes = axes_grid(self, ax, len(self.layers), size=(4.5, 3.4))
        for a, layer in zip(axes, self.layers):
            g = self.change[self.change["layer"] == layer].sort_values("change")
            colors = ["C2" if v > 0 else "C3" if v < 0 else "0.6" for v in g["change"]]
            xerr = None
            if has_interval(g, "change"):
                v = g["change"].to_numpy(float)
                xerr = [np.clip(v - g["change_low"].to_numpy(float), 0, None),
                        np.clip(g["change_high"].to_numpy(float) - v, 0, None)]
            a.barh([str(l) for l in g["label"]], g["change"], color=colors, xerr=xerr,
                   error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "0.3"})
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
        if has_interval(s, "mean_change"):
            v = s["mean_change"].to_numpy(float)
            twin.errorbar(x, v, yerr=[np.clip(v - s["mean_change_low"].to_numpy(float), 0, None),
                                      np.clip(s["mean_change_high"].to_numpy(float) - v, 0, None)],
                          fmt="none", ecolor="k", elinewidth=0.8, capsize=2)
        twin.axhline(0, color="0.5", lw=0.8, ls=":")
        twin.set_ylabel("mean min-distance change")
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=7, ncols=3, frameon=False,
                  loc="upper center", bbox_to_anchor=(0.5, -0.16))
        ax.set_title("task B after fine-tuning on task A", fontsize=9)
        self.figure_, self.ax_ = fig, ax
        return self


@register_analysis(
    "cross-task", family="closer-look", order=50, spec=CrossTaskSpec, result=CrossTaskResult,
    inputs=[Input("pretrained_reps", help="task B (train split) from the pretrained model"),
            Input("finetuned_reps", help="task B (train split) from the model fine-tuned on task A", run_from=True),
            Input("pretrained_eval", required=False, help="task B eval split from the pretrained model "
                                                          "(for probe accuracy)"),
            Input("finetuned_eval", required=False, help="task B eval split from the fine-tuned model "
                                                         "(for probe accuracy)")],
    help="fine-tune on task A, probe task B")
def run_cross_task(pretrained_reps, finetuned_reps, *, pretrained_eval=None, finetuned_eval=None,
                   spec: CrossTaskSpec, progress: bool = True) -> CrossTaskResult:
    """Task B's space before and after fine-tuning on task A (Zhou & Srikumar 2022, Sec. 6).

    ``pretrained_reps`` / ``finetuned_reps``: task B (training split) from the pretrained model and
    from the model fine-tuned on A. Per layer: each B label's DirectProbe minimum distance before
    and after, counts of labels whose distance grew / shrank and the mean change. With
    ``pretrained_eval`` and ``finetuned_eval`` (task B's eval split from each model) also probe
    accuracy before / after (``kinds``, grid search + seeds as in ``probe``, with the same
    probe parameters).
    """
    from ftgeo.analyses.probe import run_probe
    from ftgeo.analysis.crosstask import cross_task_change
    from ftgeo.analysis.dynamics import subsample_interval, subsample_seed
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    if (pretrained_eval is None) != (finetuned_eval is None):
        raise ValidationError("give both pretrained_eval and finetuned_eval (task B's eval split from each model) "
                              "for probe accuracy, or neither")
    lay = select_layers(pretrained_reps, spec.layers)
    if finetuned_reps.n_layers != pretrained_reps.n_layers:
        raise ValidationError(f"the pretrained set has {pretrained_reps.n_layers} layers and the fine-tuned set "
                              f"{finetuned_reps.n_layers}; use the same architecture")
    max_points, random_state = spec.max_points, spec.seed
    K = spec.n_subsamples if spec.intervals else 1
    changes, summ, per_sub = [], [], []
    subs_p = subs_f = None
    frac = float("nan")
    for layer in _progress(lay, enabled=progress, desc="cross-task", unit="layer"):
        Xp, yp, _ = labelled_rows(pretrained_reps, layer, "the pretrained", names=True)
        Xf, yf, _ = labelled_rows(finetuned_reps, layer, "the fine-tuned", names=True)
        if subs_p is None:
            subs_p = [stratified_subsample(yp, max_points, subsample_seed(random_state, k)) for k in range(K)]
            subs_f = [stratified_subsample(yf, max_points, subsample_seed(random_state, k)) for k in range(K)]
            frac = max(subs_p[0].size / yp.size, subs_f[0].size / yf.size)
        parts = [cross_task_change(Xp[sp], yp[sp], Xf[sf], yf[sf], tol=spec.tol) for sp, sf in zip(subs_p, subs_f)]
        df, s = parts[0]
        for k, (dk, _) in enumerate(parts):
            per_sub.append(pd.DataFrame({"layer": layer, "subsample": k, "label": dk["label"], "before": dk["before"],
                                         "after": dk["after"], "change": dk["change"]}))
        for col, bounds in (("before", (0, None)), ("after", (0, None)), ("change", (None, None))):
            vals = [dict(zip(dk["label"], dk[col])) for dk, _ in parts]
            iv = [subsample_interval([v.get(lab, np.nan) for v in vals], spec.ci_level, fraction=frac, bounds=bounds)
                  for lab in df["label"]]
            df.insert(df.columns.get_loc(col) + 1, f"{col}_low", [a for a, _ in iv])
            df.insert(df.columns.get_loc(col) + 2, f"{col}_high", [b for _, b in iv])
        df.insert(0, "layer", layer)
        changes.append(df)
        lo, hi = subsample_interval([sk["mean_change"] for _, sk in parts], spec.ci_level, fraction=frac)
        row = {"layer": layer, **s}
        items = list(row.items())
        at = [k for k, _ in items].index("mean_change") + 1
        summ.append(dict(items[:at] + [("mean_change_low", lo), ("mean_change_high", hi)] + items[at:]))
    tables = {"label_change": pd.concat(changes, ignore_index=True), "layer_summary": pd.DataFrame(summ),
              "subsample_change": pd.concat(per_sub, ignore_index=True)}
    if pretrained_eval is not None:
        pr = run_probe([pretrained_reps, finetuned_reps], [pretrained_eval, finetuned_eval], layers=lay,
                       names=["pretrained", "finetuned"], progress=progress, **spec.probe_settings())
        tables["probe"] = pr.table("best")
        tables["probe_label_null"] = pr.table("label_null")
    probe_meta = {"probe_intervals": pr.meta.get("intervals", {}), "probe_nulls": pr.meta.get("nulls", {})} \
        if pretrained_eval is not None else {}
    return CrossTaskResult(tables=tables, meta={**probe_meta,
        "layers": lay, "max_points": max_points, "random_state": random_state, "tol": spec.tol,
        "probe_kinds": list(spec.kinds) if pretrained_eval is not None else [],
        "n_subsamples": K, "sampling_fraction": frac, "notes": _fraction_notes({"the sets": frac}, K, spec),
        "intervals": {c: interval_note(_SUBSAMPLING + "; change paired by subsample", spec,
                                       unit="row (stratified by label)", subsamples=K)
                      for c in ("before", "after", "change", "mean_change")} if spec.intervals else {},
        "manifests": {"pretrained": manifest_summary(pretrained_reps),
                      "finetuned": manifest_summary(finetuned_reps)}})
