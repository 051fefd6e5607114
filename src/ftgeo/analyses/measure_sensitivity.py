"""``measure-sensitivity``: the measures panel -- every similarity measure raw, standardized and clipped,
on the pretrained-vs-fine-tuned same-layer pairs, and where the choice flips a conclusion (GPTology family).

Rogue dimensions (Timkey & van Schijndel 2021) and massive activations (Sun et al. 2024) can decide
what a similarity measure says: linear CKA is 0.007 raw and 0.82 standardized on ftgeo's planted
rogue dimension. This analysis runs linear CKA, Procrustes, the shape metric, SVCCA, PWCCA, RSA,
mutual kNN and CKNNA on layer l of the pretrained set against layer l of the fine-tuned set, in the
three preprocessings, maps each value to a similarity (1 = identical) and flags the layers whose
conclusion changes with the preprocessing. "Conclusion" is defined in
:mod:`ftgeo.analysis.sensitivity`: *level* (s < ``level``: fine-tuning changed the layer
substantially) and *rank* (the layer is among the ceil(L/3) layers fine-tuning changed most).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ftgeo.analyses._inputs import check_aligned, select_layers, set_names
from ftgeo.analyses._layerwise import subsample_rows
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, groups_of, interval_note, unit_name
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result

VARIANTS = ("raw", "standardize", "clip")


@dataclass(frozen=True)
class MeasureSensitivitySpec(IntervalSpec):
    """Parameters of :func:`run_measure_sensitivity`. Intervals are off by default: the jackknife re-runs every
    measure in every preprocessing per block, (n_blocks + 1) x the point estimates (about 15 minutes at demo size
    on 2 cores); the per-measure analyses (``svcca``, ``rsa``, ...) carry intervals by default."""

    intervals: bool = param(False, "jackknife intervals on every value (costly: n_blocks + 1 times the run)")

    measures: tuple[str, ...] = param(("cka", "procrustes", "shape", "svcca", "pwcca", "rsa", "mutual_knn", "cknna"),
                                      "measures, comma-separated (cka, procrustes, shape, svcca, pwcca, rsa, "
                                      "mutual_knn, cknna)")
    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    q: float = param(0.95, "clipping quantile of the clip variant (platonic-rep: 0.95)")
    level: float = param(0.5, "similarity below which a layer counts as substantially changed")
    max_points: int | None = param(2000, "rows used, a seeded subsample (RSA is quadratic in n)", none=("all",))
    topk: int = param(10, "neighbours of mutual kNN and CKNNA")
    seed: int = param(0, "seed of the row subsample and of the jackknife blocks")
    names: list[str] | None = param(None, "names of the two sets (default: pretrained, fine-tuned)")

    def __post_init__(self):
        m = self.measures
        if isinstance(m, str):
            object.__setattr__(self, "measures", tuple(x.strip() for x in m.split(",") if x.strip()))

    def validate(self) -> None:
        super().validate()
        from ftgeo.analysis.sensitivity import SENSITIVITY_MEASURES
        bad = [x for x in self.measures if x not in SENSITIVITY_MEASURES]
        if bad or not self.measures:
            raise ValidationError(f"measures must be among {', '.join(SENSITIVITY_MEASURES)}; got {list(self.measures)}")
        if not 0.0 < self.q <= 1.0:
            raise ValidationError(f"q must be in (0, 1]; got {self.q}")


class MeasureSensitivityResult(Result):
    """Table ``values``: measure, layer, preprocess, value (the measure's own units), value_low, value_high,
    similarity (1 = identical). Table ``sensitivity``: measure, layer, s_raw, s_standardize, s_clip, spread,
    below_raw/_standardize/_clip, rank_raw/_standardize/_clip, flip_level, flip_rank, flip.
    Table ``flips``: the flipped (measure, layer) rows. Table ``across``: preprocess, layer, changed, unchanged
    (the measures below / above the level), disagree, similarity_spread (between measures).
    Meta: level, k (the rank conclusion's top-k), q."""

    kind = "measure_sensitivity"

    def summary(self):
        t = self.table("sensitivity")
        return t.groupby("measure", sort=False).agg(max_spread=("spread", "max"), flips=("flip", "sum"),
                                                    flipped_layers=("layer", lambda s: ",".join(
                                                        str(v) for v in s[t.loc[s.index, "flip"]]))).reset_index()

    def displays(self):
        return [("variants", SensitivityDisplay.from_result(self)), ("spread", SpreadDisplay.from_result(self))]


class SensitivityDisplay(Display):
    """One panel per measure: same-layer similarity per layer, raw / standardized / clipped; flipped layers ringed."""

    def __init__(self, table, level: float):
        self.table, self.level = table.copy(), level

    @classmethod
    def from_result(cls, result) -> "SensitivityDisplay":
        return cls(result.table("sensitivity"), result.meta.get("level", 0.5))

    def plot(self, ax=None) -> "SensitivityDisplay":
        ms = list(dict.fromkeys(self.table["measure"]))
        nc = min(4, len(ms))
        nr = int(np.ceil(len(ms) / nc))
        fig, axes = self._new_axes(nrows=nr, ncols=nc, figsize=(3.0 * nc, 2.5 * nr))
        axes = list(np.ravel(axes)) if len(ms) > 1 else [axes]
        for a, m in zip(axes, ms):
            g = self.table[self.table["measure"] == m].sort_values("layer")
            for v, st in zip(VARIANTS, ("-", "--", ":")):
                a.plot(g["layer"], g[f"s_{v}"], st, marker="o", ms=3, label=v)
            f = g[g["flip"]]
            a.scatter(f["layer"], f["s_raw"], s=90, facecolors="none", edgecolors="r", zorder=5, label="flips")
            a.axhline(self.level, color="grey", lw=0.8)
            a.set_title(m, fontsize=9)
            a.set_ylim(min(-0.05, float(np.nanmin(g[[f"s_{v}" for v in VARIANTS]].to_numpy(float))) - 0.05)
                       if np.isfinite(g[[f"s_{v}" for v in VARIANTS]].to_numpy(float)).any() else -0.05, 1.05)
            a.set_xlabel("layer", fontsize=8)
        for a in axes[len(ms):]:
            a.set_visible(False)
        axes[0].set_ylabel("pretrained vs fine-tuned similarity", fontsize=8)
        axes[0].legend(fontsize=6)
        self.figure_, self.ax_ = fig, axes
        return self


class SpreadDisplay(Display):
    """Measure x layer heatmap of the spread (max - min similarity over the three preprocessings); x = a flip."""

    def __init__(self, table):
        self.table = table.copy()

    @classmethod
    def from_result(cls, result) -> "SpreadDisplay":
        return cls(result.table("sensitivity"))

    def plot(self, ax=None) -> "SpreadDisplay":
        fig, ax = self._new_axes(ax, figsize=(6, 3.2))
        ms = list(dict.fromkeys(self.table["measure"]))
        ls = sorted(set(self.table["layer"]))
        S = np.full((len(ms), len(ls)), np.nan)
        for _, r in self.table.iterrows():
            S[ms.index(r["measure"]), ls.index(r["layer"])] = r["spread"]
            if r["flip"]:
                ax.text(ls.index(r["layer"]), ms.index(r["measure"]), "x", ha="center", va="center", color="c",
                        fontsize=9)
        im = ax.imshow(S, aspect="auto", cmap="viridis", vmin=0, vmax=max(0.05, float(np.nanmax(S)) if
                                                                           np.isfinite(S).any() else 1.0))
        ax.set_yticks(range(len(ms)), ms, fontsize=7)
        ax.set_xticks(range(len(ls)), [str(l) for l in ls], fontsize=7)
        ax.set_xlabel("layer")
        fig.colorbar(im, ax=ax, label="spread of similarity over raw / standardized / clipped")
        self.figure_, self.ax_ = fig, ax
        return self


@register_analysis("measure-sensitivity", family="gptology", order=18, spec=MeasureSensitivitySpec,
                   result=MeasureSensitivityResult,
                   inputs=[Input("reps", n=(2, 2), spread=True, param="pre",
                                 help="the pretrained and the fine-tuned sets of one task split")],
                   help="every similarity measure raw / standardized / clipped on pretrained-vs-fine-tuned layers, "
                        "and where the choice flips a conclusion")
def run_measure_sensitivity(pre, ft, *, spec: MeasureSensitivitySpec, progress: bool = True) -> MeasureSensitivityResult:
    """Same-layer similarity of ``pre`` and ``ft`` for every measure and preprocessing, the conclusions and
    their flips (:mod:`ftgeo.analysis.sensitivity`); jackknife intervals on every value unless
    ``intervals=False`` (cost: n_blocks + 1 times the point estimates)."""
    import pandas as pd

    from ftgeo.analysis.resampling import jackknife_blocks, jackknife_interval
    from ftgeo.analysis.sensitivity import across_measures, conclusions, make_measure, same_layer_values
    from ftgeo.progress import progress as _progress

    check_aligned(pre, ft, "the pretrained and fine-tuned sets", "the sensitivity compares the same examples")
    nm = set_names([pre, ft], spec.names, fallback=("pretrained", "fine-tuned"))
    lay = select_layers(pre, spec.layers)
    if max(lay) >= ft.n_layers:
        raise ValidationError(f"the fine-tuned set has {ft.n_layers} layers; layer {max(lay)} is not among them")
    n_all = int(np.asarray(pre.ids).size)
    rows = subsample_rows(n_all, spec.max_points, spec.seed)
    cache_a = {l: pre.layer(l, dtype=np.float64) for l in lay}
    cache_b = {l: ft.layer(l, dtype=np.float64) for l in lay}
    la = [(lambda l=l: cache_a[l]) for l in lay]
    lb = [(lambda l=l: cache_b[l]) for l in lay]
    blocks = None
    if spec.intervals:
        groups = groups_of(pre, rows)
        blocks = jackknife_blocks(groups, spec.n_blocks, spec.seed)
    vals, sens, notes = [], [], []
    by_variant: dict[str, dict[str, np.ndarray]] = {v: {} for v in VARIANTS}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m in _progress(spec.measures, enabled=progress, desc="measure sensitivity", leave=False):
            measure = make_measure(m, topk=spec.topk)
            sims = {}
            for v in VARIANTS:
                x = same_layer_values(measure, la, lb, v, spec.q, rows)
                lo = hi = np.full(len(lay), np.nan)
                if blocks is not None:
                    J = []
                    for g in range(int(blocks.max()) + 1):
                        keep = np.flatnonzero(blocks != g)
                        sub = keep if rows is None else rows[keep]
                        J.append(same_layer_values(measure, la, lb, v, spec.q, sub))
                    J = np.array(J)
                    ci = [jackknife_interval(x[i], J[:, i], spec.ci_level) for i in range(len(lay))]
                    lo, hi = np.array([c[1] for c in ci]), np.array([c[2] for c in ci])
                s = np.array([measure.to_similarity(t) if np.isfinite(t) else np.nan for t in x])
                sims[v] = s
                by_variant[v][m] = s
                for i, l in enumerate(lay):
                    vals.append({"measure": m, "layer": l, "preprocess": v, "value": x[i], "value_low": lo[i],
                                 "value_high": hi[i], "similarity": s[i]})
            c = conclusions(sims, spec.level)
            for i, l in enumerate(lay):
                row = {"measure": m, "layer": l}
                row.update({f"s_{v}": sims[v][i] for v in VARIANTS})
                row["spread"] = float(c["spread"][i])
                row.update({f"below_{v}": bool(c["below"][v][i]) for v in VARIANTS})
                row.update({f"rank_{v}": int(c["rank"][v][i]) for v in VARIANTS})
                row.update(flip_level=bool(c["flip_level"][i]), flip_rank=bool(c["flip_rank"][i]),
                           flip=bool(c["flip"][i]))
                sens.append(row)
            notes += list(getattr(measure, "notes", []))
    notes += list(dict.fromkeys(str(w.message) for w in caught))
    across = pd.DataFrame([{"preprocess": v, **row} for v in VARIANTS
                           for row in across_measures(by_variant[v], lay, spec.level)])
    values = pd.DataFrame(vals)
    table = pd.DataFrame(sens)
    k = max(1, int(np.ceil(len(lay) / 3)))
    meta = {"sets": nm, "layers": lay, "level": spec.level, "k": k, "q": spec.q, "topk": spec.topk,
            "n": n_all if rows is None else int(rows.size), "variants": list(VARIANTS), "notes": notes,
            "conclusions": {"level": f"similarity < {spec.level}: fine-tuning changed the layer substantially",
                            "rank": f"the layer is among the {k} layers (ceil(L/3)) with the lowest similarity"},
            "intervals": ({"value": interval_note("delete-a-group jackknife (t on G-1 df)", spec,
                                                  unit=unit_name(groups_of(pre, rows)),
                                                  blocks=int(blocks.max()) + 1)} if blocks is not None else {})}
    return MeasureSensitivityResult(tables={"values": values, "sensitivity": table, "across": across,
                                            "flips": table[table["flip"]].reset_index(drop=True)}, meta=meta)
