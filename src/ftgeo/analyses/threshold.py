"""``threshold``: a 1-D classifier on the principal rogue dimension (GPTology family).

Rudman, Chen & Eickhoff (2023), Section 5: after fine-tuning, a threshold on the single
highest-variance dimension of the last layer classifies nearly as well as the full model. Fitted
on the train split, scored on the eval split, next to the full model's eval accuracy. The numbers
come from :mod:`ftgeo.analysis.threshold`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ftgeo.analyses._head import SPLIT_INPUTS, resolve_head
from ftgeo.analyses._inputs import labelled_rows, select_layers
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, LabelNullSpec, has_interval
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

METHODS = ("svm", "best")


@dataclass(frozen=True)
class ThresholdSpec(IntervalSpec, LabelNullSpec):
    """Parameters of :func:`run_threshold` (intervals: Wilson for sentence-level sets, a sentence
    bootstrap for word-level sets; chance baseline: ``n_label_permutations`` refits on shuffled labels)."""

    layers: Layers = param("last", "layers: last, all, a list 0,3,6 or a range 0-6")
    methods: tuple[str, ...] = param(METHODS, "svm (1-D linear SVM), best (best training-accuracy cut), or both: "
                                              "svm,best", aliases=("method",))
    C: float = param(1.0, "LinearSVC regularisation")
    full_accuracy: float | None = param(None, "the full model's eval accuracy (default: computed through the "
                                              "classification head)")
    model: Path | None = param(None, "fine-tuned model folder for the classification head (default: from the "
                                     "manifest)", metavar="DIR")
    seed: int = param(0, "seed of the label permutations and of the bootstrap (word-level sets)")

    def __post_init__(self):
        # "both" (the old --method both) stands for svm,best
        object.__setattr__(self, "methods", _expand_both(self.methods))

    def validate(self) -> None:
        super().validate()
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValidationError(f"methods must be svm, best or both (svm,best); got {list(self.methods)}")


def _expand_both(value) -> tuple:
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
    out = []
    for v in items:
        out.extend(METHODS if v == "both" else [v])
    return tuple(out)


class ThresholdResult(Result):
    """Principal-dimension threshold classifiers per layer.

    Table ``threshold``: layer, method, dimension, threshold, polarity, variance_share,
    train_accuracy, eval_accuracy, eval_accuracy_low, eval_accuracy_high (Wilson, or a sentence
    bootstrap for word-level sets), eval_accuracy_p, eval_accuracy_null_q05 / q50 / q95 (the classifier
    refitted on shuffled training labels: the chance baseline), full_accuracy, full_accuracy_low,
    full_accuracy_high. Arrays ``x_eval_<layer>`` (the eval values of the chosen dimension) and
    ``y_eval`` for the histogram plot; ``correct_<method>_<layer>`` and ``correct_full`` (per eval row:
    classified correctly) and ``groups_eval`` (each eval row's example) for paired comparisons
    (:meth:`accuracy_gap`); ``null_eval_accuracy_<method>_<layer>``: the shuffled-label accuracies.
    The chance baseline of a threshold on a label-free dimension is not 0.5 per se: a cut fitted to
    shuffled labels still lands at a random place with a random polarity, and on a dimension whose
    classes separate, some such cuts score well; the null's quantiles say how well.
    """

    kind = "threshold"

    def accuracy_gap(self, method: str | None = None, layer: int | None = None, *, level: float | None = None,
                     n_resamples: int | None = None, seed: int | None = None) -> tuple[float, float, float]:
        """``(full - threshold accuracy, low, high)``: the full model's eval accuracy minus the 1-D
        classifier's (``method``, ``layer``: default the first method, the last layer), with a percentile
        interval from a paired bootstrap over the eval examples (both classifiers scored on the same
        resampled rows; a sentence's words move together)."""
        from ftgeo.analysis.resampling import bootstrap_plan, percentile_interval

        method = method if method is not None else self.meta["methods"][0]
        layer = layer if layer is not None else int(self.meta["layers"][-1])
        key = f"correct_{method}_{layer}"
        if key not in self.arrays or "correct_full" not in self.arrays:
            raise ValidationError(f"no per-row correctness for {method} at layer {layer} and the full model "
                                  "(the full accuracy was given as a number, or the result predates it)")
        a = self.array("correct_full").astype(np.float64)
        b = self.array(key).astype(np.float64)
        gap = float(a.mean() - b.mean())
        B = int(n_resamples if n_resamples is not None else self.meta.get("n_resamples", 1000))
        plan = bootstrap_plan(self.array("groups_eval"), B, self.meta.get("seed", 0) if seed is None else seed)
        lo, hi = percentile_interval([a[i].mean() - b[i].mean() for i in plan],
                                     level if level is not None else self.meta.get("ci_level", 0.9))
        return gap, lo, hi

    def summary(self):
        return self.table("threshold")

    def displays(self):
        return [("accuracy", ThresholdDisplay.from_result(self))]

    def findings(self):
        """Per layer and method: one dimension with a threshold against the full model's accuracy."""
        from ftgeo.results.findings import level_of, row_ci
        lev = level_of(self)
        out = []
        for _, r in self.table("threshold").iterrows():
            full = f" (full model: {row_ci(r, 'full_accuracy', lev)})" if "full_accuracy" in r else ""
            out.append((f"Layer {int(r['layer'])}: a threshold on the single dimension {int(r['dimension'])} "
                        f"({r['method']}) reaches eval accuracy {row_ci(r, 'eval_accuracy', lev)}{full}.", "accuracy"))
        return out


class ThresholdDisplay(Display):
    """Eval accuracy per layer of the threshold classifiers next to the full model's."""

    def __init__(self, table):
        self.table = table.copy()

    @classmethod
    def from_result(cls, result) -> "ThresholdDisplay":
        return cls(result.table("threshold"))

    def plot(self, ax=None) -> "ThresholdDisplay":
        fig, ax = self._new_axes(ax, figsize=(5, 3.2))
        t = self.table
        layers = sorted(int(l) for l in t["layer"].unique())
        methods = list(dict.fromkeys(t["method"]))
        one = len(layers) == 1
        for i, (method, g) in enumerate(t.groupby("method", sort=False)):
            g = g.sort_values("layer").copy()
            if one:   # one layer: the methods side by side around it, not stacked on one x
                g["layer"] = g["layer"] + 0.15 * (i - (len(methods) - 1) / 2)
            line, = ax.plot(g["layer"], g["eval_accuracy"], marker="o", ls="none" if one else "-",
                            label=f"1-D threshold ({method})")
            if has_interval(g, "eval_accuracy"):
                y = g["eval_accuracy"].to_numpy(float)
                err = np.abs(np.vstack([y - g["eval_accuracy_low"].to_numpy(float),
                                        g["eval_accuracy_high"].to_numpy(float) - y]))
                ax.errorbar(g["layer"], y, yerr=err, fmt="none", ecolor=line.get_color(), capsize=3, lw=1)
            if "eval_accuracy_null_q95" in g and np.isfinite(g["eval_accuracy_null_q95"].to_numpy(float)).any():
                ax.plot(g["layer"], g["eval_accuracy_null_q95"], ls="none", marker="_", ms=12,
                        color=line.get_color(), alpha=0.6, label=f"shuffled labels, 95% quantile ({method})")
        full = t["full_accuracy"].dropna()
        if len(full):
            ax.axhline(float(full.iloc[0]), color="k", ls="--", lw=1, label="full model")
            if has_interval(t, "full_accuracy"):
                ax.axhspan(float(t["full_accuracy_low"].iloc[0]), float(t["full_accuracy_high"].iloc[0]),
                           color="k", alpha=0.07, linewidth=0)
        ax.set_xlabel("layer")
        ax.set_ylabel("eval accuracy")
        ax.set_xticks(layers)                      # whole layers only (one layer gave a "5.7-6.3" axis)
        if one:
            ax.set_xlim(layers[0] - 1, layers[0] + 1)
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


@register_analysis("threshold", family="gptology", order=30, spec=ThresholdSpec, result=ThresholdResult,
                   inputs=SPLIT_INPUTS,
                   help="1-D linear-SVM threshold on the principal rogue dimension")
def run_threshold(train_reps, eval_reps, *, spec: ThresholdSpec,
                  head: Callable[[np.ndarray], np.ndarray] | None = None) -> ThresholdResult:
    """1-D threshold classifiers on the principal rogue dimension (highest train variance) of each
    layer (default: the last), fitted on train, scored on eval (Rudman et al. 2023), next to the
    full model's eval accuracy: ``full_accuracy`` if given, else computed through ``head`` (or the
    head resolved from ``model`` / the manifest) on the last layer, else NaN (noted in meta)."""
    import pandas as pd

    from ftgeo.analysis.ablation import head_correct
    from ftgeo.analysis.threshold import PrincipalDimensionClassifier
    from ftgeo.analyses._uncertainty import (accuracy_with_interval, groups_of, interval_note,
                                             label_permutation_null, null_note, null_summary, unit_name)

    lay = select_layers(train_reps, spec.layers, default="last")
    full_accuracy = spec.full_accuracy
    notes = []
    arrays = {}
    full = {"accuracy_low": np.nan, "accuracy_high": np.nan, "method": ""}
    groups = None
    if full_accuracy is None:
        try:
            if head is None:
                head = resolve_head(eval_reps, spec.model)
            Xl, yl, rows_l = labelled_rows(eval_reps, -1, "these")
            groups = groups_of(eval_reps, rows_l)
            correct_full = head_correct(head, Xl, yl)
            full = accuracy_with_interval(correct_full, groups, spec)
            full_accuracy = full["accuracy"]
            arrays["correct_full"] = correct_full
        except ValidationError as exc:
            notes.append(f"full-model accuracy not computed: {exc}")
    elif spec.intervals:
        notes.append("full_accuracy was given as a number: it has no interval and no per-row correctness")
    rows, how = [], set()
    nan = float("nan")
    for l in lay:
        Xtr, ytr, _ = labelled_rows(train_reps, l, "these")
        Xev, yev, rows_ev = labelled_rows(eval_reps, l, "these")
        if groups is None or groups.size != rows_ev.size:
            groups = groups_of(eval_reps, rows_ev)
        for m in spec.methods:
            clf = PrincipalDimensionClassifier(method=m, C=spec.C).fit(Xtr, ytr)
            acc = clf.score(Xev, yev)
            correct = clf.predict(Xev) == yev
            ci = accuracy_with_interval(correct, groups, spec)
            how.add(ci["method"])
            null = []
            if spec.n_label_permutations > 0:
                # the principal dimension does not depend on the labels: refit the threshold only
                x_tr, x_ev = Xtr[:, [clf.dimension_]], Xev[:, [clf.dimension_]]
                null = label_permutation_null(
                    lambda y: PrincipalDimensionClassifier(method=m, dimension=0, C=spec.C).fit(x_tr, y).score(x_ev, yev),
                    ytr, spec.n_label_permutations, spec.seed)
            rows.append({"layer": l, "method": m, "dimension": clf.dimension_, "threshold": clf.threshold_,
                         "polarity": clf.polarity_, "variance_share": clf.variance_share_,
                         "train_accuracy": clf.train_accuracy_, "eval_accuracy": acc,
                         "eval_accuracy_low": ci["accuracy_low"], "eval_accuracy_high": ci["accuracy_high"],
                         **(null_summary(acc, null, "eval_accuracy") if len(null) else
                            null_summary(nan, [], "eval_accuracy")),
                         "full_accuracy": np.nan if full_accuracy is None else float(full_accuracy),
                         "full_accuracy_low": full["accuracy_low"], "full_accuracy_high": full["accuracy_high"]})
            arrays[f"x_eval_{l}"] = Xev[:, clf.dimension_]
            arrays[f"correct_{m}_{l}"] = correct
            if len(null):
                arrays[f"null_eval_accuracy_{m}_{l}"] = np.asarray(null, dtype=np.float64)
        arrays["y_eval"] = yev
    if groups is not None:
        arrays["groups_eval"] = groups
    meta = {"methods": list(spec.methods), "C": spec.C, "layers": lay, "notes": notes,
            "full_accuracy": full_accuracy, "seed": spec.seed, "ci_level": spec.ci_level,
            "n_resamples": spec.n_resamples, "intervals": {}, "nulls": {}}
    if spec.intervals and groups is not None:
        m = (full["method"] or next(iter(how), ""))
        note = interval_note(m, spec, unit=unit_name(groups),
                             **({"resamples": spec.n_resamples} if m.startswith("cluster") else {}))
        meta["intervals"] = {"eval_accuracy": note, "full_accuracy": note}
    if spec.n_label_permutations > 0:
        meta["nulls"]["eval_accuracy"] = null_note(
            "label permutation: the threshold refitted on shuffled training labels (the principal dimension is "
            "label-free), scored on the eval split; p = (1 + #{null >= observed}) / (B + 1)",
            spec.n_label_permutations)
    return ThresholdResult(tables={"threshold": pd.DataFrame(rows)}, arrays=arrays, meta=meta)
