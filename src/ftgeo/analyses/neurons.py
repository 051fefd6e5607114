"""``neurons``: salient neurons of the sentence embedding (Emergent-properties family).

Matton & de Oliveira (2020): how much of a task single dimensions carry. The stratified-CV
accuracy of a softmax classifier on every single dimension, a greedy forward selection of
``max(n_select, n_classes)`` dimensions, and the paper's table (random guess = majority class, all
dimensions, best 1, best ``n_select``, natural = n_classes), pretrained and fine-tuned side by side.
The numbers come from :class:`ftgeo.analysis.neurons.SalientNeurons`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, check_pair, labelled_rows, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["NeuronsSpec", "NeuronsResult", "NeuronHistogramDisplay", "BestNeuronDisplay", "run_neurons"]


@dataclass(frozen=True)
class NeuronsSpec(AnalysisSpec):
    """Parameters of :func:`run_neurons`."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    cv: int = param(5, "stratified CV folds")
    n_select: int = param(5, "greedy selection size (at least n_classes is used)")
    C: float = param(1.0, "inverse L2 strength of the softmax classifier")
    threshold: float | None = param(None, "accuracy threshold for the fraction of salient neurons "
                                          "(default majority rate + 0.05)")
    seed: int = param(0, "seed of the CV folds", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: pretrained,finetuned)")


class NeuronsResult(Result):
    """Salient neurons (single-dimension classifiers and greedy selection), pretrained and fine-tuned.

    Table ``single``: model, layer, dim, cv_accuracy (stratified k-fold CV on train), eval_accuracy
    (trained on all of train). Table ``selection``: model, layer, step (1-based), dim, cv_accuracy,
    eval_accuracy (first ``step`` selected dims). Table ``paper``: model, layer, method
    (random_guess | all_dims | best_1 | best_5 | natural), n_dims, eval_accuracy. Table
    ``activation``: model, layer, label, value (the best neuron's eval-split activations).
    meta: ``random_guess`` ("majority": the most frequent training label), ``threshold`` and
    ``fraction_above`` (per "model|layer": share of neurons with CV accuracy above the threshold).
    """

    kind = "neurons"

    @property
    def single(self) -> pd.DataFrame:
        return self.table("single")

    @property
    def selection(self) -> pd.DataFrame:
        return self.table("selection")

    def summary(self) -> pd.DataFrame:
        """The paper's table: rows = method, columns = model (one block per layer)."""
        t = self.table("paper")
        out = t.pivot_table(index=["layer", "method", "n_dims"], columns="model", values="eval_accuracy",
                            sort=False).reset_index()
        out.columns.name = None
        return out

    def displays(self):
        out = []
        for l in self.meta["layers"]:
            out.append((f"hist_layer{l}", NeuronHistogramDisplay.from_result(self, layer=l)))
            out.append((f"best_layer{l}", BestNeuronDisplay.from_result(self, layer=l)))
        return out


