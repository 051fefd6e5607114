"""Benchmark: the probing controls' cost relative to the plain probes, measured in the same run.

Word-level sets (synthetic by default: ``n`` training and ``n // 2`` eval words of ``types`` word types with
17 labels in ``d`` dimensions, a label signal plus a type signal; or real stores with ``--train-reps``,
``--eval-reps`` and ``--data-root``), ``layers`` layers. Timed, one after another:

* ``probe``: the ``probe`` analysis (grid search over hidden x L2, ``n_seeds`` seeds, intervals, label-permutation
  null) -- what the closer-look study runs;
* ``probe_fixed``: only the task probes of the control analysis' setting (n_seeds members, one batched model);
* ``control``: the ``control`` analysis (task and control probes of every seed as ONE batched model of 2 x n_seeds
  members, intervals);
* ``control_separate``: the same two labellings trained as two batched models one after the other (what the
  joint batch saves);
* ``mdl``: the ``mdl`` analysis (online code, linear probe, task and control labels).

Prints one JSON object: seconds of each, ratios to ``probe`` and to ``probe_fixed``, ``os.getloadavg()`` before
and after (the machine is shared: compare ratios, not seconds).

    PYTHONPATH=src python bench/probing_controls.py                       # synthetic, n=3000, d=384, 2 layers
    PYTHONPATH=src python bench/probing_controls.py --train-reps A --eval-reps B --data-root /work/shared/data
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def synthetic(n: int, d: int, layers: int, n_types: int, seed: int = 0):
    from ftgeo.reps import InMemoryRepresentations
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, n_types + 1)                 # Zipfian types, as words are
    type_label = rng.integers(0, 17, n_types)
    tv, lv = rng.standard_normal((n_types, d)), rng.standard_normal((17, d))

    def make(m, split):
        t = rng.choice(n_types, m, p=freq / freq.sum())
        y = type_label[t]
        arrays = [(a * lv[y] + (1 - a) * tv[t] + rng.standard_normal((m, d))).astype(np.float32)
                  for a in np.linspace(0.2, 0.8, layers)]
        r = InMemoryRepresentations(arrays, labels=y, label_names=[f"L{k:02d}" for k in range(17)],
                                    ids=[f"{split}{i // 15}:{i % 15}" for i in range(m)],
                                    manifest={"model": "synthetic", "task": "toy", "split": split, "pooling": "word"})
        r.types = np.array([f"w{k}" for k in t])
        return r
    return make(n, "train"), make(n // 2, "dev")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--types", type=int, default=800)
    ap.add_argument("--n-seeds", type=int, default=3)
    ap.add_argument("--train-reps")
    ap.add_argument("--eval-reps")
    ap.add_argument("--data-root")
    a = ap.parse_args(argv)
    import torch

    from ftgeo.analyses import analyze
    from ftgeo.analyses.control import ControlSpec, control_layers
    if a.train_reps:
        from ftgeo.extract.store import open_reps
        tr, ev = open_reps(a.train_reps), open_reps(a.eval_reps)
        lay = list(tr.layers)[-a.layers:]
        max_train = a.n
    else:
        tr, ev = synthetic(a.n, a.d, a.layers, a.types)
        lay = list(tr.layers)
        max_train = None
    load_before = os.getloadavg()
    common = dict(layers=lay, max_train_points=max_train, data_root=a.data_root, progress=False)
    out: dict = {"n_train": int(a.n), "d": int(tr.layer(lay[0]).shape[1]), "layers": lay, "n_seeds": a.n_seeds,
                 "source": a.train_reps or "synthetic", "torch_threads": torch.get_num_threads()}
    t = {}
    t0 = time.perf_counter()
    analyze("probe", tr, ev, n_seeds=a.n_seeds, seed=0, max_train_points=max_train, layers=lay, progress=False)
    t["probe"] = time.perf_counter() - t0

    # the control analysis' training alone: task probes only, then task + control jointly, then separately
    from ftgeo.analyses._controls import control_views, label_strings
    from ftgeo.analysis.probes import _encode, _torch, _train_batched, standardize_fit, stratified_split
    ctr = control_views(tr, seed=0, data_root=a.data_root)[0]
    keep = np.flatnonzero(np.asarray(tr.labels) >= 0)
    yt, yc = label_strings(tr)[keep], label_strings(ctr)[keep]
    if max_train:
        from ftgeo.analysis.probes import stratified_subsample
        sub = stratified_subsample(yt, max_train, 0)
        keep, yt, yc = keep[sub], yt[sub], yc[sub]
    classes = np.unique(yt)
    ct, cc = _encode(yt, classes), _encode(yc, classes)
    fit, val = stratified_split(ct, 0.2, 0)
    S = a.n_seeds
    seeds = list(range(S))

    def train(labels_list, kind):
        X = tr.layer(layer, dtype=np.float32)[keep]
        mu, sd = standardize_fit(X[fit])
        Xt, Xv = _torch((X[fit] - mu) / sd), _torch((X[val] - mu) / sd)
        ys = [c for c in labels_list for _ in range(S)]
        return _train_batched(Xt, torch.from_numpy(np.stack([c[fit] for c in ys])), Xv,
                              torch.from_numpy(np.stack([c[val] for c in ys])), n_classes=classes.size, kind=kind,
                              hidden=None if kind == "linear" else 128, l2s=[1e-4] * len(ys),
                              seeds=seeds * len(labels_list), lr=5e-3, max_epochs=200, patience=10, batch_size=None)

    for name, lists in (("probe_fixed", [ct]), ("control_joint_training", [ct, cc])):
        t0 = time.perf_counter()
        for layer in lay:
            for kind in ("linear", "mlp"):
                train(lists, kind)
        t[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for layer in lay:
        for kind in ("linear", "mlp"):
            train([ct], kind)
            train([cc], kind)
    t["control_separate_training"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    control_layers(tr, ev, spec=ControlSpec(n_seeds=S, max_train_points=max_train, data_root=a.data_root),
                   layers=lay, progress=False)
    t["control"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyze("mdl", tr, **common)
    t["mdl"] = time.perf_counter() - t0
    out["seconds"] = {k: round(v, 3) for k, v in t.items()}
    out["control_over_probe"] = round(t["control"] / t["probe"], 3)
    out["control_over_probe_fixed"] = round(t["control"] / t["probe_fixed"], 3)
    out["joint_over_separate_training"] = round(t["control_joint_training"] / t["control_separate_training"], 3)
    out["mdl_over_probe"] = round(t["mdl"] / t["probe"], 3)
    out["loadavg_before"] = [round(x, 2) for x in load_before]
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
