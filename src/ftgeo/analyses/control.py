"""``control``: control tasks and selectivity (Hewitt & Liang 2019), per layer, linear and MLP probes.

Hewitt & Liang (2019), "Designing and Interpreting Probes with Control Tasks" (EMNLP): every word type
gets a control label drawn once from the task's empirical label distribution (section "Control tasks";
:func:`ftgeo.analysis.controls.control_labels`: a fixed hash of (type, ``control_seed``), so a type has the
same control label in train and eval); a probe of the same architecture and hyperparameters is trained on
the task and on the control labels, and

    selectivity = task accuracy - control accuracy                                     (HL, "selectivity")

A probe that reaches high accuracy on the control task can memorise types; high selectivity says the
representation, not the probe, holds the task. Sentence-level sets: the analogue draws each example's
control label from a hash of its text (the "type" is the whole sentence, see ``docs/probing.md``).

Batched: on each layer the task probes and the control probes of every seed (2 x ``n_seeds`` members) are
one batched model (:mod:`ftgeo.analysis.probes`: one label vector per member, one shared X), with the
same stratified hold-out for early stopping. Intervals: accuracies as the seed mean over the eval rows
(sentence bootstrap for word-level rows, seeds paired); selectivity paired over the same eval rows
(:func:`ftgeo.analysis.controls.paired_difference_interval`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, groups_of, interval_note, unit_name
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["ControlSpec", "ControlResult", "ControlDisplay", "run_control"]

ProbeKind = Literal["linear", "mlp"]


@dataclass(frozen=True)
class ControlSpec(IntervalSpec):
    """Parameters of :func:`run_control`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")
    kinds: tuple[ProbeKind, ...] = param(("linear", "mlp"), "probe kinds: linear, mlp or linear,mlp")
    hidden_size: int = param(128, "hidden width of the MLP probe (task and control probes alike)")
    l2: float = param(1e-4, "L2 (weight-decay) weight of both probes (Hewitt & Liang compare at equal settings)")
    n_seeds: int = param(3, "probe seeds (seed+0 .. seed+n-1), task and control probes alike", aliases=("seeds",))
    validation_fraction: float = param(0.2, "stratified hold-out of train for early stopping")
    learning_rate: float = param(5e-3, "Adam learning rate", aliases=("lr",))
    max_epochs: int = param(200, "most training epochs")
    patience: int = param(10, "early-stopping patience (epochs)")
    batch_size: int | None = param(None, "minibatch size (default: full batch up to 4096 rows)")
    max_train_points: int | None = param(None, "seeded stratified subsample of the probe's training rows",
                                         none=("all", "none", "0"))
    control_seed: int = param(0, "seed of the control labelling (type -> label hash)")
    data_root: str | None = param(None, "folder with the local datasets, for the rows' word types "
                                        "(default: $FTGEO_DATA_ROOT)", metavar="DIR")
    seed: int = param(0, "seed of the hold-out split, the subsample, the probes and the interval resamples",
                      aliases=("random_state",))

    def validate(self) -> None:
        super().validate()
        if not self.kinds:
            raise ValidationError("kinds: give at least one probe kind (linear, mlp)")
        if self.hidden_size < 1:
            raise ValidationError(f"hidden_size must be >= 1; got {self.hidden_size}")
        if not self.l2 >= 0:
            raise ValidationError(f"l2 must be >= 0; got {self.l2}")
        if self.n_seeds < 1:
            raise ValidationError(f"n_seeds must be >= 1; got {self.n_seeds}")
        if not 0 < self.validation_fraction < 1:
            raise ValidationError(f"validation_fraction must be in (0, 1); got {self.validation_fraction}")
        if self.max_train_points is not None and self.max_train_points < 2:
            raise ValidationError(f"max_train_points must be >= 2 (or all); got {self.max_train_points}")


