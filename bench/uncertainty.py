"""Benchmark: what intervals and nulls cost next to the point estimates they decorate.

Parts (each a function ``bench_<part>(args) -> dict`` called from :func:`main`; a new part adds its
function to ``PARTS`` and its flags to ``add_arguments``):

* ``cka_intervals`` -- the full L x L linear CKA grid between two layer sets (N = 10,000, D = 768,
  13 layers by default; planted data: a running mixture of a shared base) with its 90% delete-a-group
  jackknife interval for every cell (``layer_cka_jackknife``: per-layer block statistics, one more
  GEMM per pair, the grid never recomputed per block), timed against the point estimate
  (``layer_cka_matrices``) in the same process. Target (issue 13): the interval run at most 5x the
  point estimate. Baseline: the naive jackknife that recomputes the grid without each block
  (G x the point estimate; timed on ``--baseline-blocks`` blocks and extrapolated). Agreement: the point
  matrices of both runs are identical, and the leave-outs of ``--check-cells`` cells equal CKA
  recomputed on the subsets (``max_abs_diff``).
* ``cka_permutation`` -- the permutation null of one layer pair: ``--n-permutations`` (1,000) shuffles of
  the row correspondence on a seeded subsample of ``--perm-max-points`` (2,000) rows
  (``cka_permutation_null``: the two centred Grams prepared once, one gather per permutation). Target:
  under 10 s on 2 cores. Baseline: ``cka()`` recomputed on the permuted rows (timed on a few permutations,
  extrapolated). Agreement: the null values of those permutations against the baseline's.

* ``probe_sweep`` -- what intervals and the label-permutation baseline cost on the probe sweep
  (``bench/uncertainty_probes.py``: 5 seeds, linear + MLP, 20 label permutations; ABBA repeats), against the
  same sweep without them; an overhead (``overhead`` = ftgeo_s / baseline_s), left out of the sums.

Prints one JSON object last: ``name``, ``params``, ``ftgeo_s`` / ``baseline_s`` / ``speedup`` (sums over the
speed parts run), ``parts`` (each part's own numbers), and the machine's ``load_avg`` before and after.

    python bench/uncertainty.py                                 # both parts, full size
    python bench/uncertainty.py --n 2000 --d 256 --layers 5     # small
    python bench/uncertainty.py --parts cka_permutation
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _layers(args):
    from cka import make_layers      # bench/cka.py: the same planted layers as the CKA benchmark

    rng = np.random.default_rng(args.seed)
    shared = rng.standard_normal((args.n, args.d))
    A = make_layers(args.n, args.d, args.layers, args.seed + 1, shared)
    B = make_layers(args.n, args.d, args.layers, args.seed + 2, shared)
    return A, B


# ----------------------------------------------------------------------------- parts
def bench_cka_intervals(args) -> dict:
    """The L x L CKA grid with a 90% jackknife interval per cell, against the point estimate."""
    from ftgeo.analyses.cka import jackknife_bounds
    from ftgeo.analysis.resampling import jackknife_blocks
    from ftgeo.analysis.similarity import _backend, cka, layer_cka_jackknife, layer_cka_matrices

    A, B = _layers(args)
    sets, pair = {"a": A, "b": B}, [("a", "b")]
    torch, dev = _backend(args.device)

    def sync():
        if torch is not None and dev.type == "cuda":
            torch.cuda.synchronize()

    blocks = jackknife_blocks(args.n, args.n_blocks, args.seed)
    G = int(blocks.max()) + 1
    point_s, interval_s, bounds_s, point_cpu, interval_cpu = [], [], [], [], []
    M0 = M1 = J = None
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        M0 = layer_cka_matrices(sets, pair, device=args.device, progress=False)[pair[0]]
        sync()
        point_s.append(time.perf_counter() - t)
        point_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        M1, J = layer_cka_jackknife(sets, blocks, pair, device=args.device, progress=False)
        M1, J = M1[pair[0]], J[pair[0]]
        sync()
        t1 = time.perf_counter()
        lo, hi = jackknife_bounds(M1, J, 0.9)
        interval_s.append(time.perf_counter() - t)
        interval_cpu.append(time.process_time() - c)
        bounds_s.append(time.perf_counter() - t1)
    point, interval = statistics.median(point_s), statistics.median(interval_s)
    cpu_ratio = statistics.median(interval_cpu) / statistics.median(point_cpu)
    # the naive jackknife: the whole grid again without each block (timed on a few blocks)
    per_block = []
    for g in range(min(args.baseline_blocks, G)):
        keep = blocks != g
        t = time.perf_counter()
        layer_cka_matrices({"a": [x[keep] for x in A], "b": [x[keep] for x in B]}, pair, device=args.device,
                           progress=False)
        sync()
        per_block.append(time.perf_counter() - t)
    naive = statistics.median(per_block) * G + point if per_block else float("nan")
    # agreement: leave-outs of a few cells against CKA recomputed on the subset
    rng = np.random.default_rng(args.seed)
    diffs = []
    for _ in range(args.check_cells):
        i, j, g = int(rng.integers(args.layers)), int(rng.integers(args.layers)), int(rng.integers(G))
        keep = blocks != g
        diffs.append(abs(cka(A[i][keep], B[j][keep]) - J[g, i, j]))
    return {
        "params": {"n": args.n, "d": args.d, "layers_a": args.layers, "layers_b": args.layers, "kernel": "linear",
                   "blocks": G, "level": 0.9, "device": str(dev) if torch is not None else "numpy",
                   "repeats": args.repeats},
        "point_s": round(point, 3), "point_runs_s": [round(t, 3) for t in point_s],
        "ftgeo_s": round(interval, 3), "ftgeo_runs_s": [round(t, 3) for t in interval_s],
        "bounds_s": round(statistics.median(bounds_s), 3),
        "ratio_to_point": round(interval / point, 2), "target_ratio": 5.0, "meets_target": interval / point <= 5.0,
        "point_cpu_s": round(statistics.median(point_cpu), 3), "ftgeo_cpu_s": round(statistics.median(interval_cpu), 3),
        "cpu_ratio_to_point": round(cpu_ratio, 2),       # CPU time of all threads: steadier on a shared machine
        "baseline_s": round(naive, 3), "baseline": f"naive jackknife: the grid recomputed without each block "
                                                   f"(median of {len(per_block)} blocks x {G} + the point grid)",
        "speedup": round(naive / interval, 2),
        "same_point_estimate": bool(np.array_equal(M0, M1)),
        "max_abs_diff": float(max(diffs)) if diffs else None, "cells_checked": len(diffs),
        "finite_intervals": int(np.isfinite(lo).sum()), "mean_interval_width": float(np.nanmean(hi - lo)),
    }


def bench_cka_permutation(args) -> dict:
    """1,000 permutations of the row correspondence for one layer pair, on a 2,000-row subsample."""
    from ftgeo.analysis.similarity import cka, cka_permutation_null

    A, B = _layers(args)
    X, Y = A[args.layers // 2], B[args.layers // 2]
    runs, cpu = [], []
    res = None
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        res = cka_permutation_null(X, Y, n_permutations=args.n_permutations, max_points=args.perm_max_points,
                                   random_state=args.seed)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ftgeo_s = statistics.median(runs)
    # baseline: CKA recomputed on the permuted rows (the same subsample, the same permutations)
    rng = np.random.default_rng(args.seed)
    n = X.shape[0]
    sub = args.perm_max_points is not None and n > args.perm_max_points
    rows = np.sort(rng.choice(n, args.perm_max_points, replace=False)) if sub else np.arange(n)
    Xs, Ys = np.asarray(X[rows], np.float64), np.asarray(Y[rows], np.float64)
    m = rows.size
    per, diffs = [], []
    for b in range(args.n_permutations):
        p = rng.permutation(m)
        if b >= args.baseline_permutations:
            break
        t = time.perf_counter()
        v = cka(Xs, Ys[p])
        per.append(time.perf_counter() - t)
        diffs.append(abs(v - res["null"][b]))
    baseline = statistics.median(per) * args.n_permutations
    return {
        "params": {"n": args.n, "d": args.d, "rows": int(res["n_rows"]), "n_permutations": args.n_permutations,
                   "kernel": "linear", "repeats": args.repeats},
        "ftgeo_s": round(ftgeo_s, 3), "ftgeo_runs_s": [round(t, 3) for t in runs],
        "ftgeo_cpu_s": round(statistics.median(cpu), 3),
        "target_s": 10.0, "meets_target": ftgeo_s < 10.0,
        "baseline_s": round(baseline, 3),
        "baseline": f"cka() on the permuted subsample (median of {len(per)} permutations x {args.n_permutations})",
        "speedup": round(baseline / ftgeo_s, 2),
        "max_abs_diff": float(max(diffs)), "observed": res["observed"],
        "null_q95": float(np.quantile(res["null"], 0.95)),
    }


def bench_probe_sweep(args) -> dict:
    """The 5-seed linear + MLP probe sweep with intervals and the label-permutation baseline against the same
    sweep without them (``bench/uncertainty_probes.py``, its own sizes: 2,000 x 384, 872 eval rows). An
    *overhead* part: its baseline is the cheaper point estimate, so it stays out of the speedup sums."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from uncertainty_probes import probe_sweep
    out = probe_sweep(argparse.Namespace(repeats=args.probe_repeats, seed=args.seed))
    out["overhead_part"] = True
    return out


