"""A generic layer x layer engine for representational similarity measures.

A :class:`Measure` turns one layer (an ``(n, d)`` array) into prepared statistics once
(:meth:`Measure.prepare`) and combines two prepared layers into one number
(:meth:`Measure.pair`). :func:`layer_grid` prepares every layer of every set once and fills the
requested (set_a, set_b) matrices from the prepared statistics; a symmetric measure computes each
unordered pair of one set once. The expensive part of most measures (an SVD, a kNN search, an
RDM) is per layer, so a grid of L x L pairs costs L preparations plus L^2 cheap combinations
instead of 2 L^2 full computations.

Preprocessing (the rogue-dimension sensitivity of issue 16) is applied to each layer before
``prepare``:

* ``raw``: the layer as stored (float64);
* ``standardize``: every dimension z-scored (:func:`ftgeo.analysis.similarity.standardize_features`:
  constant dimensions become 0);
* ``clip``: every entry clipped to ``[-t, t]`` where ``t`` is the ``q``-quantile of ``|x|`` over all
  entries of the layer (platonic-rep's ``remove_outliers(feats, q, exact=True)``, Huh et al. 2024,
  which takes the quantile over all layers of a model at once; here it is per layer so that every
  layer is treated alike). A rogue or massive dimension, large for every row, is cut down to the
  typical magnitude ``t``; winsorising each dimension at its own quantiles would leave it large.

Delete-a-group jackknife (:func:`jackknife_grid`) re-prepares every layer without one block of rows
and recombines: G blocks cost G times the point estimate.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["Measure", "PREPROCESS", "preprocess_layer", "clip_threshold", "layer_grid", "jackknife_grid",
           "as_layer_loaders", "UndefinedMeasure", "resolve_pairs"]

PREPROCESS = ("raw", "standardize", "clip")


class UndefinedMeasure(ValidationError):
    """The measure is undefined for this layer (e.g. a constant layer): the grid writes NaN and warns."""


class Measure:
    """One similarity (or distance) between two representations of the same n examples.

    Subclasses set ``name``, ``symmetric`` (``pair(a, b) == pair(b, a)``), ``kind``
    (``"similarity"``: larger is more similar; ``"distance"``: 0 is identical) and ``bounds``
    (the range of values), and implement :meth:`prepare` and :meth:`pair`. :meth:`pair_row`
    may combine one prepared layer with several at once (one GEMM instead of many).
    ``to_similarity`` maps a value onto [0, 1] with 1 = identical (for comparing measures).
    """

    name: str = "measure"
    symmetric: bool = True
    kind: str = "similarity"
    bounds: tuple[float, float] = (0.0, 1.0)

    def prepare(self, X: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def pair(self, a: Any, b: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def pair_row(self, a: Any, bs: Sequence[Any]) -> list[float]:
        return [self.pair(a, b) for b in bs]

    def to_similarity(self, v: float) -> float:
        return float(v)

    def params(self) -> dict:
        return {}

    def __call__(self, X: np.ndarray, Y: np.ndarray) -> float:
        """The measure of one pair of arrays (prepares both)."""
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
            raise ValidationError(f"{self.name}: X and Y must be (n, d) arrays with the same rows; got {X.shape} "
                                  f"and {Y.shape}")
        return float(self.pair(self.prepare(X), self.prepare(Y)))


# ----------------------------------------------------------------------------- preprocessing
def clip_threshold(X: np.ndarray, q: float = 0.95) -> float:
    """The clipping level t: the ``q``-quantile of ``|X|`` over all entries, taken as platonic-rep's
    exact variant does (``sorted(|X|.ravel())[int(q * X.size)]``)."""
    a = np.abs(np.asarray(X, dtype=np.float64)).ravel()
    if a.size == 0:
        raise ValidationError("cannot clip an empty layer")
    k = min(int(q * a.size), a.size - 1)
    return float(np.partition(a, k)[k])


def preprocess_layer(X, how: str = "raw", q: float = 0.95) -> np.ndarray:
    """``X`` as float64, raw, standardized (z-score per dimension) or clipped at its q-quantile of |x|."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValidationError(f"a layer must be a 2-D (n, d) array; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValidationError("the layer holds NaN or inf values; re-extract it or drop the layer")
    if how == "raw":
        return X
    if how == "standardize":
        from ftgeo.analysis.similarity import standardize_features
        return standardize_features(X)
    if how == "clip":
        if not 0.0 < q <= 1.0:
            raise ValidationError(f"clip quantile q must be in (0, 1]; got {q}")
        if q == 1.0:
            return X
        t = clip_threshold(X, q)
        return np.clip(X, -t, t)
    raise ValidationError(f"preprocess must be one of {PREPROCESS}; got {how!r}")


# ----------------------------------------------------------------------------- inputs
def as_layer_loaders(layers) -> list[Callable[[], np.ndarray]]:
    """Zero-argument loaders for a Representations object, a list of arrays/loaders or a 3-D array."""
    if hasattr(layers, "layer") and hasattr(layers, "n_layers"):
        from ftgeo.reps import stored_layer_numbers
        return [(lambda i=i: layers.layer(i, dtype=np.float64)) for i in stored_layer_numbers(layers)]
    if isinstance(layers, np.ndarray) and layers.ndim == 3:
        return [(lambda a=a: a) for a in layers]
    if isinstance(layers, (list, tuple)) and layers:
        return [(a if callable(a) else (lambda a=a: a)) for a in layers]
    raise ValidationError("layers must be a Representations object, a non-empty list of (n, d) arrays "
                          "or an (n_layers, n, d) array")


