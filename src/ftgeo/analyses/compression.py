"""``compression``: accuracy vs number of PCA components (Emergent-properties family).

Matton & de Oliveira (2020), PCA compression: a linear softmax classifier on the top-k principal
components of the sentence embedding, with PCA fitted in-domain (the train split), on a
general-domain corpus embedded by the same model (``brown`` / ``wikitext2``), or on k random
original dimensions, for the pretrained and the fine-tuned model side by side. The numbers come
from :class:`ftgeo.analysis.compression.CompressionCurve`.
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

__all__ = ["CompressionSpec", "CompressionResult", "CompressionCurveDisplay", "run_compression"]


@dataclass(frozen=True)
class CompressionSpec(AnalysisSpec):
    """Parameters of :func:`run_compression`."""

    layers: Layers = param("last", "layers: last (the sentence embedding), all, a list 0,6,-1 or a range 2-5")
    ks: list[int] | None = param(None, "k grid, comma-separated (default 1,2,4,...,d)")
    sources: list[str] | None = param(None, "PCA sources, comma-separated: in_domain,general,random "
                                            "(default: those available)")
    n_random: int = param(5, "random-dimension draws per k")
    C: float = param(1.0, "inverse L2 strength of the softmax classifier")
    finetuned_accuracy: float | None = param(None, "the fine-tuned model's eval accuracy (default: the linear "
                                                   "classifier on the fine-tuned representations)")
    max_general: int | None = param(32000, "general-corpus sample size; none keeps every sentence", none=("0", "all"))
    seed: int = param(0, "seed of the random dimensions and of the general-corpus subsample",
                      aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: pretrained,finetuned)")


class CompressionResult(Result):
    """Accuracy of the linear softmax classifier on the top-k PCA components (or k random dims).

    Table ``curve``: model, layer, source (in_domain | general | random), k, accuracy (eval),
    accuracy_std (over random draws; 0 for PCA), n_draws.
    Table ``full``: model, layer, accuracy (all dimensions, frozen representation + linear
    classifier), finetuned_accuracy, finetuned_accuracy_source ("given" = a number passed in, e.g.
    the fine-tuned model's own accuracy; "linear probe" = the same classifier on the fine-tuned
    representations; "" when unknown).
    """

    kind = "compression"

    @property
    def curve(self) -> pd.DataFrame:
        return self.table("curve")

    @property
    def full(self) -> pd.DataFrame:
        return self.table("full")

    def summary(self) -> pd.DataFrame:
        """Per model, layer and source: accuracy at k = 1, the smallest k reaching 95% of the
        all-dimension accuracy, and the all-dimension and fine-tuned accuracies."""
        cur, full = self.curve, self.full
        rows = []
        for (model, layer, source), g in cur.groupby(["model", "layer", "source"], sort=False):
            f = full[(full.model == model) & (full.layer == layer)].iloc[0]
            g = g.sort_values("k")
            ok = g[g.accuracy >= 0.95 * f.accuracy]
            rows.append({"model": model, "layer": int(layer), "source": source,
                         "acc_k1": float(g.accuracy.iloc[0]) if int(g.k.iloc[0]) == 1 else np.nan,
                         "k_95pct": int(ok.k.iloc[0]) if len(ok) else np.nan,
                         "all_dims": float(f.accuracy), "finetuned": float(f.finetuned_accuracy)})
        return pd.DataFrame(rows)

    def displays(self):
        return [(f"layer{l}", CompressionCurveDisplay.from_result(self, layer=l)) for l in self.meta["layers"]]


_STYLE = {"in_domain": "tab:blue", "general": "tab:green", "random": "tab:gray"}
_LINES = ["-", "--", ":", "-."]


class CompressionCurveDisplay(Display):
    """Accuracy vs k (log2 axis): one colour per PCA source, one line style per model; the
    all-dimension accuracies and the fine-tuned accuracy as horizontal lines."""

    def __init__(self, curve: pd.DataFrame, full: pd.DataFrame, title: str = ""):
        self.curve, self.full, self.title = curve, full, title

    @classmethod
    def from_result(cls, result, layer=None) -> "CompressionCurveDisplay":
        cur = result.table("curve")
        layer = pick_layer(cur, layer)
        full = result.table("full")
        return cls(cur[cur.layer == layer], full[full.layer == layer], title=f"layer {layer}")

    def plot(self, ax=None) -> "CompressionCurveDisplay":
        self.figure_, self.ax_ = self._new_axes(ax, figsize=(6.5, 4.2))
        ax = self.ax_
        models = list(dict.fromkeys(self.curve["model"]))
        for mi, model in enumerate(models):
            ls = _LINES[mi % len(_LINES)]
            for source, g in self.curve[self.curve.model == model].groupby("source", sort=False):
                g = g.sort_values("k")
                c = _STYLE.get(source, None)
                ax.plot(g.k, g.accuracy, ls, marker="o", ms=3, color=c, label=f"{model}: {source}")
                if (g.accuracy_std > 0).any():
                    ax.fill_between(g.k, g.accuracy - g.accuracy_std, g.accuracy + g.accuracy_std, color=c, alpha=0.15)
            f = self.full[self.full.model == model]
            if len(f):
                ax.axhline(float(f.accuracy.iloc[0]), color="k", ls=ls, lw=0.8, alpha=0.6,
                           label=f"{model}: all dims")
        if len(self.full) and np.isfinite(self.full.finetuned_accuracy.iloc[0]):
            ax.axhline(float(self.full.finetuned_accuracy.iloc[0]), color="tab:red", lw=1,
                       label=f"fine-tuned ({self.full.finetuned_accuracy_source.iloc[0]})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (components or random dimensions)")
        ax.set_ylabel("eval accuracy")
        ax.set_title(f"Compression curves, {self.title}")
        ax.legend(fontsize=7)
        return self


@register_analysis("compression", family="emergent", order=10, spec=CompressionSpec, result=CompressionResult,
                   inputs=[Input("train_reps", n=(1, 2), param="train",
                                 help="training-split representations: pretrained [fine-tuned]"),
                           Input("eval_reps", n=(1, 2), param="eval",
                                 help="evaluation-split representations, in the same order as --train-reps"),
                           Input("general_reps", n=(1, 2), param="general", required=False,
                                 help="general-domain corpus representations (brown / wikitext2) for out-of-domain "
                                      "PCA: one, or one per model, extracted with the same model, layer and pooling")],
                   help="accuracy vs number of PCA components (in-domain, general corpus, random)")
def run_compression(train, eval, *, general=None, spec: CompressionSpec, progress: bool = True) -> CompressionResult:
    """PCA compression curves (in-domain, general-corpus, random dims) for pretrained and fine-tuned sets.

    ``train``/``eval``: one set or (pretrained, fine-tuned). ``general``: general-domain corpus
    representations (one, or one per model) for out-of-domain PCA. ``finetuned_accuracy``: the
    fine-tuned model's own eval accuracy (recorded as "given"); otherwise, with a fine-tuned set,
    the linear classifier's accuracy on the fine-tuned representations ("linear probe").
    """
    from ftgeo.analysis.compression import CompressionCurve

    tr, ev, gen = as_list(train), as_list(eval), as_list(general)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give as many eval sets as train sets (pretrained[, fine-tuned]); got {len(tr)} train "
                              f"and {len(ev)} eval")
    check_pair(tr, "compression")
    if gen and len(gen) not in (1, len(tr)):
        raise ValidationError(f"give one general-corpus set or one per model ({len(tr)}); got {len(gen)}")
    if len(gen) == 1:
        gen = gen * len(tr)
    nm = set_names(tr, spec.names, fallback=("pretrained", "finetuned"))
    lay = select_layers(tr[0], spec.layers, default="last")
    curves, full = [], []
    for layer in lay:
        accs = {}
        for i, (model, a, b) in enumerate(zip(nm, tr, ev)):
            Xtr, ytr, _ = labelled_rows(a, layer, f"the {model} train")
            Xev, yev, _ = labelled_rows(b, layer, f"the {model} eval")
            Xg = gen[i].layer(layer, dtype=np.float64) if gen else None
            cc = CompressionCurve(ks=spec.ks, source=spec.sources, n_random=spec.n_random, C=spec.C,
                                  random_state=spec.seed, max_general=spec.max_general,
                                  progress=progress).fit(Xtr, ytr, Xev, yev, X_general=Xg)
            df = cc.curve_.copy()
            df.insert(0, "layer", layer)
            df.insert(0, "model", model)
            curves.append(df)
            accs[model] = cc.full_accuracy_
        if spec.finetuned_accuracy is not None:
            ft, src = float(spec.finetuned_accuracy), "given"
        elif len(nm) == 2:
            ft, src = accs[nm[1]], "linear probe"
        else:
            ft, src = np.nan, ""
        for model in nm:
            full.append({"model": model, "layer": layer, "accuracy": accs[model], "finetuned_accuracy": ft,
                         "finetuned_accuracy_source": src})
    return CompressionResult(tables={"curve": pd.concat(curves, ignore_index=True), "full": pd.DataFrame(full)},
                             meta={"models": nm, "layers": lay, "C": spec.C, "n_random": spec.n_random,
                                   "random_state": spec.seed, "general": bool(gen), "max_general": spec.max_general,
                                   "classifier": "L2 softmax regression on standardised features (C=%g)" % spec.C,
                                   "finetuned_accuracy_source": full[0]["finetuned_accuracy_source"] if full else ""})