PARTS = {"cka_intervals": bench_cka_intervals, "cka_permutation": bench_cka_permutation,
         "probe_sweep": bench_probe_sweep}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--repeats", type=int, default=1, help="timed repeats (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", help="CKA device: auto (CUDA if available), cpu, cuda, numpy")
    ap.add_argument("--n-blocks", type=int, default=20, help="jackknife blocks")
    ap.add_argument("--baseline-blocks", type=int, default=1, help="blocks the naive jackknife times (0: none)")
    ap.add_argument("--check-cells", type=int, default=3, help="leave-outs checked against a recomputation")
    ap.add_argument("--n-permutations", type=int, default=1000)
    ap.add_argument("--perm-max-points", type=int, default=2000)
    ap.add_argument("--baseline-permutations", type=int, default=5, help="permutations the baseline times")
    ap.add_argument("--probe-repeats", type=int, default=2, help="ABBA repeats of the probe sweep (probe_sweep)")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    names = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in names if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    load0 = _load()
    parts = {}
    for name in names:
        parts[name] = PARTS[name](args)
    speed = [p for p in parts.values() if not p.get("overhead_part")]  # fast method vs naive: summed
    ftgeo_s = sum(p["ftgeo_s"] for p in speed)
    baseline_s = sum(p["baseline_s"] for p in speed)
    out = {
        "name": "uncertainty",
        "params": {"n": args.n, "d": args.d, "layers": args.layers, "parts": names},
        "ftgeo_s": round(ftgeo_s, 3), "baseline_s": round(baseline_s, 3),
        "speedup": round(baseline_s / ftgeo_s, 2) if ftgeo_s else None,
        "max_abs_diff": max((p.get("max_abs_diff") or 0.0) for p in parts.values()),
        "parts": parts, "load_avg_before": load0, "load_avg_after": _load(), "cpu_count": os.cpu_count(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
