"""Benchmark: ftgeo side by side with the libraries researchers install today (issue 19), in one run.

Rows (each peer on the same inputs as ftgeo, in the same run; every measurement runs in its own child
process so that its peak RSS is its own):

* ``cka``: the 13 x 13 layer grid between two layer sets (N = 10,000, D = 768, float32 as stored).
  - ``pytorch-cka`` (module ``cka``): ``cka_from_features`` -- debiased CKA (HSIC_1, Song et al. 2012)
    through all 26 N x N Grams at once (26 x N^2 x 4 B: 10 GB at N = 10,000, beyond this machine), so it
    runs at ``--full-gram-n`` (5,000) against ftgeo's exact debiased grid on the same rows.
  - ``torch-cka`` and ``cka-pytorch``: model-hook libraries that average HSIC_1 over minibatches (Nguyen
    et al. 2021). They get a stand-in "model" whose 13 submodules return the stored layers of the batch's
    rows, fed by a DataLoader over exactly the batches ftgeo's minibatch route uses
    (``layer_cka_matrices(batch_size=...)``: seeded permutation, sorted chunks), so the estimates are the
    same; N = 10,000, batch ``--batch-size`` (256).
  - ftgeo alone at N = 10,000: exact linear and debiased grids (feature route) and the streamed grid
    (``linear_cka_grid``, rows read from disk chunk by chunk).
  - memory over N (``--mem-n``): peak RSS of the streamed route up to N = 50,000 (flat: float64
    accumulators, rows read from disk) and of the in-memory routes where they fit.
* ``isoscore``: ftgeo's ``isoscore`` vs the ``IsoScore`` package on real layers (MiniLM on SST-2 dev,
  SmolLM2 on ``--smollm-n`` sentences, the stores the extraction row writes).
* ``extract``: every layer, ftgeo ``extract`` vs nnsight (module outputs saved in ``trace``) and
  TransformerLens 4 (``TransformerBridge.boot_transformers(hf_model=...)`` + ``run_with_cache`` with a
  ``names_filter`` on the residual outputs) on MiniLM / SST-2 dev (``cls``) and SmolLM2 (``last``); the
  NeuroX extractor (one sentence per forward, word vectors averaged over sub-words) against ftgeo's
  ``word`` pooling on UD-EWT POS dev sentences (``--pos-n``).
* ``probes``: on those word vectors (MiniLM layer ``--probe-layer``; first 80 % of sentences train, the
  rest test): NeuroX's ``train_logistic_regression_probe`` vs ftgeo's ``ProbeClassifier``, and neuron
  ranking by a probe's weight mass (Dalvi et al. 2019): NeuroX's probe + ``get_neuron_ordering`` vs ftgeo's
  ``ProbeClassifier`` + ``weight_mass_ordering``, compared by the test accuracy of the same linear probe
  retrained on each method's top ``--top-k`` neurons. ftgeo's greedy forward selection (Matton & de Oliveira
  2019; the best small subset, a costlier question) is timed alongside (``ftgeo_greedy_*``).
* ``similarity``: ``bench/similarity.py`` (repsim / rsatoolbox / netrep formulas) run as a child with
  ``--similarity-args``, or its saved JSON (``--similarity-json``); its rows are copied in.

A missing peer is skipped with a one-line reason. Times exclude imports and model loading; ``ratio`` is
peer time / ftgeo time (> 1: ftgeo faster). ``compute_rss_mb`` is the growth of the child's resident set
during the measured call (sampled every 5 ms; inputs were loaded before), ``peak_rss_mb`` the child's
resident set at that peak (not ``ru_maxrss``, which carries the parent's across fork/exec). The machine's load average is recorded at start
and end (a shared machine: read ratios with it). Prints ONE JSON object last.

    python bench/peers.py                                   # everything (about 10-15 min on 2 cores)
    python bench/peers.py --rows cka --n 2000 --mem-n 1000,2000 --full-gram-n 1000   # small
    python bench/peers.py --rows isoscore,extract,probes --data-root /work/shared/data
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import threading

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# bench/ holds cka.py, which would shadow pytorch-cka's top-level module ``cka``
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
CHUNK = 5000          # rows per generation chunk (fixed: the first n rows are the same for every N)


# ----------------------------------------------------------------------------- small helpers
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """Peak of the current RSS (anonymous + file-backed resident pages) while the block runs, sampled every
    ``interval`` s, minus the RSS at entry: the memory the measured computation itself needs."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak, self._stop = interval, 0.0, threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start = self.peak = _rss_mb()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mb())
        self.delta = round(self.peak - self.start, 1)
        return False


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _missing(module: str, dist: str) -> str | None:
    """None if ``module`` imports, else a one-line reason."""
    try:
        __import__(module)
    except Exception as e:  # noqa: BLE001 - any import failure skips the peer
        return f"{dist} not importable ({type(e).__name__}: {str(e).splitlines()[0][:120]}); pip install '.[bench]'"
    return None


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _diff(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.nanmax(np.abs(a - b)))


# ----------------------------------------------------------------------------- CKA data on disk
def _data_paths(work: Path, n: int, d: int, L: int, seed: int) -> dict[str, Path]:
    base = work / f"cka_n{n}_d{d}_L{L}_s{seed}"
    return {"A": base.with_suffix(".A.f32"), "B": base.with_suffix(".B.f32")}


