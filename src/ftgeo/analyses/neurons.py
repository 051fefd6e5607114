"""``neurons``: salient neurons of the sentence embedding (Emergent-properties family).

Matton & de Oliveira (2020): how much of a task single dimensions carry. The stratified-CV
accuracy of a softmax classifier on every single dimension, a greedy forward selection of
``max(n_select, n_classes)`` dimensions, and the paper's table (random guess = majority class, all
dimensions, best 1, best ``n_select``, natural = n_classes), pretrained and fine-tuned side by side.
The numbers come from :class:`ftgeo.analysis.neurons.SalientNeurons`. Eval accuracies carry the
interval of an eval accuracy (Wilson; a sentence bootstrap for word-level sets); the best neuron and
the fraction of salient neurons get a label-permutation baseline
(:func:`ftgeo.analysis.neurons.single_neuron_null`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, check_pair, labelled_rows, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import (IntervalSpec, LabelNullSpec, accuracy_intervals, groups_of, interval_note,
                                         mean_intervals, null_note, null_summary, paired_difference, unit_name,
                                         wilson_intervals)
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["NeuronsSpec", "NeuronsResult", "NeuronHistogramDisplay", "BestNeuronDisplay", "run_neurons"]


@dataclass(frozen=True)
class NeuronsSpec(IntervalSpec, LabelNullSpec):
    """Parameters of :func:`run_neurons`."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    cv: int = param(5, "stratified CV folds")
    n_select: int = param(5, "greedy selection size (at least n_classes is used)")
    C: float = param(1.0, "inverse L2 strength of the softmax classifier")
    threshold: float | None = param(None, "accuracy threshold for the fraction of salient neurons "
                                          "(default majority rate + 0.05)")
    seed: int = param(0, "seed of the CV folds", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: pretrained,finetuned)")


def _key(*parts) -> str:
    """An array name from parts (characters other than letters, digits, ``.``, ``-``, ``_`` become ``_``)."""
    import re
    return "__".join(re.sub(r"[^A-Za-z0-9_.-]", "_", str(p)) for p in parts)


