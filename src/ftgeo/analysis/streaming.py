"""Linear CKA streamed over chunks of examples, on a torch device (CUDA or CPU).

For linear kernels CKA needs only sufficient statistics that add up over examples, so N is bounded
by neither GPU nor host memory: per layer ``i`` the sum ``s_i = sum_r x_r`` and the Gram
``X_i^T X_i``, per pair ``(i, j)`` the cross product ``X_i^T X_j`` (and, for the debiased estimator,
the squared row norms ``a_r = ||x_r||^2`` with ``sum_r x_r b_r`` and ``sum_r a_r b_r``). Each chunk's
products run on the device in ``compute`` precision (float32 by default: what GPUs are fast at;
TF32 is switched off while they run) and are added into float64 accumulators, so the rounding of
one chunk never compounds over the N / chunk additions.

Centring by subtraction (``X^T Y - n mu_x mu_y^T``) cancels catastrophically when the means are large
against the spread, which is exactly the rogue-dimension case (means of hundreds, spreads of one).
Every chunk is therefore shifted by the first chunk's mean (computed in float64) before its products:
the final centring then corrects by a small residual mean only. Both estimators are invariant to a
shift of X or Y (biased CKA through the centring; HSIC_1 of a linear kernel is a U-statistic of
differences), so the shift changes nothing but the rounding.

Formulas. Biased (Kornblith et al. 2019, Eq. 5): ``||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with
``Xc^T Yc = X^T Y - s_x s_y^T / n``. Debiased: HSIC_1 of Song et al. (2012) for ``K = X X^T``,
``L = Y Y^T`` with zeroed diagonals, written in feature space::

    tr(K~L~)     = ||X^T Y||_F^2 - sum_r a_r b_r
    1^T K~ 1     = ||s_x||^2 - sum_r a_r
    1^T K~ L~ 1  = s_x^T (X^T Y) s_y - s_x^T u - s_y^T v + sum_r a_r b_r,   u = sum_r x_r b_r, v = sum_r y_r a_r
    HSIC_1       = [tr(K~L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2 (1^T K~ L~ 1) / (n-2)] / (n (n-3))

Memory: the accumulators of an ``La x Lb`` grid hold ``sum d_i d_j`` float64 values (a 31-layer,
576-wide SmolLM2 within-model grid: 2.5 GB; 5 selected layers of a 4096-wide model: 1.3 GB).
:func:`grid_bytes` says how much before anything is allocated.

This module is the numeric core only; see :func:`linear_cka_grid` for the entry point (arrays,
memmaps or a :class:`~ftgeo.reps.Representations` set, read ``chunk_size`` rows at a time).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["LinearCKAAccumulator", "linear_cka_streaming", "linear_cka_grid", "grid_bytes", "resolve_device"]


def resolve_device(device: str | None = "auto"):
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:N`` as given (CUDA checked)."""
    import torch
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device={device!r} but CUDA is not available; use device='cpu' or 'auto'")
    return dev


@contextlib.contextmanager
def _exact_float32():
    """Full float32 matrix products (no TF32) while the block runs."""
    import torch
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def grid_bytes(dims_a: Sequence[int], dims_b: Sequence[int] | None = None, *, debiased: bool = False) -> int:
    """Bytes of float64 accumulators for the grid ``dims_a x dims_b`` (``dims_b`` None: ``a`` with itself):
    one ``d_i x d_j`` matrix per pair and one Gram per layer (vectors are negligible)."""
    da = [int(d) for d in dims_a]
    if dims_b is None:
        cross = sum(da[i] * da[j] for i in range(len(da)) for j in range(i + 1, len(da)))
        selfs = sum(d * d for d in da)
        vec = sum(da) * (2 if debiased else 1) + (sum(2 * da[i] for i in range(len(da))) * len(da) if debiased else 0)
    else:
        db = [int(d) for d in dims_b]
        cross = sum(i * j for i in da for j in db)
        selfs = sum(d * d for d in da) + sum(d * d for d in db)
        vec = (sum(da) + sum(db)) * (2 if debiased else 1) + ((sum(da) * len(db) + sum(db) * len(da)) if debiased else 0)
    return 8 * (cross + selfs + vec)