class ControlResult(Result):
    """Task and control probes per layer (Hewitt & Liang 2019).

    Tables: ``layers`` (set, layer, kind, hidden, l2, accuracy, accuracy_low, accuracy_high, accuracy_std,
    control_accuracy, control_accuracy_low, control_accuracy_high, control_accuracy_std, selectivity,
    selectivity_low, selectivity_high, n_seeds, n_train, n_eval, n_types, eval_seen): accuracies are seed
    means on the eval rows, ``*_std`` the between-seed sd (ddof=1), ``eval_seen`` the share of eval rows whose
    type occurs in the training rows (only those can be right on the control task, beyond chance);
    ``scores`` (set, layer, kind, labels in {task, control}, seed, accuracy, epochs).
    """

    kind = "control"

    @classmethod
    def combine(cls, results):
        from ftgeo.analyses.probe import _concat
        return _concat(results, cls)

    def summary(self) -> pd.DataFrame:
        cols = ["set", "layer", "kind", "accuracy", "control_accuracy", "selectivity", "selectivity_low",
                "selectivity_high"]
        t = self.table("layers")
        return t[[c for c in cols if c in t.columns]]

    def displays(self):
        return [("selectivity", ControlDisplay.from_result(self))]


_STYLE = {"linear": "--", "mlp": "-"}


