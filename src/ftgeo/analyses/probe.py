"""``probe``: linear and MLP classifier probes on every layer (A Closer Look family).

Zhou & Srikumar (2022), "A Closer Look at How Fine-tuning Changes BERT" (ACL), Sec. 3 and the
Appendix: on each layer's frozen representations a linear probe and a two-layer MLP probe are grid
searched (hidden size x L2) on a development split, the best setting is retrained with several
seeds and the eval accuracy is reported as mean ± std. The probes themselves are
:class:`ftgeo.analysis.probes.ProbeGridSearch`; this module runs them over the layers of
representation sets (:func:`probe_layers`).

Uncertainty (``docs/probing.md``, "Uncertainty"): every eval (and validation) accuracy of one seed gets
``accuracy_low/high`` (Wilson for independent examples, a sentence bootstrap for word-level rows);
the best setting's seed mean keeps its between-seed ``std`` and adds the within-seed interval
``mean_low/high`` (eval rows resampled, seeds paired) and the two combined (``mean_total_low/high``);
a label-permutation baseline (probes of the selected setting trained on shuffled labels) gives
``accuracy_p`` and the null's quantiles.

:class:`ProbeOptions` holds the probe parameters once; ``cross-task`` shares them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.analyses._uncertainty import (IntervalSpec, LabelNullSpec, accuracy_with_interval, groups_of,
                                         has_interval, interval_note, null_note, null_summary, unit_name)
from ftgeo.analysis.probes import DEFAULT_HIDDEN_SIZES, DEFAULT_L2_GRID
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["ProbeOptions", "ProbeSpec", "ProbeResult", "ProbeAccuracyDisplay", "probe_layers", "run_probe"]

ProbeKind = Literal["linear", "mlp"]


@dataclass(frozen=True)
class ProbeOptions(IntervalSpec, LabelNullSpec):
    """The probe parameters (grid, seeds, training, intervals, label-permutation baseline), shared by
    ``probe`` and ``cross-task``."""

    kinds: tuple[ProbeKind, ...] = param(("linear", "mlp"), "probe kinds: linear, mlp or linear,mlp")
    hidden_sizes: tuple[int, ...] = param(DEFAULT_HIDDEN_SIZES, "MLP hidden sizes of the grid")
    l2_grid: tuple[float, ...] | None = param(DEFAULT_L2_GRID, "L2 (weight-decay) grid, comma-separated",
                                              aliases=("l2",))
    n_seeds: int = param(5, "retrain the best setting with this many seeds", aliases=("seeds",))
    validation_fraction: float = param(0.2, "stratified hold-out of train for selection and early stopping "
                                            "(when no validation sets are given)")
    learning_rate: float = param(5e-3, "Adam learning rate", aliases=("lr",))
    max_epochs: int = param(200, "most training epochs")
    patience: int = param(10, "early-stopping patience (epochs)")
    batch_size: int | None = param(None, "minibatch size (default: full batch up to 4096 rows)")
    max_train_points: int | None = param(None, "seeded stratified subsample of the probe's training rows",
                                         none=("all", "none", "0"))
    seed: int = param(0, "seed of the hold-out split, the subsample, the probes (seeds seed+0..n-1), the "
                         "interval resamples and the label permutations",
                      aliases=("random_state",))

    def validate(self) -> None:
        super().validate()
        if not self.kinds:
            raise ValidationError("kinds: give at least one probe kind (linear, mlp)")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValidationError(f"hidden_sizes must be positive integers; got {list(self.hidden_sizes)}")
        if self.l2_grid is not None and not self.l2_grid:
            raise ValidationError("l2_grid: give at least one L2 value")
        if self.n_seeds < 1:
            raise ValidationError(f"n_seeds must be >= 1; got {self.n_seeds}")
        if self.max_train_points is not None and self.max_train_points < 1:
            raise ValidationError(f"max_train_points must be positive (or all); got {self.max_train_points}")

    def probe_settings(self) -> dict:
        """The values of the :class:`ProbeOptions` fields (to pass them on to ``probe``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ProbeOptions)}

    def probe_kwargs(self) -> dict:
        """The keywords of :func:`probe_layers` (its names are the estimator's: ``lr``, ``random_state``)."""
        l2 = DEFAULT_L2_GRID if self.l2_grid is None else tuple(self.l2_grid)
        return {"kinds": tuple(self.kinds), "hidden_sizes": tuple(self.hidden_sizes), "l2_grid": l2,
                "n_seeds": self.n_seeds, "validation_fraction": self.validation_fraction, "lr": self.learning_rate,
                "max_epochs": self.max_epochs, "patience": self.patience, "batch_size": self.batch_size,
                "random_state": self.seed, "max_train_points": self.max_train_points,
                "intervals": self.intervals, "ci_level": self.ci_level, "n_resamples": self.n_resamples,
                "n_label_permutations": self.n_label_permutations}