class NeuronHistogramDisplay(Display):
    """Histogram of single-neuron CV accuracies, pretrained and fine-tuned overlaid, with the threshold."""

    def __init__(self, single: pd.DataFrame, thresholds: dict, fractions: dict, layer: int):
        self.single, self.thresholds, self.fractions, self.layer = single, thresholds, fractions, layer

    @classmethod
    def from_result(cls, result, layer=None) -> "NeuronHistogramDisplay":
        s = result.table("single")
        layer = pick_layer(s, layer)
        return cls(s[s.layer == layer], result.meta.get("threshold", {}), result.meta.get("fraction_above", {}), layer)

    def plot(self, ax=None, bins: int = 40) -> "NeuronHistogramDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.0, 3.8))
        ax = self.ax_
        lo, hi = float(self.single.cv_accuracy.min()), float(self.single.cv_accuracy.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, bins + 1)
        for model, g in self.single.groupby("model", sort=False):
            key = f"{model}|{self.layer}"
            frac = self.fractions.get(key)
            lab = model if frac is None else f"{model} ({100 * frac:.1f}% above threshold)"
            ax.hist(g.cv_accuracy, bins=edges, alpha=0.5, label=lab)
            if key in self.thresholds:
                ax.axvline(self.thresholds[key], color="k", ls="--", lw=0.8)
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
    from ftgeo.analysis.compression import linear_accuracy
    from ftgeo.analysis.neurons import SalientNeurons, fraction_above, majority_accuracy

    tr, ev = as_list(train), as_list(eval)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give as many eval sets as train sets (pretrained[, fine-tuned]); got {len(tr)} train "
                              f"and {len(ev)} eval")
    check_pair(tr, "neurons")
    nm = set_names(tr, spec.names, fallback=("pretrained", "finetuned"))
    lay = select_layers(tr[0], spec.layers, default="last")
    C, n_select = spec.C, spec.n_select
    single, selection, paper, act = [], [], [], []
    frac, thr_used = {}, {}
    for layer in lay:
        dims = set()
        for model, a, b in zip(nm, tr, ev):
            Xtr, ytr, _ = labelled_rows(a, layer, f"the {model} train")
            Xev, yev, _ = labelled_rows(b, layer, f"the {model} eval")
            dims.add(Xtr.shape[1])
            if len(dims) > 1:
                raise ValidationError(f"the sets have different widths {sorted(dims)} at layer {layer}; compare the "
                                      "same model before and after fine-tuning")
            n_classes = int(np.unique(ytr).size)
            sn = SalientNeurons(cv=spec.cv, n_select=max(n_select, n_classes), C=C, random_state=spec.seed,
                                progress=progress).fit(Xtr, ytr)
            ev_single = sn.single_eval_accuracy(Xev, yev)
            ev_curve = sn.eval_curve(Xev, yev)
            single.append(pd.DataFrame({"model": model, "layer": layer, "dim": np.arange(Xtr.shape[1]),
                                        "cv_accuracy": sn.single_accuracy_, "eval_accuracy": ev_single}))
            selection.append(pd.DataFrame({"model": model, "layer": layer, "step": np.arange(1, len(sn.selected_) + 1),
                                           "dim": sn.selected_, "cv_accuracy": sn.selection_curve_,
                                           "eval_accuracy": ev_curve}))
            maj = majority_accuracy(ytr, yev)
            n5 = min(n_select, len(sn.selected_))
            for method, n, acc in [("random_guess", 0, maj),
                                   ("all_dims", Xtr.shape[1], linear_accuracy(Xtr, ytr, Xev, yev, C=C)),
                                   ("best_1", 1, ev_curve[0]), (f"best_{n5}", n5, ev_curve[n5 - 1]),
                                   ("natural", n_classes, ev_curve[n_classes - 1])]:
                paper.append({"model": model, "layer": layer, "method": method, "n_dims": n, "eval_accuracy": acc})
            act.append(pd.DataFrame({"model": model, "layer": layer, "label": yev, "value": Xev[:, sn.best_]}))
            t = (np.bincount(np.unique(ytr, return_inverse=True)[1]).max() / ytr.size + 0.05) \
                if spec.threshold is None else float(spec.threshold)
            key = f"{model}|{layer}"
            frac[key] = fraction_above(sn.single_accuracy_, t)
            thr_used[key] = float(t)
    label_names = list(getattr(tr[0], "label_names", []) or [])
    return NeuronsResult(tables={"single": pd.concat(single, ignore_index=True),
                                 "selection": pd.concat(selection, ignore_index=True),
                                 "paper": pd.DataFrame(paper), "activation": pd.concat(act, ignore_index=True)},
                         meta={"models": nm, "layers": lay, "cv": spec.cv, "n_select": n_select, "C": C,
                               "random_state": spec.seed, "random_guess": "majority",
                               "threshold": thr_used, "fraction_above": frac, "label_names": label_names,
                               "classifier": "L2 softmax regression on standardised features (C=%g)" % C})
