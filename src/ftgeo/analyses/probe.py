"""``probe``: linear and MLP classifier probes on every layer (A Closer Look family).

Zhou & Srikumar (2022), "A Closer Look at How Fine-tuning Changes BERT" (ACL), Sec. 3 and the
Appendix: on each layer's frozen representations a linear probe and a two-layer MLP probe are grid
searched (hidden size x L2) on a development split, the best setting is retrained with several
seeds and the eval accuracy is reported as mean ± std. The probes themselves are
:class:`ftgeo.analysis.probes.ProbeGridSearch`; this module runs them over the layers of
representation sets (:func:`probe_layers`).

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
from ftgeo.analysis.probes import DEFAULT_HIDDEN_SIZES, DEFAULT_L2_GRID
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["ProbeOptions", "ProbeSpec", "ProbeResult", "ProbeAccuracyDisplay", "probe_layers", "run_probe"]

ProbeKind = Literal["linear", "mlp"]


@dataclass(frozen=True)
class ProbeOptions(AnalysisSpec):
    """The probe parameters (grid, seeds, training), shared by ``probe`` and ``cross-task``."""

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
    seed: int = param(0, "seed of the hold-out split, the subsample and the probes (seeds seed+0..n-1)",
                      aliases=("random_state",))

    def validate(self) -> None:
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
                "random_state": self.seed, "max_train_points": self.max_train_points}


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
    return cls(tables=tables, meta=meta)


class ProbeResult(Result):
    """Classifier probes per layer.

    Tables: ``scores`` (set, layer, kind, hidden, l2, seed, epochs, split in {validation, eval},
    accuracy), ``grid`` (set, layer, kind, hidden, l2, val_accuracy, val_loss, epochs, rank),
    ``best`` (set, layer, kind, hidden, l2, mean, std, n_seeds, val_mean, n_train, n_eval):
    mean ± std eval accuracy of the best setting over seeds (std with ddof=1).
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
        return self.table("best")[["set", "layer", "kind", "hidden", "l2", "mean", "std"]]

    def displays(self):
        return [("accuracy", ProbeAccuracyDisplay.from_result(self))]


_STYLE = {"linear": "--", "mlp": "-"}


class ProbeAccuracyDisplay(Display):
    """Probe accuracy per layer: mean ± std over seeds, one line per (set, kind); linear dashed, MLP solid."""

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
        for (s, k), g in self.best.groupby(["set", "kind"], sort=False):
            g = g.sort_values("layer")
            x, m, sd = g["layer"].to_numpy(), g["mean"].to_numpy(), g["std"].fillna(0).to_numpy()
            ax.plot(x, m, _STYLE.get(k, "-"), marker="o", ms=3, color=colors[s], label=f"{s} {k}")
            ax.fill_between(x, m - sd, m + sd, color=colors[s], alpha=0.15, lw=0)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("eval accuracy (mean ± std over seeds)")
        ax.set_title(self.title or "probe accuracy per layer", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
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


def probe_layers(reps_train, reps_eval, *, layers=None, kinds: Sequence[str] = ("linear", "mlp"), reps_val=None,
                 hidden_sizes: Sequence[int] = DEFAULT_HIDDEN_SIZES, l2_grid: Sequence[float] = DEFAULT_L2_GRID,
                 n_seeds: int = 5, validation_fraction: float = 0.2, lr: float = 5e-3, max_epochs: int = 200,
                 patience: int = 10, batch_size=None, random_state: int = 0, set_name: str = "reps",
                 max_train_points: int | None = None, progress: bool = True) -> ProbeResult:
    """Grid-searched, seed-repeated probes of every requested layer of one set (Zhou & Srikumar 2022).

    ``reps_train`` / ``reps_eval`` (/ optional ``reps_val``, else a stratified hold-out of train)
    are :class:`ftgeo.reps.Representations` of the same task; labels are matched by name.
    ``max_train_points``: a seeded stratified subsample of the training rows (the same rows at
    every layer), for CPU budgets: the grid trains 4 x 8 MLPs at once, so its cost is linear in n.
    Returns a :class:`ProbeResult` with tables ``scores`` (one row per layer, kind, seed, split),
    ``grid`` (validation results of every setting) and ``best``.
    """
    from ftgeo._checks import check_in
    from ftgeo.analysis.probes import ProbeGridSearch, stratified_subsample
    from ftgeo.progress import progress as _progress
    from ftgeo.reps import resolve_layer

    for k in kinds:
        check_in(k, ("linear", "mlp"), "kind")
    if reps_train.n_layers != reps_eval.n_layers:
        raise ValidationError(f"train has {reps_train.n_layers} layers and eval {reps_eval.n_layers}; "
                              "extract both splits with the same model")
    lay = list(reps_train.layers) if layers is None else \
        sorted({resolve_layer(int(l), reps_train.layers) for l in np.atleast_1d(layers)})
    scores, grid, best = [], [], []
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
                                 patience=patience, batch_size=batch_size, random_state=random_state)
            gs.fit(Xtr, ytr, Xva, yva, X_eval=Xev, y_eval=yev)
            bp = gs.best_params_
            h = bp["hidden"] or 0
            for seed, acc_v, acc_e, ep in zip(gs.seeds_, gs.seed_val_scores_, gs.seed_scores_, gs.seed_epochs_):
                base = {"set": set_name, "layer": layer, "kind": kind, "hidden": h, "l2": bp["l2"], "seed": seed,
                        "epochs": int(ep)}
                scores.append({**base, "split": "validation", "accuracy": float(acc_v)})
                scores.append({**base, "split": "eval", "accuracy": float(acc_e)})
            cv = gs.cv_results_.copy()
            cv.insert(0, "layer", layer)
            cv.insert(0, "set", set_name)
            grid.append(cv)
            best.append({"set": set_name, "layer": layer, "kind": kind, "hidden": h, "l2": bp["l2"],
                         "mean": gs.mean_score_, "std": gs.std_score_, "n_seeds": len(gs.seeds_),
                         "val_mean": float(np.mean(gs.seed_val_scores_)), "n_train": int(len(ytr)),
                         "n_eval": int(len(yev))})
            bar.update(1)
    bar.close()
    meta = {"hidden_sizes": [int(h) for h in hidden_sizes], "l2_grid": [float(v) for v in l2_grid],
            "n_seeds": int(n_seeds), "lr": lr, "max_epochs": int(max_epochs), "patience": int(patience),
            "batch_size": batch_size, "random_state": int(random_state),
            "validation": "given" if reps_val is not None else f"stratified hold-out {validation_fraction:g} of train",
            "std": "sample standard deviation over seeds (ddof=1)", "sets": [set_name], "layers": lay}
    return ProbeResult(tables={"scores": pd.DataFrame(scores), "grid": pd.concat(grid, ignore_index=True),
                               "best": pd.DataFrame(best)}, meta=meta)


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