@dataclass(frozen=True)
class ProbeSpec(ProbeOptions):
    """Parameters of :func:`run_probe`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")


def _concat(results: Sequence[Result], cls):
    if not results:
        raise ValidationError(f"{cls.__name__}.combine needs at least one result")
    names = sorted({t for r in results for t in r.tables})
    tables = {n: pd.concat([r.tables[n] for r in results if n in r.tables], ignore_index=True) for n in names}
    meta = dict(results[0].meta)
    meta["sets"] = [s for r in results for s in r.meta.get("sets", [])]
    arrays = {k: v for r in results for k, v in r.arrays.items()}
    return cls(tables=tables, arrays=arrays, meta=meta)


def _array_name(*parts) -> str:
    """A result array name from parts (set names may hold characters array names cannot)."""
    import re
    return "__".join(re.sub(r"[^A-Za-z0-9_-]", "-", str(p)) for p in parts)


class ProbeResult(Result):
    """Classifier probes per layer.

    Tables: ``scores`` (set, layer, kind, hidden, l2, seed, epochs, split in {validation, eval},
    accuracy, accuracy_low, accuracy_high), ``grid`` (set, layer, kind, hidden, l2, val_accuracy,
    val_loss, epochs, rank), ``best`` (set, layer, kind, hidden, l2, mean, mean_low, mean_high, std,
    n_seeds, val_mean, n_train, n_eval, se_within, se_between, mean_total_low, mean_total_high,
    accuracy_p, accuracy_null_q05, accuracy_null_q50, accuracy_null_q95, n_label_permutations):
    mean ± std eval accuracy of the best setting over seeds (std with ddof=1, the between-seed
    spread); ``mean_low/high`` the within-seed interval (eval rows resampled, seeds paired);
    ``mean_total_low/high`` both sources combined; ``accuracy_p`` the first seed's accuracy against
    the label-permutation baseline, whose eval accuracies are in table ``label_null`` (set, layer,
    kind, permutation, accuracy, val_accuracy).

    Arrays: ``eval_correct__<set>__<layer>__<kind>`` (n_seeds x n_eval per-row correctness, rows in
    the eval set's labelled order) and ``eval_groups__<set>`` (resampling unit of each eval row);
    :meth:`eval_correct` reads them. Set names are stored with characters other than letters, digits,
    ``_`` and ``-`` replaced by ``-``.
    """

    kind = "probe"

    @classmethod
    def combine(cls, results: Sequence["ProbeResult"]) -> "ProbeResult":
        """Stack results of several representation sets (e.g. pretrained and fine-tuned)."""
        return _concat(results, cls)

    @property
    def sets(self) -> list[str]:
        return list(dict.fromkeys(self.table("best")["set"]))

    def best(self, set: str | None = None, kind: str | None = None) -> pd.DataFrame:
        df = self.table("best")
        if set is not None:
            df = df[df["set"] == set]
        if kind is not None:
            df = df[df["kind"] == kind]
        return df.reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        df = self.table("best")
        cols = ["set", "layer", "kind", "hidden", "l2", "mean", "mean_low", "mean_high", "std", "accuracy_p"]
        return df[[c for c in cols if c in df.columns]]

    def eval_correct(self, set: str, layer: int, kind: str) -> np.ndarray:
        """(n_seeds, n_eval) per-row correctness of the best setting's probes on the eval rows."""
        return self.array(_array_name("eval_correct", set, layer, kind))

    def displays(self):
        return [("accuracy", ProbeAccuracyDisplay.from_result(self))]

    def findings(self):
        """Last-layer probe accuracy per set and kind (with the within-seed interval where saved) and the
        best layer of each."""
        from ftgeo.results.findings import level_of, row_ci
        b = self.table("best")
        if b.empty:
            return []
        lev = level_of(self)
        out = []
        for kind, gk in b.groupby("kind", sort=False):
            last = int(gk["layer"].max())
            parts = []
            for s, g in gk.groupby("set", sort=False):
                r = g[g["layer"] == last]
                if r.empty:
                    continue
                best = g.loc[g["mean"].idxmax()]
                parts.append(f"{s} {row_ci(r.iloc[0], 'mean', lev)} (best layer {int(best['layer'])}: "
                             f"{row_ci(best, 'mean', lev)})")
            if parts:
                out.append((f"{kind.upper() if kind == 'mlp' else kind.capitalize()} probe eval accuracy at the last "
                            f"probed layer ({last}): " + "; ".join(parts) + ".", "accuracy"))
        return out


_STYLE = {"linear": "--", "mlp": "-"}


class ProbeAccuracyDisplay(Display):
    """Probe accuracy per layer: mean ± std over seeds (band: between-seed spread), one line per (set, kind);
    linear dashed, MLP solid. Where the result has them: error bars for the within-seed interval of the
    mean (``mean_low/high``) and a short grey tick at the label-permutation baseline's 95% quantile."""

    def __init__(self, best: pd.DataFrame, title: str = ""):
        self.best = best.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "ProbeAccuracyDisplay":
        return cls(result.table("best"), title)

    def plot(self, ax=None) -> "ProbeAccuracyDisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        sets = list(dict.fromkeys(self.best["set"]))
        colors = {s: f"C{i}" for i, s in enumerate(sets)}
        null_label = "shuffled labels, 95% quantile"
        for (s, k), g in self.best.groupby(["set", "kind"], sort=False):
            g = g.sort_values("layer")
            x, m, sd = g["layer"].to_numpy(), g["mean"].to_numpy(), g["std"].fillna(0).to_numpy()
            ax.plot(x, m, _STYLE.get(k, "-"), marker="o", ms=3, color=colors[s], label=f"{s} {k}")
            ax.fill_between(x, m - sd, m + sd, color=colors[s], alpha=0.15, lw=0)
            if has_interval(g, "mean"):
                lo, hi = g["mean_low"].to_numpy(float), g["mean_high"].to_numpy(float)
                ax.errorbar(x, m, yerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)], fmt="none",
                            ecolor=colors[s], elinewidth=0.8, capsize=2)
            if "accuracy_null_q95" in g.columns and np.isfinite(g["accuracy_null_q95"].to_numpy(float)).any():
                ax.plot(x, g["accuracy_null_q95"].to_numpy(float), linestyle="none", marker="_", ms=9,
                        color="0.4", label=null_label)
                null_label = None
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("eval accuracy (mean ± std over seeds)" + (
            "\nbars: within-seed interval" if has_interval(self.best, "mean") else ""))
        ax.set_title(self.title or "probe accuracy per layer", fontsize=10)
        ax.grid(alpha=0.3)
        # handles long enough to show the dash pattern past the marker (a short handle drew "linear" solid)
        ax.legend(fontsize=7, handlelength=4.0)
        self.figure_, self.ax_ = fig, ax
        return self