def gen_data(work: Path, n: int, d: int, L: int, seed: int) -> dict[str, Path]:
    """Two layer sets (L, n, d) float32 on disk: a shared base, then per set h <- h M_l + 0.3 noise
    (bench/cka.py's running mixture), generated CHUNK rows at a time (rows are independent)."""
    paths = _data_paths(work, n, d, L, seed)
    if all(p.exists() and p.stat().st_size == L * n * d * 4 for p in paths.values()):
        return paths
    Ms = {}
    for k, s in (("A", 1), ("B", 2)):
        r = np.random.default_rng([seed, 99, s])
        Ms[k] = [(np.eye(d) + 0.1 * r.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32) for _ in range(L)]
    mm = {k: np.memmap(p.with_suffix(".tmp"), dtype=np.float32, mode="w+", shape=(L, n, d)) for k, p in paths.items()}
    for c, r0 in enumerate(range(0, n, CHUNK)):
        r1 = min(r0 + CHUNK, n)
        base = np.random.default_rng([seed, c]).standard_normal((r1 - r0, d)).astype(np.float32)
        for k, s in (("A", 1), ("B", 2)):
            rng = np.random.default_rng([seed, c, s])
            h = base
            for l in range(L):
                h = h @ Ms[k][l] + 0.3 * rng.standard_normal((r1 - r0, d)).astype(np.float32)
                mm[k][l, r0:r1] = h
    for k, p in paths.items():
        mm[k].flush()
        del mm[k]
        p.with_suffix(".tmp").rename(p)
    return paths


def _read_layers(path: Path, n_file: int, n: int, d: int, L: int) -> list[np.ndarray]:
    """The first n rows of every layer, read into ordinary (anonymous) memory (no mmap pages in RSS)."""
    return [np.fromfile(path, dtype=np.float32, count=n * d, offset=l * n_file * d * 4).reshape(n, d)
            for l in range(L)]


class DiskRows:
    """One stored layer read ``[r0:r1]`` rows at a time straight from disk (what a store on disk is to
    the streamed route): nothing of the layer stays in memory between chunks."""

    def __init__(self, path: Path, layer: int, n_file: int, n: int, d: int):
        self.path, self.layer, self.n_file, self.shape = path, layer, n_file, (n, d)

    def __getitem__(self, sl):
        r0, r1, _ = sl.indices(self.shape[0])
        d = self.shape[1]
        return np.fromfile(self.path, dtype=np.float32, count=(r1 - r0) * d,
                           offset=(self.layer * self.n_file + r0) * d * 4).reshape(r1 - r0, d)


