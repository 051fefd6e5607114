"""``mdl``: MDL probes with the online code (Voita & Titov 2020), per layer, task and control labels.

Voita & Titov (2020), "Information-Theoretic Probing with Minimum Description Length" (EMNLP), section "Online code":
the codelength of the labels given the representation when they are sent block by block, each block with
a probe trained on the blocks before it,

    L_online = t_1 log2 K + sum_{i=1}^{S-1} -log2 p_{theta_i}(y_{t_i+1 : t_{i+1}} | x_{t_i+1 : t_{i+1}})   (VT online code)

against the uniform code L_unif = n log2 K (uniform code); compression = L_unif / L_online. Lower codelength
(higher compression) = labels easier to extract, which accounts for both the probe's accuracy and the
effort (data) it needs. With ``labels`` holding ``control``, the same code of the control task
(Hewitt & Liang 2019, :mod:`ftgeo.analyses.control`) is reported next to the task's, as Voita & Titov do
(their control-task experiments). The rows are the probes' training rows (the same ``max_train_points`` subsample and seed as
``probe`` and ``control``). The variational code ("Variational code") is not implemented.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ftgeo.analyses._inputs import as_list, manifest_summary, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.analysis.controls import DEFAULT_FRACTIONS
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

__all__ = ["MDLSpec", "MDLResult", "MDLDisplay", "run_mdl"]


@dataclass(frozen=True)
class MDLSpec(AnalysisSpec):
    """Parameters of :func:`run_mdl`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")
    kinds: tuple[Literal["linear", "mlp"], ...] = param(("linear",), "probe kinds: linear, mlp or linear,mlp")
    labels: tuple[Literal["task", "control"], ...] = param(("task", "control"),
                                                           "labellings to code: task, control or task,control")
    fractions: tuple[float, ...] = param(DEFAULT_FRACTIONS, "block ends of the online code, percent of the rows")
    hidden_size: int = param(128, "hidden width of the MLP probe")
    l2: float = param(1e-4, "L2 (weight-decay) weight of the probes")
    learning_rate: float = param(5e-3, "Adam learning rate", aliases=("lr",))
    max_epochs: int = param(200, "most training epochs")
    patience: int = param(10, "early-stopping patience (epochs)")
    batch_size: int | None = param(None, "minibatch size (default: full batch up to 4096 rows)")
    max_train_points: int | None = param(None, "seeded stratified subsample of the training rows",
                                         none=("all", "none", "0"))
    control_seed: int = param(0, "seed of the control labelling (type -> label hash)")
    data_root: str | None = param(None, "folder with the local datasets, for the rows' word types "
                                        "(default: $FTGEO_DATA_ROOT)", metavar="DIR")
    seed: int = param(0, "seed of the subsample, the row order and the probes", aliases=("random_state",))

    def validate(self) -> None:
        super().validate()
        if not self.kinds or not self.labels:
            raise ValidationError("kinds and labels need at least one entry each")
        if not self.fractions or any(not 0 < f <= 100 for f in self.fractions):
            raise ValidationError(f"fractions must be percentages in (0, 100]; got {list(self.fractions)}")
        if self.hidden_size < 1 or not self.l2 >= 0:
            raise ValidationError("hidden_size must be >= 1 and l2 >= 0")
        if self.max_train_points is not None and self.max_train_points < 2:
            raise ValidationError(f"max_train_points must be >= 2 (or all); got {self.max_train_points}")


class MDLResult(Result):
    """Online codelengths per layer.

    Tables: ``codelength`` (set, layer, kind, labels, codelength (bits), uniform (bits), compression,
    n, n_classes, bits_per_row); ``blocks`` (set, layer, kind, labels, block, end, bits, epochs).
    """

    kind = "mdl"

    @classmethod
    def combine(cls, results):
        from ftgeo.analyses.probe import _concat
        return _concat(results, cls)

    def summary(self) -> pd.DataFrame:
        return self.table("codelength")[["set", "layer", "kind", "labels", "codelength", "compression"]]

    def displays(self):
        return [("codelength", MDLDisplay.from_result(self))]


