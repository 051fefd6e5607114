"""What the layer x layer measure analyses share (procrustes, shape, svcca, pwcca, rsa, mutual-knn, cknna):
one spec base, one Result shape, one heatmap Display and one runner over
:func:`ftgeo.analysis.layerwise.layer_grid`.

Each measure's own module (``analyses/<name>.py``) declares its parameters, its Result ``kind`` and
registers its runner; this module holds no analysis of its own.

Table ``<value>`` (the measure's name): pair, set_a, set_b, layer_a, layer_b, <value>, <value>_low,
<value>_high (a delete-a-group jackknife interval, NaN with ``intervals=False``); arrays
``matrix_<i>`` for ``meta["pairs"][i]`` and ``jack_<i>`` (G, L_a, L_b), the leave-one-block-out matrices.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from ftgeo.analyses._inputs import check_aligned, manifest_summary, select_layers, set_names
from ftgeo.analyses._spec import Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, groups_of, interval_note, unit_name
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class LayerMeasureSpec(IntervalSpec):
    """Parameters every layer x layer measure shares."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    preprocess: Literal["raw", "standardize", "clip"] = param(
        "raw", "raw, standardize (z-score every dimension) or clip (every entry at the q-quantile of |x|)")
    q: float = param(0.95, "clipping quantile of preprocess=clip (platonic-rep: 0.95)")
    max_points: int | None = param(None, "rows used, a seeded subsample (default: all)", none=("all",))
    seed: int = param(0, "seed of the row subsample and of the jackknife blocks")
    pairs: Literal["bowtie", "cross"] = param("bowtie", "with two sets: a x a, b x b and a x b (bowtie) or only a x b "
                                                        "(cross)")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.q <= 1.0:
            raise ValidationError(f"q must be in (0, 1]; got {self.q}")
        if self.max_points is not None and self.max_points < 4:
            raise ValidationError(f"max_points must be >= 4 (or all); got {self.max_points}")


class LayerMeasureResult(Result):
    """Layer x layer matrices of one measure for one or more (set_a, set_b) pairs (module docstring)."""

    @property
    def value(self) -> str:
        return self.meta["value"]

    @classmethod
    def from_matrices(cls, value: str, matrices: Mapping[tuple[str, str], np.ndarray],
                      layers: Mapping[str, Sequence[int]], meta: dict[str, Any],
                      lows: Mapping | None = None, highs: Mapping | None = None,
                      jacks: Mapping | None = None) -> "LayerMeasureResult":
        import pandas as pd
        rows, arrays, pairs = [], {}, []
        for i, ((a, b), M) in enumerate(matrices.items()):
            la, lb = list(layers[a]), list(layers[b])
            A, B = np.meshgrid(la, lb, indexing="ij")
            lo = np.asarray(lows[(a, b)]) if lows else np.full(M.shape, np.nan)
            hi = np.asarray(highs[(a, b)]) if highs else np.full(M.shape, np.nan)
            rows.append(pd.DataFrame({"pair": f"{a} x {b}", "set_a": a, "set_b": b, "layer_a": A.ravel(),
                                      "layer_b": B.ravel(), value: M.ravel(), f"{value}_low": lo.ravel(),
                                      f"{value}_high": hi.ravel()}))
            arrays[f"matrix_{i}"] = np.asarray(M, dtype=np.float64)
            if jacks:
                arrays[f"jack_{i}"] = np.asarray(jacks[(a, b)], dtype=np.float64)
            pairs.append([a, b])
        m = dict(meta)
        m.update(value=value, pairs=pairs, layers={k: [int(v) for v in vs] for k, vs in layers.items()})
        return cls(tables={value: pd.concat(rows, ignore_index=True)}, arrays=arrays, meta=m)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in self.meta["pairs"]]

    def matrix(self, set_a: str | None = None, set_b: str | None = None) -> np.ndarray:
        """The matrix of (set_a, set_b); with no arguments the first pair's. An asymmetric measure's
        (b, a) matrix is not the transpose of (a, b): only pairs computed are returned."""
        if set_a is None:
            return self.array("matrix_0")
        set_b = set_a if set_b is None else set_b
        for i, (a, b) in enumerate(self.pairs):
            if (a, b) == (set_a, set_b):
                return self.array(f"matrix_{i}")
            if (b, a) == (set_a, set_b) and self.meta.get("symmetric", True):
                return self.array(f"matrix_{i}").T
        raise ValidationError(f"no {self.value} matrix for {(set_a, set_b)}; pairs are {self.pairs}")

    def summary(self):
        """Same-layer values of every pair of sets (the pretrained-vs-fine-tuned diagonal), with intervals."""
        t = self.table(self.value)
        return t[t["layer_a"] == t["layer_b"]].reset_index(drop=True)

    def displays(self):
        return [("heatmaps", LayerMeasureHeatmapDisplay.from_result(self))]


