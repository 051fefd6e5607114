"""Benchmark: greedy forward selection of salient neurons (Matton & de Oliveira 2019).

Task: choose 5 of D=768 dimensions greedily by 5-fold stratified CV accuracy of an L2 softmax
classifier on standardised features, on N=10,000 examples.

* ftgeo: ``ftgeo.analysis.neurons.greedy_selection`` -- every (candidate x fold) fit of a greedy
  step solved at once by batched exact Newton (``ftgeo.analysis.linear.fit_logreg_batch``),
  warm-started from the previous step's model.
* baseline: the plain scikit-learn loop -- for every step, candidate and fold,
  ``make_pipeline(StandardScaler(), LogisticRegression(C=C))`` (lbfgs, default tol) fitted on the
  fold's training part and scored on its test part; the same folds (``stratified_folds``).

Data: synthetic sentence-embedding-like features (default): 32 shared latent factors mixed into
all D dims (realistic correlation), heavy-tailed per-dimension scales (a few "rogue" dims), and
class signal planted on 8 dims with decreasing strength; or real representations with
``--reps DIR --layer L`` (a store written by ``ftgeo extract``).

The full baseline is about 19,000 lbfgs fits; by default it is timed on a documented subset of
candidates per step (``--baseline-candidates``: the dimension ftgeo chose plus a seeded random
sample) along ftgeo's greedy path, and the per-fit time is extrapolated to all candidates
(``baseline_extrapolated: true``). Agreement at full size is checked on the timed candidates
(accuracies within 0.5 points, and the baseline's best of the subset is ftgeo's choice). The
selection itself is verified end to end by running BOTH methods fully on a smaller D
(``--verify-d``, default 96): ``same_result`` requires identical selections and accuracies
within 0.5 points there and the subset agreement at full size. Both run with 1 BLAS thread. ``--baseline-candidates 0`` runs
the full baseline at full size (slow: minutes to an hour on 2 cores).

    python bench/neurons.py
    python bench/neurons.py --n 3000 --d 128 --baseline-candidates 0 --verify-d 0   # small, full baseline
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np


def make_data(n: int, d: int, n_classes: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    F = rng.standard_normal((n, 32))
    mix = rng.standard_normal((32, d)) * 0.6
    X = F @ mix + rng.standard_normal((n, d))
    planted = rng.choice(d, 8, replace=False)
    means = rng.standard_normal((n_classes, 8))
    means /= np.linalg.norm(means, axis=0, keepdims=True)
    strength = np.linspace(1.6, 0.5, 8)
    X[:, planted] += means[y] * strength
    scale = np.exp(rng.standard_normal(d) * 0.5)
    scale[rng.choice(d, 3, replace=False)] *= 20.0  # rogue dimensions
    return (X * scale).astype(np.float32).astype(np.float64), y, planted


def baseline_step(X, y, splits, base, cands, C):
    """Plain scikit-learn: one pipeline fit per candidate per fold; mean fold accuracy per candidate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    out = np.empty(len(cands))
    for i, j in enumerate(cands):
        cols = list(base) + [int(j)]
        accs = []
        for tr, te in splits:
            m = make_pipeline(StandardScaler(), LogisticRegression(C=C))
            m.fit(X[np.ix_(tr, cols)], y[tr])
            accs.append(m.score(X[np.ix_(te, cols)], y[te]))
        out[i] = np.mean(accs)
    return out


