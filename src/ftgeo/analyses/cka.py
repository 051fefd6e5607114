"""``cka``: layer x layer CKA within one model, or within and between two (GPTology family).

Centered kernel alignment (Kornblith et al. 2019) of every two layers; with two sets (e.g. the
pretrained and the fine-tuned model on the same task split) the "bow-tie": a x a, b x b and a x b.
Debiased HSIC (Song et al. 2012), RBF kernels and minibatch CKA (Nguyen et al. 2021) on request.
The numbers come from :func:`ftgeo.analysis.similarity.layer_cka_matrices`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from ftgeo.analyses._inputs import check_aligned, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class CKASpec(AnalysisSpec):
    """Parameters of :func:`run_cka`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    kernel: Literal["linear", "rbf"] = param("linear", "kernel of the CKA")
    debiased: bool = param(False, "unbiased HSIC estimator (Song et al. 2012)")
    standardize: bool = param(False, "z-score every dimension first (tames rogue dimensions)")
    threshold: float = param(1.0, "RBF bandwidth as a fraction of the median distance")
    batch_size: int | None = param(None, "minibatch CKA (Nguyen et al. 2021) with this batch size "
                                         "(default: exact, no minibatches)")
    device: str | None = param("auto", "auto (CUDA if available), cpu, cuda or numpy")
    pairs: Literal["bowtie", "cross"] = param("bowtie", "with two sets: a x a, b x b and a x b (bowtie) "
                                                        "or only a x b (cross)")
    names: list[str] | None = param(None, "names of the sets, comma-separated (default: from the manifests)")


class CKAResult(Result):
    """Layer x layer CKA matrices for one or more (set_a, set_b) pairs.

    Table ``cka``: pair, set_a, set_b, layer_a, layer_b, cka (NaN where CKA is undefined: a constant layer, a debiased 0/0, an RBF bandwidth of 0; the reason is in ``meta["notes"]``).
    Arrays ``matrix_<i>`` for ``meta["pairs"][i]``; ``meta["layers"]`` maps each set to its
    stored layer indices; meta also records kernel, debiased, standardize, threshold, batch_size.
    """

    kind = "cka"

    @classmethod
    def from_matrices(cls, matrices: Mapping[tuple[str, str], np.ndarray], layers: Mapping[str, Sequence[int]],
                      meta: dict[str, Any] | None = None) -> "CKAResult":
        import pandas as pd

        rows, arrays, pairs = [], {}, []
        for i, ((a, b), M) in enumerate(matrices.items()):
            M = np.asarray(M, dtype=np.float64)
            la, lb = list(layers[a]), list(layers[b])
            if M.shape != (len(la), len(lb)):
                raise ValidationError(f"matrix for {(a, b)} has shape {M.shape}; layers give {(len(la), len(lb))}")
            arrays[f"matrix_{i}"] = M
            pairs.append([a, b])
            A, B = np.meshgrid(la, lb, indexing="ij")
            rows.append(pd.DataFrame({"pair": f"{a} x {b}", "set_a": a, "set_b": b, "layer_a": A.ravel(),
                                      "layer_b": B.ravel(), "cka": M.ravel()}))
        m = dict(meta or {})
        m.update(pairs=pairs, layers={k: [int(v) for v in vs] for k, vs in layers.items()},
                 models=list(layers))
        return cls(tables={"cka": pd.concat(rows, ignore_index=True)}, arrays=arrays, meta=m)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in self.meta["pairs"]]

    def matrix(self, set_a: str | None = None, set_b: str | None = None) -> np.ndarray:
        """The matrix of the pair (set_a, set_b); with no arguments, the first pair's."""
        if set_a is None:
            return self.array("matrix_0")
        set_b = set_a if set_b is None else set_b
        for i, (a, b) in enumerate(self.pairs):
            if (a, b) == (set_a, set_b):
                return self.array(f"matrix_{i}")
            if (b, a) == (set_a, set_b):
                return self.array(f"matrix_{i}").T
        raise ValidationError(f"no CKA matrix for {(set_a, set_b)}; pairs are {self.pairs}")

    @property
    def matrix_(self) -> np.ndarray:
        return self.matrix()

    def summary(self):
        import pandas as pd

        out = []
        for i, (a, b) in enumerate(self.pairs):
            M = self.array(f"matrix_{i}")
            la, lb = self.meta["layers"][a], self.meta["layers"][b]
            same = [(x, lb.index(l)) for x, l in enumerate(la) if l in lb]
            diag = np.array([M[x, y] for x, y in same]) if same else np.array([np.nan])
            out.append({"set_a": a, "set_b": b, "same_layer_mean": float(np.nanmean(diag)) if np.isfinite(diag).any() else np.nan,
                        "same_layer_min": float(np.nanmin(diag)) if np.isfinite(diag).any() else np.nan,
                        "last_layer": float(M[-1, -1]), "first_vs_last": float(M[0, -1]),
                        "mean": float(np.nanmean(M)) if np.isfinite(M).any() else np.nan})
        return pd.DataFrame(out)

    def displays(self):
        return [("heatmaps", CKAHeatmapDisplay.from_result(self))]