def _minibatch_order(n: int, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """The batches ftgeo's minibatch route uses (similarity._batches with shuffle, each sorted)."""
    from ftgeo.analysis.similarity import _batches
    return [np.sort(b) for b in _batches(n, batch_size, True, seed)]


class _LayerStandIn:
    """A "model" for the hook-based peers: forward(idx) runs 13 submodules, each returning its stored
    layer's rows ``idx`` (so the hooks see exactly the stored representations)."""

    @staticmethod
    def build(layers: list[np.ndarray]):
        import torch
        import torch.nn as nn

        class Pick(nn.Module):
            def __init__(self, X):
                super().__init__()
                self.X = torch.from_numpy(X)
                self.dummy = nn.Parameter(torch.zeros(1))   # cka-pytorch reads a parameter's device

            def forward(self, idx):
                return self.X[idx]

        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([Pick(X) for X in layers])

            def forward(self, idx):
                out = None
                for m in self.layers:
                    out = m(idx)
                return out

        return Stack()


def _index_loader(batches: list[np.ndarray]):
    import torch
    from torch.utils.data import DataLoader, Dataset

    flat = np.concatenate(batches)

    class Idx(Dataset):
        def __len__(self):
            return len(flat)

        def __getitem__(self, i):
            return int(flat[i]), 0

    # batches all have batch_size rows except the last: a sequential sampler reproduces them exactly
    sizes = {len(b) for b in batches[:-1]}
    assert len(sizes) <= 1
    bs = len(batches[0])
    return DataLoader(Idx(), batch_size=bs, shuffle=False,
                      collate_fn=lambda items: (torch.tensor([i for i, _ in items]), torch.zeros(len(items))))


def _cka_fn(method: str, L: int, batch_size: int):
    """The measured call of ``method``: ``fn(A, B, n) -> (La, Lb) matrix`` (imports done here, untimed)."""
    import torch
    if method in ("ftgeo-linear", "ftgeo-debiased", "ftgeo-minibatch"):
        from ftgeo.analysis.similarity import layer_cka_matrix
        kw = ({"batch_size": batch_size, "random_state": 0} if method == "ftgeo-minibatch"
              else {"debiased": method == "ftgeo-debiased", "device": "cpu"})
        return lambda A, B, n: layer_cka_matrix(A, B, progress=False, **kw)
    if method in ("ftgeo-stream", "ftgeo-stream-debiased"):
        from ftgeo.analysis.streaming import linear_cka_grid
        return lambda A, B, n: linear_cka_grid(A, B, chunk_size=4096, device="cpu",
                                               debiased=method.endswith("debiased"))
    names = [f"layers.{l}" for l in range(L)]
    if method == "pytorch-cka":
        from cka import cka_from_features

        def fn(A, B, n):
            with torch.inference_mode():
                return cka_from_features([torch.from_numpy(x) for x in A], [torch.from_numpy(x) for x in B]).numpy()
        return fn
    if method == "torch-cka":
        from torch_cka import CKA as TorchCKA

        def fn(A, B, n):
            dl = _index_loader(_minibatch_order(n, min(batch_size, n)))
            cka = TorchCKA(_LayerStandIn.build(A), _LayerStandIn.build(B), model1_name="A", model2_name="B",
                           model1_layers=names, model2_layers=names, device="cpu")
            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
                cka.compare(dl, dl)
            return cka.export()["CKA"].numpy()
        return fn
    if method == "cka-pytorch":
        from cka_pytorch import CKACalculator

        def fn(A, B, n):
            dl = _index_loader(_minibatch_order(n, min(batch_size, n)))
            calc = CKACalculator(_LayerStandIn.build(A), _LayerStandIn.build(B), model1_layers=names,
                                 model2_layers=names, device=torch.device("cpu"), verbose=False)
            return calc.calculate_cka_matrix(dl, num_epochs=1).numpy()
        return fn
    raise SystemExit(f"unknown CKA method {method!r}")


def task_cka(a) -> dict:
    """One CKA measurement (``a.method``) at ``a.n`` rows; saves the matrix to ``a.save``."""
    import torch
    d, L, n, n_file = a.d, a.layers, a.n, a.n_file
    paths = _data_paths(Path(a.work), n_file, d, L, a.seed)
    out = {"method": a.method, "n": n, "d": d, "layers": L, "torch_threads": torch.get_num_threads()}
    fn = _cka_fn(a.method, L, a.batch_size)
    # warm-up on a tiny slice (first-call costs: thread pools, lazy imports), untimed
    w = [np.ascontiguousarray(x[:64, :16]) for x in _read_layers(paths["A"], n_file, 64, d, L)]
    fn([DiskRows(paths["A"], l, n_file, 64, d) for l in range(L)] if "stream" in a.method else w,
       [DiskRows(paths["B"], l, n_file, 64, d) for l in range(L)] if "stream" in a.method else w, 64)
    rss0 = _rss_mb()
    if "stream" in a.method:
        A = [DiskRows(paths["A"], l, n_file, n, d) for l in range(L)]
        B = [DiskRows(paths["B"], l, n_file, n, d) for l in range(L)]
        out["inputs"] = "read from disk, 4096 rows at a time"
    else:
        A = _read_layers(paths["A"], n_file, n, d, L)
        B = _read_layers(paths["B"], n_file, n, d, L)
        out["inputs"] = "in memory"
    out["inputs_mb"] = round(_rss_mb() - rss0, 1)
    with RssSampler() as rs:
        t = time.perf_counter()
        M = fn(A, B, n)
        out["time_s"] = round(time.perf_counter() - t, 3)
    out["compute_rss_mb"] = rs.delta
    out["peak_rss_mb"] = round(rs.peak, 1)
    np.save(a.save, np.asarray(M, dtype=np.float64))
    return out


# ----------------------------------------------------------------------------- extraction
def _sst2_texts(data_root, n):
    from ftgeo.data import load_task
    task = load_task("sst2", data_root=data_root)
    return task, [ex.text for ex in task.examples("dev")][:n]


def _ftgeo_store_layers(store) -> np.ndarray:
    return np.stack([np.asarray(store.layer(i), dtype=np.float32) for i in range(store.n_layers)])


def _batches_of(texts, bs):
    for b0 in range(0, len(texts), bs):
        yield b0, texts[b0:b0 + bs]


def _pool(h, mask, pooling):
    """(B, T, H) -> (B, H): first token or last real token (right padding)."""
    import torch
    if pooling == "cls":
        return h[:, 0]
    last = mask.sum(1) - 1
    return h[torch.arange(h.shape[0]), last]


def _extract_fn(a, lm, task, pooling):
    """``fn(texts) -> (L+1, n, H)`` float32 for ``a.method`` (model wrapping done here, untimed)."""
    import torch
    tok = lm.tokenizer
    L1 = lm.n_layers + 1
    if a.method == "ftgeo":
        from ftgeo.extract import extract
        from ftgeo.testing.tasks import ListTask

        def fn(texts):
            sub = ListTask(task.name, task.kind, task.label_names, {"dev": task.examples("dev")[:len(texts)]})
            with tempfile.TemporaryDirectory() as tmp:
                store = extract(lm, sub, "dev", pooling=pooling, out=Path(tmp) / "s", max_length=a.max_length,
                                batch_size=a.batch_size, dtype="float32", progress=False)
                return _ftgeo_store_layers(store)
        return fn
    if a.method == "nnsight":
        import warnings
        from nnsight import NNsight
        warnings.filterwarnings("ignore")
        m = NNsight(lm.model)
        if lm.is_decoder:
            emb, blocks, final = m.embed_tokens, m.layers, m.norm
        else:
            emb, blocks, final = m.embeddings, m.encoder.layer, None
        extra = {"use_cache": False} if lm.is_decoder else {}

        def fn(texts):
            R = np.zeros((L1, len(texts), lm.hidden_size), np.float32)
            for b0, bt in _batches_of(texts, a.batch_size):
                enc = tok(bt, padding=True, truncation=True, max_length=a.max_length, return_tensors="pt")
                saved = []        # defined outside the trace: nnsight runs the block's code elsewhere
                with torch.inference_mode():
                    with m.trace(**enc, **extra):
                        saved.append(emb.output.save())
                        for i, blk in enumerate(blocks):
                            if final is not None and i == lm.n_layers - 1:
                                saved.append(final.output.save())
                            else:
                                saved.append(blk.output.save())
                for l, s in enumerate(saved):
                    s = s[0] if isinstance(s, (tuple, list)) else s
                    R[l, b0:b0 + len(bt)] = _pool(s, enc["attention_mask"], pooling).float().numpy()
            return R
        return fn
    if a.method == "transformer-lens":
        from transformer_lens.model_bridge import TransformerBridge
        from transformers import AutoModelForCausalLM, BertForMaskedLM
        path = lm.model.config._name_or_path
        full = (AutoModelForCausalLM if lm.is_decoder else BertForMaskedLM).from_pretrained(path).eval()
        with contextlib.redirect_stderr(io.StringIO()):
            br = TransformerBridge.boot_transformers(path, hf_model=full, tokenizer=tok, device="cpu")
        nb = lm.n_layers
        first = "embed.hook_out" if lm.is_decoder else "embed_ln.hook_out"
        keys = [first] + [f"blocks.{i}.hook_out" for i in range(nb - 1)] + \
               ["ln_final.hook_out" if lm.is_decoder else f"blocks.{nb - 1}.hook_out"]
        want = set(keys)

        def fn(texts):
            R = np.zeros((L1, len(texts), lm.hidden_size), np.float32)
            for b0, bt in _batches_of(texts, a.batch_size):
                enc = tok(bt, padding=True, truncation=True, max_length=a.max_length, return_tensors="pt")
                with torch.inference_mode():
                    _, cache = br.run_with_cache(enc["input_ids"], attention_mask=enc["attention_mask"],
                                                 names_filter=lambda k: k in want)
                for l, k in enumerate(keys):
                    R[l, b0:b0 + len(bt)] = _pool(cache[k], enc["attention_mask"], pooling).float().numpy()
            return R
        return fn
    raise SystemExit(f"unknown extraction method {a.method!r}")


def task_extract(a) -> dict:
    """Every layer of ``a.model`` on SST-2 dev (first ``a.n``) by ``a.method``; saves (L+1, n, H)."""
    import torch
    from ftgeo.models import load_model
    pooling = "cls" if a.model == "minilm-l6" else "last"
    lm = load_model(a.model)
    task, texts = _sst2_texts(a.data_root, a.n)
    lm.tokenizer.padding_side = "right"            # what ftgeo does (causal models too)
    n_tokens = sum(len(x) for x in lm.tokenizer(texts, truncation=True, max_length=a.max_length)["input_ids"])
    out = {"method": a.method, "model": a.model, "n": len(texts), "pooling": pooling, "batch_size": a.batch_size,
           "real_tokens": n_tokens, "torch_threads": torch.get_num_threads()}
    fn = _extract_fn(a, lm, task, pooling)
    fn(texts[:4])                                    # warm-up, untimed
    with RssSampler() as rs:
        t = time.perf_counter()
        R = fn(texts)
        out["time_s"] = round(time.perf_counter() - t, 3)
    if a.method == "transformer-lens":
        out["note"] = "TransformerBridge forces eager attention (ftgeo: the model's default, sdpa)"
    out["examples_per_s"] = round(len(texts) / out["time_s"], 1)
    out["tokens_per_s"] = round(n_tokens / out["time_s"], 1)
    out["compute_rss_mb"] = rs.delta
    out["peak_rss_mb"] = round(rs.peak, 1)
    np.save(a.save, R)
    return out


def _pos_task(data_root, n):
    from ftgeo.data import load_task
    from ftgeo.testing.tasks import ListTask
    task = load_task("ud_pos", data_root=data_root)
    exs = [ex for ex in task.examples("dev") if all(" " not in w for w in ex.words)][:n]
    return ListTask(task.name, task.kind, task.label_names, {"dev": exs}), exs


def task_words(a) -> dict:
    """Word vectors (every layer, mean over sub-words) of UD-EWT dev sentences: ftgeo ``word`` or NeuroX."""
    import torch
    from ftgeo.models import load_model
    task, exs = _pos_task(a.data_root, a.n)
    out = {"method": a.method, "model": a.model, "sentences": len(exs), "torch_threads": torch.get_num_threads()}
    if a.method == "ftgeo":
        from ftgeo.extract import extract
        from ftgeo.testing.tasks import ListTask
        lm = load_model(a.model)
        with tempfile.TemporaryDirectory() as tmp:       # warm-up, untimed
            extract(lm, ListTask(task.name, task.kind, task.label_names, {"dev": exs[:2]}), "dev", pooling="word",
                    out=Path(tmp) / "w", max_length=a.max_length, batch_size=a.batch_size, dtype="float32",
                    progress=False)
        with tempfile.TemporaryDirectory() as tmp, RssSampler() as rs:
            t = time.perf_counter()
            store = extract(lm, task, "dev", pooling="word", out=Path(tmp) / "s", max_length=a.max_length,
                            batch_size=a.batch_size, dtype="float32", progress=False)
            out["time_s"] = time.perf_counter() - t
            R = _ftgeo_store_layers(store)
            labels = np.asarray(store.labels)
    elif a.method == "neurox":
        from neurox.data.extraction import transformers_extractor as tx
        path = str(load_model(a.model).model.config._name_or_path)
        model, tok = tx.get_model_and_tokenizer(path, device="cpu")
        rows, labels = [], []
        counts: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):          # warm-up, untimed
            tx.extract_sentence_representations(" ".join(exs[0].words), model, tok, aggregation="average")
        with contextlib.redirect_stdout(io.StringIO()), RssSampler() as rs:
            t = time.perf_counter()
            for ex in exs:
                hs, _ = tx.extract_sentence_representations(" ".join(ex.words), model, tok, aggregation="average",
                                                            tokenization_counts=counts)
                for tg in ex.targets:
                    rows.append(hs[:, tg.word_indices[0]])
                    labels.append(tg.label)
        out["time_s"] = time.perf_counter() - t
        R = np.stack(rows, axis=1).astype(np.float32)
        labels = np.asarray(labels)
    else:
        raise SystemExit(f"unknown word-extraction method {a.method!r}")
    out["words"] = int(R.shape[1])
    out["time_s"] = round(out["time_s"], 3)
    out["examples_per_s"] = round(len(exs) / out["time_s"], 1)
    out["peak_rss_mb"] = round(rs.peak, 1)
    out["compute_rss_mb"] = rs.delta
    np.save(a.save, R)
    np.save(str(a.save).replace(".npy", "_labels.npy"), labels)
    # sentence boundary of the 80/20 split, in rows
    n_train_sent = int(round(0.8 * len(exs)))
    out["train_rows"] = int(sum(len(ex.targets) for ex in exs[:n_train_sent]))
    return out


