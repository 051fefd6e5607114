"""``isotropy``: IsoScore and the average cosine similarity per layer (GPTology family).

IsoScore (Rudman, Gillman, Rayne & Eickhoff 2022, Algorithm 1) measures how evenly a point cloud
spreads its variance over the ambient dimensions (1 = isotropic, 0 = one dimension holds it all);
the average cosine similarity of random pairs is the anisotropy baseline of Ethayarajh (2019,
Sec. 3.3). The numbers come from :mod:`ftgeo.analysis.isotropy`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ftgeo.analyses._inputs import select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, band
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class IsotropySpec(IntervalSpec):
    """Parameters of :func:`run_isotropy` (intervals: delete-a-group jackknife over ``n_blocks``
    blocks of examples, for both statistics)."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    n_pairs: int | None = param(10000, "random pairs for the average cosine (none = exact, all pairs)", none=("0",))
    seed: int = param(0, "seed of the random pairs and of the jackknife blocks", aliases=("random_state",))
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")

    def validate(self) -> None:
        super().validate()
        if self.n_pairs is not None and self.n_pairs < 1:
            raise ValidationError(f"n_pairs must be >= 1 (or none for all pairs); got {self.n_pairs}")


class IsotropyResult(Result):
    """Table ``isotropy``: set, layer, isoscore, isoscore_low, isoscore_high, avg_cosine, avg_cosine_low,
    avg_cosine_high, n, d (meta: n_pairs, random_state, notes, intervals). The bounds are the delete-a-group
    jackknife's Student-t interval around its bias-corrected centre (NaN without intervals), so they need
    not contain the value (IsoScore of a sample is biased low for n ~ d; the centre corrects that in part)."""

    kind = "isotropy"

    def summary(self):
        return self.table("isotropy")

    def displays(self):
        return [("layers", IsotropyDisplay.from_result(self))]

    def findings(self):
        """Per set: IsoScore and the average cosine similarity at the last layer (1 = isotropic / 1 = all
        vectors point the same way), with the jackknife interval where saved."""
        from ftgeo.results.findings import level_of, row_ci
        t = self.table("isotropy")
        lev = level_of(self)
        parts = []
        for s, g in t.groupby("set", sort=False):
            r = g[g["layer"] == g["layer"].max()].iloc[0]
            parts.append(f"{s} IsoScore {row_ci(r, 'isoscore', lev)}, average cosine {row_ci(r, 'avg_cosine', lev)}")
        if not parts:
            return []
        return [(f"At the last layer ({int(t['layer'].max())}): " + "; ".join(parts)
                 + " (IsoScore 1 = isotropic, 0 = one direction holds all the variance).", "layers")]


class IsotropyDisplay(Display):
    """IsoScore and average cosine similarity per layer, one line per set."""

    def __init__(self, table):
        self.table = table.copy()

    @classmethod
    def from_result(cls, result) -> "IsotropyDisplay":
        return cls(result.table("isotropy"))

    def plot(self, ax=None) -> "IsotropyDisplay":
        if ax is None:
            fig, axes = self._new_axes(ncols=2, figsize=(8, 3.2))
            axes = list(np.ravel(axes))
        else:
            axes = list(np.ravel(ax))
            fig = axes[0].figure
        for name, g in self.table.groupby("set", sort=False):
            g = g.sort_values("layer")
            line, = axes[0].plot(g["layer"], g["isoscore"], marker="o", ms=3, label=str(name))
            axes[1].plot(g["layer"], g["avg_cosine"], marker="o", ms=3, label=str(name), color=line.get_color())
            band(axes[0], g["layer"].to_numpy(), g, "isoscore", color=line.get_color())
            band(axes[1], g["layer"].to_numpy(), g, "avg_cosine", color=line.get_color())
        axes[0].set_ylabel("IsoScore")
        axes[1].set_ylabel("average cosine similarity")
        for a in axes:
            a.set_xlabel("layer")
        axes[0].set_ylim(0, 1)
        axes[0].legend(fontsize=7)
        self.figure_, self.ax_ = fig, axes
        return self