class LinearCKAAccumulator:
    """Sufficient statistics of linear CKA between the layers of set ``a`` and those of set ``b``
    (``dims_b=None``: ``a`` with itself), accumulated chunk by chunk.

    ``update(xs, ys=None)`` takes one chunk of rows of every layer (arrays or tensors, the same rows
    for every layer); ``result()`` returns the ``(len(dims_a), len(dims_b))`` CKA matrix as float64.
    ``compute``: the dtype of each chunk's products (``torch.float32`` default, ``torch.float64`` for
    exact arithmetic); accumulation is always float64. ``shift=False`` drops the first-chunk mean shift
    (for demonstrating what it saves; never needed otherwise).
    """

    def __init__(self, dims_a: Sequence[int], dims_b: Sequence[int] | None = None, *, device="auto",
                 compute=None, debiased: bool = False, max_bytes: int | None = None, shift: bool = True):
        import torch
        self.shift = bool(shift)
        self.device = resolve_device(device) if not isinstance(device, torch.device) else device
        self.compute = torch.float32 if compute is None else compute
        self.debiased = bool(debiased)
        self.within = dims_b is None
        self.dims_a = [int(d) for d in dims_a]
        self.dims_b = list(self.dims_a) if dims_b is None else [int(d) for d in dims_b]
        need = grid_bytes(self.dims_a, None if self.within else self.dims_b, debiased=debiased)
        if max_bytes is not None and need > max_bytes:
            raise ValidationError(f"streaming linear CKA of {len(self.dims_a)} x {len(self.dims_b)} layers needs "
                                  f"{need / 2**30:.1f} GiB of float64 accumulators (sum of d_i x d_j over the pairs); "
                                  f"{max_bytes / 2**30:.1f} GiB allowed: pass fewer layers")
        self.n = 0
        self._shift_a: list | None = None
        self._shift_b: list | None = None
        f64 = dict(dtype=torch.float64, device=self.device)
        self._set_a = [self._layer_stats(d, f64) for d in self.dims_a]
        self._set_b = self._set_a if self.within else [self._layer_stats(d, f64) for d in self.dims_b]
        self._pairs = {}
        for i, da in enumerate(self.dims_a):
            for j, db in enumerate(self.dims_b):
                if self.within and j < i:
                    continue
                if self.within and j == i:
                    continue  # the layer's own Gram is in its stats
                p = {"C": torch.zeros((da, db), **f64)}
                if self.debiased:
                    p.update(u=torch.zeros(da, **f64), v=torch.zeros(db, **f64), w=torch.zeros((), **f64))
                self._pairs[(i, j)] = p

    def _layer_stats(self, d: int, f64: dict) -> dict:
        import torch
        st = {"s": torch.zeros(d, **f64), "G": torch.zeros((d, d), **f64)}
        if self.debiased:
            st.update(a=torch.zeros((), **f64), u=torch.zeros(d, **f64), w=torch.zeros((), **f64))
        return st

    def _prepare(self, chunk: Sequence, dims: list[int], which: str) -> list:
        import torch
        if len(chunk) != len(dims):
            raise ValidationError(f"update: {len(chunk)} layer chunks for set {which} of {len(dims)} layers")
        out = []
        shifts = self._shift_a if which == "a" else self._shift_b
        for k, (x, d) in enumerate(zip(chunk, dims)):
            t = x if isinstance(x, torch.Tensor) else torch.tensor(np.asarray(x))  # (a copy: memmaps are read-only)
            if t.ndim != 2 or t.shape[1] != d:
                raise ValidationError(f"update: set {which} layer {k} chunk has shape {tuple(t.shape)}; expected (rows, {d})")
            t = t.to(self.device, torch.float64)
            if shifts is not None:
                t = t - shifts[k]
            out.append(t.to(self.compute))
        return out

    def update(self, xs: Sequence, ys: Sequence | None = None) -> "LinearCKAAccumulator":
        """Add one chunk: ``xs[i]`` the chunk's rows of layer ``i`` of set a (and ``ys`` of set b)."""
        import torch
        if self.within and ys is not None:
            raise ValidationError("update: this accumulator compares set a with itself; pass xs only")
        if not self.within and ys is None:
            raise ValidationError("update: pass the chunk of both sets (xs, ys)")
        rows = {int(np.shape(x)[0]) for x in xs} | ({int(np.shape(y)[0]) for y in ys} if ys is not None else set())
        if len(rows) != 1:
            raise ValidationError(f"update: every layer's chunk must hold the same rows; got row counts {sorted(rows)}")
        m = rows.pop()
        if m == 0:
            return self
        if self._shift_a is None and self.shift:  # the first chunk's means (float64) shift every chunk
            self._shift_a = [torch.as_tensor(np.asarray(x, dtype=np.float64).mean(0) if not isinstance(x, torch.Tensor)
                                             else x.double().mean(0)).to(self.device) for x in xs]
            self._shift_b = self._shift_a if self.within else [
                torch.as_tensor(np.asarray(y, dtype=np.float64).mean(0) if not isinstance(y, torch.Tensor)
                                else y.double().mean(0)).to(self.device) for y in ys]
        X = self._prepare(xs, self.dims_a, "a")
        Y = X if self.within else self._prepare(ys, self.dims_b, "b")
        with _exact_float32():
            sq_a = [(x.double() ** 2).sum(1) for x in X] if self.debiased else None
            sq_b = (sq_a if self.within else [(y.double() ** 2).sum(1) for y in Y]) if self.debiased else None
            for k, x in enumerate(X):
                self._add_self(self._set_a[k], x, sq_a[k] if sq_a else None)
            if not self.within:
                for k, y in enumerate(Y):
                    self._add_self(self._set_b[k], y, sq_b[k] if sq_b else None)
            for (i, j), p in self._pairs.items():
                x, y = X[i], Y[j]
                p["C"] += (x.T @ y).double()
                if self.debiased:
                    p["u"] += (x.T @ sq_b[j].to(x.dtype)).double()
                    p["v"] += (y.T @ sq_a[i].to(y.dtype)).double()
                    p["w"] += (sq_a[i] * sq_b[j]).sum()
        self.n += m
        return self

    def _add_self(self, st: dict, x, sq) -> None:
        st["s"] += x.double().sum(0)
        st["G"] += (x.T @ x).double()
        if self.debiased:
            st["a"] += sq.sum()
            st["u"] += (x.T @ sq.to(x.dtype)).double()
            st["w"] += (sq * sq).sum()

    # ------------------------------------------------------------------ the result
    def _hsic(self, C, s_x, s_y, u, v, w, a_x, a_y) -> float:
        n = self.n
        if not self.debiased:
            Cc = C - torch_outer(s_x, s_y) / n
            return float((Cc * Cc).sum())
        tr = float((C * C).sum()) - float(w)
        kx = float(s_x @ s_x) - float(a_x)
        ky = float(s_y @ s_y) - float(a_y)
        kl = float(s_x @ C @ s_y) - float(s_x @ u) - float(s_y @ v) + float(w)
        return (tr + kx * ky / ((n - 1) * (n - 2)) - 2.0 * kl / (n - 2)) / (n * (n - 3))

    def _self_hsic(self, st: dict) -> float:
        if not self.debiased:
            return self._hsic(st["G"], st["s"], st["s"], None, None, None, None, None)
        return self._hsic(st["G"], st["s"], st["s"], st["u"], st["u"], st["w"], st["a"], st["a"])

    def result(self) -> np.ndarray:
        """The CKA matrix ``(len(dims_a), len(dims_b))``; NaN (with a RuntimeWarning) for a constant layer or
        a debiased self-similarity that is not positive."""
        import warnings
        if self.n < (4 if self.debiased else 2):
            raise ValidationError(f"streaming CKA saw {self.n} examples; it needs at least {4 if self.debiased else 2}")
        self_a = [self._self_hsic(st) for st in self._set_a]
        self_b = self_a if self.within else [self._self_hsic(st) for st in self._set_b]
        scale_a = [max(float((st["G"] * st["G"]).sum()), 1e-300) for st in self._set_a]
        out = np.full((len(self.dims_a), len(self.dims_b)), np.nan)
        bad = {("a", i) for i, h in enumerate(self_a) if not h > 1e-12 * scale_a[i]}
        scale_b = scale_a if self.within else [max(float((st["G"] * st["G"]).sum()), 1e-300) for st in self._set_b]
        bad |= {("b", j) for j, h in enumerate(self_b) if not h > 1e-12 * scale_b[j]}
        if self.within:
            bad |= {("b", i) for s, i in bad if s == "a"}
        for i in range(len(self.dims_a)):
            for j in range(len(self.dims_b)):
                if ("a", i) in bad or ("b", j) in bad:
                    continue
                if self.within and i == j:
                    out[i, j] = 1.0
                    continue
                key = (min(i, j), max(i, j)) if self.within else (i, j)
                p = self._pairs[key]
                sa, sb = (self._set_a[key[0]], self._set_b[key[1]])
                h = self._hsic(p["C"], sa["s"], sb["s"], p.get("u"), p.get("v"), p.get("w"), sa.get("a"), sb.get("a"))
                out[i, j] = h / np.sqrt(self_a[i] * self_b[j])
        if bad:
            warnings.warn(f"streaming CKA: constant (or zero self-similarity) layers {sorted(bad)} give NaN",
                          RuntimeWarning, stacklevel=2)
        return out


