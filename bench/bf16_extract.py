"""Benchmark: a bf16, selected-layers extraction of SmolLM2 against the float32 one, on the CPU (issue 18).

Extracts SST-2 dev (``--n`` sentences, ``last`` pooling, ``--layers``) from the packaged SmolLM2-135M twice in
one run -- model in float32, then in bfloat16 (stores float32 either way) -- and prints one JSON object:
both times, ``ratio`` (float32 time / bf16 time), the layer x layer linear CKA grids' largest difference,
the same-layer CKA between the two and each layer's relative Frobenius error, with the load average before
and after.

    python bench/bf16_extract.py --data-root ../shared/data --work /tmp/bf16 [--n 872] [--layers every:6]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||b - a||_F / ||a||_F, rounded for the JSON."""
    return round(float(np.linalg.norm(b - a) / np.linalg.norm(a)), 5)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--work", required=True, help="a scratch folder for the two stores (emptied first)")
    ap.add_argument("--n", type=int, default=872)
    ap.add_argument("--layers", default="every:6")
    ap.add_argument("--model", default="smollm2-135m")
    a = ap.parse_args(argv)
    import torch

    from ftgeo.analysis.streaming import linear_cka_grid
    from ftgeo.extract import extract
    from ftgeo.reps import stored_layer_numbers
    if os.path.isdir(a.work):
        shutil.rmtree(a.work)
    out = {"name": "bf16_vs_float32_extraction", "model": a.model, "n": a.n, "layers": a.layers, "pooling": "last",
           "storage_dtype": "float32", "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
           "load_avg_before": [round(x, 2) for x in os.getloadavg()]}
    st = {}
    for md in ("float32", "bfloat16"):
        t = time.perf_counter()
        st[md] = extract(a.model, "sst2", "dev", pooling="last", out=os.path.join(a.work, md), layers=a.layers,
                         dtype="float32", model_dtype=md, max_examples=a.n, data_root=a.data_root, progress=False,
                         batch_size=32, max_length=64)
        out[f"{md}_s"] = round(time.perf_counter() - t, 2)
    A, B = st["float32"], st["bfloat16"]
    L = stored_layer_numbers(A)
    cross = linear_cka_grid(A, B, device="cpu")
    out.update({"ratio": round(out["float32_s"] / out["bfloat16_s"], 2), "ratio_is": "float32 time / bf16 time",
                "stored_layers": L,
                "cka_grid_max_abs_diff": float(np.nanmax(np.abs(linear_cka_grid(A, device="cpu")
                                                                - linear_cka_grid(B, device="cpu")))),
                "same_layer_cka": [round(float(v), 5) for v in np.diag(cross)],
                "rel_frobenius_error": [_rel_error(A.layer(i, dtype=np.float64), B.layer(i, dtype=np.float64)) for i in L],
                "load_avg_after": [round(x, 2) for x in os.getloadavg()]})
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