def _prepare_all(measure: Measure, loaders, name: str, how: str, q: float, rows, n_expected, progress: bool):
    from ftgeo.progress import progress as _progress
    out, why = [], []
    for i, load in enumerate(_progress(loaders, enabled=progress, desc=f"{measure.name} prepare {name}", leave=False)):
        X = np.asarray(load())
        if rows is not None:
            X = X[rows]
        if X.ndim != 2:
            raise ValidationError(f"set {name!r} layer {i} must be a 2-D (n, d) array; got shape {X.shape}")
        if n_expected is not None and X.shape[0] != n_expected:
            raise ValidationError(f"set {name!r} layer {i} has {X.shape[0]} rows, another layer {n_expected}; "
                                  "every set must hold the same examples in the same order")
        n_expected = X.shape[0]
        try:
            out.append(measure.prepare(preprocess_layer(X, how, q)))
            why.append(None)
        except UndefinedMeasure as exc:
            out.append(None)
            why.append(str(exc))
    return out, why, n_expected


def _fill(measure: Measure, A, B, sym: bool, progress: bool, desc: str) -> np.ndarray:
    from ftgeo.progress import progress as _progress
    M = np.full((len(A), len(B)), np.nan)
    for i in _progress(range(len(A)), enabled=progress, desc=desc, leave=False):
        if A[i] is None:
            continue
        js = [j for j in range(i if sym else 0, len(B)) if B[j] is not None]
        if not js:
            continue
        vals = measure.pair_row(A[i], [B[j] for j in js])
        for j, v in zip(js, vals):
            M[i, j] = v
            if sym:
                M[j, i] = v
    return M


def resolve_pairs(sets: dict, pairs) -> tuple[list[tuple[str, str]], list[str]]:
    """The (set_a, set_b) pairs of a layer x layer computation and the sets they use, in ``sets``' order.

    ``pairs`` defaults to every set with itself and every a < b; a pair naming an unknown set is
    refused in one line naming the known sets."""
    names = list(sets)
    if pairs is None:
        pairs = [(a, a) for a in names] + [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    pairs = [tuple(p) for p in pairs]
    for a, b in pairs:
        for s in (a, b):
            if s not in sets:
                raise ValidationError(f"pair {(a, b)} names set {s!r}; known sets: {names}")
    return pairs, sorted({s for p in pairs for s in p}, key=names.index)


def layer_grid(sets: dict[str, Any], pairs: Sequence[tuple[str, str]] | None, measure: Measure, *,
               preprocess: str = "raw", q: float = 0.95, rows: np.ndarray | None = None,
               progress: bool = False, warn: bool = True) -> dict[tuple[str, str], np.ndarray]:
    """Layer x layer matrices of ``measure`` for each (set_a, set_b) in ``pairs``.

    ``sets`` maps a name to its layers (a Representations object, a list of (n, d) arrays or
    loaders, or a 3-D array); ``pairs`` defaults to every set with itself and every a < b.
    Every layer is preprocessed (``raw`` / ``standardize`` / ``clip`` at quantile ``q``) and
    prepared once; ``rows`` selects the same rows of every layer. For a symmetric measure a set
    with itself fills the upper triangle and mirrors it. A layer the measure cannot handle (e.g.
    constant) gives a NaN row/column and one RuntimeWarning naming it.
    """
    if preprocess not in PREPROCESS:
        raise ValidationError(f"preprocess must be one of {PREPROCESS}; got {preprocess!r}")
    pairs, used = resolve_pairs(sets, pairs)
    stats, whys, n = {}, {}, None
    for s in used:
        stats[s], whys[s], n = _prepare_all(measure, as_layer_loaders(sets[s]), s, preprocess, q, rows, n, progress)
    if warn:
        bad = {s: [(i, w) for i, w in enumerate(v) if w] for s, v in whys.items()}
        bad = {s: v for s, v in bad.items() if v}
        if bad:
            warnings.warn(f"{measure.name}: undefined for " + "; ".join(
                f"set {s!r} layer(s) {[i for i, _ in v]} ({v[0][1]})" for s, v in bad.items()) + "; set to NaN",
                RuntimeWarning, stacklevel=2)
    out = {}
    for a, b in pairs:
        sym = a == b and measure.symmetric
        out[(a, b)] = _fill(measure, stats[a], stats[b], sym, progress, f"{measure.name} {a} x {b}")
    return out


def jackknife_grid(sets: dict[str, Any], pairs: Sequence[tuple[str, str]], measure: Measure, blocks: np.ndarray, *,
                   preprocess: str = "raw", q: float = 0.95, rows: np.ndarray | None = None,
                   progress: bool = False) -> dict[tuple[str, str], np.ndarray]:
    """Leave-one-block-out matrices: for each block b, :func:`layer_grid` on the rows not in b.

    ``blocks`` (one block index per selected row, from
    :func:`ftgeo.analysis.resampling.jackknife_blocks`); returns ``{pair: array (G, L_a, L_b)}``.
    The layers are loaded once; each block re-prepares every layer (G times the point cost).
    """
    from ftgeo.progress import progress as _progress
    blocks = np.asarray(blocks)
    loaded = {}
    for s in sorted({x for p in pairs for x in p}):
        arrs = []
        for load in as_layer_loaders(sets[s]):
            X = np.asarray(load(), dtype=np.float64)
            arrs.append(X[rows] if rows is not None else X)
        loaded[s] = arrs
    G = int(blocks.max()) + 1
    out = {tuple(p): [] for p in pairs}
    for g in _progress(range(G), enabled=progress, desc=f"{measure.name} jackknife", leave=False):
        keep = blocks != g
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = layer_grid({s: [X[keep] for X in v] for s, v in loaded.items()}, pairs, measure,
                             preprocess=preprocess, q=q, warn=False)
        for p in out:
            out[p].append(res[p])
    return {p: np.stack(v) for p, v in out.items()}

