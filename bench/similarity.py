"""Benchmark: the full layer x layer grid (13 x 13, A x B) of every issue-16 measure, ftgeo vs the library people use.

ftgeo: :func:`ftgeo.analysis.layerwise.layer_grid` -- every layer prepared once (an SVD, an RDM, a kNN
search), then the 169 pairs combined (one GEMM per row of the grid for the SVD-based measures).

Baselines, in the same process, on the same arrays:

* ``procrustes``: per pair, scipy's ``orthogonal_procrustes`` on the centred, unit-norm layers, then
  ||X - Y R||_F (what a user writes without a library);
* ``shape`` (alpha = 0.5): netrep's ``LinearMetric(alpha).fit_score`` per pair. netrep has no distribution
  on this project's package index, so its mathematics re-stated in ``tests/unit/_similarity_refs.py``
  stands in (the row says so); with netrep installed the real one is timed;
* ``svcca``, ``pwcca``: repsim's grid functions (C++), given the layers of both models at once (a 26 x 26
  grid: ftgeo computes the same grid for this row); repsim takes minutes per pair at n = 10,000, so these rows
  use the first ``--repsim-n`` rows (3,000) and ``--repsim-layers`` evenly spaced layers per model (0 = all);
* ``rsa``: rsatoolbox (``calc_rdm`` per layer, then one ``compare(..., 'spearman')`` of the two RDM sets;
  it ranks each RDM once). rsatoolbox keeps every RDM as float64 vectors (26 x 50M x 8 B = 10 GB at
  n = 10,000), beyond this machine: the RSA row runs at ``--rsa-n`` (3,000) for both;
* ``mutual_knn``, ``cknna``: platonic-rep's formulas re-stated on dense n x n masks per pair (platonic-rep
  is not a package), as its ``compute_alignment`` loops pairs.

Baselines that take minutes per pair are timed on a documented subset of pairs (``baseline_pairs_timed``)
and extrapolated (median per pair x 169: ``baseline_extrapolated: true``); agreement (``max_abs_diff``)
is over the timed pairs. One BLAS thread for both sides unless ``--threads``; the machine's load average
is recorded before and after (a shared machine: read speedups with it).

    python bench/similarity.py                                  # all measures, n = 10,000, d = 768, 13 layers
    python bench/similarity.py --n 2000 --d 128 --layers 4 --only svcca,rsa
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))


def make_layers(n: int, d: int, L: int, seed: int, shared: np.ndarray) -> list[np.ndarray]:
    """A running mixture of a shared base plus fresh noise (as bench/cka.py), float32 like stored layers."""
    rng = np.random.default_rng(seed)
    h, out = shared.copy(), []
    for _ in range(L):
        M = np.eye(d) + 0.1 * rng.standard_normal((d, d)) / np.sqrt(d)
        h = h @ M + 0.3 * rng.standard_normal((n, d))
        out.append(h.astype(np.float32))
    return out


def _pick(L: int, k: int) -> list[tuple[int, int]]:
    pairs = [(i, j) for i in range(L) for j in range(L)]
    if not k or k >= len(pairs):
        return pairs
    return [pairs[p] for p in np.linspace(0, len(pairs) - 1, k).round().astype(int)]


def _time(f):
    t = time.perf_counter()
    v = f()
    return v, time.perf_counter() - t


def _per_pair_row(name, measure, A, B, fn, k, note, lib):
    from ftgeo.analysis.layerwise import layer_grid
    M, t_ft = _time(lambda: layer_grid({"a": A, "b": B}, [("a", "b")], measure)[("a", "b")])
    L = len(A)
    pairs = _pick(L, k)
    times, diffs = [], []
    for i, j in pairs:
        v, t = _time(lambda: fn(A[i].astype(np.float64), B[j].astype(np.float64)))
        times.append(t)
        diffs.append(abs(v - M[i, j]))
    extrap = len(pairs) < L * L
    base = statistics.median(times) * L * L if extrap else sum(times)
    return {"measure": name, "grid": f"{L} x {L} (a x b)", "ftgeo_s": round(t_ft, 3), "baseline": lib,
            "baseline_s": round(base, 3), "speedup": round(base / t_ft, 2), "baseline_pairs_timed": [list(p) for p in pairs],
            "baseline_extrapolated": extrap, "baseline_per_pair_median_s": round(statistics.median(times), 4),
            "max_abs_diff": float(max(diffs)), "note": note}


def row_procrustes(A, B, k):
    from scipy.linalg import orthogonal_procrustes

    from ftgeo.analysis.shape import ProcrustesMeasure

    def base(X, Y):
        X = X - X.mean(0)
        Y = Y - Y.mean(0)
        X, Y = X / np.linalg.norm(X), Y / np.linalg.norm(Y)
        R, _ = orthogonal_procrustes(Y, X)
        return float(np.linalg.norm(X - Y @ R))
    return _per_pair_row("procrustes", ProcrustesMeasure(), A, B, base, k,
                         "no library loops a Procrustes grid; the baseline is the plain per-pair scipy route",
                         "scipy.linalg.orthogonal_procrustes per pair")


def row_shape(A, B, k, alpha=0.5):
    from ftgeo.analysis.shape import ShapeMeasure
    try:
        from netrep.metrics import LinearMetric
        fn = lambda X, Y: float(LinearMetric(alpha=alpha).fit_score(X, Y))   # noqa: E731
        lib, note = "netrep LinearMetric.fit_score per pair", ""
    except ImportError:
        from _similarity_refs import netrep_linear_metric
        fn = lambda X, Y: netrep_linear_metric(X, Y, alpha)                   # noqa: E731
        lib = "netrep LinearMetric.fit_score re-stated (tests/unit/_similarity_refs.py), per pair"
        note = "netrep is not installable here (no distribution on the package index): its mathematics re-stated"
    return _per_pair_row(f"shape (alpha={alpha})", ShapeMeasure(alpha), A, B, fn, k, note, lib)


def _spaced(layers: list, k: int) -> list:
    """``k`` of the layers, evenly spaced, first and last included (all of them for k >= len)."""
    if not k or k >= len(layers):
        return layers
    return [layers[i] for i in np.linspace(0, len(layers) - 1, k).round().astype(int)]


def _grid26_row(name, measure, A, B, lib_fn, lib, note, post=None, k=0, n=0):
    from ftgeo.analysis.layerwise import layer_grid
    both = [x[:n] if n else x for x in _spaced(A, k) + _spaced(B, k)]
    M, t_ft = _time(lambda: layer_grid({"all": both}, [("all", "all")], measure)[("all", "all")])
    if post is not None:
        M = post(M)
    try:
        R, t_lib = _time(lambda: lib_fn([x.astype(np.float64) for x in both]))
    except ImportError as exc:
        return {"measure": name, "grid": f"{len(both)} x {len(both)} (a+b)", "ftgeo_s": round(t_ft, 3),
                "baseline": f"{lib}: not installed ({exc})", "baseline_s": None, "speedup": None, "note": note}
    R = np.asarray(R)
    return {"measure": name, "grid": f"{len(both)} x {len(both)} (a+b, both within and between)",
            "n": both[0].shape[0], "ftgeo_s": round(t_ft, 3), "baseline": lib, "baseline_s": round(t_lib, 3),
            "speedup": round(t_lib / t_ft, 2), "baseline_extrapolated": False,
            "max_abs_diff": float(np.nanmax(np.abs(M - R))), "note": note}


def row_svcca(A, B, k=0, n=0):
    from ftgeo.analysis.cca import SVCCAMeasure

    def lib(mats):
        import repsim
        return repsim.svcca(mats, "pillai")
    return _grid26_row("svcca", SVCCAMeasure(variance=0.95), A, B, lib, "repsim.svcca (pillai) grid",
                       "ftgeo at variance=0.95 (repsim's documented threshold); repsim's SVCCA matches ours where "
                       "the truncation keeps every direction and differs elsewhere (docs/similarity.md)", k=k, n=n)


def row_pwcca(A, B, k=0, n=0):
    from ftgeo.analysis.cca import PWCCAMeasure

    def lib(mats):
        import repsim
        return repsim.pwcca(mats)
    return _grid26_row("pwcca", PWCCAMeasure(), A, B, lib, "repsim.pwcca grid",
                       "repsim averages both directions: compared with ftgeo's (P + P^T) / 2",
                       post=lambda M: (M + M.T) / 2, k=k, n=n)


def row_rsa(A, B, n):
    from ftgeo.analysis.layerwise import layer_grid
    from ftgeo.analysis.rsa import RSAMeasure
    A, B = [x[:n] for x in A], [x[:n] for x in B]
    M, t_ft = _time(lambda: layer_grid({"a": A, "b": B}, [("a", "b")], RSAMeasure("euclidean", "spearman"))[("a", "b")])
    out = {"measure": "rsa (euclidean RDM, spearman)", "grid": f"{len(A)} x {len(B)} (a x b)", "n": n,
           "ftgeo_s": round(t_ft, 3)}
    try:
        import rsatoolbox.data as rsd
        import rsatoolbox.rdm as rsr
    except ImportError as exc:
        return {**out, "baseline": f"rsatoolbox: not installed ({exc})", "baseline_s": None, "speedup": None}

    def lib():
        ra = rsr.concat([rsr.calc_rdm(rsd.Dataset(x.astype(np.float64)), method="euclidean") for x in A])
        rb = rsr.concat([rsr.calc_rdm(rsd.Dataset(x.astype(np.float64)), method="euclidean") for x in B])
        return rsr.compare(ra, rb, method="spearman")
    R, t_lib = _time(lib)
    return {**out, "baseline": "rsatoolbox calc_rdm + compare(spearman)", "baseline_s": round(t_lib, 3),
            "speedup": round(t_lib / t_ft, 2), "baseline_extrapolated": False,
            "max_abs_diff": float(np.max(np.abs(M - R))),
            "note": "rsatoolbox holds every RDM as float64 (10 GB at n = 10,000 for 26 layers): run at this n"}


def row_knn(A, B, k_pairs, topk, which):
    from _similarity_refs import platonic_cknna, platonic_mutual_knn

    from ftgeo.analysis.knn_alignment import CKNNAMeasure, MutualKNNMeasure
    if which == "mutual_knn":
        return _per_pair_row("mutual_knn", MutualKNNMeasure(topk), A, B,
                             lambda X, Y: platonic_mutual_knn(X, Y, topk), k_pairs,
                             "platonic-rep is not a package: its formulas re-stated (dense n x n masks)",
                             "platonic-rep mutual_knn re-stated, per pair")
    return _per_pair_row("cknna", CKNNAMeasure(topk), A, B, lambda X, Y: platonic_cknna(X, Y, topk), k_pairs,
                         "platonic-rep is not a package: its formulas re-stated (dense n x n masks, eps = 0)",
                         "platonic-rep cknna re-stated, per pair")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--rsa-n", type=int, default=3000, help="rows of the RSA row (rsatoolbox's memory)")
    ap.add_argument("--baseline-pairs", type=int, default=3, help="pairs a per-pair baseline times (0 = all)")
    ap.add_argument("--knn-baseline-pairs", type=int, default=1, help="pairs the dense kNN baselines time")
    ap.add_argument("--repsim-layers", type=int, default=0,
                    help="layers per model in the repsim rows (evenly spaced; 0 = all): repsim takes ~10 s a pair at "
                         "n = 10,000, d = 768 on one core, so the full 26 x 26 grid is hours")
    ap.add_argument("--repsim-n", type=int, default=3000,
                    help="rows of the repsim rows: its C++ SVCCA/PWCCA take a full n x n SVD per matrix (n^3), "
                         "minutes each at n = 10,000")
    ap.add_argument("--topk", type=int, default=10)
    ap.add_argument("--only", default="procrustes,shape,svcca,pwcca,rsa,mutual_knn,cknna")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both sides")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(args.seed)
    shared = rng.standard_normal((args.n, args.d))
    A = make_layers(args.n, args.d, args.layers, args.seed + 1, shared)
    B = make_layers(args.n, args.d, args.layers, args.seed + 2, shared)
    from ftgeo.analysis.layerwise import layer_grid
    from ftgeo.analysis.shape import ProcrustesMeasure
    layer_grid({"w": [A[0][:50, :8]] * 2}, None, ProcrustesMeasure())     # imports and first-call costs, untimed
    load0 = os.getloadavg()
    rows = []
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    with threadpool_limits(args.threads):
        for m in only:
            t0 = time.perf_counter()
            if m == "procrustes":
                r = row_procrustes(A, B, args.baseline_pairs)
            elif m == "shape":
                r = row_shape(A, B, args.baseline_pairs)
            elif m == "svcca":
                r = row_svcca(A, B, args.repsim_layers, min(args.repsim_n, args.n))
            elif m == "pwcca":
                r = row_pwcca(A, B, args.repsim_layers, min(args.repsim_n, args.n))
            elif m == "rsa":
                r = row_rsa(A, B, min(args.rsa_n, args.n))
            elif m in ("mutual_knn", "cknna"):
                r = row_knn(A, B, args.knn_baseline_pairs, args.topk, m)
            else:
                raise SystemExit(f"unknown measure {m!r}")
            r["wall_s"] = round(time.perf_counter() - t0, 1)
            r["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    sp = [r["speedup"] for r in rows if r.get("speedup")]
    out = {"name": "similarity_measures_layer_grid",
           "params": {"n": args.n, "d": args.d, "layers": args.layers, "rsa_n": min(args.rsa_n, args.n),
                      "repsim_layers": args.repsim_layers or args.layers, "repsim_n": min(args.repsim_n, args.n),
                      "topk": args.topk, "threads": args.threads, "dtype": "float64 (layers stored float32)"},
           "load_avg_before": [round(x, 2) for x in load0], "load_avg_after": [round(x, 2) for x in os.getloadavg()],
           "cpus": os.cpu_count(), "rows": rows,
           "ftgeo_s": round(sum(r["ftgeo_s"] for r in rows), 3),
           "baseline_s": round(sum(r["baseline_s"] for r in rows if r.get("baseline_s")), 3),
           "speedup": round(math.exp(np.mean(np.log(sp))), 2) if sp else None,
           "speedup_is": "geometric mean over rows with a baseline",
           "max_abs_diff": max((r.get("max_abs_diff", 0.0) for r in rows), default=0.0)}
    s = json.dumps(out)
    if args.out:
        Path(args.out).write_text(s)
    print(s)
    return out


if __name__ == "__main__":
    main()
