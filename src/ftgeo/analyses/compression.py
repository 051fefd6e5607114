"""``compression``: accuracy vs number of PCA components (Emergent-properties family).

Matton & de Oliveira (2020), PCA compression: a linear softmax classifier on the top-k principal
components of the sentence embedding, with PCA fitted in-domain (the train split), on a
general-domain corpus embedded by the same model (``brown`` / ``wikitext2``), or on k random
original dimensions, for the pretrained and the fine-tuned model side by side. The numbers come
from :class:`ftgeo.analysis.compression.CompressionCurve`; every accuracy carries the interval of an
eval accuracy (Wilson, or a sentence bootstrap for word-level sets) from its per-row correctness.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, check_pair, labelled_rows, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import (IntervalSpec, accuracy_intervals, band, groups_of, has_interval,
                                         interval_note, paired_difference, unit_name)
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import pick_layer
from ftgeo.results.base import Result

__all__ = ["CompressionSpec", "CompressionResult", "CompressionCurveDisplay", "run_compression"]


@dataclass(frozen=True)
class CompressionSpec(IntervalSpec):
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
    paired_ks: tuple[int, ...] = param((5,), "in-domain ks compared with all dimensions on the same eval rows "
                                             "(table paired; computed also off the k grid)")

    def validate(self) -> None:
        super().validate()
        if any(int(k) < 1 for k in self.paired_ks):
            raise ValidationError(f"paired_ks must be ks >= 1; got {list(self.paired_ks)}")


def _key(*parts) -> str:
    """An array name from parts (characters other than letters, digits, ``.``, ``-``, ``_`` become ``_``)."""
    import re
    return "__".join(re.sub(r"[^A-Za-z0-9_.-]", "_", str(p)) for p in parts)


class CompressionResult(Result):
    """Accuracy of the linear softmax classifier on the top-k PCA components (or k random dims).

    Table ``curve``: model, layer, source (in_domain | general | random), k, accuracy (eval),
    accuracy_low, accuracy_high, accuracy_std (over random draws; 0 for PCA), n_draws.
    Table ``points``: every fitted classifier: model, layer, source, k, draw (0.. for random, 0 for
    PCA), accuracy, accuracy_low, accuracy_high.
    Table ``full``: model, layer, accuracy, accuracy_low, accuracy_high (all dimensions, frozen
    representation + linear classifier), finetuned_accuracy, finetuned_accuracy_low,
    finetuned_accuracy_high, finetuned_accuracy_source ("given" = a number passed in, e.g. the
    fine-tuned model's own accuracy, without an interval; "linear probe" = the same classifier on the
    fine-tuned representations; "" when unknown).
    Table ``paired``: model, layer, k (``paired_ks``), accuracy, accuracy_low, accuracy_high (in-domain
    PCA, k components), all_dims, all_dims_low, all_dims_high, diff (= accuracy - all_dims),
    diff_low, diff_high (paired bootstrap over the eval rows' units).

    Intervals (NaN with ``intervals=False``): a PCA point, a random draw and the all-dimension
    accuracy get the interval of one eval accuracy (Wilson over eval examples; a sentence bootstrap
    for word-level sets); a random-source ``curve`` row (mean over draws) gets a bootstrap interval of
    the mean over the eval rows (the draws held fixed; ``accuracy_std`` keeps the spread over draws).
    Arrays (per-row eval correctness, bool, eval rows in order): ``eval_correct__<model>__L<layer>__in_domain__k<k>``
    for every in-domain k (the grid and ``paired_ks``), ``eval_correct__<model>__L<layer>__all_dims``, and
    ``eval_groups__<model>`` (the resampling unit of each eval row); see :meth:`eval_correct`.
    """

    kind = "compression"

    @property
    def curve(self) -> pd.DataFrame:
        return self.table("curve")

    @property
    def full(self) -> pd.DataFrame:
        return self.table("full")

    @property
    def points(self) -> pd.DataFrame:
        return self.table("points")

    def eval_correct(self, model: str, layer: int, k: int | None = None) -> np.ndarray:
        """Per-row eval correctness of the in-domain PCA classifier on ``k`` components (``None``: all
        dimensions), for a paired comparison on the same rows (:func:`ftgeo.analyses._uncertainty.paired_difference`)."""
        tail = ("all_dims",) if k is None else ("in_domain", f"k{int(k)}")
        return self.array(_key("eval_correct", model, f"L{int(layer)}", *tail))

    def eval_groups(self, model: str) -> np.ndarray:
        """The resampling unit (sentence or example) of each eval row of ``model``'s set."""
        return self.array(_key("eval_groups", model))

    def findings(self):
        """Per model and layer: the accuracy of the in-domain PCA classifier on the first component
        against all dimensions (the paper: one component of the fine-tuned space keeps the accuracy)."""
        from ftgeo.results.findings import level_of, row_ci
        lev = level_of(self)
        cur, full = self.curve, self.full
        out = []
        for (layer,), gl in cur[cur["source"] == "in_domain"].groupby(["layer"], sort=False):
            parts = []
            for model, g in gl.groupby("model", sort=False):
                k1 = g[g["k"] == 1]
                f = full[(full["model"] == model) & (full["layer"] == layer)]
                if k1.empty or f.empty:
                    continue
                parts.append(f"{model}: {row_ci(k1.iloc[0], 'accuracy', lev)} of {row_ci(f.iloc[0], 'accuracy', lev)} "
                             "with all dimensions")
            if parts:
                out.append((f"Layer {int(layer)}, one PCA component (in-domain) keeps eval accuracy " + "; ".join(parts)
                            + ".", f"layer{int(layer)}"))
        return out

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
    all-dimension accuracies and the fine-tuned accuracy as horizontal lines. Intervals: bands on
    the PCA curves and the all-dimension lines, vertical bars on the random-dimension means (whose
    +-std band over draws stays as before)."""

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
                if source == "random" and has_interval(g, "accuracy"):   # interval of the mean over draws
                    ax.vlines(g.k, g.accuracy_low, g.accuracy_high, color=c, lw=1.0, alpha=0.8)
                elif source != "random":
                    band(ax, g.k, g, "accuracy", color=c, alpha=0.15)
            f = self.full[self.full.model == model]
            if len(f):
                ax.axhline(float(f.accuracy.iloc[0]), color="k", ls=ls, lw=0.8, alpha=0.6,
                           label=f"{model}: all dims")
                if has_interval(f, "accuracy"):
                    ax.axhspan(float(f.accuracy_low.iloc[0]), float(f.accuracy_high.iloc[0]), color="k", alpha=0.06,
                               lw=0)
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
    curves, points, full, paired, arrays = [], [], [], [], {}
    methods: dict[str, set] = {}
    unit = ""
    for layer in lay:
        accs, full_iv = {}, {}
        for i, (model, a, b) in enumerate(zip(nm, tr, ev)):
            Xtr, ytr, _ = labelled_rows(a, layer, f"the {model} train")
            Xev, yev, rows_ev = labelled_rows(b, layer, f"the {model} eval")
            groups = groups_of(b, rows_ev)
            unit = unit_name(groups)
            Xg = gen[i].layer(layer, dtype=np.float64) if gen else None
            cc = CompressionCurve(ks=spec.ks, source=spec.sources, n_random=spec.n_random, C=spec.C,
                                  random_state=spec.seed, max_general=spec.max_general,
                                  progress=progress).fit(Xtr, ytr, Xev, yev, X_general=Xg)
            df, pts = _with_intervals(cc, groups, spec, methods)
            for t in (df, pts):
                t.insert(0, "layer", layer)
                t.insert(0, "model", model)
            curves.append(df)
            points.append(pts)
            accs[model] = cc.full_accuracy_
            fi = accuracy_intervals(cc.full_correct_, groups, spec)
            methods.setdefault("all_dims", set()).add(fi["method"])
            full_iv[model] = (float(fi["accuracy_low"][0]), float(fi["accuracy_high"][0]))
            arrays[_key("eval_groups", model)] = groups
            arrays[_key("eval_correct", model, f"L{layer}", "all_dims")] = cc.full_correct_
            paired += _paired_points(cc, model, layer, Xtr, ytr, Xev, yev, groups, spec, arrays, full_iv[model])
        if spec.finetuned_accuracy is not None:
            ft, src, ft_iv = float(spec.finetuned_accuracy), "given", (np.nan, np.nan)
        elif len(nm) == 2:
            ft, src, ft_iv = accs[nm[1]], "linear probe", full_iv[nm[1]]
        else:
            ft, src, ft_iv = np.nan, "", (np.nan, np.nan)
        for model in nm:
            full.append({"model": model, "layer": layer, "accuracy": accs[model], "accuracy_low": full_iv[model][0],
                         "accuracy_high": full_iv[model][1], "finetuned_accuracy": ft, "finetuned_accuracy_low": ft_iv[0],
                         "finetuned_accuracy_high": ft_iv[1], "finetuned_accuracy_source": src})
    meta = {"models": nm, "layers": lay, "C": spec.C, "n_random": spec.n_random,
            "random_state": spec.seed, "general": bool(gen), "max_general": spec.max_general,
            "classifier": "L2 softmax regression on standardised features (C=%g)" % spec.C,
            "finetuned_accuracy_source": full[0]["finetuned_accuracy_source"] if full else "",
            "paired_ks": [int(k) for k in spec.paired_ks], "intervals": {}}
    if spec.intervals:
        how = lambda key: " / ".join(sorted(m for m in methods.get(key, ()) if m)) or "none"  # noqa: E731
        res = dict(resamples=spec.n_resamples)
        meta["intervals"] = {
            "accuracy": interval_note(how("point"), spec, unit=unit, **res,
                                      random_curve=how("random_mean"),
                                      detail="a PCA point, a random draw (table points), all dimensions (table full): "
                                             "the eval accuracy of one classifier; a random-source curve row "
                                             "(random_curve): the mean over the draws of the per-row correctness, "
                                             "bootstrapped over the eval rows with the draws held fixed"),
            "finetuned_accuracy": interval_note(how("all_dims"), spec, unit=unit, **res,
                                                detail="the fine-tuned set's all-dimension accuracy (linear probe); "
                                                       "none for a given accuracy"),
            "all_dims": interval_note(how("all_dims"), spec, unit=unit, **res),
            "diff": interval_note("paired bootstrap (percentile)", spec, unit=unit, **res),
        }
    tables = {"curve": pd.concat(curves, ignore_index=True), "full": pd.DataFrame(full),
              "points": pd.concat(points, ignore_index=True),
              "paired": pd.DataFrame(paired, columns=["model", "layer", "k", "accuracy", "accuracy_low", "accuracy_high",
                                                      "all_dims", "all_dims_low", "all_dims_high", "diff", "diff_low",
                                                      "diff_high"])}
    return CompressionResult(tables=tables, arrays=arrays, meta=meta)


def _with_intervals(cc, groups, spec, methods: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``curve_`` with accuracy_low/high after accuracy, and the per-classifier ``points`` table."""
    df = cc.curve_.copy()
    lo, hi = np.full(len(df), np.nan), np.full(len(df), np.nan)
    pts = []
    for r, (source, k) in enumerate(zip(df.source, df.k)):
        ok = cc.eval_correct_[(source, int(k))]            # (n_draws, n_eval)
        each = accuracy_intervals(ok, groups, spec)
        methods.setdefault("point", set()).add(each["method"])
        for dr in range(ok.shape[0]):
            pts.append({"source": source, "k": int(k), "draw": dr, "accuracy": float(np.mean(ok[dr])),
                        "accuracy_low": float(each["accuracy_low"][dr]),
                        "accuracy_high": float(each["accuracy_high"][dr])})
        if source == "random" and ok.shape[0] > 1:
            mean = accuracy_intervals(ok.mean(axis=0), groups, spec, binary=False)
            methods.setdefault("random_mean", set()).add(mean["method"])
            lo[r], hi[r] = mean["accuracy_low"][0], mean["accuracy_high"][0]
        else:
            lo[r], hi[r] = each["accuracy_low"][0], each["accuracy_high"][0]
    at = df.columns.get_loc("accuracy") + 1
    df.insert(at, "accuracy_high", hi)
    df.insert(at, "accuracy_low", lo)
    return df, pd.DataFrame(pts, columns=["source", "k", "draw", "accuracy", "accuracy_low", "accuracy_high"])


def _paired_points(cc, model, layer, Xtr, ytr, Xev, yev, groups, spec, arrays, full_iv) -> list[dict]:
    """Per-row correctness of every in-domain k (the grid and ``paired_ks``) into ``arrays``, and the
    ``paired`` rows: in-domain accuracy at each of ``paired_ks`` minus the all-dimension accuracy."""
    from ftgeo.analysis.compression import pca_correct
    if "in_domain" not in cc.pca_:
        return []
    pca = cc.pca_["in_domain"]
    m = pca["components"].shape[0]
    correct = {k: ok[0] for (s, k), ok in cc.eval_correct_.items() if s == "in_domain"}
    for k in sorted({int(k) for k in spec.paired_ks}):
        if k <= m and k not in correct:
            correct[k] = pca_correct(pca, Xtr, ytr, Xev, yev, k, C=spec.C)
    for k, ok in correct.items():
        arrays[_key("eval_correct", model, f"L{layer}", "in_domain", f"k{k}")] = ok
    rows = []
    for k in sorted({int(k) for k in spec.paired_ks}):
        if k not in correct:
            continue
        a = accuracy_intervals(correct[k], groups, spec)
        d = paired_difference(correct[k], cc.full_correct_, groups, spec)
        rows.append({"model": model, "layer": layer, "k": k, "accuracy": float(a["accuracy"][0]),
                     "accuracy_low": float(a["accuracy_low"][0]), "accuracy_high": float(a["accuracy_high"][0]),
                     "all_dims": cc.full_accuracy_, "all_dims_low": full_iv[0], "all_dims_high": full_iv[1],
                     "diff": d["diff"], "diff_low": d["diff_low"], "diff_high": d["diff_high"]})
    return rows