# ----------------------------------------------------------------------------- driver
def _child(args: list[str], timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TQDM_DISABLE", "1")
    try:
        p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout,
                           env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"error": f"exit {p.returncode}: {tail[:300]}"}


PEERS = {  # name -> (module, distribution)
    "pytorch-cka": ("cka", "pytorch-cka"), "torch-cka": ("torch_cka", "torch-cka"),
    "cka-pytorch": ("cka_pytorch", "cka-pytorch"), "isoscore": ("IsoScore", "IsoScore"),
    "nnsight": ("nnsight", "nnsight"), "transformer-lens": ("transformer_lens", "transformer-lens"),
    "neurox": ("neurox.interpretation.linear_probe", "neurox"),
}


def _peer_row(peer, ftgeo_res, peer_res, same, what, **extra) -> dict:
    row = {"row": what, "peer": peer, "version": _version(PEERS[peer][1]) if peer in PEERS else None}
    if "error" in peer_res:
        row["skipped"] = peer_res["error"]
        return row
    row.update({"max_abs_diff": same, "ftgeo_s": ftgeo_res.get("time_s"), "peer_s": peer_res.get("time_s")})
    if row["ftgeo_s"] and row["peer_s"]:
        row["ratio"] = round(row["peer_s"] / row["ftgeo_s"], 2)
    for k in ("peak_rss_mb", "compute_rss_mb"):
        if k in ftgeo_res:
            row[f"ftgeo_{k}"] = ftgeo_res[k]
        if k in peer_res:
            row[f"peer_{k}"] = peer_res[k]
    row.update(extra)
    return row