class NeuronsResult(Result):
    """Salient neurons (single-dimension classifiers and greedy selection), pretrained and fine-tuned.

    Table ``single``: model, layer, dim, cv_accuracy (stratified k-fold CV on train), eval_accuracy,
    eval_accuracy_low, eval_accuracy_high (trained on all of train). Table ``selection``: model, layer,
    step (1-based), dim, cv_accuracy, eval_accuracy, eval_accuracy_low, eval_accuracy_high (first
    ``step`` selected dims). Table ``paper``: model, layer, method (random_guess | all_dims | best_1 |
    best_5 | natural), n_dims, eval_accuracy, eval_accuracy_low, eval_accuracy_high. Table
    ``activation``: model, layer, label, value (the best neuron's eval-split activations).
    Table ``null`` (label-permutation baseline, one row per model and layer): best_1 (the best single
    neuron's CV accuracy, the max over dimensions), best_1_p, best_1_null_q05/q50/q95 (the same max
    over dimensions with shuffled training labels, same folds), fraction_above, fraction_above_p,
    fraction_above_null_q05/q50/q95, threshold, n_label_permutations.
    Table ``paired``: layer, model_a, method_a, model_b, method_b, diff (accuracy a - b on the same eval
    rows), diff_low, diff_high (paired bootstrap): natural - all_dims and best_1 - all_dims per model,
    and best_1 / natural fine-tuned - pretrained when both eval sets hold the same rows.
    meta: ``random_guess`` ("majority": the most frequent training label), ``threshold`` and
    ``fraction_above`` (per "model|layer": share of neurons with CV accuracy above the threshold),
    ``intervals`` / ``nulls`` (how each was obtained).
    Arrays: ``eval_correct__<model>__L<layer>__<method>`` (per-row eval correctness, bool, of each
    ``paper`` method), ``eval_groups__<model>`` (resampling unit per eval row),
    ``null_best_1__<model>__L<layer>`` and ``null_fraction_above__<model>__L<layer>`` (the null draws);
    see :meth:`eval_correct`. Intervals and the null are skipped (NaN) with ``intervals=False``; the
    null also with ``n_label_permutations=0``.
    """

    kind = "neurons"

    @property
    def single(self) -> pd.DataFrame:
        return self.table("single")

    @property
    def selection(self) -> pd.DataFrame:
        return self.table("selection")

    def eval_correct(self, model: str, layer: int, method: str) -> np.ndarray:
        """Per-row eval correctness of a ``paper`` method (``best_1``, ``natural``, ``all_dims``, ...) for a
        paired comparison on the same rows (:func:`ftgeo.analyses._uncertainty.paired_difference`)."""
        return self.array(_key("eval_correct", model, f"L{int(layer)}", method))

    def eval_groups(self, model: str) -> np.ndarray:
        """The resampling unit (sentence or example) of each eval row of ``model``'s set."""
        return self.array(_key("eval_groups", model))

    def summary(self) -> pd.DataFrame:
        """The paper's table: rows = method, columns = model (one block per layer)."""
        t = self.table("paper")
        out = t.pivot_table(index=["layer", "method", "n_dims"], columns="model", values="eval_accuracy",
                            sort=False).reset_index()
        out.columns.name = None
        return out

    def findings(self):
        """Per layer: the share of neurons above the single-neuron accuracy threshold (pretrained vs
        fine-tuned), and the best single neuron and all dimensions' eval accuracies."""
        from ftgeo.results.findings import level_of, num, row_ci
        lev = level_of(self)
        frac, thr = self.meta.get("fraction_above") or {}, self.meta.get("threshold") or {}
        p = self.table("paper")
        out = []
        for l in self.meta.get("layers", []):
            parts = []
            for key, f in frac.items():
                m, _, lay = key.rpartition("|")
                if str(lay) == str(l):
                    parts.append(f"{m} {100 * float(f):.1f}%")
            t = {num(v) for k, v in thr.items() if k.endswith(f"|{l}")}
            if parts:
                out.append((f"Layer {l}: share of neurons whose single-neuron CV accuracy exceeds the threshold "
                            f"{'/'.join(sorted(t))}: " + ", ".join(parts) + ".", f"hist_layer{l}"))
            acc = []
            for m, g in p[p["layer"] == l].groupby("model", sort=False):
                b1, al = g[g["method"] == "best_1"], g[g["method"] == "all_dims"]
                if not b1.empty and not al.empty:
                    acc.append(f"{m}: best neuron {row_ci(b1.iloc[0], 'eval_accuracy', lev)} vs all "
                               f"{int(al['n_dims'].iloc[0])} dimensions {row_ci(al.iloc[0], 'eval_accuracy', lev)}")
            if acc:
                out.append((f"Layer {l} eval accuracy, " + "; ".join(acc) + ".", f"best_layer{l}"))
        return out

    def displays(self):
        out = []
        for l in self.meta["layers"]:
            out.append((f"hist_layer{l}", NeuronHistogramDisplay.from_result(self, layer=l)))
            out.append((f"best_layer{l}", BestNeuronDisplay.from_result(self, layer=l)))
        return out


class NeuronHistogramDisplay(Display):
    """Histogram of single-neuron CV accuracies, pretrained and fine-tuned overlaid, with the threshold
    and (dotted) the 95% quantile of the best neuron's CV accuracy under shuffled labels."""

    def __init__(self, single: pd.DataFrame, thresholds: dict, fractions: dict, layer: int,
                 null: pd.DataFrame | None = None):
        self.single, self.thresholds, self.fractions, self.layer = single, thresholds, fractions, layer
        self.null = null

    @classmethod
    def from_result(cls, result, layer=None) -> "NeuronHistogramDisplay":
        s = result.table("single")
        layer = pick_layer(s, layer)
        null = result.tables.get("null")
        return cls(s[s.layer == layer], result.meta.get("threshold", {}), result.meta.get("fraction_above", {}), layer,
                   None if null is None else null[null.layer == layer])

    def plot(self, ax=None, bins: int = 40) -> "NeuronHistogramDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.0, 3.8))
        ax = self.ax_
        lo, hi = float(self.single.cv_accuracy.min()), float(self.single.cv_accuracy.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, bins + 1)
        drawn: set[float] = set()
        for model, g in self.single.groupby("model", sort=False):
            key = f"{model}|{self.layer}"
            frac = self.fractions.get(key)
            lab = model if frac is None else f"{model} ({100 * frac:.1f}% above threshold)"
            patches = ax.hist(g.cv_accuracy, bins=edges, alpha=0.5, label=lab)[2]
            if key in self.thresholds:
                t = float(self.thresholds[key])
                named = t in drawn          # one legend entry per distinct threshold
                drawn.add(t)
                ax.axvline(t, color="k", ls="--", lw=0.8,
                           label=None if named else f"threshold: CV accuracy {t:.3g}")
            nl = None if self.null is None else self.null[self.null.model == model]
            if nl is not None and len(nl) and np.isfinite(float(nl.best_1_null_q95.iloc[0])):
                # where the best of all neurons lands under shuffled labels (95% quantile): a neuron right
                # of this line beats what choosing the best of d chance neurons gives
                ax.axvline(float(nl.best_1_null_q95.iloc[0]), color=patches[0].get_facecolor(), ls=":", lw=1.2,
                           alpha=1.0, label=f"{model}: best neuron, shuffled labels (q95)")
        ax.set_xlabel("single-neuron CV accuracy")
        ax.set_ylabel("number of neurons")
        ax.set_title(f"Single-neuron accuracies, layer {self.layer}")
        ax.legend(fontsize=7)
        return self