# ----------------------------------------------------------------------------- every layer of one set
def _labelled_layer(reps, layer: int, what: str):
    """(X float32 of the labelled rows, label names as strings): probes compare labels by name."""
    y = np.asarray(reps.labels)
    keep = y >= 0
    if not keep.any():
        raise ValidationError(f"the {what} representations have no labels (all -1); extract a labelled split")
    X = reps.layer(layer, dtype=np.float32)[keep]
    names = list(reps.label_names)
    lab = np.asarray(names, dtype=object)[y[keep]] if names else y[keep]
    return X, np.asarray(lab).astype(str)


def _labelled_index(reps) -> np.ndarray:
    """Rows of ``reps`` that :func:`_labelled_layer` keeps, in its order."""
    return np.flatnonzero(np.asarray(reps.labels) >= 0)


def probe_layers(reps_train, reps_eval, *, layers=None, kinds: Sequence[str] = ("linear", "mlp"), reps_val=None,
                 hidden_sizes: Sequence[int] = DEFAULT_HIDDEN_SIZES, l2_grid: Sequence[float] = DEFAULT_L2_GRID,
                 n_seeds: int = 5, validation_fraction: float = 0.2, lr: float = 5e-3, max_epochs: int = 200,
                 patience: int = 10, batch_size=None, random_state: int = 0, set_name: str = "reps",
                 max_train_points: int | None = None, intervals: bool = True, ci_level: float = 0.9,
                 n_resamples: int = 1000, n_label_permutations: int = 20, progress: bool = True) -> ProbeResult:
    """Grid-searched, seed-repeated probes of every requested layer of one set (Zhou & Srikumar 2022).

    ``reps_train`` / ``reps_eval`` (/ optional ``reps_val``, else a stratified hold-out of train)
    are :class:`ftgeo.reps.Representations` of the same task; labels are matched by name.
    ``max_train_points``: a seeded stratified subsample of the training rows (the same rows at
    every layer), for CPU budgets: the grid trains 4 x 8 MLPs at once, so its cost is linear in n.
    ``intervals``: accuracy intervals at level ``ci_level`` (Wilson, or ``n_resamples`` sentence
    bootstrap resamples for word-level rows); ``n_label_permutations``: probes of the selected setting
    trained on shuffled labels (the chance baseline; 0 = none).
    Returns a :class:`ProbeResult` with tables ``scores`` (one row per layer, kind, seed, split),
    ``grid`` (validation results of every setting), ``best`` and ``label_null``.
    """
    from types import SimpleNamespace

    from ftgeo._checks import check_in
    from ftgeo.analysis.probes import ProbeGridSearch, seed_mean_interval, stratified_subsample
    from ftgeo.progress import progress as _progress
    from ftgeo.reps import resolve_layer

    for k in kinds:
        check_in(k, ("linear", "mlp"), "kind")
    if reps_train.n_layers != reps_eval.n_layers:
        raise ValidationError(f"train has {reps_train.n_layers} layers and eval {reps_eval.n_layers}; "
                              "extract both splits with the same model")
    lay = list(reps_train.layers) if layers is None else \
        sorted({resolve_layer(int(l), reps_train.layers) for l in np.atleast_1d(layers)})
    unc = SimpleNamespace(intervals=bool(intervals), ci_level=float(ci_level), n_resamples=int(n_resamples),
                          seed=int(random_state))
    g_train = groups_of(reps_train, _labelled_index(reps_train))
    g_eval = groups_of(reps_eval, _labelled_index(reps_eval))
    g_val = None if reps_val is None else groups_of(reps_val, _labelled_index(reps_val))
    scores, grid, best, nulls = [], [], [], []
    arrays: dict[str, np.ndarray] = {_array_name("eval_groups", set_name): g_eval}
    methods: set[str] = set()
    bar = _progress(total=len(lay) * len(kinds), enabled=progress, desc=f"probes {set_name}", unit="probe")
    sub = None
    for layer in lay:
        Xtr, ytr = _labelled_layer(reps_train, layer, "train")
        if sub is None:
            sub = stratified_subsample(ytr, max_train_points, random_state)
        Xtr, ytr = Xtr[sub], ytr[sub]
        Xev, yev = _labelled_layer(reps_eval, layer, "eval")
        Xva = yva = None
        if reps_val is not None:
            Xva, yva = _labelled_layer(reps_val, layer, "validation")
        for kind in kinds:
            gs = ProbeGridSearch(kind=kind, hidden_sizes=hidden_sizes, l2_grid=l2_grid, n_seeds=n_seeds,
                                 validation_fraction=validation_fraction, lr=lr, max_epochs=max_epochs,
                                 patience=patience, batch_size=batch_size, random_state=random_state,
                                 n_label_permutations=n_label_permutations)
            gs.fit(Xtr, ytr, Xva, yva, X_eval=Xev, y_eval=yev)
            bp = gs.best_params_
            h = bp["hidden"] or 0
            gv = (g_val if reps_val is not None else g_train[sub])[gs.validation_index_]
            for i, (seed, acc_v, acc_e, ep) in enumerate(zip(gs.seeds_, gs.seed_val_scores_, gs.seed_scores_,
                                                              gs.seed_epochs_)):
                base = {"set": set_name, "layer": layer, "kind": kind, "hidden": h, "l2": bp["l2"], "seed": seed,
                        "epochs": int(ep)}
                iv = accuracy_with_interval(gs.seed_val_correct_[i], gv, unc)
                ie = accuracy_with_interval(gs.seed_correct_[i], g_eval, unc)
                methods.update(m for m in (iv["method"], ie["method"]) if m)
                scores.append({**base, "split": "validation", "accuracy": float(acc_v),
                               "accuracy_low": iv["accuracy_low"], "accuracy_high": iv["accuracy_high"]})
                scores.append({**base, "split": "eval", "accuracy": float(acc_e),
                               "accuracy_low": ie["accuracy_low"], "accuracy_high": ie["accuracy_high"]})
            cv = gs.cv_results_.copy()
            cv.insert(0, "layer", layer)
            cv.insert(0, "set", set_name)
            grid.append(cv)
            sm = seed_mean_interval(gs.seed_correct_, g_eval, ci_level, n_resamples=n_resamples,
                                    random_state=random_state) if intervals else {}
            nan = float("nan")
            row = {"set": set_name, "layer": layer, "kind": kind, "hidden": h, "l2": bp["l2"],
                   "mean": gs.mean_score_, "mean_low": sm.get("low", nan), "mean_high": sm.get("high", nan),
                   "std": gs.std_score_, "n_seeds": len(gs.seeds_),
                   "val_mean": float(np.mean(gs.seed_val_scores_)), "n_train": int(len(ytr)),
                   "n_eval": int(len(yev)), "se_within": sm.get("se_within", nan),
                   "se_between": sm.get("se_between", nan), "mean_total_low": sm.get("total_low", nan),
                   "mean_total_high": sm.get("total_high", nan)}
            row.update(null_summary(float(gs.seed_scores_[0]), gs.null_scores_, "accuracy"))
            row["n_label_permutations"] = int(gs.null_scores_.size)
            best.append(row)
            for b, (acc, vacc) in enumerate(zip(gs.null_scores_, gs.null_val_scores_)):
                nulls.append({"set": set_name, "layer": layer, "kind": kind, "permutation": b,
                              "accuracy": float(acc), "val_accuracy": float(vacc)})
            arrays[_array_name("eval_correct", set_name, layer, kind)] = gs.seed_correct_.astype(np.int8)
            bar.update(1)
    bar.close()
    unit = unit_name(g_eval)
    meta = {"hidden_sizes": [int(h) for h in hidden_sizes], "l2_grid": [float(v) for v in l2_grid],
            "n_seeds": int(n_seeds), "lr": lr, "max_epochs": int(max_epochs), "patience": int(patience),
            "batch_size": batch_size, "random_state": int(random_state),
            "validation": "given" if reps_val is not None else f"stratified hold-out {validation_fraction:g} of train",
            "std": "sample standard deviation over seeds (ddof=1)", "sets": [set_name], "layers": lay,
            "intervals": _interval_notes(unc, unit, sorted(methods)) if intervals else {},
            "nulls": {"accuracy": null_note(
                "label permutation: probes of the selected setting (first seed's initialisation and minibatch "
                "order) trained on shuffled training/validation labels; p-value of the first seed's eval "
                "accuracy (exchangeable with the null probes' under the null), quantiles of the null probes' "
                "eval accuracies", n_label_permutations, alternative="greater")}}
    null_cols = ["set", "layer", "kind", "permutation", "accuracy", "val_accuracy"]
    return ProbeResult(tables={"scores": pd.DataFrame(scores), "grid": pd.concat(grid, ignore_index=True),
                               "best": pd.DataFrame(best), "label_null": pd.DataFrame(nulls, columns=null_cols)},
                       arrays=arrays, meta=meta)