def row_cka(args, work: Path) -> dict:
    n_file = max([args.n, args.full_gram_n] + args.mem_n)
    t0 = time.perf_counter()
    gen_data(work, n_file, args.d, args.layers, args.seed)
    gen_s = round(time.perf_counter() - t0, 1)
    base = ["--task", "cka", "--work", str(work), "--d", str(args.d), "--layers", str(args.layers),
            "--n-file", str(n_file), "--seed", str(args.seed), "--batch-size", str(args.batch_size)]
    res, mats = {}, {}

    def run(method, n, extra=()):
        key = (method, n)
        save = work / f"M_{method}_{n}.npy"
        r = _child(base + ["--method", method, "--n", str(n), "--save", str(save), *extra], args.timeout)
        r.setdefault("method", method)
        r.setdefault("n", n)
        res[key] = r
        if "error" not in r:
            mats[key] = np.load(save)
        print(json.dumps({"cka": r}), file=sys.stderr, flush=True)
        return r

    rows = []
    N, NG = args.n, args.full_gram_n
    run("ftgeo-linear", N)
    run("ftgeo-debiased", N)
    run("ftgeo-stream", N)
    run("ftgeo-minibatch", N)
    if NG != N:
        run("ftgeo-debiased", NG)
    for peer, method, n, ref in (("pytorch-cka", "pytorch-cka", NG, ("ftgeo-debiased", NG)),
                                 ("torch-cka", "torch-cka", N, ("ftgeo-minibatch", N)),
                                 ("cka-pytorch", "cka-pytorch", N, ("ftgeo-minibatch", N))):
        why = _missing(*PEERS[peer])
        pr = {"error": why} if why else run(method, n)
        same = _diff(mats[(method, n)], mats[ref]) if (method, n) in mats and ref in mats else None
        rows.append(_peer_row(peer, res[ref], pr, same, "cka", n=n,
                              estimator="debiased (HSIC_1), full N" if method == "pytorch-cka"
                              else f"minibatch HSIC_1, batch {args.batch_size}", ftgeo_method=ref[0]))
    # ftgeo's own routes agree with each other
    internal = {}
    if ("ftgeo-stream", N) in mats and ("ftgeo-linear", N) in mats:
        internal["stream_vs_exact_linear"] = _diff(mats[("ftgeo-stream", N)], mats[("ftgeo-linear", N)])
    # memory over N
    mem = []
    for n in args.mem_n:
        for method in ("ftgeo-stream", "ftgeo-linear", "pytorch-cka"):
            if method == "ftgeo-linear" and n > args.exact_max_n:
                continue
            if method == "pytorch-cka" and (n > NG or _missing(*PEERS["pytorch-cka"])):
                continue
            r = res.get((method, n)) or run(method, n)
            mem.append({k: r.get(k) for k in ("method", "n", "time_s", "peak_rss_mb", "inputs_mb",
                                             "compute_rss_mb", "error") if r.get(k) is not None})
    ftgeo_only = [res[(m, N)] for m in ("ftgeo-linear", "ftgeo-debiased", "ftgeo-stream", "ftgeo-minibatch")]
    return {"rows": rows, "ftgeo": ftgeo_only, "ftgeo_internal_max_abs_diff": internal, "memory_over_n": mem,
            "data": {"n_file": n_file, "generate_s": gen_s}}


