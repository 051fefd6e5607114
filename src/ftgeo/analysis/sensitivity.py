"""Rogue-dimension sensitivity: does the preprocessing of a layer change what a similarity measure concludes?

Every measure is computed on the same-layer pairs (pretrained layer l vs fine-tuned layer l) three
times: ``raw``, ``standardize`` (z-score every dimension) and ``clip`` (every entry clipped at the
q-quantile of |x|, :func:`ftgeo.analysis.layerwise.preprocess_layer`). Values are put on one scale,
the similarity s in which 1 = identical (:meth:`Measure.to_similarity`: Procrustes d -> 1 - d^2 / 2,
the shape angle theta -> cos theta, the others unchanged).

Two **conclusions** are read from s, per measure and layer, in each variant:

* **level**: "fine-tuning changed layer l substantially" when s(l) < ``level`` (default 0.5);
* **rank**: "layer l is among the ceil(L / 3) layers fine-tuning changed most" (the lowest s(l) of the
  L layers compared; ties by layer index).

A layer's conclusion **flips** when the three variants disagree on it (``flip_level``, ``flip_rank``;
``flip`` = either). ``spread`` = max - min of s over the variants: how far they disagree.

**Across measures** (:func:`across_measures`): per layer and variant, which measures reach the level
conclusion; the measures *disagree* on a layer when some do and some do not.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ftgeo.analysis.layerwise import PREPROCESS, Measure, UndefinedMeasure, preprocess_layer
from ftgeo.errors import ValidationError

__all__ = ["LinearCKAMeasure", "SENSITIVITY_MEASURES", "make_measure", "same_layer_values", "conclusions",
           "across_measures"]


class LinearCKAMeasure(Measure):
    """Linear CKA (Kornblith et al. 2019) through :func:`ftgeo.analysis.similarity.linear_cka_features`."""

    name = "cka"
    symmetric = True
    kind = "similarity"
    bounds = (0.0, 1.0)

    def prepare(self, X):
        from ftgeo.analysis.similarity import center
        Xc = center(X)
        if not np.any(Xc):
            raise UndefinedMeasure("constant layer")
        return Xc

    def pair(self, a, b) -> float:
        from ftgeo.analysis.similarity import ConstantRepresentationError, linear_cka_features
        try:
            return float(linear_cka_features(a, b))
        except ConstantRepresentationError:
            return float("nan")


SENSITIVITY_MEASURES = ("cka", "procrustes", "shape", "svcca", "pwcca", "rsa", "mutual_knn", "cknna")


def make_measure(name: str, **kw) -> Measure:
    """The measure ``name`` with its default parameters (``kw`` overrides those it takes)."""
    from ftgeo.analysis.cca import PWCCAMeasure, SVCCAMeasure
    from ftgeo.analysis.knn_alignment import CKNNAMeasure, MutualKNNMeasure
    from ftgeo.analysis.rsa import RSAMeasure
    from ftgeo.analysis.shape import ProcrustesMeasure, ShapeMeasure
    table: dict[str, Callable[[], Measure]] = {
        "cka": LinearCKAMeasure, "procrustes": ProcrustesMeasure,
        "shape": lambda: ShapeMeasure(kw.get("alpha", 1.0)),
        "svcca": lambda: SVCCAMeasure(kw.get("variance", 0.99)),
        "pwcca": PWCCAMeasure, "rsa": lambda: RSAMeasure(kw.get("metric", "cosine"), kw.get("method", "spearman")),
        "mutual_knn": lambda: MutualKNNMeasure(kw.get("topk", 10)), "cknna": lambda: CKNNAMeasure(kw.get("topk", 10)),
    }
    if name not in table:
        raise ValidationError(f"unknown measure {name!r}; one of {list(table)}")
    return table[name]()


def same_layer_values(measure: Measure, layers_a: Sequence[Callable[[], np.ndarray]],
                      layers_b: Sequence[Callable[[], np.ndarray]], preprocess: str = "raw", q: float = 0.95,
                      rows: np.ndarray | None = None) -> np.ndarray:
    """measure(a_l, b_l) for every l (NaN where the measure is undefined for either layer)."""
    if preprocess not in PREPROCESS:
        raise ValidationError(f"preprocess must be one of {PREPROCESS}; got {preprocess!r}")
    if len(layers_a) != len(layers_b):
        raise ValidationError(f"the two sets have {len(layers_a)} and {len(layers_b)} layers; same-layer pairs need "
                              "as many")
    out = np.full(len(layers_a), np.nan)
    for l, (la, lb) in enumerate(zip(layers_a, layers_b)):
        A, B = np.asarray(la()), np.asarray(lb())
        if rows is not None:
            A, B = A[rows], B[rows]
        try:
            out[l] = measure.pair(measure.prepare(preprocess_layer(A, preprocess, q)),
                                  measure.prepare(preprocess_layer(B, preprocess, q)))
        except UndefinedMeasure:
            pass
    return out


def conclusions(sim: dict[str, np.ndarray], level: float = 0.5) -> dict[str, Any]:
    """Per variant the level and rank conclusions of similarities ``sim[variant]`` (one value per layer),
    and per layer whether they flip and the spread (module docstring)."""
    variants = list(sim)
    L = len(next(iter(sim.values())))
    k = max(1, math.ceil(L / 3))
    below, top, ranks = {}, {}, {}
    for v in variants:
        s = np.asarray(sim[v], dtype=np.float64)
        key = np.where(np.isfinite(s), s, np.inf)
        order = np.lexsort((np.arange(L), key))           # lowest similarity first, ties by layer
        rank = np.empty(L, dtype=np.int64)
        rank[order] = np.arange(1, L + 1)
        ranks[v] = rank
        below[v] = np.where(np.isfinite(s), s < level, False)
        top[v] = (rank <= k) & np.isfinite(s)
    stack = np.stack([np.asarray(sim[v], dtype=np.float64) for v in variants])
    spread = np.full(L, np.nan)
    ok = np.isfinite(stack).any(axis=0)
    spread[ok] = np.nanmax(stack[:, ok], axis=0) - np.nanmin(stack[:, ok], axis=0)
    flip_level = np.array([len({bool(below[v][l]) for v in variants}) > 1 for l in range(L)])
    flip_rank = np.array([len({bool(top[v][l]) for v in variants}) > 1 for l in range(L)])
    return {"below": below, "top": top, "rank": ranks, "k": k, "spread": spread, "flip_level": flip_level,
            "flip_rank": flip_rank, "flip": flip_level | flip_rank}


def across_measures(sims: dict[str, np.ndarray], layers: Sequence[int], level: float = 0.5) -> list[dict]:
    """Per layer: the measures whose similarity is below ``level`` (``changed``), those above (``unchanged``),
    whether they disagree, and the measures' spread of similarity (max - min; NaN-free measures only)."""
    out = []
    for i, l in enumerate(layers):
        vals = {m: float(v[i]) for m, v in sims.items() if np.isfinite(v[i])}
        below = sorted(m for m, x in vals.items() if x < level)
        above = sorted(m for m, x in vals.items() if x >= level)
        out.append({"layer": int(l), "changed": ",".join(below), "unchanged": ",".join(above),
                    "disagree": bool(below and above),
                    "similarity_spread": (max(vals.values()) - min(vals.values())) if vals else float("nan")})
    return out