class LayerMeasureHeatmapDisplay(Display):
    """Heatmaps side by side, one per pair of sets (the bow-tie), in the measure's own range."""

    def __init__(self, matrices, titles, layers_a, layers_b, set_a, set_b, label: str, bounds, distance: bool,
                 subtitle: str = ""):
        self.matrices, self.titles = list(matrices), list(titles)
        self.layers_a, self.layers_b, self.set_a, self.set_b = list(layers_a), list(layers_b), list(set_a), list(set_b)
        self.label, self.bounds, self.distance, self.subtitle = label, tuple(bounds), distance, subtitle

    @classmethod
    def from_result(cls, result) -> "LayerMeasureHeatmapDisplay":
        lay, m = result.meta["layers"], result.meta
        pairs = result.pairs
        sub = f"{m.get('measure_label', result.value)}; preprocess={m.get('preprocess', 'raw')}"
        return cls([result.array(f"matrix_{i}") for i in range(len(pairs))], [f"{a} x {b}" for a, b in pairs],
                   [lay[a] for a, _ in pairs], [lay[b] for _, b in pairs], [a for a, _ in pairs],
                   [b for _, b in pairs], result.value, m.get("bounds", (0.0, 1.0)), m.get("kind") == "distance", sub)

    def plot(self, ax=None) -> "LayerMeasureHeatmapDisplay":
        k = len(self.matrices)
        if ax is None:
            fig, axes = self._new_axes(ncols=k, figsize=(3.6 * k + 0.8, 3.6))
            axes = list(np.ravel(axes)) if k > 1 else [axes]
        else:
            axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            fig = axes[0].figure
        lo, hi = self.bounds
        if lo < 0 and not self.distance:
            lo = min(0.0, float(np.nanmin([np.nanmin(M) for M in self.matrices]))) if self.matrices else lo
        im = None
        for a, M, t, la, lb, sa, sb in zip(axes, self.matrices, self.titles, self.layers_a, self.layers_b,
                                           self.set_a, self.set_b):
            im = a.imshow(M, origin="lower", cmap="magma_r" if self.distance else "magma", vmin=lo, vmax=hi,
                          aspect="equal")
            a.set_title(t, fontsize=9)
            a.set_ylabel(f"{sa} layer", fontsize=8)
            a.set_xlabel(f"{sb} layer", fontsize=8)
            sa_, sb_ = max(1, len(la) // 7), max(1, len(lb) // 7)
            a.set_yticks(range(0, len(la), sa_), [str(v) for v in la[::sa_]], fontsize=7)
            a.set_xticks(range(0, len(lb), sb_), [str(v) for v in lb[::sb_]], fontsize=7)
        if im is not None:
            fig.colorbar(im, ax=axes, shrink=0.8, label=self.label + (" (distance)" if self.distance else ""))
        if self.subtitle:
            fig.suptitle(self.subtitle, fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


def subsample_rows(n: int, max_points: int | None, seed: int) -> np.ndarray | None:
    """Sorted seeded subsample of ``max_points`` of ``n`` rows (None: all rows)."""
    if max_points is None or max_points >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def run_layer_measure(measure, value: str, label: str, result_cls, reps_a, reps_b, spec: LayerMeasureSpec,
                      progress: bool = True, extra_meta: dict | None = None) -> LayerMeasureResult:
    """The shared runner: layers, rows, pairs, the grid, the jackknife and the Result."""
    from ftgeo.analysis.layerwise import jackknife_grid, layer_grid
    from ftgeo.analysis.resampling import jackknife_blocks, jackknife_interval
    from ftgeo.reps import Representations

    for r in (reps_a, reps_b):
        if r is not None and not isinstance(r, Representations):
            raise ValidationError(f"{value}: reps must be one or two representation sets, passed as separate "
                                  f"arguments (run_{value}(pre, post)); got {type(r).__name__}")
    sets = [reps_a] + ([reps_b] if reps_b is not None else [])
    nm = set_names(sets, spec.names)
    if reps_b is not None:
        check_aligned(reps_a, reps_b, "the first and second representation sets",
                      f"{value} compares the same examples in the same order")
    lay = {n: select_layers(r, spec.layers) for n, r in zip(nm, sets)}
    loaders = {n: [(lambda r=r, i=i: r.layer(i, dtype=np.float64)) for i in lay[n]] for n, r in zip(nm, sets)}
    if reps_b is None:
        todo = [(nm[0], nm[0])]
    elif spec.pairs == "cross":
        todo = [(nm[0], nm[1])]
    else:
        todo = [(nm[0], nm[0]), (nm[1], nm[1]), (nm[0], nm[1])]
    n_all = int(np.asarray(reps_a.ids).size)
    rows = subsample_rows(n_all, spec.max_points, spec.seed)
    if hasattr(measure, "notes"):
        measure.notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mats = layer_grid(loaders, todo, measure, preprocess=spec.preprocess, q=spec.q, rows=rows, progress=progress)
    notes = [str(w.message) for w in caught] + list(getattr(measure, "notes", []))
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    lows = highs = jacks = None
    intervals = {}
    if spec.intervals:
        groups = groups_of(reps_a, rows)
        blocks = jackknife_blocks(groups, spec.n_blocks, spec.seed)
        jacks = jackknife_grid(loaders, todo, measure, blocks, preprocess=spec.preprocess, q=spec.q, rows=rows,
                               progress=progress)
        lows, highs = {}, {}
        for p, M in mats.items():
            J = jacks[p]
            lo, hi = np.full(M.shape, np.nan), np.full(M.shape, np.nan)
            for i in range(M.shape[0]):
                for j in range(M.shape[1]):
                    _, lo[i, j], hi[i, j] = jackknife_interval(M[i, j], J[:, i, j], spec.ci_level)
            lows[p], highs[p] = lo, hi
        intervals[value] = interval_note("delete-a-group jackknife (t on G-1 df, bias-corrected centre)", spec,
                                         unit=unit_name(groups), blocks=int(blocks.max()) + 1,
                                         cost="(G + 1) x the point estimate: every layer re-prepared per block")
    meta = {"measure": measure.name, "measure_label": label, "kind": measure.kind, "symmetric": measure.symmetric,
            "bounds": [float(b) for b in measure.bounds], "measure_params": measure.params(),
            "preprocess": spec.preprocess, "q": spec.q if spec.preprocess == "clip" else None,
            "n": n_all if rows is None else int(rows.size), "n_total": n_all, "intervals": intervals,
            "sets": {n: manifest_summary(r) for n, r in zip(nm, sets)}, "notes": notes, **(extra_meta or {})}
    return result_cls.from_matrices(value, mats, lay, meta, lows, highs, jacks)