def row_extract(args, work: Path) -> dict:
    rows, ftgeo_runs, stores = [], {}, {}
    for model, n in (("minilm-l6", args.extract_n), ("smollm2-135m", args.smollm_n)):
        base = ["--task", "extract", "--model", model, "--n", str(n), "--batch-size", str(args.extract_batch_size),
                "--max-length", str(args.max_length)] + (["--data-root", args.data_root] if args.data_root else [])
        fsave = work / f"X_ftgeo_{model}.npy"
        fr = _child(base + ["--method", "ftgeo", "--save", str(fsave)], args.timeout)
        ftgeo_runs[model] = fr
        print(json.dumps({"extract": fr}), file=sys.stderr, flush=True)
        if "error" in fr:
            continue
        F = np.load(fsave)
        stores[model] = fsave
        for peer in ("nnsight", "transformer-lens"):
            why = _missing(*PEERS[peer])
            psave = work / f"X_{peer}_{model}.npy"
            pr = {"error": why} if why else _child(base + ["--method", peer, "--save", str(psave)], args.timeout)
            print(json.dumps({"extract": pr}), file=sys.stderr, flush=True)
            same = _diff(np.load(psave), F) if "error" not in pr else None
            row = _peer_row(peer, fr, pr, same, "extract", model=model, n=fr["n"], pooling=fr["pooling"],
                            ftgeo_examples_per_s=fr["examples_per_s"], ftgeo_tokens_per_s=fr["tokens_per_s"])
            if "error" not in pr:
                row.update(peer_examples_per_s=pr["examples_per_s"], peer_tokens_per_s=pr["tokens_per_s"])
                if pr.get("note"):
                    row["note"] = pr["note"]
            rows.append(row)
    # NeuroX: word vectors (UD-EWT POS dev), against ftgeo's word pooling
    base = ["--task", "words", "--model", "minilm-l6", "--n", str(args.pos_n), "--batch-size",
            str(args.extract_batch_size), "--max-length", "256"] + (["--data-root", args.data_root] if args.data_root else [])
    fw = _child(base + ["--method", "ftgeo", "--save", str(work / "W_ftgeo.npy")], args.timeout)
    print(json.dumps({"words": fw}), file=sys.stderr, flush=True)
    why = _missing(*PEERS["neurox"])
    nw = {"error": why} if why else _child(base + ["--method", "neurox", "--save", str(work / "W_neurox.npy")],
                                            args.timeout)
    print(json.dumps({"words": nw}), file=sys.stderr, flush=True)
    words = {"ftgeo": fw, "neurox": nw}
    if "error" not in fw and "error" not in nw:
        Fw, Nw = np.load(work / "W_ftgeo.npy"), np.load(work / "W_neurox.npy")
        same = _diff(Nw, Fw) if Fw.shape == Nw.shape else f"shapes differ {Fw.shape} vs {Nw.shape}"
        labels_same = bool(np.array_equal(np.load(work / "W_ftgeo_labels.npy"), np.load(work / "W_neurox_labels.npy")))
        rows.append(_peer_row("neurox", fw, nw, same, "extract", model="minilm-l6", n=fw["sentences"],
                              pooling="word (mean of sub-words)", words=fw["words"], labels_identical=labels_same,
                              ftgeo_examples_per_s=fw["examples_per_s"], peer_examples_per_s=nw["examples_per_s"]))
    elif "error" in nw:
        rows.append(_peer_row("neurox", fw, nw, None, "extract"))
    return {"rows": rows, "ftgeo": ftgeo_runs, "words": words, "stores": {k: str(v) for k, v in stores.items()}}


def row_isoscore(args, stores: dict) -> dict:
    why = _missing(*PEERS["isoscore"])
    if why:
        return {"rows": [{"row": "isoscore", "peer": "isoscore", "skipped": why}]}
    import torch
    from IsoScore.IsoScore import IsoScore as iso_peer
    from ftgeo.analysis.isotropy import isoscore as iso_ftgeo
    rows = []
    for model, layers in (("minilm-l6", None), ("smollm2-135m", args.smollm_iso_layers)):
        if model not in stores:
            rows.append({"row": "isoscore", "peer": "isoscore", "model": model,
                         "skipped": "no ftgeo store (extraction failed)"})
            continue
        R = np.load(stores[model])
        idx = list(range(R.shape[0])) if layers is None else [l for l in layers if l < R.shape[0]]
        if model == "minilm-l6":
            R = R[:, :args.iso_n]
        Xs = [np.ascontiguousarray(R[l]) for l in idx]
        def f_safe(X):
            try:
                return iso_ftgeo(X)
            except Exception:  # noqa: BLE001 - a constant layer: IsoScore undefined (the peer returns NaN)
                return float("nan")
        vf = [f_safe(X) for X in Xs]
        with torch.inference_mode():
            vp = [float(iso_peer(X)) for X in Xs]                       # as given: float32 in, float32 math
            vp64 = [float(iso_peer(X.astype(np.float64))) for X in Xs]  # the same points in float64

        def timed(fn):
            ts = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                for X in Xs:
                    fn(X)
                ts.append(time.perf_counter() - t)
            return statistics.median(ts)
        tf = timed(f_safe)
        with torch.inference_mode():
            tp = timed(iso_peer)
        rows.append({"row": "isoscore", "peer": "isoscore", "version": _version("IsoScore"), "model": model,
                     "n": int(Xs[0].shape[0]), "d": int(Xs[0].shape[1]), "layers": idx,
                     "ftgeo": [round(v, 6) for v in vf], "peer_float32": [round(v, 6) for v in vp],
                     "peer_float64": [round(v, 6) for v in vp64],
                     "max_abs_diff": _diff(vf, vp), "max_abs_diff_float64": _diff(vf, vp64),
                     "ftgeo_s": round(tf, 4), "peer_s": round(tp, 4), "ratio": round(tp / tf, 2)})
    return {"rows": rows}


def row_probes(args, work: Path, words: dict) -> dict:
    if "error" in words.get("ftgeo", {"error": "not run"}):
        return {"rows": [{"row": "probes", "peer": "neurox", "skipped": "no ftgeo word vectors"}]}
    why = _missing(*PEERS["neurox"])
    if why:
        return {"rows": [{"row": "probes", "peer": "neurox", "skipped": why},
                         {"row": "neurons", "peer": "neurox", "skipped": why}]}
    r = _child(["--task", "probes", "--work", str(work), "--probe-layer", str(args.probe_layer),
                "--top-k", str(args.top_k), "--train-rows", str(words["ftgeo"]["train_rows"])], args.timeout)
    print(json.dumps({"probes": r}), file=sys.stderr, flush=True)
    if "error" in r:
        return {"rows": [{"row": "probes", "peer": "neurox", "skipped": r["error"]}]}
    return r


