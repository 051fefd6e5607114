"""``cka``: layer x layer CKA within one model, or within and between two (GPTology family).

Centered kernel alignment (Kornblith et al. 2019) of every two layers; with two sets (e.g. the
pretrained and the fine-tuned model on the same task split) the "bow-tie": a x a, b x b and a x b.
Debiased HSIC (Song et al. 2012), RBF kernels and minibatch CKA (Nguyen et al. 2021) on request.
The numbers come from :func:`ftgeo.analysis.similarity.layer_cka_matrices`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from ftgeo.analyses._inputs import check_aligned, select_layers, set_names
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, Layers, param
from ftgeo.analyses._uncertainty import IntervalSpec, NullSpec, band, has_interval, null_note, null_summary
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class CKASpec(IntervalSpec, NullSpec):
    """Parameters of :func:`run_cka` (intervals: delete-a-group jackknife over ``n_blocks`` blocks of
    examples; null: ``n_permutations`` shuffles of the row correspondence, same-layer cells of two sets)."""

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
    seed: int = param(0, "seed of the jackknife blocks, the permutation subsample and the permutations")
    perm_max_points: int | None = param(2000, "rows of the seeded subsample the permutation null runs on "
                                              "(all: every row; the null costs O(rows^2) per permutation)",
                                        none=("all",))

    def validate(self) -> None:
        super().validate()
        if self.perm_max_points is not None and self.perm_max_points < 4:
            raise ValidationError(f"perm_max_points must be >= 4 (or all); got {self.perm_max_points}")


class CKAResult(Result):
    """Layer x layer CKA matrices for one or more (set_a, set_b) pairs.

    Table ``cka``: pair, set_a, set_b, layer_a, layer_b, cka, cka_low, cka_high (NaN where CKA is
    undefined: a constant layer, a debiased 0/0, an RBF bandwidth of 0; the reason is in
    ``meta["notes"]``; the bounds are NaN without intervals). The interval is the delete-a-group
    jackknife's Student-t interval around its bias-corrected centre, so it need not contain ``cka``.
    Arrays ``matrix_<i>`` for ``meta["pairs"][i]`` and, with intervals, ``jack_<i>`` (G, L_a, L_b): the
    matrix with each block of examples left out (:meth:`jackknife` takes any function of a matrix
    through them). Table ``same_layer`` (two sets): set_a, set_b, layer, cka, cka_low, cka_high, cka_p,
    cka_null_q05, cka_null_q50, cka_null_q95 (the permutation null of the row correspondence).
    ``meta["layers"]`` maps each set to its stored layer indices; meta also records kernel, debiased,
    standardize, threshold, batch_size, ``intervals`` and ``nulls`` (how each was obtained).
    """

    kind = "cka"

    @classmethod
    def from_matrices(cls, matrices: Mapping[tuple[str, str], np.ndarray], layers: Mapping[str, Sequence[int]],
                      meta: dict[str, Any] | None = None, *,
                      leave_outs: Mapping[tuple[str, str], np.ndarray] | None = None, level: float = 0.9,
                      same_layer=None) -> "CKAResult":
        """The result from its matrices; ``leave_outs`` (G, L_a, L_b) per pair add the jackknife bounds
        at ``level`` and the ``jack_<i>`` arrays; ``same_layer`` is the table of the permutation null."""
        import pandas as pd

        rows, arrays, pairs = [], {}, []
        for i, ((a, b), M) in enumerate(matrices.items()):
            M = np.asarray(M, dtype=np.float64)
            la, lb = list(layers[a]), list(layers[b])
            if M.shape != (len(la), len(lb)):
                raise ValidationError(f"matrix for {(a, b)} has shape {M.shape}; layers give {(len(la), len(lb))}")
            arrays[f"matrix_{i}"] = M
            lo = hi = np.full(M.shape, np.nan)
            if leave_outs is not None and (a, b) in leave_outs:
                J = np.asarray(leave_outs[(a, b)], dtype=np.float64)
                if J.ndim != 3 or J.shape[1:] != M.shape:
                    raise ValidationError(f"leave-outs for {(a, b)} have shape {J.shape}; expected (G, *{M.shape})")
                arrays[f"jack_{i}"] = J
                lo, hi = jackknife_bounds(M, J, level, clip=cka_range(bool((meta or {}).get("debiased") or (meta or {}).get("batch_size"))))
            pairs.append([a, b])
            A, B = np.meshgrid(la, lb, indexing="ij")
            rows.append(pd.DataFrame({"pair": f"{a} x {b}", "set_a": a, "set_b": b, "layer_a": A.ravel(),
                                      "layer_b": B.ravel(), "cka": M.ravel(), "cka_low": lo.ravel(),
                                      "cka_high": hi.ravel()}))
        m = dict(meta or {})
        m.update(pairs=pairs, layers={k: [int(v) for v in vs] for k, vs in layers.items()},
                 models=list(layers))
        m.setdefault("ci_level", level)
        tables = {"cka": pd.concat(rows, ignore_index=True)}
        if same_layer is not None:
            tables["same_layer"] = same_layer
        return cls(tables=tables, arrays=arrays, meta=m)

    def _pair_index(self, set_a: str | None, set_b: str | None) -> tuple[int, bool]:
        if set_a is None:
            return 0, False
        set_b = set_a if set_b is None else set_b
        for i, (a, b) in enumerate(self.pairs):
            if (a, b) == (set_a, set_b):
                return i, False
            if (b, a) == (set_a, set_b):
                return i, True
        raise ValidationError(f"no CKA matrix for {(set_a, set_b)}; pairs are {self.pairs}")

    def leave_outs(self, set_a: str | None = None, set_b: str | None = None) -> np.ndarray | None:
        """The (G, L_a, L_b) leave-one-block-out matrices of the pair (None without intervals)."""
        i, flip = self._pair_index(set_a, set_b)
        if f"jack_{i}" not in self.arrays:
            return None
        J = self.array(f"jack_{i}")
        return J.transpose(0, 2, 1) if flip else J

    def jackknife(self, fn: Callable[[np.ndarray], float], set_a: str | None = None, set_b: str | None = None,
                  level: float | None = None) -> tuple[float, float, float]:
        """``(fn(matrix), low, high)``: the delete-a-group jackknife interval of any function of one
        pair's matrix (e.g. the mean same-layer CKA of the first layers minus the last, a bow-tie
        index), from ``fn`` applied to the full matrix and to every leave-one-block-out matrix.
        The interval is Student-t on G-1 degrees of freedom around the bias-corrected centre
        (:func:`ftgeo.analysis.resampling.jackknife_interval`); NaN bounds without intervals.
        ``level`` defaults to the run's ``ci_level``."""
        from ftgeo.analysis.resampling import jackknife_interval

        M = self.matrix(set_a, set_b)
        value = float(fn(M))
        J = self.leave_outs(set_a, set_b)
        if J is None:
            return value, float("nan"), float("nan")
        lvl = float(level if level is not None else self.meta.get("ci_level", 0.9))
        _, lo, hi = jackknife_interval(value, [float(fn(Jg)) for Jg in J], lvl)
        return value, lo, hi

    def same_layer(self):
        """The ``same_layer`` table (CKA of each layer with the same layer of the other set, its
        interval and permutation null); empty for a single set."""
        import pandas as pd

        if "same_layer" in self.tables:
            return self.table("same_layer")
        return pd.DataFrame(columns=SAME_LAYER_COLUMNS)

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
            row = {"set_a": a, "set_b": b,
                   "same_layer_mean": float(np.nanmean(diag)) if np.isfinite(diag).any() else np.nan}
            if same:   # the jackknife interval of the mean same-layer CKA (NaN without intervals)
                ix = np.array(same)
                ok = np.isfinite(diag)      # the same cells as the point estimate's nanmean
                _, row["same_layer_mean_low"], row["same_layer_mean_high"] = self.jackknife(
                    lambda X, ix=ix[ok]: float(np.mean(X[ix[:, 0], ix[:, 1]])), a, b) if ok.any() else (0, np.nan,
                                                                                                      np.nan)
            else:
                row["same_layer_mean_low"] = row["same_layer_mean_high"] = np.nan
            row.update({"same_layer_min": float(np.nanmin(diag)) if np.isfinite(diag).any() else np.nan,
                        "last_layer": float(M[-1, -1]), "first_vs_last": float(M[0, -1]),
                        "mean": float(np.nanmean(M)) if np.isfinite(M).any() else np.nan})
            out.append(row)
        return pd.DataFrame(out)

    def findings(self):
        """Same-layer CKA between two sets: where it is highest and where it falls (with the jackknife
        interval where saved); for one set, the CKA of the first layer with the last; undefined layers named."""
        from ftgeo.results.findings import layer_list, level_of, num, with_ci
        lev = level_of(self)
        out = []
        sl = self.same_layer()
        for a, b in self.pairs:
            la, lb = self.meta["layers"][a], self.meta["layers"][b]
            M = self.matrix(a, b)
            if a == b:
                if len(la) > 1 and np.isfinite(M[0, -1]):
                    out.append((f"{a}: CKA of layer {la[0]} with layer {la[-1]} is {num(M[0, -1])}; neighbouring "
                                f"layers: {num(np.nanmin(np.diag(M, 1)) if np.isfinite(np.diag(M, 1)).any() else np.nan)}"
                                f" at the least similar pair.", "heatmaps"))
                continue
            same = [(l, float(M[la.index(l), lb.index(l)])) for l in la if l in lb]
            ok = [(l, v) for l, v in same if np.isfinite(v)]
            if not ok:
                continue
            ci = {}
            if not sl.empty and {"cka_low", "cka_high"} <= set(sl.columns):
                for _, r in sl[(sl["set_a"] == a) & (sl["set_b"] == b)].iterrows():
                    ci[int(r["layer"])] = (r["cka_low"], r["cka_high"])
            hi_l = [l for l, v in ok if v >= max(v for _, v in ok) - 0.02]
            lo_l, lo_v = min(ok, key=lambda t: t[1])
            last_l, last_v = ok[-1]
            what = ("standardized " if self.meta.get("standardize") else "") + (
                f"{self.meta.get('kernel')}-kernel " if self.meta.get("kernel") not in (None, "linear") else "")
            head = what + "same-layer CKA"
            msg = (f"{head[0].upper() + head[1:]} between {a} and {b} is {num(max(v for _, v in ok), 2)} at layer(s) "
                   f"{layer_list(hi_l)} and {with_ci(last_v, *ci.get(last_l, (None, None)), level=lev, digits=2)} "
                   f"at layer {last_l}")
            if lo_l != last_l:
                msg += f"; lowest {with_ci(lo_v, *ci.get(lo_l, (None, None)), level=lev, digits=2)} at layer {lo_l}"
            undefined = [l for l, v in same if not np.isfinite(v)]
            if undefined:
                msg += f" (undefined at layer {layer_list(undefined)}: a constant layer)"
            out.append((msg + ".", "heatmaps"))
        return out

    def displays(self):
        out = [("heatmaps", CKAHeatmapDisplay.from_result(self))]
        if not self.same_layer().empty:
            out.append(("same_layer", CKASameLayerDisplay.from_result(self)))
        return out


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
            if not np.isfinite(M).all():
                a.set_facecolor("0.85")                     # undefined cells grey, not a white gap
            a.set_title(t, fontsize=9)
            a.set_ylabel(f"{sa} layer", fontsize=8)
            a.set_xlabel(f"{sb} layer", fontsize=8)
            step_a = max(1, len(la) // 7)
            step_b = max(1, len(lb) // 7)
            a.set_yticks(range(0, len(la), step_a), [str(v) for v in la[::step_a]], fontsize=7)
            a.set_xticks(range(0, len(lb), step_b), [str(v) for v in lb[::step_b]], fontsize=7)
        if im is not None:
            fig.colorbar(im, ax=axes, shrink=0.8, label="CKA")
        if any(not np.isfinite(M).all() for M in self.matrices):
            fig.text(0.01, -0.02, "grey cells: CKA undefined -- a constant layer (layer 0 with [CLS] pooling is one "
                                  "vector for every input)", fontsize=7, color="0.3", ha="left", va="top")
        if self.subtitle:
            fig.suptitle(self.subtitle, fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


class CKASameLayerDisplay(Display):
    """CKA of each layer with the same layer of the other set (e.g. pretrained vs fine-tuned) with its
    jackknife band and the permutation null's 95% quantile: where fine-tuning changed the model."""

    def __init__(self, table, title: str = "", level: float | None = None, n_permutations: int | None = None):
        self.table, self.title, self.level, self.n_permutations = table.copy(), title, level, n_permutations

    @classmethod
    def from_result(cls, result) -> "CKASameLayerDisplay":
        t = result.same_layer()
        title = f"{t['set_a'].iloc[0]} vs {t['set_b'].iloc[0]}: same-layer CKA" if len(t) else "same-layer CKA"
        null = (result.meta.get("nulls") or {}).get("cka") or {}
        return cls(t, title, result.meta.get("ci_level"), null.get("n_permutations"))

    def plot(self, ax=None) -> "CKASameLayerDisplay":
        fig, ax = self._new_axes(ax, figsize=(5, 3.4))
        t = self.table.sort_values("layer")
        x = t["layer"].to_numpy()
        ax.plot(x, t["cka"].to_numpy(float), marker="o", ms=4, color="#1f5f9f", label="CKA")
        if has_interval(t, "cka"):
            band(ax, x, t, "cka", color="#1f5f9f",
                 label=f"{round(100 * self.level)}% jackknife interval" if self.level else "interval")
        if "cka_null_q95" in t and np.isfinite(t["cka_null_q95"].to_numpy(float)).any():
            ax.plot(x, t["cka_null_q95"].to_numpy(float), ls="--", lw=1, color="#777", marker="_",
                    label="null 95% quantile" + (f" ({self.n_permutations} permutations)"
                                                  if self.n_permutations else ""))
        ax.set_xlabel("layer")
        ax.set_ylabel("CKA (same layer)")
        ax.set_ylim(min(0.0, float(np.nanmin(np.r_[t["cka"].to_numpy(float), 0.0]))) - 0.02, 1.02)
        ax.set_title(self.title, fontsize=9)
        ax.legend(fontsize=7)
        self.figure_, self.ax_ = fig, ax
        return self


SAME_LAYER_COLUMNS = ["set_a", "set_b", "layer", "cka", "cka_low", "cka_high", "cka_p", "cka_null_q05",
                      "cka_null_q50", "cka_null_q95"]


def cka_range(debiased: bool) -> tuple[float, float]:
    """Where CKA lives: [0, 1] (biased HSIC: a cosine of two PSD Gram matrices), (-inf, 1] debiased."""
    return (-np.inf if debiased else 0.0), 1.0


def jackknife_bounds(M: np.ndarray, J: np.ndarray, level: float,
                     clip: tuple[float, float] = (-np.inf, np.inf)) -> tuple[np.ndarray, np.ndarray]:
    """Cell-wise :func:`~ftgeo.analysis.resampling.jackknife_interval` bounds of a matrix ``M`` from its
    (G, ...) leave-outs ``J`` (NaN where a cell or any of its leave-outs is undefined), clipped to the
    statistic's range ``clip`` (the jackknife's normal interval can leave it when one block dominates,
    e.g. a massive activation in a few rows: SmolLM2's middle layers gave [-2.4, 0.66] around 0.005)."""
    from ftgeo.analysis.resampling import jackknife_interval

    lo, hi = np.full(M.shape, np.nan), np.full(M.shape, np.nan)
    for idx in np.ndindex(M.shape):
        _, lo[idx], hi[idx] = jackknife_interval(float(M[idx]), J[(slice(None), *idx)], level)
    with np.errstate(invalid="ignore"):
        return np.clip(lo, *clip), np.clip(hi, *clip)


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
    from ftgeo.analysis.resampling import jackknife_blocks
    from ftgeo.analysis.similarity import layer_cka_jackknife, layer_cka_matrices
    from ftgeo.analyses._uncertainty import groups_of, interval_note, unit_name

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
    minibatch = spec.batch_size
    groups = groups_of(reps_a)
    blocks = jackknife_blocks(groups, spec.n_blocks, spec.seed) if spec.intervals and not minibatch else None
    leave_outs = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if blocks is not None:
            mats, leave_outs = layer_cka_jackknife(loaders, blocks, todo, kernel=spec.kernel, debiased=spec.debiased,
                                                   standardize=spec.standardize, threshold=spec.threshold,
                                                   device=spec.device, progress=progress)
        else:
            mats = layer_cka_matrices(loaders, todo, kernel=spec.kernel, debiased=spec.debiased,
                                      standardize=spec.standardize, threshold=spec.threshold,
                                      batch_size=spec.batch_size, device=spec.device, progress=progress)
    notes = [str(w.message) for w in caught]
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    meta = {"kernel": spec.kernel, "debiased": spec.debiased, "standardize": spec.standardize,
            "batch_size": spec.batch_size,
            "estimator": ("minibatch HSIC_1 (Nguyen et al. 2021)" if minibatch else
                          "HSIC_1 (Song et al. 2012)" if spec.debiased else "biased HSIC"),
            "threshold": spec.threshold if spec.kernel == "rbf" else None, "n": int(np.asarray(reps_a.ids).size),
            "notes": notes + (["debiased/minibatch CKA is not clipped: values slightly below 0 mean no similarity"]
                              if (spec.debiased or minibatch) else []),
            "ci_level": spec.ci_level, "seed": spec.seed, "nulls": {}}
    unit = unit_name(groups)
    if blocks is not None:
        G = int(blocks.max()) + 1
        meta["intervals"] = {"cka": interval_note(
            "delete-a-group jackknife, Student t on G-1 df around the bias-corrected centre (Efron & Stein 1981)",
            spec, unit=unit, blocks=G)}
        bad = sum(int((np.isfinite(mats[p]) & ~np.isfinite(leave_outs[p]).all(axis=0)).sum()) for p in mats)
        if bad:
            meta["notes"].append(f"{bad} CKA cell(s) have no interval: a layer is constant or unresolved once a "
                                 "block of examples is left out")
    elif minibatch and spec.intervals:
        meta["intervals"] = {"cka": interval_note("none", spec, unit=unit, reason=MINIBATCH_NO_INTERVAL)}
        meta["notes"].append(MINIBATCH_NO_INTERVAL)
    else:
        meta["intervals"] = {}
    same = None
    if reps_b is not None:
        same = _same_layer_table(reps_a, reps_b, nm, lay, mats[(nm[0], nm[1])],
                                 (leave_outs or {}).get((nm[0], nm[1])), spec, meta)
    return CKAResult.from_matrices(mats, lay, meta, leave_outs=leave_outs, level=spec.ci_level, same_layer=same)


MINIBATCH_NO_INTERVAL = ("minibatch CKA has no interval: its only cheap leave-out unit is the minibatch, a random "
                         "split of the rows that does not keep a sentence's words together, and the estimate itself "
                         "depends on that split; use the exact route (on a row subsample if n is too large) for "
                         "intervals")


def _same_layer_table(reps_a, reps_b, nm, lay, M, J, spec: CKASpec, meta: dict):
    """CKA of each layer with the same layer of the other set, its jackknife bounds and the permutation
    null of the row correspondence (on a seeded subsample of at most ``perm_max_points`` rows)."""
    import pandas as pd

    from ftgeo.analysis.resampling import jackknife_interval
    from ftgeo.analysis.similarity import cka_permutation_null

    la, lb = lay[nm[0]], lay[nm[1]]
    rows, sub = [], None
    debiased = spec.debiased or bool(spec.batch_size)
    for x, l in enumerate(la):
        if l not in lb:
            continue
        y = lb.index(l)
        v = float(M[x, y])
        lo = hi = float("nan")
        if J is not None:
            _, lo, hi = jackknife_interval(v, J[:, x, y], spec.ci_level)
            lo, hi = (float(np.clip(b, *cka_range(debiased))) for b in (lo, hi))
        row = {"set_a": nm[0], "set_b": nm[1], "layer": int(l), "cka": v, "cka_low": lo, "cka_high": hi}
        null = []
        if spec.n_permutations > 0:
            r = cka_permutation_null(reps_a.layer(l, dtype=None), reps_b.layer(l, dtype=None),
                                     n_permutations=spec.n_permutations, kernel=spec.kernel, debiased=debiased,
                                     standardize=spec.standardize, threshold=spec.threshold,
                                     max_points=spec.perm_max_points, random_state=spec.seed)
            sub = (r["n_rows"], r["subsampled"])
            null = r["null"]
            row.update(null_summary(r["observed"], null, "cka"))
        else:
            row.update(null_summary(v, [], "cka"))
        rows.append(row)
    if spec.n_permutations > 0 and sub is not None:
        meta.setdefault("nulls", {})["cka"] = null_note(
            "permutation of the row correspondence between the two sets (same-layer cells); p = (1 + #{null >= "
            "observed}) / (B + 1) (Phipson & Smyth 2010), the observed CKA and the null on the same subsample",
            spec.n_permutations, rows=sub[0], subsampled=sub[1], max_points=spec.perm_max_points,
            **({"estimator": "exact debiased (HSIC_1) CKA on the subsample"} if spec.batch_size else {}))
    return pd.DataFrame(rows, columns=SAME_LAYER_COLUMNS)
