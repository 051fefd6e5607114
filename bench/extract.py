"""Benchmark: ftgeo.extract vs a naive extraction loop on SST-2 dev with the packaged MiniLM.

ftgeo: length-sorted batches (little padding), ``torch.inference_mode()``, every layer's
``cls`` vector written to a store on disk (the timing includes writing and consolidating).
Baseline: the loop most people write: examples in random order, each batch padded to its
longest member by the tokenizer, ``torch.no_grad()`` (no inference mode), the same batch
size, every layer's first-token vector gathered in memory.

    python bench/extract.py                 # 872 examples, 3 repeats
    python bench/extract.py --n 200 --repeats 1

Prints one JSON object last (name, params, ftgeo_s, baseline_s, speedup, max_abs_diff, rates, load_avg).
The cost of the store's lock and checksums is measured by bench/store_safety.py.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def load_sst2_dev(data_root: Path | None, n: int | None):
    """SST-2 dev via ftgeo.data when that loader exists, else straight from dev.tsv."""
    from ftgeo.data.base import Example
    from ftgeo.data.memory import ListTask
    try:
        from ftgeo.data import load_task
        task = load_task("sst2", data_root=data_root) if data_root else load_task("sst2")
        task.examples("dev")
    except Exception:  # loader not available: read the GLUE TSV ourselves
        root = data_root or REPO.parent / "shared" / "data"
        with open(root / "sst2" / "dev.tsv", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        exs = [Example(id=f"dev-{i}", text=r["sentence"].strip(), label=int(r["label"])) for i, r in enumerate(rows)]
        task = ListTask("sst2", "sentence", ["negative", "positive"], {"dev": exs})
    if n is not None:
        from ftgeo.testing.tasks import ListTask as LT
        task = LT(task.name, task.kind, task.label_names, {"dev": task.examples("dev")[:n]})
    return task


def naive(lm, texts, batch_size, max_length, seed=0):
    """Random order, pad to the longest in each batch, no inference mode; (L+1, n, H) float32 + real tokens."""
    order = np.random.default_rng(seed).permutation(len(texts))
    out = np.zeros((lm.n_layers + 1, len(texts), lm.hidden_size), dtype=np.float32)
    for b0 in range(0, len(texts), batch_size):
        idx = order[b0:b0 + batch_size]
        enc = lm.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt")
        with torch.no_grad():
            hs = lm.model(**enc, output_hidden_states=True).hidden_states
        for layer, h in enumerate(hs):
            out[layer, idx] = h[:, 0].numpy()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--n", type=int, default=None, help="first N dev examples (default all 872)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-root", type=Path, default=None)
    args = p.parse_args(argv)

    from ftgeo.extract import extract
    from ftgeo.models import load_model
    lm = load_model(args.model)
    task = load_sst2_dev(args.data_root, args.n)
    texts = [ex.text for ex in task.examples("dev")]
    n_tokens = sum(len(x) for x in lm.tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"])

    # warm-up (thread pools, allocator)
    naive(lm, texts[:64], args.batch_size, args.max_length)
    ft_times, base_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            t = time.perf_counter()
            base = naive(lm, texts, args.batch_size, args.max_length, seed=r)
            base_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            store = extract(lm, task, "dev", pooling="cls", out=Path(tmp) / f"r{r}", max_length=args.max_length,
                            batch_size=args.batch_size, dtype="float32", progress=False)
            ft_times.append(time.perf_counter() - t)
        diff = max(float(np.abs(store.layer(i) - base[i]).max()) for i in range(store.n_layers))
        padded = store.manifest["n_tokens"]
    ft, bl = statistics.median(ft_times), statistics.median(base_times)
    result = {
        "name": "extract",
        "params": {"model": args.model, "task": "sst2/dev", "n": len(texts), "pooling": "cls", "layers": lm.n_layers + 1,
                   "batch_size": args.batch_size, "max_length": args.max_length, "repeats": args.repeats,
                   "torch_threads": torch.get_num_threads()},
        "ftgeo_s": round(ft, 4), "baseline_s": round(bl, 4), "speedup": round(bl / ft, 3),
        "max_abs_diff": diff,
        "ftgeo_examples_per_s": round(len(texts) / ft, 1), "baseline_examples_per_s": round(len(texts) / bl, 1),
        "ftgeo_tokens_per_s": round(n_tokens / ft, 1), "baseline_tokens_per_s": round(n_tokens / bl, 1),
        "real_tokens": n_tokens, "ftgeo_times": [round(x, 3) for x in ft_times],
        "baseline_times": [round(x, 3) for x in base_times],
        "load_avg": [round(x, 2) for x in __import__("os").getloadavg()],
    }
    assert padded == n_tokens
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
