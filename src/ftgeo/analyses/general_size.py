"""``general-size``: how many general-corpus sentences the out-of-domain PCA needs (Emergent-properties family).

Matton & de Oliveira (2020), Sec. "Compression", fit the general-domain PCA on about 32k sentences
and report that more do not change the compression curve. Here the PCA is refitted on seeded
subsamples of n sentences of each general corpus given (e.g. Brown and WikiText-2, embedded by the
same model, layer and pooling), the linear softmax classifier is trained on the first k components of
the task's training split, and its eval accuracy is read against n; every n is also compared with
the whole corpus on the same eval rows. The numbers come from
:func:`ftgeo.analysis.compression.general_size_correct`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, labelled_rows, manifest_of, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import (IntervalSpec, accuracy_intervals, band, groups_of, interval_note,
                                         paired_difference, unit_name)
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["GeneralSizeSpec", "GeneralSizeResult", "GeneralSizeDisplay", "run_general_size"]

DEFAULT_SIZES = (250, 500, 1000, 2000, 4000, 8000, 16000, 32000)


@dataclass(frozen=True)
class GeneralSizeSpec(IntervalSpec):
    """Parameters of :func:`run_general_size`."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    sizes: tuple[int, ...] = param(DEFAULT_SIZES, "numbers of general-corpus sentences the PCA is fitted on, "
                                                  "comma-separated (the whole corpus is always added)")
    ks: tuple[int, ...] = param((5,), "numbers of components of the classifier, comma-separated")
    n_draws: int = param(3, "seeded subsamples per size below the corpus size")
    C: float = param(1.0, "inverse L2 strength of the softmax classifier")
    seed: int = param(0, "seed of the subsamples", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the general corpora, comma-separated (default: from the "
                                          "representation sets)")

    def validate(self) -> None:
        super().validate()
        if not self.sizes or any(int(n) < 2 for n in self.sizes):
            raise ValidationError(f"sizes must be numbers of sentences >= 2; got {list(self.sizes)}")
        if not self.ks or any(int(k) < 1 for k in self.ks):
            raise ValidationError(f"ks must be numbers of components >= 1; got {list(self.ks)}")
        if self.n_draws < 1:
            raise ValidationError(f"n_draws must be >= 1; got {self.n_draws}")


class GeneralSizeResult(Result):
    """Eval accuracy of the k-component classifier against the number of general-corpus sentences
    its PCA was fitted on.

    Table ``curve``: corpus, layer, k, n_sentences, n_available, accuracy (mean over the draws),
    accuracy_low, accuracy_high, accuracy_std (over the draws), n_draws, and vs the whole corpus on
    the same eval rows: diff_all (= accuracy with all n_available sentences - accuracy at n), diff_all_low,
    diff_all_high.
    Table ``reference``: layer, k, in_domain (the PCA fitted on the training split), in_domain_low,
    in_domain_high.

    Intervals (NaN with ``intervals=False``): a point's accuracy is the mean over its draws of the
    per-row correctness, bootstrapped over the eval rows with the draws held fixed (Wilson for one
    draw); diff_all is a paired bootstrap over the eval rows.
    """

    kind = "general_size"

    @property
    def curve(self) -> pd.DataFrame:
        return self.table("curve")

    def findings(self):
        """Per corpus and k: the smallest n within one point of the whole corpus."""
        out = []
        for (corpus, layer, k), g in self.curve.groupby(["corpus", "layer", "k"], sort=False):
            g = g.sort_values("n_sentences")
            ok = g[g["diff_all"] < 0.01]
            if len(ok):
                n, full = int(ok["n_sentences"].iloc[0]), g.iloc[-1]
                out.append((f"{corpus}, layer {int(layer)}, k = {int(k)}: {n:,} sentences come within one point of "
                            f"all {int(full['n_available']):,} ({float(full['accuracy']):.3f}).",
                            f"layer{int(layer)}"))
        return out

    def summary(self) -> pd.DataFrame:
        return self.curve

    def displays(self):
        return [(f"layer{l}", GeneralSizeDisplay.from_result(self, layer=l)) for l in self.meta["layers"]]


class GeneralSizeDisplay(Display):
    """Accuracy vs the number of general-corpus sentences (log axis): one line per corpus and k, with
    its interval band; the in-domain PCA at the same k as a dashed line."""

    def __init__(self, curve: pd.DataFrame, reference: pd.DataFrame, title: str = ""):
        self.curve, self.reference, self.title = curve, reference, title

    @classmethod
    def from_result(cls, result, layer=None) -> "GeneralSizeDisplay":
        cur = result.table("curve")
        layer = pick_layer(cur, layer)
        ref = result.table("reference")
        return cls(cur[cur.layer == layer], ref[ref.layer == layer], title=f"layer {layer}")

    def plot(self, ax=None) -> "GeneralSizeDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.5, 4.2))
        ax = self.ax_
        colours = iter(["tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:olive"])
        for (corpus, k), g in self.curve.groupby(["corpus", "k"], sort=False):
            g = g.sort_values("n_sentences")
            c = next(colours, None)
            ax.plot(g.n_sentences, g.accuracy, "-o", ms=3, color=c, label=f"{corpus}, k = {int(k)}")
            band(ax, g.n_sentences, g, "accuracy", color=c, alpha=0.15)
        for _, r in self.reference.iterrows():
            ax.axhline(float(r["in_domain"]), color="tab:blue", ls="--", lw=0.9,
                       label=f"in-domain PCA, k = {int(r['k'])}")
        ax.axvline(32000, color="k", lw=0.6, alpha=0.4)
        ax.set_xscale("log")
        ax.set_xlabel("general-corpus sentences the PCA is fitted on")
        ax.set_ylabel("eval accuracy")
        ax.set_title(f"General-corpus PCA: how many sentences, {self.title} (grey line: 32k)")
        ax.legend(fontsize=7)
        return self


@register_analysis("general-size", family="emergent", order=15, spec=GeneralSizeSpec, result=GeneralSizeResult,
                   inputs=[Input("train_reps", n=(1, 1), param="train", help="training-split representations"),
                           Input("eval_reps", n=(1, 1), param="eval", help="evaluation-split representations"),
                           Input("general_reps", n=(1, 4), param="general",
                                 help="general-corpus representations (e.g. brown, wikitext2), one set per corpus, "
                                      "from the same model, layer and pooling")],
                   help="accuracy vs the number of general-corpus sentences the out-of-domain PCA is fitted on")
def run_general_size(train, eval, general, *, spec: GeneralSizeSpec, progress: bool = True) -> GeneralSizeResult:
    """The "32k sentences suffice" curve of the general-domain PCA, one line per corpus and k."""
    from ftgeo.analysis.compression import general_size_correct, pca_correct, pca_fit
    from ftgeo.progress import progress as _progress

    tr, ev, gen = as_list(train)[0], as_list(eval)[0], as_list(general)
    corpora = _corpus_names(gen, spec.names)
    lay = select_layers(tr, spec.layers, default="last")
    ks = sorted({int(k) for k in spec.ks})
    rows, refs, unit, how = [], [], "", set()
    for layer in lay:
        Xtr, ytr, _ = labelled_rows(tr, layer, "the train")
        Xev, yev, rows_ev = labelled_rows(ev, layer, "the eval")
        groups = groups_of(ev, rows_ev)
        unit = unit_name(groups)
        pca_in = pca_fit(Xtr, n_components=ks[-1])
        for k in ks:
            iv = accuracy_intervals(pca_correct(pca_in, Xtr, ytr, Xev, yev, k, C=spec.C)[None], groups, spec)
            refs.append({"layer": layer, "k": k, "in_domain": float(iv["accuracy"][0]),
                         "in_domain_low": float(iv["accuracy_low"][0]), "in_domain_high": float(iv["accuracy_high"][0])})
        for corpus, g in _progress(list(zip(corpora, gen)), enabled=progress, desc=f"general PCA sizes, layer {layer}",
                                   leave=False):
            Xg = g.layer(layer, dtype=np.float64)
            ok = general_size_correct(Xtr, ytr, Xev, yev, Xg, spec.sizes, ks, n_draws=spec.n_draws, C=spec.C,
                                      random_state=spec.seed)
            N = Xg.shape[0]
            for (n, k), c in ok.items():
                mean = c.mean(axis=0)
                iv = accuracy_intervals(mean[None] if c.shape[0] > 1 else c, groups, spec, binary=c.shape[0] == 1)
                how.add(iv["method"])
                d = paired_difference(ok[(N, k)][0], mean, groups, spec)
                rows.append({"corpus": corpus, "layer": layer, "k": k, "n_sentences": n, "n_available": N,
                             "accuracy": float(mean.mean()), "accuracy_low": float(iv["accuracy_low"][0]),
                             "accuracy_high": float(iv["accuracy_high"][0]),
                             "accuracy_std": float(c.mean(axis=1).std()), "n_draws": int(c.shape[0]),
                             "diff_all": d["diff"], "diff_all_low": d["diff_low"], "diff_all_high": d["diff_high"]})
    meta = {"layers": lay, "corpora": corpora, "ks": ks, "sizes": [int(n) for n in spec.sizes],
            "n_draws": spec.n_draws, "C": spec.C, "random_state": spec.seed,
            "classifier": "L2 softmax regression on standardised features (C=%g)" % spec.C, "intervals": {}}
    if spec.intervals:
        meta["intervals"] = {
            "accuracy": interval_note(" / ".join(sorted(h for h in how if h)) or "none", spec, unit=unit,
                                      resamples=spec.n_resamples, detail="mean over the draws of the per-row "
                                      "correctness, the draws held fixed"),
            "diff_all": interval_note("paired bootstrap (percentile)", spec, unit=unit, resamples=spec.n_resamples)}
    return GeneralSizeResult(tables={"curve": pd.DataFrame(rows), "reference": pd.DataFrame(refs)}, meta=meta)


def _corpus_names(sets, names) -> list[str]:
    """``names`` if given, else each set's task name without its options (brown, wikitext2), else readable set
    names."""
    if names is not None:
        return set_names(sets, names)
    tasks = [str(manifest_of(g).get("task") or "").split("[")[0] for g in sets]
    return tasks if all(tasks) and len(set(tasks)) == len(tasks) else set_names(sets)