class BestNeuronDisplay(Display):
    """Violin plot of the best neuron's eval-split activation by class, one panel per model."""

    def __init__(self, activation: pd.DataFrame, label_names: list[str], layer: int, best: dict | None = None):
        self.activation, self.label_names, self.layer, self.best = activation, label_names, layer, best or {}

    @classmethod
    def from_result(cls, result, layer=None) -> "BestNeuronDisplay":
        a = result.table("activation")
        layer = pick_layer(a, layer)
        sel = result.table("selection")
        sel = sel[(sel.layer == layer) & (sel.step == 1)]
        best = {m: int(d) for m, d in zip(sel.model, sel.dim)}
        return cls(a[a.layer == layer], list(result.meta.get("label_names", [])), layer, best)

    def plot(self, ax=None) -> "BestNeuronDisplay":
        models = list(dict.fromkeys(self.activation["model"]))
        if ax is None:
            self.figure_, axes = self._new_axes(None, ncols=len(models), figsize=(3.6 * len(models), 3.6))
            axes = list(np.ravel(axes)) if len(models) > 1 else [axes]
        else:
            self.figure_, axes = ax.figure, [ax] * len(models)
        self.ax_ = axes[0]
        for a, model in zip(axes, models):
            g = self.activation[self.activation.model == model]
            labels = sorted(g.label.unique())
            data = [g.value[g.label == l].to_numpy() for l in labels]
            keep = [i for i, v in enumerate(data) if v.size > 1]
            if keep:
                a.violinplot([data[i] for i in keep], positions=[i for i in keep], showmedians=True)
            names = [self.label_names[int(l)] if 0 <= int(l) < len(self.label_names) else str(l) for l in labels]
            a.set_xticks(range(len(labels)), names, rotation=30, fontsize=7)
            dim = f" (dim {self.best[model]})" if model in self.best else ""
            a.set_title(f"{model}: best neuron{dim}, layer {self.layer}", fontsize=9)
            a.set_ylabel("activation")
        return self


@register_analysis("neurons", family="emergent", order=30, spec=NeuronsSpec, result=NeuronsResult,
                   inputs=[Input("train_reps", n=(1, 2), param="train",
                                 help="training-split representations: pretrained [fine-tuned]"),
                           Input("eval_reps", n=(1, 2), param="eval",
                                 help="evaluation-split representations, in the same order as --train-reps")],
                   help="salient neurons: single-dimension accuracy, greedy selection")