def task_probes(a) -> dict:
    """NeuroX linear probe + neuron ordering vs ftgeo probe + greedy selection, on the same rows."""
    import torch
    from ftgeo.analysis.neurons import greedy_selection
    from ftgeo.analysis.probes import ProbeClassifier
    from neurox.interpretation import linear_probe as nlp
    work = Path(a.work)
    X = np.load(work / "W_ftgeo.npy")[a.probe_layer].astype(np.float32)
    y = np.load(work / "W_ftgeo_labels.npy")
    tr = np.arange(a.train_rows)
    te = np.arange(a.train_rows, len(y))
    cls, cnt = np.unique(y[tr], return_counts=True)
    keep_cls = set(cls[cnt >= 10].tolist())                      # greedy CV needs >= cv rows per class
    tr = tr[np.isin(y[tr], list(keep_cls))]
    te = te[np.isin(y[te], list(keep_cls))]
    classes = sorted(keep_cls)
    class_to_idx = {c: i for i, c in enumerate(classes)}
    yi = np.array([class_to_idx.get(int(v), -1) for v in y])
    Xtr, ytr, Xte, yte = X[tr], yi[tr], X[te], yi[te]
    info = {"layer": a.probe_layer, "train_rows": int(len(tr)), "test_rows": int(len(te)), "classes": len(classes),
            "dims": int(X.shape[1]), "torch_threads": torch.get_num_threads()}

    # probes on every dimension
    t = time.perf_counter()
    fp = ProbeClassifier(kind="linear", random_state=0).fit(Xtr, ytr)
    tf = time.perf_counter() - t
    acc_f = float(fp.score(Xte, yte))
    torch.manual_seed(0)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        probe = nlp.train_logistic_regression_probe(Xtr, ytr, lambda_l1=a.l1, lambda_l2=a.l2,
                                                    num_epochs=a.epochs, batch_size=a.probe_batch)
    tn = time.perf_counter() - t
    with contextlib.redirect_stdout(io.StringIO()):
        acc_n = float(nlp.evaluate_probe(probe, Xte, yte, idx_to_class={i: c for c, i in class_to_idx.items()})
                      ["__OVERALL__"])
    probe_row = {"row": "probes", "peer": "neurox", "version": _version("neurox"), **info,
                 "ftgeo_accuracy": round(acc_f, 4), "peer_accuracy": round(acc_n, 4),
                 "max_abs_diff": round(abs(acc_f - acc_n), 4), "ftgeo_s": round(tf, 3), "peer_s": round(tn, 3),
                 "ratio": round(tn / tf, 2),
                 "ftgeo_method": "ProbeClassifier(linear): Adam, L2 1e-4, standardised, early stopping on 10 %",
                 "peer_method": f"train_logistic_regression_probe: Adam, {a.epochs} epochs, batch {a.probe_batch}, "
                                f"L1 {a.l1}, L2 {a.l2}, raw features"}

    # neuron ranking, the same question on both sides: one linear probe, neurons ordered by its weight mass
    # (Dalvi et al. 2019); ftgeo's greedy forward selection (a different, costlier question) rides along
    from ftgeo.analysis.neurons import weight_mass_ordering
    t = time.perf_counter()
    ranker = ProbeClassifier(kind="linear", random_state=0).fit(Xtr, ytr)
    ours, _ = weight_mass_ordering(ranker.coef_, 100)
    tw = time.perf_counter() - t
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        probe2 = nlp.train_logistic_regression_probe(Xtr, ytr, lambda_l1=a.l1, lambda_l2=a.l2,
                                                     num_epochs=a.epochs, batch_size=a.probe_batch)
        order, _ = nlp.get_neuron_ordering(probe2, class_to_idx)
    trank = time.perf_counter() - t
    top_n = [int(i) for i in order[:a.top_k]]
    top_w = [int(i) for i in ours[:a.top_k]]
    t = time.perf_counter()
    sel = greedy_selection(Xtr, ytr, n_select=a.top_k, cv=5, random_state=0)["selected"]
    tsel = time.perf_counter() - t

    def acc_on(dims):
        return float(ProbeClassifier(kind="linear", random_state=0).fit(Xtr[:, dims], ytr).score(Xte[:, dims], yte))
    acc_w, acc_top, acc_sel = acc_on(top_w), acc_on(top_n), acc_on(list(sel))
    neuron_row = {"row": "neurons", "peer": "neurox", "version": probe_row["version"], **info, "k": a.top_k,
                  "ftgeo_selected": top_w, "peer_selected": top_n,
                  "ftgeo_accuracy_top_k": round(acc_w, 4), "peer_accuracy_top_k": round(acc_top, 4),
                  "max_abs_diff": round(abs(acc_w - acc_top), 4),
                  "ftgeo_s": round(tw, 3), "peer_s": round(trank, 3), "ratio": round(trank / tw, 2),
                  "ftgeo_method": "ProbeClassifier(linear) + weight_mass_ordering (Dalvi et al. 2019)",
                  "peer_method": "train_logistic_regression_probe + get_neuron_ordering, weight mass (Dalvi et al. 2019)",
                  "ftgeo_greedy_selected": [int(i) for i in sel], "ftgeo_greedy_accuracy_top_k": round(acc_sel, 4),
                  "ftgeo_greedy_s": round(tsel, 3),
                  "ftgeo_greedy_method": "greedy forward selection, 5-fold CV accuracy (Matton & de Oliveira 2019): "
                                         "the best small subset, a costlier question"}
    return {"rows": [probe_row, neuron_row], "peak_rss_mb": round(_peak_mb(), 1)}


def row_similarity(args) -> dict:
    if args.similarity_json:
        out = json.loads(Path(args.similarity_json).read_text())
        src = f"read from {args.similarity_json}"
    else:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        cmd = [sys.executable, str(REPO / "bench" / "similarity.py"), *args.similarity_args.split()]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"rows": [{"row": "similarity", "skipped": f"bench/similarity.py timed out ({args.timeout} s)"}]}
        try:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except Exception:  # noqa: BLE001
            return {"rows": [{"row": "similarity", "skipped": f"bench/similarity.py failed: {p.stderr[-300:]}"}]}
        src = "python bench/similarity.py " + args.similarity_args
    rows = []
    for r in out.get("rows", []):
        rows.append({"row": f"similarity:{r.get('measure', r.get('name'))}", "peer": r.get("baseline"),
                     "max_abs_diff": r.get("max_abs_diff"), "ftgeo_s": r.get("ftgeo_s"),
                     "peer_s": r.get("baseline_s"), "ratio": r.get("speedup"),
                     "peer_extrapolated": r.get("baseline_extrapolated"),
                     **({"note": r["note"]} if r.get("note") else {})})
    return {"rows": rows, "source": src, "params": out.get("params"), "load_avg_before": out.get("load_avg_before"),
            "load_avg_after": out.get("load_avg_after")}


