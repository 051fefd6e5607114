"""Benchmark: the full layer x layer linear CKA matrix between two layer sets.

ftgeo (``layer_cka_matrix``: each layer centred once with ||X^T X||_F^2 kept, one float64 GEMM
||X_a^T Y_b||_F^2 per pair; torch float64 on CUDA when available, else torch CPU) against a
straightforward per-pair Gram implementation (NumPy float64: K = X X^T, L = Y Y^T, double-centred,
HSIC = <Kc, Lc>_F, nothing reused between pairs), in the same process.

The baseline takes seconds per pair at N = 10,000, so by default it times a documented subset
of pairs (``--baseline-pairs``, spread over the matrix) and extrapolates the median per-pair time
to all L_a x L_b pairs (``baseline_pairs_timed`` / ``baseline_extrapolated`` in the JSON).
``max_abs_diff`` compares the timed pairs with ftgeo's matrix.

    python bench/cka.py                       # N=10000, D=768, 13 x 13 layers
    python bench/cka.py --n 2000 --d 256 --layers 5 --baseline-pairs 0   # small; 0 = all pairs
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def make_layers(n: int, d: int, L: int, seed: int, shared: np.ndarray | None = None) -> list[np.ndarray]:
    """Random layers with structure: a running mixture of a shared base plus fresh noise."""
    rng = np.random.default_rng(seed)
    base = shared if shared is not None else rng.standard_normal((n, d))
    out = []
    h = base.copy()
    for _ in range(L):
        M = np.eye(d) + 0.1 * rng.standard_normal((d, d)) / np.sqrt(d)
        h = h @ M + 0.3 * rng.standard_normal((n, d))
        out.append(h.astype(np.float32))           # stored representations are float32
    return out


def baseline_pair(X: np.ndarray, Y: np.ndarray) -> float:
    """Straightforward linear CKA through n x n Gram matrices (Kornblith et al. 2019, Eq. 3-4)."""
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    K = X @ X.T
    L = Y @ Y.T

    def centre(G):
        r = G.mean(axis=0)
        return G - r[None, :] - r[:, None] + r.mean()

    Kc, Lc = centre(K), centre(L)
    return float(np.vdot(Kc, Lc) / np.sqrt(np.vdot(Kc, Kc) * np.vdot(Lc, Lc)))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--repeats", type=int, default=3, help="ftgeo repeats (median)")
    ap.add_argument("--baseline-pairs", type=int, default=4,
                    help="pairs the baseline times (spread over the matrix); 0 = all pairs, no extrapolation")
    ap.add_argument("--device", default="auto", help="ftgeo device: auto (CUDA if available), cpu, cuda, numpy")
    ap.add_argument("--numpy-too", action="store_true", help="also time ftgeo with the NumPy BLAS backend (1 run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from ftgeo.analysis.similarity import _backend, layer_cka_matrix

    rng = np.random.default_rng(args.seed)
    shared = rng.standard_normal((args.n, args.d))
    A = make_layers(args.n, args.d, args.layers, args.seed + 1, shared)
    B = make_layers(args.n, args.d, args.layers, args.seed + 2, shared)   # a second model with shared structure

    torch, dev = _backend(args.device)
    def _sync():
        if torch is not None and dev.type == "cuda":
            torch.cuda.synchronize()

    times, M = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        M = layer_cka_matrix(A, B, kernel="linear", device=args.device, progress=False)
        _sync()
        times.append(time.perf_counter() - t)
    ftgeo_s = statistics.median(times)
    numpy_s = None
    if args.numpy_too:
        t = time.perf_counter()
        layer_cka_matrix(A, B, kernel="linear", device="numpy", progress=False)
        numpy_s = time.perf_counter() - t

    L = args.layers
    all_pairs = [(i, j) for i in range(L) for j in range(L)]
    if args.baseline_pairs and args.baseline_pairs < len(all_pairs):
        k = args.baseline_pairs
        pick = np.linspace(0, len(all_pairs) - 1, k).round().astype(int)
        pairs = [all_pairs[p] for p in pick]
    else:
        pairs = all_pairs
    per_pair, diffs = [], []
    for i, j in pairs:
        t = time.perf_counter()
        v = baseline_pair(A[i], B[j])
        per_pair.append(time.perf_counter() - t)
        diffs.append(abs(v - M[i, j]))
    extrapolated = len(pairs) < len(all_pairs)
    baseline_s = statistics.median(per_pair) * len(all_pairs) if extrapolated else sum(per_pair)
    out = {
        "name": "cka_layer_matrix",
        "params": {"n": args.n, "d": args.d, "layers_a": L, "layers_b": L, "kernel": "linear",
                   "debiased": False, "dtype": "float64", "repeats": args.repeats},
        "ftgeo_s": round(ftgeo_s, 4),
        "ftgeo_runs_s": [round(t, 4) for t in times],
        "ftgeo_device": str(dev) if torch is not None else "numpy",
        "baseline_s": round(baseline_s, 4),
        "baseline_backend": "numpy float64 per-pair Gram (K=XX^T, L=YY^T, double-centred, no reuse)",
        "baseline_pairs_timed": [list(p) for p in pairs],
        "baseline_extrapolated": extrapolated,
        "baseline_per_pair_median_s": round(statistics.median(per_pair), 4),
        "speedup": round(baseline_s / ftgeo_s, 2),
        "max_abs_diff": float(max(diffs)),
    }
    if numpy_s is not None:
        out["ftgeo_numpy_backend_s"] = round(numpy_s, 4)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