def run_neurons(train, eval, *, spec: NeuronsSpec, progress: bool = True) -> NeuronsResult:
    """Salient neurons for pretrained and fine-tuned sets: single-dimension CV and eval accuracy,
    greedy selection (``max(n_select, n_classes)`` dims), and the paper's table (random guess =
    majority class, all dims, best 1, best 5, natural = n_classes). ``threshold`` for the
    fraction of neurons above it defaults to the majority-class rate + 0.05."""
    from ftgeo.analysis.compression import linear_correct
    from ftgeo.analysis.neurons import SalientNeurons, fraction_above, single_neuron_null

    tr, ev = as_list(train), as_list(eval)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give as many eval sets as train sets (pretrained[, fine-tuned]); got {len(tr)} train "
                              f"and {len(ev)} eval")
    check_pair(tr, "neurons")
    nm = set_names(tr, spec.names, fallback=("pretrained", "finetuned"))
    lay = select_layers(tr[0], spec.layers, default="last")
    C, n_select = spec.C, spec.n_select
    single, selection, paper, act, nulls, paired = [], [], [], [], [], []
    frac, thr_used, arrays, methods = {}, {}, {}, set()
    n_perm = spec.n_label_permutations if spec.intervals else 0
    unit = ""
    ids = [np.asarray(b.ids)[np.flatnonzero(np.asarray(b.labels) >= 0)].astype(str) for b in ev]
    same_rows = len(ev) == 2 and ids[0].shape == ids[1].shape and bool(np.array_equal(ids[0], ids[1]))
    for layer in lay:
        dims = set()
        correct: dict[tuple[str, str], np.ndarray] = {}
        for model, a, b in zip(nm, tr, ev):
            Xtr, ytr, _ = labelled_rows(a, layer, f"the {model} train")
            Xev, yev, rows_ev = labelled_rows(b, layer, f"the {model} eval")
            groups = groups_of(b, rows_ev)
            unit = unit_name(groups)
            dims.add(Xtr.shape[1])
            if len(dims) > 1:
                raise ValidationError(f"the sets have different widths {sorted(dims)} at layer {layer}; compare the "
                                      "same model before and after fine-tuning")
            n_classes = int(np.unique(ytr).size)
            sn = SalientNeurons(cv=spec.cv, n_select=max(n_select, n_classes), C=C, random_state=spec.seed,
                                progress=progress).fit(Xtr, ytr)
            ev_single, s_lo, s_hi = _single_eval_intervals(sn, Xev, yev, groups, spec, methods)
            ev_ok = sn.eval_correct(Xev, yev)
            ev_curve = np.asarray([float(row.mean()) for row in ev_ok])
            c_iv = accuracy_intervals(ev_ok, groups, spec)
            single.append(pd.DataFrame({"model": model, "layer": layer, "dim": np.arange(Xtr.shape[1]),
                                        "cv_accuracy": sn.single_accuracy_, "eval_accuracy": ev_single,
                                        "eval_accuracy_low": s_lo, "eval_accuracy_high": s_hi}))
            selection.append(pd.DataFrame({"model": model, "layer": layer, "step": np.arange(1, len(sn.selected_) + 1),
                                           "dim": sn.selected_, "cv_accuracy": sn.selection_curve_,
                                           "eval_accuracy": ev_curve, "eval_accuracy_low": c_iv["accuracy_low"],
                                           "eval_accuracy_high": c_iv["accuracy_high"]}))
            classes, counts = np.unique(ytr, return_counts=True)
            n5 = min(n_select, len(sn.selected_))
            arrays[_key("eval_groups", model)] = groups
            for method, n, ok in [("random_guess", 0, np.asarray(yev == classes[counts.argmax()])),
                                  ("all_dims", Xtr.shape[1], linear_correct(Xtr, ytr, Xev, yev, C=C)),
                                  ("best_1", 1, ev_ok[0]), (f"best_{n5}", n5, ev_ok[n5 - 1]),
                                  ("natural", n_classes, ev_ok[n_classes - 1])]:
                iv = accuracy_intervals(ok, groups, spec)
                methods.add(iv["method"])
                paper.append({"model": model, "layer": layer, "method": method, "n_dims": n,
                              "eval_accuracy": float(np.mean(ok)), "eval_accuracy_low": float(iv["accuracy_low"][0]),
                              "eval_accuracy_high": float(iv["accuracy_high"][0])})
                arrays[_key("eval_correct", model, f"L{layer}", method)] = ok.astype(bool)
                correct[(model, method)] = ok
            for m_a, m_b in (("natural", "all_dims"), ("best_1", "all_dims")):
                paired.append(_paired_row(layer, (model, m_a), (model, m_b), correct, groups, spec))
            act.append(pd.DataFrame({"model": model, "layer": layer, "label": yev, "value": Xev[:, sn.best_]}))
            t = (np.bincount(np.unique(ytr, return_inverse=True)[1]).max() / ytr.size + 0.05) \
                if spec.threshold is None else float(spec.threshold)
            key = f"{model}|{layer}"
            frac[key] = fraction_above(sn.single_accuracy_, t)
            thr_used[key] = float(t)
            null = (single_neuron_null(Xtr, ytr, sn.folds_, n_perm, C=C, random_state=_null_rng(spec.seed))
                    if n_perm else np.empty((0, Xtr.shape[1])))
            null_best, null_frac = null.max(axis=1), (null > t).mean(axis=1)
            best = float(np.max(sn.single_accuracy_))
            nulls.append({"model": model, "layer": layer, "best_1": best, **null_summary(best, null_best, "best_1"),
                          "fraction_above": frac[key], **null_summary(frac[key], null_frac, "fraction_above"),
                          "threshold": float(t), "n_label_permutations": int(n_perm)})
            if n_perm:
                arrays[_key("null_best_1", model, f"L{layer}")] = null_best
                arrays[_key("null_fraction_above", model, f"L{layer}")] = null_frac
        if same_rows:
            for method in ("best_1", "natural"):
                paired.append(_paired_row(layer, (nm[1], method), (nm[0], method), correct, groups, spec))
    label_names = list(getattr(tr[0], "label_names", []) or [])
    meta = {"models": nm, "layers": lay, "cv": spec.cv, "n_select": n_select, "C": C,
            "random_state": spec.seed, "random_guess": "majority",
            "threshold": thr_used, "fraction_above": frac, "label_names": label_names,
            "classifier": "L2 softmax regression on standardised features (C=%g)" % C,
            "intervals": {}, "nulls": {}}
    if spec.intervals:
        how = " / ".join(sorted(m for m in methods if m)) or "none"
        note = interval_note(how, spec, unit=unit, resamples=spec.n_resamples)
        meta["intervals"] = {"eval_accuracy": note,
                             "diff": interval_note("paired bootstrap (percentile)", spec, unit=unit,
                                                   resamples=spec.n_resamples)}
    if n_perm:
        meta["nulls"] = {
            "best_1": null_note("label permutation: max over dimensions of the single-neuron CV accuracy with "
                                "shuffled training labels, same folds and solver", n_perm, alternative="greater"),
            "fraction_above": null_note("label permutation: share of neurons above the threshold with shuffled "
                                        "training labels", n_perm, alternative="greater")}
    null_cols = ["model", "layer", "best_1", "best_1_p", "best_1_null_q05", "best_1_null_q50", "best_1_null_q95",
                 "fraction_above", "fraction_above_p", "fraction_above_null_q05", "fraction_above_null_q50",
                 "fraction_above_null_q95", "threshold", "n_label_permutations"]
    return NeuronsResult(tables={"single": pd.concat(single, ignore_index=True),
                                 "selection": pd.concat(selection, ignore_index=True),
                                 "paper": pd.DataFrame(paper), "activation": pd.concat(act, ignore_index=True),
                                 "null": pd.DataFrame(nulls, columns=null_cols),
                                 "paired": pd.DataFrame(paired, columns=["layer", "model_a", "method_a", "model_b",
                                                                         "method_b", "diff", "diff_low", "diff_high"])},
                         arrays=arrays, meta=meta)