def _fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.2e}"
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.{digits}g}"
    return str(v)


def markdown_table(out: dict) -> str:
    """The docs/benchmarks.md table from the printed JSON (``--table FILE``)."""
    lines = ["| row | peer | version | same numbers? (max abs diff) | ftgeo s | peer s | ratio | memory (MB) ftgeo / peer |",
             "|---|---|---|---|---|---|---|---|"]
    for r in out.get("table", []):
        what = r["row"] + "".join(f" {k}={r[k]}" for k in ("model", "n") if r.get(k) is not None)
        if "skipped" in r:
            lines.append(f"| {what} | {r.get('peer')} | {r.get('version') or '–'} | skipped: {r['skipped']} | | | | |")
            continue
        mem = ""
        if r.get("ftgeo_compute_rss_mb") is not None or r.get("peer_compute_rss_mb") is not None:
            mem = f"{_fmt(r.get('ftgeo_compute_rss_mb'))} / {_fmt(r.get('peer_compute_rss_mb'))}"
        lines.append(f"| {what} | {r.get('peer')} | {r.get('version') or '–'} | {_fmt(r.get('max_abs_diff'))} | "
                     f"{_fmt(r.get('ftgeo_s'))} | {_fmt(r.get('peer_s'))} | {_fmt(r.get('ratio'))} | {mem} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="cka,extract,isoscore,probes,similarity")
    ap.add_argument("--n", type=int, default=10000, help="CKA rows (examples)")
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--batch-size", type=int, default=256, help="minibatch CKA batch (torch-cka, cka-pytorch)")
    ap.add_argument("--full-gram-n", type=int, default=5000, help="N for pytorch-cka (26 N x N Grams in memory)")
    ap.add_argument("--mem-n", default="2500,5000,10000,50000", help="N values of the CKA memory figure")
    ap.add_argument("--exact-max-n", type=int, default=20000, help="largest N for ftgeo's in-memory exact route")
    ap.add_argument("--chunk-size", type=int, default=4096)
    ap.add_argument("--extract-n", type=int, default=872)
    ap.add_argument("--smollm-n", type=int, default=100)
    ap.add_argument("--extract-batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--iso-n", type=int, default=300, help="MiniLM rows for the IsoScore row")
    ap.add_argument("--smollm-iso-layers", default="1,10,20,30",
                    help="SmolLM2 layers of the IsoScore row (layer 0 of last-token pooling: the final tokens' "
                         "input embeddings, mostly the same few punctuation tokens)")
    ap.add_argument("--pos-n", type=int, default=300, help="UD-EWT dev sentences for NeuroX rows")
    ap.add_argument("--probe-layer", type=int, default=4)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--similarity-args", default="--n 2000 --d 256 --layers 13")
    ap.add_argument("--similarity-json", default=None)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--work", default=None, help="folder for generated data and matrices (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per child measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--table", default=None, help="print the markdown table of a saved JSON and exit")
    # child-only
    ap.add_argument("--task", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--method", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n-file", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--debiased", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--train-rows", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--l1", type=float, default=1e-3, help=argparse.SUPPRESS)
    ap.add_argument("--l2", type=float, default=1e-3, help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument("--probe-batch", type=int, default=32, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.mem_n = [int(x) for x in str(args.mem_n).split(",") if x.strip()]
    args.smollm_iso_layers = [int(x) for x in str(args.smollm_iso_layers).split(",") if x.strip()]

    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return {}
    if args.task:
        fn = {"cka": task_cka, "extract": task_extract, "words": task_words, "probes": task_probes}[args.task]
        res = fn(args)
        print("RESULT " + json.dumps(res))
        return res

    rows_wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    load0 = _load()
    t0 = time.perf_counter()
    tmp = None
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ftgeo-peers-")
        work = Path(tmp.name)
    out = {"name": "peers", "cpus": os.cpu_count(), "load_avg_start": load0,
           "versions": {d: _version(d) for d in ["torch", "transformers", "numpy", "pytorch-cka", "torch-cka",
                                                  "cka-pytorch", "IsoScore", "nnsight", "transformer-lens",
                                                  "neurox"]},
           "params": {k: v for k, v in vars(args).items() if k not in ("task", "method", "save", "n_file", "model",
                                                                      "debiased", "train_rows")},
           "sections": {}, "table": []}
    ext = None
    if "cka" in rows_wanted:
        out["sections"]["cka"] = sec = row_cka(args, work)
        out["table"] += sec["rows"]
    if "extract" in rows_wanted or "isoscore" in rows_wanted or "probes" in rows_wanted:
        ext = row_extract(args, work)
        if "extract" in rows_wanted:
            out["sections"]["extract"] = ext
            out["table"] += ext["rows"]
    if "isoscore" in rows_wanted:
        out["sections"]["isoscore"] = sec = row_isoscore(args, {k: Path(v) for k, v in ext["stores"].items()})
        out["table"] += sec["rows"]
    if "probes" in rows_wanted:
        out["sections"]["probes"] = sec = row_probes(args, work, ext["words"])
        out["table"] += sec["rows"]
    if "similarity" in rows_wanted:
        out["sections"]["similarity"] = sec = row_similarity(args)
        out["table"] += sec["rows"]
    out["load_avg_end"] = _load()
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    s = json.dumps(out)
    if args.out:
        Path(args.out).write_text(s)
    print(s)
    if tmp is not None:
        tmp.cleanup()
    return out


if __name__ == "__main__":
    main()