def _interval_notes(spec, unit: str, methods: list[str]) -> dict:
    r = {"resamples": spec.n_resamples}
    return {
        "accuracy": interval_note(" / ".join(methods) or "wilson", spec, unit=unit, **r,
                                  what="one seed's accuracy (scores table): Wilson for independent examples, a "
                                       "percentile bootstrap of the sentences for word-level rows"),
        "mean": interval_note("percentile bootstrap of the seed mean, seeds paired (Wilson for one seed)", spec,
                              unit=unit, **r, what="within-seed: eval-sampling variance of the mean over seeds"),
        "mean_total": interval_note("mean ± t_df sqrt(se_within^2 + se_between^2), Welch-Satterthwaite df", spec,
                                    unit=unit, **r, what="within- and between-seed variance combined; "
                                                         "NaN for one seed"),
    }


# ----------------------------------------------------------------------------- the analysis
@register_analysis(
    "probe", family="closer-look", order=10, spec=ProbeSpec, result=ProbeResult,
    inputs=[Input("train_reps", n=(1, None), help="training split representations (several: e.g. pretrained and "
                                                  "fine-tuned, paired with --eval-reps by position)"),
            Input("eval_reps", n=(1, None), help="evaluation split representations, one per --train-reps"),
            Input("val_reps", n=(1, None), required=False,
                  help="development split for model selection, one per --train-reps "
                       "(default: stratified hold-out of train)")],
    help="linear and MLP probes with grid search and repeated seeds")
