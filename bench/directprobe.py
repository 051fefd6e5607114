"""Benchmark: ftgeo DirectProbe vs the slow reference merge loop (all pairs each step, an LP per
other-label cluster for every candidate merge, no pruning or caching).

Sets:
  * ``udpos-N``: UD English-EWT POS (17 labels) word vectors of one MiniLM layer (``minilm-l6``),
    N = 2,000 and 8,000 (first N words of the dev split).  Extracted with ``ftgeo.extract.extract``
    into ``--reps`` (reused when already there), or read from an existing store given by ``--reps``.
    If extraction is impossible (no data root / model), the script says so and uses a synthetic
    stand-in of the same shape (``"synthetic": true`` in the JSON).
  * ``planted``: 17 overlapping Gaussian labels in 16-d (2,000 points), where many merges are
    rejected and LPs are needed.

The baseline cannot finish on thousands of points, so speed-up and agreement are measured on a
subset (``--baseline-n`` points of each set) where both run; ftgeo's full-size times are reported
per set.  Prints one JSON object last.

    python bench/directprobe.py                      # full
    python bench/directprobe.py --sizes 500 --baseline-n 120 --planted-n 500   # quick
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

REPO = Path(__file__).resolve().parents[1]


def _timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _udpos(args):
    """(X, y, synthetic, note) for the largest requested size."""
    n_max = max(args.sizes)
    try:
        from ftgeo.extract import extract, open_reps
        reps_dir = Path(args.reps) if args.reps else REPO / ".bench_cache" / "directprobe_minilm_udpos_dev"
        if (reps_dir / "manifest.json").is_file():
            store = open_reps(reps_dir)
        else:
            from ftgeo.data import load_task
            data_root = args.data_root or os.environ.get("FTGEO_DATA_ROOT") or str(REPO.parent / "shared" / "data")
            task = load_task("ud_pos", data_root=data_root)
            store = extract("minilm-l6", task, "dev", pooling="word", out=reps_dir,
                            max_examples=args.max_sentences, dtype="float32", progress=False)
        X = store.layer(args.layer, dtype=np.float64)
        y = np.asarray(store.labels)
        keep = y >= 0
        X, y = X[keep], y[keep]
        if X.shape[0] < n_max:
            print(f"[bench] store has {X.shape[0]} labelled words < {n_max}; using all of them", file=sys.stderr)
        return X[:n_max], y[:n_max], False, f"minilm-l6 layer {args.layer}, ud_pos dev ({reps_dir})"
    except Exception as exc:  # noqa: BLE001 - the bench must still run without the real data
        print(f"[bench] real vectors unavailable ({type(exc).__name__}: {exc}); SYNTHETIC stand-in", file=sys.stderr)
        rng = np.random.default_rng(0)
        means = rng.normal(size=(17, 384)) * 0.35
        y = rng.integers(0, 17, size=n_max)
        return means[y] + rng.normal(size=(n_max, 384)), y, True, "synthetic 384-d Gaussians (17 labels)"


def _planted(n, rng_seed=1):
    rng = np.random.default_rng(rng_seed)
    means = rng.normal(size=(17, 16)) * 0.6
    y = rng.integers(0, 17, size=n)
    return means[y] + rng.normal(size=(n, 16)), y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    ap.add_argument("--layer", type=int, default=6, help="MiniLM layer (0 = embeddings, 6 = last block)")
    ap.add_argument("--reps", default=None, help="an existing representation store (or where to extract one)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--max-sentences", type=int, default=700, help="dev sentences to extract (~9.6k words)")
    ap.add_argument("--planted-n", type=int, default=2000)
    ap.add_argument("--baseline-n", type=int, default=150, help="points on which the slow reference runs")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--pairs", default="label_min", choices=["all", "label_min"])
    ap.add_argument("--sizes-none", action="store_true", help="skip the full-size sets (head-to-head only)")
    args = ap.parse_args(argv)

    from ftgeo.analysis.directprobe import DirectProbe, directprobe_reference
    from threadpoolctl import threadpool_limits

    Xr, yr, synthetic, note = _udpos(args)
    sets = [(f"udpos-{n}", Xr[:n], yr[:n]) for n in args.sizes]
    Xp, yp = _planted(args.planted_n)
    sets.append((f"planted-{args.planted_n}", Xp, yp))
    if args.sizes_none:
        sets = []

    results = []
    for name, X, y in sets:
        sec, dp = _timed(lambda: DirectProbe(progress=False, pairs=args.pairs).fit(X, y), args.repeats)
        row = {"set": name, "n": int(X.shape[0]), "d": int(X.shape[1]), "n_labels": dp.n_labels_,
               "n_clusters": dp.n_clusters_, "ftgeo_s": round(sec, 3),
               "clustering_s": round(dp.timings_["clustering_s"], 3),
               "distances_s": round(dp.timings_["distances_s"], 3), "stats": dp.stats_}
        print(f"[bench] {json.dumps(row)}", file=sys.stderr, flush=True)
        results.append(row)

    # head-to-head on subsets the reference can finish
    h2h = []
    for name, X, y in [(f"udpos-sub{args.baseline_n}", Xr[:args.baseline_n], yr[:args.baseline_n]),
                       (f"planted-sub{args.baseline_n}", Xp[:args.baseline_n], yp[:args.baseline_n])]:
        f_s, dp = _timed(lambda: DirectProbe(progress=False, pairs=args.pairs).fit(X, y), args.repeats)
        f_clu = dp.timings_["clustering_s"]
        with threadpool_limits(limits=1, user_api="blas"):
            b_s, (ra, rl) = _timed(lambda: directprobe_reference(X, y), 1)
        same = bool(np.array_equal(ra, dp.assignments_) and np.array_equal(rl, dp.cluster_label_codes_))
        row = {"set": name, "n": int(X.shape[0]), "ftgeo_clustering_s": round(f_clu, 4),
               "baseline_s": round(b_s, 3), "speedup": round(b_s / f_clu, 1), "same_result": same,
               "n_clusters": dp.n_clusters_, "n_clusters_baseline": int(len(rl))}
        print(f"[bench] {json.dumps(row)}", file=sys.stderr, flush=True)
        h2h.append(row)

    ftgeo_s = statistics.median([r["ftgeo_clustering_s"] for r in h2h])
    baseline_s = statistics.median([r["baseline_s"] for r in h2h])
    out = {"name": "directprobe",
           "params": {"sizes": args.sizes, "layer": args.layer, "planted_n": args.planted_n,
                      "baseline_n": args.baseline_n, "repeats": args.repeats, "pairs": args.pairs,
                      "real_vectors": note, "synthetic": synthetic},
           "ftgeo_s": ftgeo_s, "baseline_s": baseline_s, "speedup": round(baseline_s / ftgeo_s, 1),
           "same_result": all(r["same_result"] for r in h2h),
           "head_to_head": h2h, "sets": results}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