def baseline_greedy(X, y, splits, n_select, C):
    sel, curve = [], []
    for _ in range(n_select):
        left = [j for j in range(X.shape[1]) if j not in sel]
        acc = baseline_step(X, y, splits, sel, left, C)
        i = int(np.argmax(acc))
        sel.append(left[i])
        curve.append(float(acc[i]))
    return sel, curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--n-select", type=int, default=5)
    ap.add_argument("--cv", type=int, default=5)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3, help="ftgeo timing repeats (median)")
    ap.add_argument("--baseline-candidates", type=int, default=40,
                    help="candidates timed per step for the baseline (0 = all; then no extrapolation)")
    ap.add_argument("--verify-d", type=int, default=96, help="D of the full end-to-end selection check (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", default=None, help="use real representations from this store instead")
    ap.add_argument("--layer", type=int, default=-1)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    # both methods single-threaded BLAS (fair, and faster for these skinny products on shared cores)
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")

    from ftgeo.analysis.neurons import greedy_selection, stratified_folds

    if args.reps:
        from ftgeo.extract import open_reps
        r = open_reps(args.reps)
        keep = np.asarray(r.labels) >= 0
        X = r.layer(args.layer, dtype=np.float64)[keep][: args.n]
        y = np.asarray(r.labels)[keep][: args.n]
        planted = None
        data = f"reps:{args.reps}@layer{args.layer}"
    else:
        X, y, planted = make_data(args.n, args.d, args.classes, args.seed)
        data = "synthetic"
    n, d = X.shape
    splits = stratified_folds(y, args.cv, args.seed)

    times, out = [], None
    for _ in range(max(1, args.repeats)):
        t = time.perf_counter()
        out = greedy_selection(X, y, args.n_select, cv=args.cv, C=args.C, random_state=args.seed)
        times.append(time.perf_counter() - t)
    ftgeo_s = statistics.median(times)
    sel = out["selected"]

    rng = np.random.default_rng(args.seed + 1)
    max_diff, subset_ok, b_sel, b_curve = 0.0, True, [], []
    n_fits_timed, n_fits_total = 0, 0
    t_all = 0.0
    for s in range(args.n_select):
        base = sel[:s]
        left = [j for j in range(d) if j not in base]
        n_fits_total += len(left) * args.cv
        if args.baseline_candidates and args.baseline_candidates < len(left):
            others = [j for j in left if j != sel[s]]
            cands = sorted([sel[s]] + list(rng.choice(others, args.baseline_candidates - 1, replace=False)))
        else:
            cands = left
        t = time.perf_counter()
        acc = baseline_step(X, y, splits, base, cands, args.C)
        dt = time.perf_counter() - t
        n_fits_timed += len(cands) * args.cv
        t_all += dt * len(left) / len(cands)
        ours = out["scores"][s][cands]
        max_diff = max(max_diff, float(np.max(np.abs(ours - acc))))
        best = cands[int(np.argmax(acc))]
        subset_ok &= best == sel[s]
        b_sel.append(int(best))
        b_curve.append(float(acc.max()))
    baseline_s = t_all
    extrapolated = bool(args.baseline_candidates and args.baseline_candidates < d - args.n_select)

    verify = None
    if args.verify_d and not args.reps and args.verify_d < d:
        Xv, yv, pv = make_data(args.n, args.verify_d, args.classes, args.seed)
        sv = stratified_folds(yv, args.cv, args.seed)
        t = time.perf_counter()
        ov = greedy_selection(Xv, yv, args.n_select, cv=args.cv, C=args.C, random_state=args.seed)
        fv = time.perf_counter() - t
        t = time.perf_counter()
        bs, bc = baseline_greedy(Xv, yv, sv, args.n_select, args.C)
        bv = time.perf_counter() - t
        verify = {"d": args.verify_d, "ftgeo_selected": ov["selected"], "baseline_selected": bs,
                  "ftgeo_curve": [round(float(v), 5) for v in ov["curve"]], "baseline_curve": [round(v, 5) for v in bc],
                  "same_selection": ov["selected"] == bs,
                  "max_abs_diff_curve": float(np.max(np.abs(np.asarray(ov["curve"]) - np.asarray(bc)))),
                  "ftgeo_s": round(fv, 3), "baseline_s": round(bv, 3), "speedup": round(bv / fv, 2)}

    same = bool(subset_ok and max_diff <= 0.005 and (verify is None or (verify["same_selection"]
                                                                        and verify["max_abs_diff_curve"] <= 0.005)))
    result = {
        "name": "neurons_greedy_selection",
        "params": {"n": n, "d": d, "classes": int(np.unique(y).size), "n_select": args.n_select, "cv": args.cv,
                   "C": args.C, "data": data, "repeats": args.repeats, "blas_threads": 1,
                   "baseline_candidates_per_step": args.baseline_candidates or "all"},
        "planted_dims_by_strength": None if planted is None else [int(v) for v in planted],
        "ftgeo_selected": sel, "ftgeo_curve": [round(float(v), 5) for v in out["curve"]],
        "baseline_selected": b_sel if not extrapolated else None,
        "baseline_best_of_timed_subset": b_sel, "baseline_curve_on_subset": [round(v, 5) for v in b_curve],
        "ftgeo_s": round(ftgeo_s, 3), "ftgeo_s_all": [round(t, 3) for t in times],
        "baseline_s": round(baseline_s, 3), "baseline_extrapolated": extrapolated,
        "baseline_fits_timed": n_fits_timed, "baseline_fits_total": n_fits_total,
        "speedup": round(baseline_s / ftgeo_s, 2),
        "max_abs_diff": max_diff, "subset_agrees": bool(subset_ok),
        "verify_small_d": verify, "same_result": same,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