class ControlDisplay(Display):
    """Left: task accuracy (solid markers) and control accuracy (open markers) per layer; right: selectivity with
    its paired interval. One colour per set; linear probes dashed, MLP solid."""

    def __init__(self, table: pd.DataFrame, title: str = ""):
        self.table = table.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "ControlDisplay":
        return cls(result.table("layers"), title)

    def plot(self, ax=None) -> "ControlDisplay":
        import matplotlib.pyplot as plt
        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        else:
            axes = np.atleast_1d(ax)
            fig = axes[0].figure
            if axes.size < 2:
                axes = np.append(axes, axes[0].twinx())
        sets = list(dict.fromkeys(self.table["set"]))
        colors = {s: f"C{i}" for i, s in enumerate(sets)}
        for (s, k), g in self.table.groupby(["set", "kind"], sort=False):
            g = g.sort_values("layer")
            x = g["layer"].to_numpy()
            ls = _STYLE.get(k, "-")
            axes[0].plot(x, g["accuracy"], ls, marker="o", ms=4, color=colors[s], label=f"{s} {k} task")
            axes[0].plot(x, g["control_accuracy"], ls, marker="o", ms=4, mfc="white", color=colors[s], alpha=0.7,
                         label=f"{s} {k} control")
            sel = g["selectivity"].to_numpy(float)
            axes[1].plot(x, sel, ls, marker="o", ms=4, color=colors[s], label=f"{s} {k}")
            if "selectivity_low" in g and np.isfinite(g["selectivity_low"].to_numpy(float)).any():
                lo, hi = g["selectivity_low"].to_numpy(float), g["selectivity_high"].to_numpy(float)
                axes[1].errorbar(x, sel, yerr=[np.clip(sel - lo, 0, None), np.clip(hi - sel, 0, None)], fmt="none",
                                 ecolor=colors[s], elinewidth=0.8, capsize=2)
        axes[0].set_ylabel("eval accuracy (seed mean)")
        axes[1].set_ylabel("selectivity = task - control")
        for a in axes:
            a.set_xlabel("layer (0 = embeddings)")
            a.grid(alpha=0.3)
            a.legend(fontsize=6)
        axes[0].set_title(self.title or "task vs control accuracy (Hewitt & Liang 2019)", fontsize=10)
        axes[1].set_title("selectivity", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


# ----------------------------------------------------------------------------- one set
def _labelled(reps, what: str) -> np.ndarray:
    keep = np.flatnonzero(np.asarray(reps.labels) >= 0)
    if keep.size == 0:
        raise ValidationError(f"the {what} representations have no labels (all -1); extract a labelled split")
    return keep


def control_layers(reps_train, reps_eval, *, spec: ControlSpec, set_name: str = "reps", layers=None,
                   progress: bool = True) -> ControlResult:
    """Task and control probes on every requested layer of one set (see the module doc)."""
    import torch

    from ftgeo.analyses._controls import control_views, label_strings
    from ftgeo.analysis.controls import paired_difference_interval
    from ftgeo.analysis.probes import (_encode, _predict_batch, _torch, _train_batched, seed_mean_interval,
                                       standardize_fit, stratified_split, stratified_subsample)
    from ftgeo.progress import progress as _progress

    if reps_train.n_layers != reps_eval.n_layers:
        raise ValidationError(f"train has {reps_train.n_layers} layers and eval {reps_eval.n_layers}; "
                              "extract both splits with the same model")
    ctr, cev = control_views(reps_train, [reps_eval], seed=spec.control_seed, data_root=spec.data_root)
    i_tr, i_ev = _labelled(reps_train, "train"), _labelled(reps_eval, "eval")
    ytr, yev = label_strings(reps_train)[i_tr], label_strings(reps_eval)[i_ev]
    ctr_y, cev_y = label_strings(ctr)[i_tr], label_strings(cev)[i_ev]
    from ftgeo.analyses._controls import types_of
    t_tr, t_ev = types_of(reps_train, spec.data_root)[i_tr], types_of(reps_eval, spec.data_root)[i_ev]
    sub = stratified_subsample(ytr, spec.max_train_points, spec.seed)
    ytr, ctr_y, t_tr = ytr[sub], ctr_y[sub], t_tr[sub]
    classes = np.unique(ytr)
    if classes.size < 2:
        raise ValidationError("the training rows hold one label only; a probe needs two")
    task_codes, ctrl_codes = _encode(ytr, classes), _encode(ctr_y, classes)
    fit, val = stratified_split(task_codes, spec.validation_fraction, spec.seed)
    ev_task, ev_ctrl = _encode(yev, classes), _encode(cev_y, classes)
    g_eval = groups_of(reps_eval, i_ev)
    seen = float(np.isin(t_ev, np.unique(t_tr)).mean())
    S = int(spec.n_seeds)
    seeds = [spec.seed + s for s in range(S)]
    lay = list(reps_train.layers) if layers is None else list(layers)
    rows, scores = [], []
    arrays = {}
    nan = float("nan")
    bar = _progress(total=len(lay) * len(spec.kinds), enabled=progress, desc=f"controls {set_name}", unit="probe")
    for layer in lay:
        X = reps_train.layer(layer, dtype=np.float32)[i_tr][sub]
        mu, sd = standardize_fit(X[fit])
        Xt, Xv = _torch((X[fit] - mu) / sd), _torch((X[val] - mu) / sd)
        Xe = _torch((reps_eval.layer(layer, dtype=np.float32)[i_ev] - mu) / sd)
        yt = torch.from_numpy(np.stack([task_codes[fit]] * S + [ctrl_codes[fit]] * S))
        yv = torch.from_numpy(np.stack([task_codes[val]] * S + [ctrl_codes[val]] * S))
        for kind in spec.kinds:
            batch = _train_batched(Xt, yt, Xv, yv, n_classes=classes.size, kind=kind,
                                   hidden=None if kind == "linear" else int(spec.hidden_size), l2s=[spec.l2] * (2 * S),
                                   seeds=seeds + seeds, lr=spec.learning_rate, max_epochs=spec.max_epochs,
                                   patience=spec.patience, batch_size=spec.batch_size)
            pred = _predict_batch(batch, Xe)                           # (2S, n_eval)
            c_task, c_ctrl = pred[:S] == ev_task[None, :], pred[S:] == ev_ctrl[None, :]
            for lab, c, off in (("task", c_task, 0), ("control", c_ctrl, S)):
                for s in range(S):
                    scores.append({"set": set_name, "layer": layer, "kind": kind, "labels": lab, "seed": seeds[s],
                                   "accuracy": float(c[s].mean()), "epochs": int(batch.n_epochs[off + s])})
            a_t, a_c = c_task.mean(axis=1), c_ctrl.mean(axis=1)
            row = {"set": set_name, "layer": layer, "kind": kind, "hidden": 0 if kind == "linear" else spec.hidden_size,
                   "l2": spec.l2, "accuracy": float(a_t.mean()), "accuracy_low": nan, "accuracy_high": nan,
                   "accuracy_std": float(a_t.std(ddof=1)) if S > 1 else 0.0,
                   "control_accuracy": float(a_c.mean()), "control_accuracy_low": nan, "control_accuracy_high": nan,
                   "control_accuracy_std": float(a_c.std(ddof=1)) if S > 1 else 0.0,
                   "selectivity": float(a_t.mean() - a_c.mean()), "selectivity_low": nan, "selectivity_high": nan,
                   "n_seeds": S, "n_train": int(len(fit)), "n_eval": int(len(i_ev)), "n_types": int(np.unique(t_tr).size),
                   "eval_seen": seen}
            if spec.intervals:
                kw = dict(n_resamples=spec.n_resamples, random_state=spec.seed)
                for col, c in (("accuracy", c_task), ("control_accuracy", c_ctrl)):
                    iv = seed_mean_interval(c, g_eval, spec.ci_level, **kw)
                    row[f"{col}_low"], row[f"{col}_high"] = iv["low"], iv["high"]
                d = paired_difference_interval(c_task, c_ctrl, g_eval, spec.ci_level, **kw)
                row["selectivity_low"], row["selectivity_high"] = d["low"], d["high"]
            rows.append(row)
            from ftgeo.analyses.probe import _array_name
            arrays[_array_name("eval_correct_task", set_name, layer, kind)] = c_task.astype(np.int8)
            arrays[_array_name("eval_correct_control", set_name, layer, kind)] = c_ctrl.astype(np.int8)
            bar.update(1)
    bar.close()
    unit = unit_name(g_eval)
    meta = {"sets": [set_name], "layers": lay, "control_seed": spec.control_seed, "n_seeds": S,
            "hidden_size": spec.hidden_size, "l2": spec.l2,
            "word_level": unit != "example",
            "control": ("word type -> label by a fixed hash of (type, control_seed), drawn from the training labels' "
                        "distribution (Hewitt & Liang 2019, 'Control tasks')" if unit != "example" else
                        "sentence-level analogue: each example's text -> label by a fixed hash of (text, control_seed), "
                        "drawn from the training labels' distribution"),
            "intervals": {} if not spec.intervals else {
                "accuracy": interval_note("percentile bootstrap of the seed mean (seeds paired)", spec, unit=unit,
                                          resamples=spec.n_resamples, what="task and control accuracies"),
                "selectivity": interval_note("paired percentile bootstrap: task and control correctness of the same "
                                             "eval rows resampled together", spec, unit=unit,
                                             resamples=spec.n_resamples, what="selectivity")}}
    return ControlResult(tables={"layers": pd.DataFrame(rows), "scores": pd.DataFrame(scores)}, arrays=arrays,
                         meta=meta)


# ----------------------------------------------------------------------------- the analysis
@register_analysis(
    "control", family="closer-look", order=12, spec=ControlSpec, result=ControlResult,
    inputs=[Input("train_reps", n=(1, None), help="training split representations (several: e.g. pretrained, "
                                                  "fine-tuned and random-init, paired with --eval-reps by position)"),
            Input("eval_reps", n=(1, None), help="evaluation split representations, one per --train-reps")],
    help="control tasks (Hewitt & Liang 2019): task vs control accuracy and selectivity per layer")
def run_control(train_reps, eval_reps, *, spec: ControlSpec, progress: bool = True) -> ControlResult:
    """Selectivity of linear and MLP probes on every layer of each set (Hewitt & Liang 2019).

    ``train_reps`` / ``eval_reps`` may each be one set or a list of sets (pretrained, fine-tuned, a random-init
    baseline ``NAME[random_init=SEED]``) paired by position; the result stacks them with a ``set`` column.
    """
    tr, ev = as_list(train_reps), as_list(eval_reps)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give one eval set per train set; got {len(tr)} train and {len(ev)} eval")
    nm = set_names(tr, spec.names)
    parts = [control_layers(t, e, spec=spec, set_name=nm[i], layers=select_layers(t, spec.layers), progress=progress)
             for i, (t, e) in enumerate(zip(tr, ev))]
    result = ControlResult.combine(parts)
    result.meta["manifests"] = {n: manifest_summary(r) for n, r in zip(nm, tr)}
    return result