def torch_outer(a, b):
    return a[:, None] * b[None, :]


# ----------------------------------------------------------------------------- entry points
def _layer_sources(x, layers: Sequence[int] | None) -> list[Callable[[], Any]]:
    """Zero-argument loaders of each layer (a Representations set: its memmaps; arrays: themselves)."""
    if hasattr(x, "layer") and hasattr(x, "n_layers"):
        idx = list(x.layers) if layers is None else list(layers)
        return [(lambda i=i: x.layer(i, dtype=None)) for i in idx]
    arrs = list(x) if not (isinstance(x, np.ndarray) and x.ndim == 2) else [x]
    if layers is not None:
        arrs = [arrs[i] for i in layers]
    return [(lambda a=a: a) for a in arrs]


def linear_cka_grid(a, b=None, *, layers_a: Sequence[int] | None = None, layers_b: Sequence[int] | None = None,
                    chunk_size: int = 4096, device="auto", compute=None, debiased: bool = False,
                    max_bytes: int | None = None, progress: bool = False) -> np.ndarray:
    """Layer x layer linear CKA of set ``a`` (with itself, or with ``b``), streamed ``chunk_size`` rows at a
    time.

    ``a``/``b``: a :class:`~ftgeo.reps.Representations` set (its layers are memory-mapped and read in row
    chunks; ``layers_*`` are model layer numbers), a list of ``(n, d)`` arrays/memmaps, or one array.
    Returns ``(La, Lb)`` float64. Equals :func:`ftgeo.analysis.similarity.cka` (linear kernel) to the
    rounding of ``compute`` (float64: ~1e-12; float32: ~1e-6).
    """
    from ftgeo.progress import progress as _progress
    if chunk_size < 4:
        raise ValidationError(f"chunk_size={chunk_size} must be >= 4")
    la = [load() for load in _layer_sources(a, layers_a)]
    lb = None if b is None else [load() for load in _layer_sources(b, layers_b)]
    n = {int(np.shape(x)[0]) for x in la} | ({int(np.shape(y)[0]) for y in lb} if lb is not None else set())
    if len(n) != 1:
        raise ValidationError(f"every layer must hold the same examples; got row counts {sorted(n)}")
    n = n.pop()
    acc = LinearCKAAccumulator([np.shape(x)[1] for x in la], None if lb is None else [np.shape(y)[1] for y in lb],
                               device=device, compute=compute, debiased=debiased, max_bytes=max_bytes)
    for r0 in _progress(range(0, n, chunk_size), enabled=progress, desc="streaming CKA", unit="chunk"):
        r1 = min(r0 + chunk_size, n)
        if 0 < n - r1 < 4:  # never leave a tail too small to matter: fold it into this chunk
            r1 = n
        acc.update([x[r0:r1] for x in la], None if lb is None else [y[r0:r1] for y in lb])
        if r1 == n:
            break
    return acc.result()


def linear_cka_streaming(X, Y, *, chunk_size: int = 4096, device="auto", compute=None,
                         debiased: bool = False) -> float:
    """Linear CKA of two ``(n, d)`` arrays (or memmaps), streamed over chunks of rows."""
    return float(linear_cka_grid([X], [Y], chunk_size=chunk_size, device=device, compute=compute,
                                 debiased=debiased)[0, 0])


def chunks_of(arrays: Sequence, chunk_size: int) -> Iterable[list]:
    """The row chunks of several aligned arrays (a helper for feeding :meth:`LinearCKAAccumulator.update`)."""
    n = int(np.shape(arrays[0])[0])
    for r0 in range(0, n, chunk_size):
        yield [a[r0:r0 + chunk_size] for a in arrays]