class CKAHeatmapDisplay(Display):
    """Heatmaps side by side, one per pair (e.g. pre x pre, ft x ft, pre x ft: the "bow-tie")."""

    def __init__(self, matrices: Sequence[np.ndarray], titles: Sequence[str], layers_a: Sequence[Sequence[int]],
                 layers_b: Sequence[Sequence[int]], set_a: Sequence[str], set_b: Sequence[str], subtitle: str = ""):
        self.matrices, self.titles = list(matrices), list(titles)
        self.layers_a, self.layers_b = list(layers_a), list(layers_b)
        self.set_a, self.set_b, self.subtitle = list(set_a), list(set_b), subtitle

    @classmethod
    def from_result(cls, result, pairs: Sequence[tuple[str, str]] | None = None) -> "CKAHeatmapDisplay":
        pairs = list(pairs) if pairs is not None else result.pairs
        lay = result.meta["layers"]
        m = result.meta
        sub = f"{m.get('kernel', 'linear')} CKA" + (", debiased" if m.get("debiased") else "") + \
              (", standardized" if m.get("standardize") else "")
        return cls([result.matrix(a, b) for a, b in pairs], [f"{a} x {b}" for a, b in pairs],
                   [lay[a] for a, _ in pairs], [lay[b] for _, b in pairs],
                   [a for a, _ in pairs], [b for _, b in pairs], sub)

    def plot(self, ax=None, *, cmap: str = "magma", vmin: float = 0.0, vmax: float = 1.0) -> "CKAHeatmapDisplay":
        k = len(self.matrices)
        if ax is None:
            fig, axes = self._new_axes(ncols=k, figsize=(3.6 * k + 0.8, 3.6))
            axes = list(np.ravel(axes)) if k > 1 else [axes]
        else:
            axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            fig = axes[0].figure
        im = None
        for a, M, t, la, lb, sa, sb in zip(axes, self.matrices, self.titles, self.layers_a, self.layers_b,
                                           self.set_a, self.set_b):
            im = a.imshow(M, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="equal")
            a.set_title(t, fontsize=9)
            a.set_ylabel(f"{sa} layer", fontsize=8)
            a.set_xlabel(f"{sb} layer", fontsize=8)
            step_a = max(1, len(la) // 7)
            step_b = max(1, len(lb) // 7)
            a.set_yticks(range(0, len(la), step_a), [str(v) for v in la[::step_a]], fontsize=7)
            a.set_xticks(range(0, len(lb), step_b), [str(v) for v in lb[::step_b]], fontsize=7)
        if im is not None:
            fig.colorbar(im, ax=axes, shrink=0.8, label="CKA")
        if self.subtitle:
            fig.suptitle(self.subtitle, fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


@register_analysis("cka", family="gptology", order=10, spec=CKASpec, result=CKAResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model CKA) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="layer x layer CKA within and between models (the bow-tie)")
def run_cka(reps_a, reps_b=None, *, spec: CKASpec, progress: bool = True) -> CKAResult:
    """Layer x layer CKA within ``reps_a``, or between ``reps_a`` and ``reps_b``.

    With two sets, ``pairs='bowtie'`` computes a x a, b x b and a x b from per-layer statistics
    prepared once (the pretrained vs fine-tuned "bow-tie" figure); ``pairs='cross'`` only a x b.
    See :func:`ftgeo.analysis.similarity.layer_cka_matrices` for the numerics. The numerics'
    warnings (e.g. a constant layer written as NaN) are kept in ``meta["notes"]``.
    """
    from ftgeo.analysis.similarity import layer_cka_matrices

    from ftgeo.reps import Representations

    for r in (reps_a, reps_b):   # the registry checks the first only (one input spread over two arguments)
        if r is not None and not isinstance(r, Representations):
            raise ValidationError("cka: reps must be one or two representation sets, passed as separate arguments "
                                  f"(run_cka(pre, post)); got {type(r).__name__}")
    sets = [reps_a] + ([reps_b] if reps_b is not None else [])
    nm = set_names(sets, spec.names)
    if reps_b is not None:
        check_aligned(reps_a, reps_b, "the first and second representation sets",
                      "CKA compares the same examples in the same order")
    lay = {n: select_layers(r, spec.layers) for n, r in zip(nm, sets)}
    # dtype=None: the layer in its stored dtype (a store gives its memmap; minibatch CKA then reads
    # it batch by batch, the exact route converts one layer at a time to float64)
    loaders = {n: [(lambda r=r, i=i: r.layer(i, dtype=None)) for i in lay[n]] for n, r in zip(nm, sets)}
    if reps_b is None:
        todo = [(nm[0], nm[0])]
    elif spec.pairs == "cross":
        todo = [(nm[0], nm[1])]
    else:
        todo = [(nm[0], nm[0]), (nm[1], nm[1]), (nm[0], nm[1])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mats = layer_cka_matrices(loaders, todo, kernel=spec.kernel, debiased=spec.debiased,
                                  standardize=spec.standardize, threshold=spec.threshold,
                                  batch_size=spec.batch_size, device=spec.device, progress=progress)
    notes = [str(w.message) for w in caught]
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    minibatch = spec.batch_size
    meta = {"kernel": spec.kernel, "debiased": spec.debiased, "standardize": spec.standardize,
            "batch_size": spec.batch_size,
            "estimator": ("minibatch HSIC_1 (Nguyen et al. 2021)" if minibatch else
                          "HSIC_1 (Song et al. 2012)" if spec.debiased else "biased HSIC"),
            "threshold": spec.threshold if spec.kernel == "rbf" else None, "n": int(np.asarray(reps_a.ids).size),
            "notes": notes + (["debiased/minibatch CKA is not clipped: values slightly below 0 mean no similarity"]
                              if (spec.debiased or minibatch) else [])}
    return CKAResult.from_matrices(mats, lay, meta)