def run_probe(train_reps, eval_reps, *, val_reps=None, spec: ProbeSpec, progress: bool = True) -> ProbeResult:
    """Linear and MLP probes on every layer (Zhou & Srikumar 2022): grid search on a validation
    split, the best setting retrained with ``n_seeds`` seeds, mean ± std on the eval split.
    ``max_train_points``: seeded stratified subsample of each training set (None = all rows).

    ``train_reps`` / ``eval_reps`` (/ ``val_reps``) may each be one set or a list of sets (e.g.
    [pretrained, fine-tuned]) paired by position; the result stacks them with a ``set`` column.
    """
    tr, ev, va = as_list(train_reps), as_list(eval_reps), as_list(val_reps)
    if not tr or len(tr) != len(ev) or (va and len(va) != len(tr)):
        raise ValidationError(f"give as many eval sets as train sets (and validation sets, if any); got "
                              f"{len(tr)} train, {len(ev)} eval, {len(va)} validation")
    nm = set_names(tr, spec.names)
    parts = []
    for i, (t, e) in enumerate(zip(tr, ev)):
        parts.append(probe_layers(t, e, reps_val=va[i] if va else None, layers=select_layers(t, spec.layers),
                                  set_name=nm[i], progress=progress, **spec.probe_kwargs()))
    result = ProbeResult.combine(parts)
    result.meta["manifests"] = {n: manifest_summary(r) for n, r in zip(nm, tr)}
    result.meta["max_train_points"] = spec.max_train_points
    return result