class MDLDisplay(Display):
    """Online codelength (kbits) per layer, one colour per set; task solid, control dotted; linear probes
    with circles, MLP with squares."""

    def __init__(self, table: pd.DataFrame, title: str = ""):
        self.table = table.copy()
        self.title = title

    @classmethod
    def from_result(cls, result, title: str = "") -> "MDLDisplay":
        return cls(result.table("codelength"), title)

    def plot(self, ax=None) -> "MDLDisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        sets = list(dict.fromkeys(self.table["set"]))
        colors = {s: f"C{i}" for i, s in enumerate(sets)}
        for (s, k, lab), g in self.table.groupby(["set", "kind", "labels"], sort=False):
            g = g.sort_values("layer")
            ax.plot(g["layer"], g["codelength"] / 1000.0, "-" if lab == "task" else ":",
                    marker="o" if k == "linear" else "s", ms=4, color=colors[s], label=f"{s} {k} {lab}")
        if len(self.table):
            ax.axhline(float(self.table["uniform"].max()) / 1000.0, color="0.5", lw=0.8, ls="--", label="uniform code")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("online codelength (kbits)")
        ax.set_title(self.title or "MDL probe, online code (Voita & Titov 2020)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
        self.figure_, self.ax_ = fig, ax
        return self


def mdl_layers(reps, *, spec: MDLSpec, set_name: str = "reps", layers=None, progress: bool = True) -> MDLResult:
    """Online codelengths of every requested layer of one set (see the module doc)."""
    from ftgeo.analyses._controls import control_views, label_strings
    from ftgeo.analysis.controls import online_codelength
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    keep = np.flatnonzero(np.asarray(reps.labels) >= 0)
    if keep.size < 2:
        raise ValidationError("the representations have fewer than two labelled rows")
    y_task = label_strings(reps)[keep]
    sub = stratified_subsample(y_task, spec.max_train_points, spec.seed)
    ys = {"task": y_task[sub]}
    if "control" in spec.labels:
        ys["control"] = label_strings(control_views(reps, seed=spec.control_seed, data_root=spec.data_root)[0])[keep][sub]
    classes = np.unique(y_task[sub])
    lay = list(reps.layers) if layers is None else list(layers)
    rows, blocks = [], []
    bar = _progress(total=len(lay) * len(spec.kinds) * len(spec.labels), enabled=progress, desc=f"mdl {set_name}",
                    unit="code")
    for layer in lay:
        X = reps.layer(layer, dtype=np.float32)[keep][sub]
        for kind in spec.kinds:
            for lab in spec.labels:
                r = online_codelength(X, ys[lab], classes=classes, fractions=spec.fractions, kind=kind,
                                      hidden=spec.hidden_size, l2=spec.l2, lr=spec.learning_rate,
                                      max_epochs=spec.max_epochs, patience=spec.patience, batch_size=spec.batch_size,
                                      seed=spec.seed)
                base = {"set": set_name, "layer": layer, "kind": kind, "labels": lab}
                rows.append({**base, "codelength": r["codelength"], "uniform": r["uniform"],
                             "compression": r["compression"], "n": int(len(sub)), "n_classes": int(classes.size),
                             "bits_per_row": r["codelength"] / len(sub)})
                for b, (end, bits, ep) in enumerate(zip(r["block_ends"], r["block_bits"], r["block_epochs"])):
                    blocks.append({**base, "block": b, "end": int(end), "bits": float(bits), "epochs": int(ep)})
                bar.update(1)
    bar.close()
    meta = {"sets": [set_name], "layers": lay, "fractions": [float(f) for f in spec.fractions],
            "code": "online code (Voita & Titov 2020, online code); first block uniform; each later block coded by a probe "
                    "trained on the rows before it (last 10% of them for early stopping, standardised on its own "
                    "training rows)", "control_seed": spec.control_seed,
            "intervals": {}, "notes": ["no interval: a codelength interval would need the whole online code rerun per "
                                       "resample; compare sets by the compression ratio and the control code"]}
    return MDLResult(tables={"codelength": pd.DataFrame(rows), "blocks": pd.DataFrame(blocks)}, meta=meta)


@register_analysis(
    "mdl", family="closer-look", order=13, spec=MDLSpec, result=MDLResult,
    inputs=[Input("train_reps", n=(1, None), help="training split representations (several: e.g. pretrained, "
                                                  "fine-tuned and random-init)")],
    help="MDL probes: online codelength and compression per layer (Voita & Titov 2020), task and control labels")
def run_mdl(train_reps, *, spec: MDLSpec, progress: bool = True) -> MDLResult:
    """Online codelength of the task (and control) labels on every layer of each set (Voita & Titov 2020)."""
    tr = as_list(train_reps)
    if not tr:
        raise ValidationError("give at least one set")
    nm = set_names(tr, spec.names)
    parts = [mdl_layers(t, spec=spec, set_name=nm[i], layers=select_layers(t, spec.layers), progress=progress)
             for i, t in enumerate(tr)]
    result = MDLResult.combine(parts)
    result.meta["manifests"] = {n: manifest_summary(r) for n, r in zip(nm, tr)}
    return result
