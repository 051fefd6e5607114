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
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import grid_shape
from ftgeo.results.base import Result


@dataclass(frozen=True)
class RogueSpec(IntervalSpec):
    """Parameters of :func:`run_rogue` (intervals: percentile bootstrap over examples, ``n_resamples``)."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    k: int = param(10, "top-k dimensions by variance")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")
    seed: int = param(0, "seed of the bootstrap resamples")


class RogueResult(Result):
    """Rogue dimensions per set and layer.

    Tables: ``dims`` (set, layer, dim, mean, var, var_share, cos_contribution, cos_share),
    ``top`` (set, layer, rank, dim, var, var_share, cos_share), ``layers`` (set, layer, principal,
    principal_var_share, principal_var_share_low, principal_var_share_high, principal_cos_share,
    topk_var_share, topk_var_share_low, topk_var_share_high, expected_cosine) and ``overlap``
    (set_a, set_b, layer, k, overlap, overlap_low, overlap_high, shared). Bounds: percentile bootstrap
    over examples (sentences for word-level sets), the principal dimension and the top-k set chosen
    again in every resample; NaN without intervals. Arrays ``boot_principal_var_share_<i>`` and
    ``boot_topk_var_share_<i>`` (B, L) hold the resampled shares of set ``meta["sets"][i]`` at
    ``meta["layers"][set]``: sets with the same examples share the resamples (paired), which
    :meth:`share_difference` uses.
    """

    kind = "rogue"

    def summary(self):
        s = self.table("layers").copy()
        if "overlap" in self.tables and not self.table("overlap").empty:
            ov = self.table("overlap").drop_duplicates(["set_a", "layer"])   # first partner set
            s = s.merge(ov[["set_a", "layer", "overlap"]].rename(columns={"set_a": "set"}), how="left",
                        on=["set", "layer"])
        return s

    def share_difference(self, set_a: str, set_b: str, layer: int, stat: str = "principal_var_share",
                         level: float | None = None) -> tuple[float, float, float]:
        """``(stat of set_b - stat of set_a, low, high)`` at ``layer`` (e.g. fine-tuned minus pretrained
        principal variance share): the percentile interval of the resampled differences. Sets holding the
        same examples were resampled with the same rows (a paired bootstrap); other sets independently."""
        from ftgeo.analysis.resampling import percentile_interval

        if stat not in ("principal_var_share", "topk_var_share"):
            raise ValidationError(f"stat must be principal_var_share or topk_var_share; got {stat!r}")
        lay = self.table("layers")
        vals = []
        for name in (set_a, set_b):
            row = lay[(lay["set"] == name) & (lay["layer"] == layer)]
            if row.empty:
                raise ValidationError(f"no rogue statistics for set {name!r} at layer {layer}")
            vals.append(float(row[stat].iloc[0]))
        diff = vals[1] - vals[0]
        sets = self.meta.get("sets", [])
        key = [f"boot_{stat}_{sets.index(n)}" for n in (set_a, set_b)]
        if not all(k in self.arrays for k in key):
            return diff, float("nan"), float("nan")
        cols = [self.meta["layers"][n].index(layer) for n in (set_a, set_b)]
        d = self.array(key[1])[:, cols[1]] - self.array(key[0])[:, cols[0]]
        lo, hi = percentile_interval(d, level if level is not None else self.meta.get("ci_level", 0.9))
        return diff, lo, hi

    def top(self, set_name: str | None = None, layer: int | None = None) -> np.ndarray:
        t = self.table("top")
        set_name = set_name if set_name is not None else t["set"].iloc[0]
        layer = layer if layer is not None else int(t["layer"].max())
        return t[(t["set"] == set_name) & (t["layer"] == layer)].sort_values("rank")["dim"].to_numpy()

    def findings(self):
        """Per set, the last layer's principal (highest-variance) dimension and its share of the variance,
        and the top-k overlap between the first two sets there."""
        from ftgeo.results.findings import level_of, num, row_ci
        lay = self.table("layers")
        if lay.empty:
            return []
        lev = level_of(self)
        sets = list(dict.fromkeys(lay["set"]))
        out = []
        for i, s in enumerate(sets):
            g = lay[lay["set"] == s]
            r = g[g["layer"] == g["layer"].max()].iloc[0]
            out.append((f"{s}: at layer {int(r['layer'])} dimension {int(r['principal'])} holds "
                        f"{row_ci(r, 'principal_var_share', lev, percent=True)} of the variance (the top "
                        f"{self.meta.get('k', 'k')} dimensions: {row_ci(r, 'topk_var_share', lev, percent=True)}).", f"spikes_{i}"))
        ov = self.tables.get("overlap")
        if ov is not None and not ov.empty:
            r = ov[ov["layer"] == ov["layer"].max()].iloc[0]
            out.append(f"{r['set_a']} and {r['set_b']} share {row_ci(r, 'overlap', lev)} of their top "
                       f"{num(r['k'])} dimensions at layer {int(r['layer'])}.")
        return out

    def displays(self):
        sets = self.meta.get("sets") or list(dict.fromkeys(self.table("dims")["set"]))
        return [(f"spikes_{i}", RogueSpikeDisplay.from_result(self, set_name=n)) for i, n in enumerate(sets)]


_MEASURE_LABEL = {"var": "variance", "var_share": "share of variance", "mean": "mean activation",
                  "cos_contribution": "contribution to cosine", "cos_share": "share of cosine"}


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
            if self.measure in ("var", "var_share") and not np.any(np.nan_to_num(v) > 0):
                # [CLS] pooling's layer 0: one vector for every input, nothing to draw as spikes
                a.text(0.5, 0.5, "constant layer:\nzero variance in\nevery dimension", ha="center", va="center",
                       fontsize=7, color="0.4", transform=a.transAxes)
                a.set_title(f"layer {l}", fontsize=8)
                a.set_xlabel("dimension", fontsize=6)
                a.set_ylabel(_MEASURE_LABEL.get(self.measure, self.measure), fontsize=6)
                a.tick_params(labelsize=6)
                continue
            a.vlines(np.arange(v.size), 0, v, lw=0.6, color="#345")
            for dim in self.top[l]:
                a.annotate(str(dim), (dim, v[dim]), fontsize=7, color="crimson", ha="center", va="bottom")
            a.set_title(f"layer {l}", fontsize=8)
            a.set_xlabel("dimension", fontsize=6)
            a.set_ylabel(_MEASURE_LABEL.get(self.measure, self.measure), fontsize=6)
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

    from ftgeo.analysis.resampling import bootstrap_plan, percentile_interval
    from ftgeo.analysis.rogue import RogueDimensions, bootstrap_overlap, rogue_overlap, variance_bootstrap
    from ftgeo.analyses._uncertainty import groups_of, interval_note, unit_name

    if not reps:
        raise ValidationError("run_rogue needs at least one representation set")
    nm = set_names(reps, spec.names)
    k = spec.k
    dims, tops, summ, fitted = [], [], [], {}
    boot, arrays, layers_of, units = {}, {}, {}, set()
    nan = float("nan")
    for si, (n, r) in enumerate(zip(nm, reps)):
        plan = None
        if spec.intervals:
            groups = groups_of(r)
            units.add(unit_name(groups))
            plan = bootstrap_plan(groups, spec.n_resamples, spec.seed)
        layers_of[n] = [int(l) for l in select_layers(r, spec.layers)]
        for l in layers_of[n]:
            X = r.layer(l, dtype=np.float64)
            rd = RogueDimensions(k=k).fit(X)
            fitted[(n, l)] = rd
            if plan is not None:
                boot[(n, l)] = variance_bootstrap(X, plan, k)
            d = rd.var_.size
            dims.append(pd.DataFrame({"set": n, "layer": l, "dim": np.arange(d), "mean": rd.mean_, "var": rd.var_,
                                      "var_share": rd.var_share_, "cos_contribution": rd.cos_contribution_,
                                      "cos_share": rd.cos_share_}))
            tops.append(pd.DataFrame({"set": n, "layer": l, "rank": np.arange(1, rd.top_.size + 1), "dim": rd.top_,
                                      "var": rd.var_[rd.top_], "var_share": rd.var_share_[rd.top_],
                                      "cos_share": rd.cos_share_[rd.top_]}))
            bs = boot.get((n, l))
            p_lo, p_hi = percentile_interval(bs["principal_var_share"], spec.ci_level) if bs else (nan, nan)
            t_lo, t_hi = percentile_interval(bs["topk_var_share"], spec.ci_level) if bs else (nan, nan)
            summ.append({"set": n, "layer": l, "principal": rd.principal_,
                         "principal_var_share": float(rd.var_share_[rd.principal_]),
                         "principal_var_share_low": p_lo, "principal_var_share_high": p_hi,
                         "principal_cos_share": float(rd.cos_share_[rd.principal_]),
                         "topk_var_share": float(rd.var_share_[rd.top_].sum()),
                         "topk_var_share_low": t_lo, "topk_var_share_high": t_hi,
                         "expected_cosine": rd.expected_cosine_})
        if plan is not None:
            for stat in ("principal_var_share", "topk_var_share"):
                arrays[f"boot_{stat}_{si}"] = np.stack([boot[(n, l)][stat] for l in layers_of[n]], axis=1)
    ov = []
    for i, a in enumerate(nm):
        for b in nm[i + 1:]:
            for (s, l), rd in fitted.items():
                if s == a and (b, l) in fitted:
                    other = fitted[(b, l)]
                    if other.var_.size != rd.var_.size:
                        continue
                    shared = np.intersect1d(rd.top_, other.top_)
                    lo = hi = nan
                    if (s, l) in boot and (b, l) in boot:
                        lo, hi = percentile_interval(bootstrap_overlap(boot[(s, l)]["top"], boot[(b, l)]["top"],
                                                                       rd.var_.size), spec.ci_level)
                    ov.append({"set_a": a, "set_b": b, "layer": l, "k": int(rd.top_.size),
                               "overlap": rogue_overlap(rd.top_, other.top_), "overlap_low": lo, "overlap_high": hi,
                               "shared": " ".join(map(str, shared))})
    intervals = {}
    if spec.intervals:
        unit = " / ".join(sorted(units))
        method = ("percentile bootstrap (Efron & Tibshirani 1993, Sec. 13.3); variances from count-weighted sums, "
                  "the principal dimension and the top-k chosen again in every resample")
        for col in ("principal_var_share", "topk_var_share"):
            intervals[col] = interval_note(method, spec, unit=unit, resamples=spec.n_resamples)
        intervals["overlap"] = interval_note(method + "; each set resampled over its own examples (the same "
                                             "resamples for sets of the same examples)", spec, unit=unit,
                                             resamples=spec.n_resamples)
    cols = ["set_a", "set_b", "layer", "k", "overlap", "overlap_low", "overlap_high", "shared"]
    return RogueResult(tables={"dims": pd.concat(dims, ignore_index=True), "top": pd.concat(tops, ignore_index=True),
                               "layers": pd.DataFrame(summ), "overlap": pd.DataFrame(ov, columns=cols)},
                       arrays=arrays,
                       meta={"k": k, "sets": nm, "rank_by": "variance", "layers": layers_of, "seed": spec.seed,
                             "ci_level": spec.ci_level, "intervals": intervals})
