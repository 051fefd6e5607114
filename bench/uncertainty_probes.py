"""What intervals and the label-permutation baseline cost a probe sweep (issue 13, the probes' part of
``bench/uncertainty.py``).

One layer of planted rows (``--n`` train x ``--d``, ``--n-eval`` eval rows, ``--classes`` labels), the
``probe`` analysis' sweep as the demo runs it: linear and MLP probes, the grid (4 hidden sizes x 8 L2
values) on a stratified hold-out, the best setting retrained with 5 seeds, scored on the eval rows.

ftgeo: the sweep with intervals (per-seed Wilson, the seed mean's within-seed bootstrap and the combined
interval) and the label-permutation baseline (``--n-label-permutations`` probes of the selected setting
on shuffled labels, one batched model). baseline: the same sweep for the point estimate only
(``intervals=False``, no baseline). Both in the same process, alternating (ABBA), ``--repeats`` times;
medians.
``speedup`` = baseline_s / ftgeo_s (below 1: the price of the intervals); ``same_result``: the point
estimates (every seed's eval accuracy, the selected settings) are identical in both; the load average
is printed because the machine is shared, and the process CPU seconds (``*_cpu_s``, ``cpu_overhead``),
which other jobs on the machine disturb less than the wall clock.

    python bench/uncertainty_probes.py [--n 2000] [--d 384] [--n-eval 872] [--classes 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    ap.add_argument("--n", type=int, default=2000, help="training rows")
    ap.add_argument("--d", type=int, default=384, help="features (MiniLM: 384)")
    ap.add_argument("--n-eval", type=int, default=872, help="eval rows (SST-2 dev: 872)")
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--n-seeds", type=int, default=5)
    ap.add_argument("--n-label-permutations", type=int, default=20)
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _planted(n: int, n_eval: int, d: int, classes: int, seed: int):
    """Class means along a few directions plus isotropic noise: probe accuracy well above chance, below 1."""
    from ftgeo.reps import InMemoryRepresentations
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, d)) * 0.12
    def draw(m):
        y = rng.integers(0, classes, m)
        return (means[y] + rng.normal(size=(m, d))).astype(np.float32), y
    (X, y), (Xe, ye) = draw(n), draw(n_eval)
    names = [f"c{i}" for i in range(classes)]
    return InMemoryRepresentations([X], y, names), InMemoryRepresentations([Xe], ye, names)


def probe_sweep(args) -> dict:
    """Time the probe sweep with and without intervals + label-permutation baseline (see the module doc);
    ``args`` needs no more than the attributes of :func:`add_arguments` (missing ones take its defaults)."""
    from ftgeo.analyses.probe import probe_layers
    a = add_arguments(argparse.ArgumentParser()).parse_args([])
    for k in vars(a):
        if hasattr(args, k):
            setattr(a, k, getattr(args, k))
    tr, ev = _planted(a.n, a.n_eval, a.d, a.classes, a.seed)
    common = dict(kinds=("linear", "mlp"), n_seeds=a.n_seeds, random_state=a.seed, progress=False)

    def full():
        return probe_layers(tr, ev, intervals=True, n_resamples=a.n_resamples,
                            n_label_permutations=a.n_label_permutations, **common)

    def point():
        return probe_layers(tr, ev, intervals=False, n_label_permutations=0, **common)

    wt, we = _planted(60, 40, 8, a.classes, a.seed + 1)          # warm-up: imports, torch's first calls
    probe_layers(wt, we, kinds=("linear",), l2_grid=(1e-3,), n_seeds=1, max_epochs=3, n_label_permutations=2,
                 progress=False)
    load_before = os.getloadavg()
    t_full, t_point, c_full, c_point = [], [], [], []
    r_full = r_point = None
    for rep in range(a.repeats):                # ABBA order: a drifting load hits both alike
        for which in (("point", "full") if rep % 2 == 0 else ("full", "point")):
            t0, c0 = time.perf_counter(), time.process_time()
            if which == "point":
                r_point = point()
                t_point.append(time.perf_counter() - t0)
                c_point.append(time.process_time() - c0)
            else:
                r_full = full()
                t_full.append(time.perf_counter() - t0)
                c_full.append(time.process_time() - c0)
    load_after = os.getloadavg()
    keys = ["layer", "kind", "seed", "split"]
    sa, sb = (r.table("scores").sort_values(keys)["accuracy"].to_numpy() for r in (r_full, r_point))
    ba, bb = (r.table("best")[["kind", "hidden", "l2"]].to_dict("records") for r in (r_full, r_point))
    best = r_full.table("best").set_index("kind")
    fo, fb = statistics.median(t_full), statistics.median(t_point)
    return {"name": "uncertainty_probes",
            "params": {"n": a.n, "d": a.d, "n_eval": a.n_eval, "classes": a.classes, "kinds": ["linear", "mlp"],
                       "grid": "4 hidden x 8 l2", "n_seeds": a.n_seeds, "n_label_permutations": a.n_label_permutations,
                       "n_resamples": a.n_resamples, "repeats": a.repeats},
            "ftgeo_s": fo, "baseline_s": fb, "speedup": fb / fo, "overhead": fo / fb,
            "ftgeo_runs_s": t_full, "baseline_runs_s": t_point,
            "ftgeo_cpu_s": statistics.median(c_full), "baseline_cpu_s": statistics.median(c_point),
            "cpu_overhead": statistics.median(c_full) / statistics.median(c_point),
            "max_abs_diff": float(np.max(np.abs(sa - sb))), "same_result": bool(np.array_equal(sa, sb) and ba == bb),
            "result": {k: {"mean": float(best.loc[k, "mean"]), "mean_low": float(best.loc[k, "mean_low"]),
                           "mean_high": float(best.loc[k, "mean_high"]), "std": float(best.loc[k, "std"]),
                           "mean_total_low": float(best.loc[k, "mean_total_low"]),
                           "mean_total_high": float(best.loc[k, "mean_total_high"]),
                           "accuracy_p": float(best.loc[k, "accuracy_p"]),
                           "accuracy_null_q95": float(best.loc[k, "accuracy_null_q95"])} for k in best.index},
            "loadavg_before": list(load_before), "loadavg_after": list(load_after), "cpus": os.cpu_count()}


def main():
    args = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    print(json.dumps(probe_sweep(args)))


if __name__ == "__main__":
    main()