def _null_rng(seed: int) -> np.random.Generator:
    """The label shuffles' generator: its own stream from the seed (the folds use ``default_rng(seed)``)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 1]))


def _single_eval_intervals(sn, Xev, yev, groups, spec, methods: set):
    """Every dimension's eval accuracy and its interval: Wilson from the counts for independent eval
    examples, else a bootstrap over groups from per-group counts (no (d, n) correctness kept)."""
    d = sn.n_features_in_
    if not spec.intervals:
        acc = sn.single_eval_accuracy(Xev, yev)
        return acc, np.full(d, np.nan), np.full(d, np.nan)
    n = int(groups.size)
    if np.unique(groups).size == n:
        acc = sn.single_eval_accuracy(Xev, yev)
        lo, hi = wilson_intervals(np.rint(acc * n), float(n), spec.ci_level)
        methods.add("wilson")
        return acc, lo, hi
    acc, counts = sn.single_eval_counts(Xev, yev, groups)
    lo, hi, how = mean_intervals(counts, np.bincount(groups).astype(np.float64), spec)
    methods.add(how)
    return acc, lo, hi


def _paired_row(layer, a, b, correct, groups, spec) -> dict:
    d = paired_difference(correct[a], correct[b], groups, spec)
    return {"layer": layer, "model_a": a[0], "method_a": a[1], "model_b": b[0], "method_b": b[1],
            "diff": d["diff"], "diff_low": d["diff_low"], "diff_high": d["diff_high"]}