@register_analysis("isotropy", family="gptology", order=60, spec=IsotropySpec, result=IsotropyResult,
                   inputs=[Input("reps", n=(1, None), spread=True,
                                 help="representation folder(s); each gets its own line")],
                   help="IsoScore and average cosine similarity per layer")
def run_isotropy(*reps, spec: IsotropySpec) -> IsotropyResult:
    """IsoScore (Rudman et al. 2022) and the average cosine similarity of random pairs (Ethayarajh
    2019; exact over all pairs if ``n_pairs`` is None) per layer of each set. A layer where IsoScore
    is undefined (one constant vector, as MiniLM's [CLS] embedding layer) gets NaN and a note."""
    import pandas as pd

    from ftgeo.analysis.isotropy import average_cosine, average_cosine_jackknife, isoscore, isoscore_jackknife
    from ftgeo.analysis.resampling import jackknife_blocks, jackknife_interval
    from ftgeo.analyses._uncertainty import groups_of, interval_note, unit_name

    if not reps:
        raise ValidationError("run_isotropy needs at least one representation set")
    nm = set_names(reps, spec.names)
    rows, notes, units = [], [], set()
    nan = float("nan")
    for n, r in zip(nm, reps):
        blocks = None
        if spec.intervals:
            groups = groups_of(r)
            units.add(unit_name(groups))
            blocks = jackknife_blocks(groups, spec.n_blocks, spec.seed)
        for layer in select_layers(r, spec.layers):
            X = r.layer(layer, dtype=np.float64)
            try:
                iso = isoscore(X)
            except ValidationError as exc:  # e.g. the [CLS] embedding layer: the same vector for every input
                iso = float("nan")
                notes.append(f"{n} layer {layer}: IsoScore undefined ({exc})")
                warnings.warn(notes[-1], stacklevel=2)
            iso_lo = iso_hi = cos_lo = cos_hi = nan
            if blocks is None:
                cos = average_cosine(X, spec.n_pairs, random_state=spec.seed)
            else:
                cos, cos_out = average_cosine_jackknife(X, blocks, spec.n_pairs, random_state=spec.seed)
                _, cos_lo, cos_hi = jackknife_interval(cos, cos_out, spec.ci_level)
                if np.isfinite(iso):
                    _, iso_lo, iso_hi = jackknife_interval(iso, isoscore_jackknife(X, blocks), spec.ci_level)
            # bounds kept in each statistic's range (IsoScore [0, 1], a cosine [-1, 1]): the jackknife's normal
            # interval leaves it when one block dominates (SmolLM2's massive activations: IsoScore [-0.09, 0.02])
            iso_lo, iso_hi = (min(max(b, 0.0), 1.0) if b == b else b for b in (iso_lo, iso_hi))
            cos_lo, cos_hi = (min(max(b, -1.0), 1.0) if b == b else b for b in (cos_lo, cos_hi))
            rows.append({"set": n, "layer": layer, "isoscore": iso, "isoscore_low": iso_lo, "isoscore_high": iso_hi,
                         "avg_cosine": cos, "avg_cosine_low": cos_lo, "avg_cosine_high": cos_hi,
                         "n": X.shape[0], "d": X.shape[1]})
    intervals = {}
    if spec.intervals:
        method = "delete-a-group jackknife, Student t on G-1 df around the bias-corrected centre (Efron & Stein 1981)"
        unit = " / ".join(sorted(units))
        intervals = {"isoscore": interval_note(method + "; leave-outs from per-block sums (IsoScore = (PR - 1) / "
                                               "(d - 1), PR = tr(C)^2 / ||C||_F^2)", spec, unit=unit,
                                               blocks=spec.n_blocks),
                     "avg_cosine": interval_note(method + "; a leave-out drops the pairs touching the block", spec,
                                                 unit=unit, blocks=spec.n_blocks)}
    return IsotropyResult(tables={"isotropy": pd.DataFrame(rows)},
                          meta={"n_pairs": spec.n_pairs, "random_state": spec.seed, "sets": nm, "notes": notes,
                                "intervals": intervals, "ci_level": spec.ci_level})
