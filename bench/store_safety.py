"""Benchmark: what the store's lock, free-space check and checksums cost, on SST-2 dev with the packaged MiniLM.

ftgeo: ``extract`` as shipped (folder lock, stale-temporary cleanup, free-space check, CRC-32 of every
file while consolidating). Baseline: the same call with those switched off (lock and free-space
check replaced by no-ops, the CRC by a constant), in the same process, runs interleaved. Two figures:

* ``overhead_ratio`` = median(ftgeo) / median(baseline) - 1 (end to end; noisy on a busy machine);
* ``instrumented_overhead_ratio`` = time spent inside the lock, the cleanup, the free-space check and
  the CRC calls during the ftgeo runs / their total time (precise: measured around those calls).

Reading: ``open_reps`` + every layer read into memory, with the lazy CRC check (first read) against
``verify=False`` (``read_overhead_ratio``).

    python bench/store_safety.py                 # 872 examples, 3 repeats
    python bench/store_safety.py --n 200 --repeats 1

Prints one JSON object last (name, params, ftgeo_s, baseline_s, speedup, same_result, ratios, load_avg).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


class _Timer:
    def __init__(self):
        self.s = 0.0

    def wrap(self, owner, attr):
        orig = getattr(owner, attr)

        def w(*a, **k):
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                self.s += time.perf_counter() - t
        setattr(owner, attr, w)
        return orig


@contextlib.contextmanager
def safety_off():
    """Lock, stale-temporary cleanup and free-space check as no-ops; CRC-32 as a constant."""
    from ftgeo._lock import FolderLock
    from ftgeo.extract import core, store
    saved = (FolderLock.acquire, FolderLock.release, store.check_free_space, store.clean_store_tmp,
             core.clean_store_tmp, store.zlib)

    class _Z:
        @staticmethod
        def crc32(data, value=0):
            return 0
    FolderLock.acquire = lambda self: self
    FolderLock.release = lambda self: None
    store.check_free_space = lambda *a, **k: None
    store.clean_store_tmp = core.clean_store_tmp = lambda *a, **k: []
    store.zlib = _Z
    try:
        yield
    finally:
        (FolderLock.acquire, FolderLock.release, store.check_free_space, store.clean_store_tmp,
         core.clean_store_tmp, store.zlib) = saved


@contextlib.contextmanager
def instrumented(timer: _Timer):
    from ftgeo._lock import FolderLock
    from ftgeo.extract import core, store
    import zlib as _zlib
    saved = (FolderLock.acquire, FolderLock.release, store.check_free_space, store.clean_store_tmp,
             core.clean_store_tmp, store.zlib)
    timer.wrap(FolderLock, "acquire")
    timer.wrap(FolderLock, "release")
    timer.wrap(store, "check_free_space")
    timer.wrap(store, "clean_store_tmp")
    timer.wrap(core, "clean_store_tmp")

    class _Z:
        @staticmethod
        def crc32(data, value=0):
            t = time.perf_counter()
            try:
                return _zlib.crc32(data, value)
            finally:
                timer.s += time.perf_counter() - t
    store.zlib = _Z
    try:
        yield
    finally:
        (FolderLock.acquire, FolderLock.release, store.check_free_space, store.clean_store_tmp,
         core.clean_store_tmp, store.zlib) = saved


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--n", type=int, default=None, help="first N dev examples (default all 872)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dtype", default="float16")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-root", type=Path, default=None)
    args = p.parse_args(argv)

    from extract import load_sst2_dev
    from ftgeo.extract import extract, open_reps
    from ftgeo.models import load_model
    load0 = os.getloadavg()
    lm = load_model(args.model)
    task = load_sst2_dev(args.data_root, args.n)
    n = len(task.examples("dev"))
    kw = dict(pooling="cls", batch_size=args.batch_size, dtype=args.dtype, progress=False)
    on_t, off_t, inst = [], [], []
    read_on, read_off = [], []
    with tempfile.TemporaryDirectory() as tmp:
        extract(lm, task, "dev", out=Path(tmp) / "warm", **dict(kw, dtype="float32"))  # warm-up
        same = True
        for r in range(args.repeats):
            with safety_off():
                t = time.perf_counter()
                off = extract(lm, task, "dev", out=Path(tmp) / f"off{r}", **kw)
                off_t.append(time.perf_counter() - t)
            timer = _Timer()
            with instrumented(timer):
                t = time.perf_counter()
                on = extract(lm, task, "dev", out=Path(tmp) / f"on{r}", **kw)
                on_t.append(time.perf_counter() - t)
            inst.append(timer.s)
            for i in range(on.n_layers):
                f = f"layers/layer_{i:02d}.npy"
                same = same and (on.path / f).read_bytes() == (off.path / f).read_bytes()
            # reading: every layer into memory, fresh store objects
            t = time.perf_counter()
            s = open_reps(on.path, verify=False)
            for i in range(s.n_layers):
                s.layer(i)
            read_off.append(time.perf_counter() - t)
            t = time.perf_counter()
            s = open_reps(on.path)
            for i in range(s.n_layers):
                s.layer(i)
            read_on.append(time.perf_counter() - t)
    ft, bl = statistics.median(on_t), statistics.median(off_t)
    result = {
        "name": "store_safety",
        "params": {"model": args.model, "task": "sst2/dev", "n": n, "pooling": "cls", "dtype": args.dtype,
                   "layers": lm.n_layers + 1, "batch_size": args.batch_size, "repeats": args.repeats,
                   "torch_threads": torch.get_num_threads(), "device": str(next(lm.model.parameters()).device)},
        "ftgeo_s": round(ft, 4), "baseline_s": round(bl, 4), "speedup": round(bl / ft, 4),
        "same_result": bool(same),
        "overhead_ratio": round(ft / bl - 1, 4),
        "instrumented_safety_s": round(statistics.median(inst), 5),
        "instrumented_overhead_ratio": round(statistics.median([a / b for a, b in zip(inst, on_t)]), 5),
        "read_all_layers_verify_s": round(statistics.median(read_on), 4),
        "read_all_layers_noverify_s": round(statistics.median(read_off), 4),
        "read_overhead_ratio": round(statistics.median(read_on) / statistics.median(read_off) - 1, 4),
        "ftgeo_times": [round(x, 3) for x in on_t], "baseline_times": [round(x, 3) for x in off_t],
        "load_avg_before": [round(x, 2) for x in load0], "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
