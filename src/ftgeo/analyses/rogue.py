"""``rogue``: rogue (outlier) dimensions per layer, their top-k and overlaps (GPTology family).

Per-dimension mean, variance and contribution to the expected cosine similarity (Timkey & van
Schijndel 2021), the top-k dimensions by variance, the principal rogue dimension, and the overlap
of the top-k sets of every two representation sets at each shared layer. The numbers come from
:mod:`ftgeo.analysis.rogue`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ftgeo.analyses._inputs import select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import grid_shape
from ftgeo.results.base import Result


@dataclass(frozen=True)
class RogueSpec(AnalysisSpec):
    """Parameters of :func:`run_rogue`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    k: int = param(10, "top-k dimensions by variance")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")


class RogueResult(Result):
    """Rogue dimensions per set and layer.

    Tables: ``dims`` (set, layer, dim, mean, var, var_share, cos_contribution, cos_share),
    ``top`` (set, layer, rank, dim, var, var_share, cos_share), ``layers`` (set, layer, principal,
    principal_var_share, topk_var_share, expected_cosine, principal_cos_share) and ``overlap``
    (set_a, set_b, layer, k, overlap, shared).
    """

    kind = "rogue"

    def summary(self):
        s = self.table("layers").copy()
        if "overlap" in self.tables and not self.table("overlap").empty:
            ov = self.table("overlap").drop_duplicates(["set_a", "layer"])   # first partner set
            s = s.merge(ov[["set_a", "layer", "overlap"]].rename(columns={"set_a": "set"}), how="left",
                        on=["set", "layer"])
        return s

    def top(self, set_name: str | None = None, layer: int | None = None) -> np.ndarray:
        t = self.table("top")
        set_name = set_name if set_name is not None else t["set"].iloc[0]
        layer = layer if layer is not None else int(t["layer"].max())
        return t[(t["set"] == set_name) & (t["layer"] == layer)].sort_values("rank")["dim"].to_numpy()

    def displays(self):
        sets = self.meta.get("sets") or list(dict.fromkeys(self.table("dims")["set"]))
        return [(f"spikes_{i}", RogueSpikeDisplay.from_result(self, set_name=n)) for i, n in enumerate(sets)]


class RogueSpikeDisplay(Display):
    """Per-dimension variance (or share) as spikes, one panel per layer; top dimensions annotated."""

    def __init__(self, values: dict[int, np.ndarray], top: dict[int, Sequence[int]], set_name: str, measure: str):
        self.values, self.top, self.set_name, self.measure = values, top, set_name, measure

    @classmethod
    def from_result(cls, result, set_name: str | None = None, layers: Sequence[int] | None = None,
                    measure: str = "var", annotate: int = 3) -> "RogueSpikeDisplay":
        dims = result.table("dims")
        set_name = set_name if set_name is not None else str(dims["set"].iloc[0])
        d = dims[dims["set"] == set_name]
        layers = sorted(d["layer"].unique()) if layers is None else list(layers)
        values, top = {}, {}
        for l in layers:
            dl = d[d["layer"] == l].sort_values("dim")
            values[int(l)] = dl[measure].to_numpy()
            top[int(l)] = result.top(set_name, int(l))[:annotate].tolist()
        return cls(values, top, set_name, measure)

    def plot(self, ax=None, *, ncols: int | None = None) -> "RogueSpikeDisplay":
        layers = list(self.values)
        nr, nc = grid_shape(len(layers), ncols)
        fig, axes = self._new_axes(nrows=nr, ncols=nc, figsize=(3.2 * nc, 2.2 * nr)) if ax is None else (ax.figure, ax)
        axes = np.ravel(axes) if not hasattr(axes, "plot") else np.array([axes])
        for a, l in zip(axes, layers):
            v = self.values[l]
            a.vlines(np.arange(v.size), 0, v, lw=0.6, color="#345")
            for dim in self.top[l]:
                a.annotate(str(dim), (dim, v[dim]), fontsize=7, color="crimson", ha="center", va="bottom")
            a.set_title(f"layer {l}", fontsize=8)
            a.tick_params(labelsize=6)
        for a in axes[len(layers):]:
            a.set_visible(False)
        fig.suptitle(f"{self.set_name}: {self.measure} per dimension", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


@register_analysis("rogue", family="gptology", order=20, spec=RogueSpec, result=RogueResult,
                   inputs=[Input("reps", n=(1, None), spread=True,
                                 help="one or more representation folders (overlaps are computed between every two)")],
                   help="rogue dimensions: per-dimension variance spikes, top-k, overlap")
def run_rogue(*reps, spec: RogueSpec) -> RogueResult:
    """Per-dimension mean/variance/cosine contribution per layer of each set, top-k by variance,
    the principal rogue dimension, and top-k overlaps between every two sets at each shared layer
    (Timkey & van Schijndel 2021)."""
    import pandas as pd

    from ftgeo.analysis.rogue import RogueDimensions, rogue_overlap

    if not reps:
        raise ValidationError("run_rogue needs at least one representation set")
    nm = set_names(reps, spec.names)
    k = spec.k
    dims, tops, summ, fitted = [], [], [], {}
    for n, r in zip(nm, reps):
        for l in select_layers(r, spec.layers):
            rd = RogueDimensions(k=k).fit(r.layer(l, dtype=np.float64))
            fitted[(n, l)] = rd
            d = rd.var_.size
            dims.append(pd.DataFrame({"set": n, "layer": l, "dim": np.arange(d), "mean": rd.mean_, "var": rd.var_,
                                      "var_share": rd.var_share_, "cos_contribution": rd.cos_contribution_,
                                      "cos_share": rd.cos_share_}))
            tops.append(pd.DataFrame({"set": n, "layer": l, "rank": np.arange(1, rd.top_.size + 1), "dim": rd.top_,
                                      "var": rd.var_[rd.top_], "var_share": rd.var_share_[rd.top_],
                                      "cos_share": rd.cos_share_[rd.top_]}))
            summ.append({"set": n, "layer": l, "principal": rd.principal_,
                         "principal_var_share": float(rd.var_share_[rd.principal_]),
                         "principal_cos_share": float(rd.cos_share_[rd.principal_]),
                         "topk_var_share": float(rd.var_share_[rd.top_].sum()),
                         "expected_cosine": rd.expected_cosine_})
    ov = []
    for i, a in enumerate(nm):
        for b in nm[i + 1:]:
            for (s, l), rd in fitted.items():
                if s == a and (b, l) in fitted:
                    other = fitted[(b, l)]
                    if other.var_.size != rd.var_.size:
                        continue
                    shared = np.intersect1d(rd.top_, other.top_)
                    ov.append({"set_a": a, "set_b": b, "layer": l, "k": int(rd.top_.size),
                               "overlap": rogue_overlap(rd.top_, other.top_), "shared": " ".join(map(str, shared))})
    return RogueResult(tables={"dims": pd.concat(dims, ignore_index=True), "top": pd.concat(tops, ignore_index=True),
                               "layers": pd.DataFrame(summ),
                               "overlap": pd.DataFrame(ov, columns=["set_a", "set_b", "layer", "k", "overlap", "shared"])},
                       meta={"k": k, "sets": nm, "rank_by": "variance"})
