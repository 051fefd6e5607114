"""``intrinsic-dimension``: TwoNN and the PCA count per layer and per set / checkpoint (GPTology family).

TwoNN (Facco et al. 2017) estimates the dimension of the manifold the examples lie on from the
ratio of every point's two nearest-neighbour distances; the PCA count is the number of principal
components that explain ``variance`` (90%) of the variance. Given the pretrained set, the
fine-tuning checkpoints and the final model in order, the lines show whether fine-tuning
compresses the representation. The numbers come from :mod:`ftgeo.analysis.intrinsic_dim`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ftgeo.analyses._inputs import select_layers, set_names
from ftgeo.analyses._layerwise import subsample_rows
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, band, groups_of, interval_note, unit_name
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class IntrinsicDimensionSpec(IntervalSpec):
    """Parameters of :func:`run_intrinsic_dimension`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    method: Literal["linear", "mle"] = param("linear", "TwoNN estimator: the paper's linear fit, or the MLE")
    discard_fraction: float = param(0.1, "fraction of the largest distance ratios TwoNN discards (Facco et al.: 0.1)")
    variance: float = param(0.9, "variance the PCA count explains")
    preprocess: Literal["raw", "standardize", "clip"] = param("raw", "raw, standardize or clip (see measure-sensitivity)")
    q: float = param(0.95, "clipping quantile of preprocess=clip")
    max_points: int | None = param(None, "rows used, a seeded subsample (default: all)", none=("all",))
    seed: int = param(0, "seed of the row subsample and of the jackknife blocks")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.discard_fraction < 1.0:
            raise ValidationError(f"discard_fraction must be in [0, 1); got {self.discard_fraction}")
        if not 0.0 < self.variance <= 1.0:
            raise ValidationError(f"variance must be in (0, 1]; got {self.variance}")


class IntrinsicDimensionResult(Result):
    """Table ``intrinsic_dimension``: set, set_index, layer, twonn, twonn_low, twonn_high, pca_dim, n, d.
    ``pca_dim`` (an integer count) has no interval: its jackknife pseudo-values are degenerate."""

    kind = "intrinsic_dimension"

    def summary(self):
        return self.table("intrinsic_dimension")

    def displays(self):
        return [("layers", IntrinsicDimensionDisplay.from_result(self))]


class IntrinsicDimensionDisplay(Display):
    """TwoNN (with its interval) and the PCA count per layer, one line per set (checkpoint)."""

    def __init__(self, table, variance: float):
        self.table, self.variance = table.copy(), variance

    @classmethod
    def from_result(cls, result) -> "IntrinsicDimensionDisplay":
        return cls(result.table("intrinsic_dimension"), result.meta.get("variance", 0.9))

    def plot(self, ax=None) -> "IntrinsicDimensionDisplay":
        fig, axes = self._new_axes(ncols=2, figsize=(8.5, 3.2))
        axes = list(np.ravel(axes))
        for name, g in self.table.groupby("set", sort=False):
            g = g.sort_values("layer")
            line, = axes[0].plot(g["layer"], g["twonn"], marker="o", ms=3, label=str(name))
            band(axes[0], g["layer"], g, "twonn", color=line.get_color())
            axes[1].plot(g["layer"], g["pca_dim"], marker="o", ms=3, label=str(name))
        axes[0].set_ylabel("TwoNN intrinsic dimension")
        axes[1].set_ylabel(f"PCA components for {self.variance:.0%} variance")
        for a in axes:
            a.set_xlabel("layer")
        axes[0].legend(fontsize=6)
        self.figure_, self.ax_ = fig, axes
        return self


@register_analysis("intrinsic-dimension", family="gptology", order=65, spec=IntrinsicDimensionSpec,
                   result=IntrinsicDimensionResult,
                   inputs=[Input("reps", n=(1, None), spread=True,
                                 help="representation folder(s), e.g. pretrained, checkpoints, final in order")],
                   help="intrinsic dimension per layer and checkpoint: TwoNN (Facco et al. 2017) and the PCA count")
def run_intrinsic_dimension(*reps, spec: IntrinsicDimensionSpec, progress: bool = True) -> IntrinsicDimensionResult:
    """TwoNN and the PCA count of every selected layer of every set, in the order given; jackknife
    intervals on TwoNN (each block re-runs the nearest-neighbour search: n_blocks + 1 times the cost)."""
    import pandas as pd

    from ftgeo.analysis.intrinsic_dim import pca_dimension, twonn
    from ftgeo.analysis.layerwise import preprocess_layer
    from ftgeo.analysis.resampling import jackknife_blocks, jackknife_interval
    from ftgeo.progress import progress as _progress

    if not reps:
        raise ValidationError("run_intrinsic_dimension needs at least one representation set")
    nm = set_names(reps, spec.names)
    rows_out, notes = [], []
    for si, (n, r) in enumerate(zip(nm, reps)):
        n_all = int(np.asarray(r.ids).size)
        rows = subsample_rows(n_all, spec.max_points, spec.seed)
        blocks = jackknife_blocks(groups_of(r, rows), spec.n_blocks, spec.seed) if spec.intervals else None
        for layer in _progress(select_layers(r, spec.layers), enabled=progress, desc=f"intrinsic dim {n}", leave=False):
            X = r.layer(layer, dtype=np.float64)
            X = preprocess_layer(X if rows is None else X[rows], spec.preprocess, spec.q)
            try:
                d, nt = twonn(X, discard_fraction=spec.discard_fraction, method=spec.method, return_notes=True)
            except ValidationError as exc:
                d, nt = float("nan"), [f"{n} layer {layer}: {exc}"]
            notes += [f"{n} layer {layer}: {t}" for t in nt]
            lo = hi = float("nan")
            if blocks is not None and np.isfinite(d):
                jack = []
                for g in range(int(blocks.max()) + 1):
                    try:
                        jack.append(twonn(X[blocks != g], discard_fraction=spec.discard_fraction, method=spec.method))
                    except ValidationError:
                        jack.append(float("nan"))
                _, lo, hi = jackknife_interval(d, jack, spec.ci_level)
            rows_out.append({"set": n, "set_index": si, "layer": layer, "twonn": d, "twonn_low": lo, "twonn_high": hi,
                             "pca_dim": pca_dimension(X, spec.variance), "n": X.shape[0], "d": X.shape[1]})
    meta = {"sets": nm, "method": spec.method, "discard_fraction": spec.discard_fraction, "variance": spec.variance,
            "preprocess": spec.preprocess, "notes": list(dict.fromkeys(notes)),
            "intervals": ({"twonn": interval_note("delete-a-group jackknife (t on G-1 df)", spec,
                                                  unit=unit_name(groups_of(reps[0])), blocks=spec.n_blocks)}
                          if spec.intervals else {})}
    return IntrinsicDimensionResult(tables={"intrinsic_dimension": pd.DataFrame(rows_out)}, meta=meta)
