"""``extract``: batched, length-sorted forward passes into a resumable on-disk store.

Plan of one run:

1. load the task split (``max_examples`` keeps the first N examples) and fingerprint it;
2. look at ``out`` without locking: a complete store with the same identity is a cache hit
   (returned at once, the model is not even loaded; this works on a read-only folder too);
3. take the store's lock (:mod:`ftgeo._lock`; a second writer waits ``lock_timeout`` seconds or
   fails with one line naming the holder), remove temporary files a killed writer left, and look
   again: a store with a different identity raises :class:`~ftgeo.errors.ManifestMismatchError`
   (``overwrite=True`` replaces it, removing only what ftgeo wrote); a half-written one with the
   same identity is resumed;
4. load the model, check ``max_length`` against its positions, tokenise everything (truncation at
   ``max_length``) and cut the examples, in their original order, into chunks of at most
   ``chunk_size`` output rows;
5. for each chunk not yet on disk (under ``accelerate launch``: the chunks ``k`` with
   ``k % world_size == rank``): sort its examples by token length, run batches of
   ``batch_size`` under ``torch.inference_mode()``, pool every layer, put the rows back in
   the original order and write ``chunks/NNNNN.npz`` atomically;
6. (rank 0, after every chunk exists) check the free space, stream the chunks into
   ``layers/layer_XX.npy`` (ordinary writes, CRC-32 while writing) and mark the manifest complete.

Word targets whose word lost sub-tokens to ``max_length`` truncation are dropped, and counted
in the manifest (``dropped_targets``); nothing is silently cut in half.

Large models: ``layers`` keeps only some layers (``"0,8,16,24,32"``, ``"every:4"``; the store keeps
the model's layer numbers), several ``pooling`` names share one forward pass (one store each),
``model_dtype`` runs the model in bfloat16/float16 (default: float32 on CPU, bfloat16 on CUDA) and
``device_map="auto"`` spreads a model that does not fit one device over the GPUs (one process).
Before the forward passes the disk and memory the run needs are printed (``progress=True``), and
a disk that cannot hold the stores is refused with one line before anything is written.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftgeo._atomic import StorageError, storage_errors, write_json
from ftgeo._lock import FolderLock, LockHeldError
from ftgeo.errors import ValidationError
from ftgeo.extract.identity import model_identity
from ftgeo.extract.manifest import FORMAT, MANIFEST_NAME, STORE_DTYPES, StoreManifest, check_manifest, read_manifest
from ftgeo.extract.pooling import POOLINGS, SENTENCE_POOLINGS, WORD_POOLINGS, pool_cls, pool_last, pool_mean, pool_spans
from ftgeo.extract.store import (RepresentationStore, chunk_done, clean_store_tmp, consolidate, foreign_entries,
                                 remove_chunks, remove_store, write_chunk)
from ftgeo.extract.tokenize import TokenizedItem, check_max_length, tokenize
from ftgeo.run import RunDir, is_run_folder, slug

DEFAULT_CHUNK_SIZE = 1024

# names kept for callers of the old private helpers
_slug = slug
_is_run_folder = is_run_folder
_tokenize = tokenize


def _model_identity(model) -> tuple[str, str, str | None]:
    return tuple(model_identity(model))


# ----------------------------------------------------------------------------- helpers
def store_key(model: str, task: str, split: str, pooling: str, *, checkpoint: str | None = None,
              max_length: int = 128, max_examples: int | None = None, layers=None,
              model_dtype: str | None = None) -> str:
    """Readable folder name of a store inside ``run/reps``:
    ``model[@checkpoint]__task__split__pooling[__ml<max_length>][__n<max_examples>][__L<layers>][__<dtype>]``
    (``layers`` only when a subset was asked for, ``L0-8-16``; the model dtype only when not float32)."""
    parts = [slug(model) + (f"@{slug(checkpoint)}" if checkpoint else ""), slug(task), slug(split), pooling]
    if max_length != 128:
        parts.append(f"ml{max_length}")
    if max_examples is not None:
        parts.append(f"n{max_examples}")
    if layers is not None:
        parts.append("L" + "-".join(str(int(x)) for x in layers))
    if model_dtype not in (None, "float32"):
        parts.append({"bfloat16": "bf16", "float16": "fp16"}.get(model_dtype, model_dtype))
    return "__".join(parts)


def _resolve_task(task, data_root):
    if isinstance(task, str):
        from ftgeo.data import load_task
        return load_task(task, data_root=data_root) if data_root is not None else load_task(task)
    return task


# ----------------------------------------------------------------------------- distribution
def _dist():
    """(rank, world_size, barrier) from accelerate under ``accelerate launch``, else (0, 1, no-op)."""
    world = max(int(os.environ.get(k, "1") or 1) for k in
                ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"))
    if world <= 1:
        return 0, 1, (lambda: None)
    from accelerate import PartialState
    state = PartialState()
    if state.num_processes == world:
        return state.process_index, state.num_processes, state.wait_for_everyone
    # accelerate did not set up the group (e.g. several CPU processes under torchrun without MPI):
    # use torch.distributed directly with the env:// rendezvous the launcher provides
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size(), dist.barrier


def _default_device(world: int) -> str:
    import torch
    if not torch.cuda.is_available():
        return "cpu"
    if world > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
    return "cuda"


def _after_chunk(k: int) -> None:
    """Called after chunk ``k`` is on disk (tests patch it to simulate a crash)."""



def _plan(items: list[TokenizedItem], chunk_size: int) -> list[int]:
    """Start index of each chunk: consecutive examples, at most ``chunk_size`` rows per chunk."""
    starts, rows = [0], 0
    for i, it in enumerate(items):
        if rows and rows + it.n_rows > chunk_size:
            starts.append(i)
            rows = 0
        rows += it.n_rows
    return starts if items else []


# ----------------------------------------------------------------------------- forward pass
def _forward_chunk(lm, items: list[TokenizedItem], pooling, batch_size: int, *, bar=None,
                   layers: list[int] | None = None):
    """Pooled float32 vectors ``(stored layers, rows, dim)`` of ``items`` in their given order.

    ``pooling`` is one name (returns the array) or a list of names sharing the forward passes
    (returns ``{pooling: array}``); ``layers`` the model layer numbers kept (default: all).
    """
    import torch
    poolings = [pooling] if isinstance(pooling, str) else list(pooling)
    n_rows = sum(it.n_rows for it in items)
    L1 = lm.n_layers + 1
    keep = list(range(L1)) if layers is None else list(layers)
    outs = {p: np.zeros((len(keep), n_rows, lm.hidden_size * (2 if p == "pair" else 1)), dtype=np.float32)
            for p in poolings}
    offsets = np.cumsum([0] + [it.n_rows for it in items])
    order = sorted((i for i, it in enumerate(items) if it.n_rows), key=lambda i: (-len(items[i].input_ids), i))
    pad_id = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    model = lm.model
    device = _input_device(model)
    extra = {"use_cache": False} if lm.is_decoder else {}
    for b0 in range(0, len(order), batch_size):
        batch = [items[i] for i in order[b0:b0 + batch_size]]
        T = max(len(it.input_ids) for it in batch)
        ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), T), dtype=torch.long)
        tt = torch.zeros((len(batch), T), dtype=torch.long) if batch[0].token_type_ids is not None else None
        for r, it in enumerate(batch):
            n = len(it.input_ids)
            ids[r, :n] = torch.tensor(it.input_ids)
            mask[r, :n] = 1
            if tt is not None:
                tt[r, :n] = torch.tensor(it.token_type_ids)
        inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
        if tt is not None:
            inputs["token_type_ids"] = tt.to(device)
        with torch.inference_mode():
            res = model(**inputs, output_hidden_states=True, return_dict=True, **extra)
            hs = res.hidden_states
            if len(hs) != L1:
                raise ValidationError(f"{lm.name} returned {len(hs)} hidden states; expected n_layers+1 = {L1}")
            # only the kept layers are stacked and upcast (with device_map they may sit on several devices)
            hs = torch.stack([hs[l].to(device) for l in keep]).float()
            m = inputs["attention_mask"]
            for p in poolings:
                pooled = _pool(hs, m, p, batch).cpu().numpy()
                row = 0
                for i in order[b0:b0 + batch_size]:
                    k = items[i].n_rows
                    outs[p][:, offsets[i]:offsets[i] + k] = pooled[:, row:row + k]
                    row += k
        if bar is not None:
            bar.update(len(batch))
    return outs[pooling] if isinstance(pooling, str) else outs


def _pool(hs, m, pooling: str, batch):
    import torch
    if pooling == "cls":
        return pool_cls(hs, m)
    if pooling == "last":
        return pool_last(hs, m)
    if pooling == "mean":
        return pool_mean(hs, m)
    spans = [(r, pos) for r, it in enumerate(batch) for sp in it.spans for pos in sp]
    pooled = pool_spans(hs, spans)
    if pooling == "pair":  # rows alternate head, dependent -> concatenate
        pooled = torch.cat([pooled[:, 0::2], pooled[:, 1::2]], dim=2)
    return pooled


def _input_device(model):
    """Where the inputs go: the input embeddings' device (the first shard under ``device_map``)."""
    try:
        return model.get_input_embeddings().weight.device
    except (AttributeError, NotImplementedError):
        return next(model.parameters()).device


# ----------------------------------------------------------------------------- one run, step by step
@dataclass
class _Plan:
    """Everything known before the first forward pass."""

    items: list[TokenizedItem]
    bounds: list[int]            # chunk k holds items[bounds[k]:bounds[k+1]]
    manifest: StoreManifest


@dataclass
class _Target:
    """One store of the call (one per pooling): where it goes, what identifies it, its state."""

    pooling: str
    path: Path
    identity: dict[str, Any]
    old: StoreManifest | None = None
    plan: _Plan | None = None
    manifest: StoreManifest | None = None


def _poolings(pooling) -> list[str]:
    """One pooling name, a comma list (``"last,mean"``) or a sequence, as a list without repeats."""
    raw = [p.strip() for p in pooling.split(",")] if isinstance(pooling, str) else list(pooling or [])
    out: list[str] = []
    for p in raw:
        if not isinstance(p, str) or p not in POOLINGS:
            raise ValidationError(f"pooling={p!r} is not one of {list(POOLINGS)}")
        if p not in out:
            out.append(p)
    if not out:
        raise ValidationError(f"pooling is empty; pass one or more of {list(POOLINGS)}")
    if len(out) > 1 and any(p in WORD_POOLINGS for p in out):
        raise ValidationError(f"pooling={','.join(out)}: word and pair pooling cannot share a pass with another "
                              "pooling (they cut the inputs into word targets); extract them one at a time")
    return out


def _check_args(pooling, dtype, max_length, batch_size, chunk_size, max_examples, lock_timeout) -> None:
    for p in ([pooling] if isinstance(pooling, str) else pooling):
        if p not in POOLINGS:
            raise ValidationError(f"pooling={p!r} is not one of {list(POOLINGS)}")
    if dtype not in STORE_DTYPES:
        raise ValidationError(f"dtype={dtype!r} must be one of {list(STORE_DTYPES)}")
    for name, v in (("max_length", max_length), ("batch_size", batch_size), ("chunk_size", chunk_size)):
        if not isinstance(v, int) or v < 1:
            raise ValidationError(f"{name}={v!r} must be a positive integer")
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValidationError(f"max_examples={max_examples!r} must be a positive integer or None")
    if not isinstance(lock_timeout, (int, float)) or lock_timeout < 0:
        raise ValidationError(f"lock_timeout={lock_timeout!r} must be a number of seconds >= 0")


def _load_split(task, split, pooling, data_root, max_examples):
    task = _resolve_task(task, data_root)
    for p in ([pooling] if isinstance(pooling, str) else pooling):
        if task.kind == "token" and p in SENTENCE_POOLINGS:
            raise ValidationError(f"task {task.name!r} has word-level targets; use pooling='word' (or 'pair' for "
                                  f"head-dependent targets), not {p!r}")
        if task.kind != "token" and p not in SENTENCE_POOLINGS:
            raise ValidationError(f"pooling={p!r} needs a token-level task; {task.name!r} is a {task.kind} task "
                                  "(use 'last', 'cls' or 'mean')")
    examples = task.examples(split)
    if max_examples is not None:
        examples = examples[:max_examples]
    return task, examples


def _read_old(path: Path, overwrite: bool) -> StoreManifest | None:
    """The stored manifest; a damaged one is None when it will be overwritten anyway."""
    try:
        return read_manifest(path)
    except ValidationError:
        if overwrite:
            return None
        raise


def _cache_hit(path: Path, identity: dict[str, Any], overwrite: bool):
    """The complete store with this identity, or None (no lock taken; works on read-only folders)."""
    if overwrite:
        return None
    old = _read_old(path, overwrite)
    if old is None or not old.complete:
        return None
    check_manifest(path, old, identity, plan=False)
    store = RepresentationStore(path)
    if (path / "chunks").is_dir():  # a run killed between marking complete and deleting its chunks
        try:
            with FolderLock(path, purpose="extract: cleanup"):
                remove_chunks(path)
        except (LockHeldError, OSError):
            pass
    return store


def _check_folder(path: Path, old: StoreManifest | None, identity: dict[str, Any], overwrite: bool) -> None:
    """Under the lock: refuse a folder with other settings or with files ftgeo did not write."""
    if old is not None and not overwrite:
        check_manifest(path, old, identity, plan=False)
        return
    if not path.is_dir():
        return
    foreign = foreign_entries(path, old)
    if foreign and old is None and not overwrite:
        raise ValidationError(f"{path} exists, is not empty and holds no manifest.json; refusing to write a store "
                              f"into it (it holds {foreign[0]!r}; pick an empty or new folder)")
    if foreign:
        raise ValidationError(f"refusing to overwrite {path}: it holds {foreign[0]!r}, which ftgeo did not write "
                              f"({len(foreign)} such entr{'y' if len(foreign) == 1 else 'ies'}); move it away or "
                              "pick another output folder")


# ----------------------------------------------------------------------------- layers and dtype
def model_depth(model) -> int:
    """Number of transformer blocks of ``model`` (a LoadedModel, packaged name, folder or hub id), read
    from its config without loading the weights."""
    from ftgeo.models import LoadedModel, _config_int, _load_config_and_tokenizer, _resolve_source
    if isinstance(model, LoadedModel):
        return model.n_layers
    src = _resolve_source(model, None)
    from transformers import AutoConfig
    try:
        config = AutoConfig.from_pretrained(src.path, **src.kwargs)
    except (OSError, ValueError):
        config, _ = _load_config_and_tokenizer(src)  # the same call, with ftgeo's one-line error
    return _config_int(config, "num_hidden_layers", "n_layer", "num_layers")


def layer_request(layers, n_blocks: int | None = None, model=None) -> list[int] | None:
    """The model layer numbers ``layers`` asks for: None for every layer (``None``, ``"all"``, or a
    selection that happens to hold them all), else a sorted list. ``"every:4"``, negative indices and
    ranges need the model's depth, read from ``model``'s config (``n_blocks`` if known)."""
    from ftgeo.reps import parse_layer_spec
    if layers is None or (isinstance(layers, str) and layers.strip() in ("", "all")):
        return None
    if n_blocks is None:
        n_blocks = model_depth(model)
    try:
        sel = parse_layer_spec(layers, n_blocks + 1, what="layers")
    except ValidationError as exc:
        raise ValidationError(f"{exc} (the model has layers 0..{n_blocks}: 0 = embeddings, {n_blocks} = last block)") \
            from None
    return None if sel == list(range(n_blocks + 1)) else sel


def _wants_cuda(device, device_map) -> bool:
    import torch
    if not torch.cuda.is_available():
        return False
    if device_map is not None:
        return True
    return device is None or str(device).startswith("cuda")


def _model_dtype(model, model_dtype, device, device_map) -> str:
    """The dtype the forward passes run in: a LoadedModel's own; else ``model_dtype`` (``auto``: bfloat16 on
    CUDA, float32 on the CPU)."""
    from ftgeo.models import LoadedModel, model_dtype_name
    from ftgeo.models.adapters import resolve_dtype
    if isinstance(model, LoadedModel):
        have = model_dtype_name(model.model)
        if model_dtype not in (None, "auto") and resolve_dtype(model_dtype) != have:
            raise ValidationError(f"the model is already loaded in {have}; model_dtype={model_dtype!r} needs its name "
                                  f"or folder (or load_model(..., dtype={model_dtype!r}))")
        return have
    return resolve_dtype(model_dtype, cuda=_wants_cuda(device, device_map))


# ----------------------------------------------------------------------------- what a run needs
def _gb(b: float) -> str:
    return f"{b / 1e9:.2f} GB" if b >= 1e8 else f"{b / 1e6:.1f} MB"


@dataclass
class Estimate:
    """Disk and memory an extraction needs (bytes): ``store`` the finished stores; ``disk`` the peak
    (chunks plus layer files while consolidating) still to be written; ``weights`` the model; ``batch``
    one batch's hidden states (every layer in the model dtype, the kept layers again in float32)."""

    store: int
    disk: int
    weights: int
    batch: int
    free: int | None = None

    def summary(self) -> str:
        free = f"; {_gb(self.free)} free" if self.free is not None else ""
        return (f"{_gb(self.store)} of stores, {_gb(self.disk)} on disk at the peak (chunks + layer files{free}); "
                f"memory about {_gb(self.weights + self.batch)} (weights {_gb(self.weights)} + "
                f"{_gb(self.batch)} per batch)")


def estimate(targets: list[_Target], lm, *, batch_size: int, dtype: str) -> Estimate:
    """What ``targets`` need on disk and in memory (layers x rows x dims x storage dtype, x2 at the peak)."""
    from ftgeo.extract.manifest import npy_header_len
    item = np.dtype(dtype).itemsize
    store = disk = 0
    for t in targets:
        m = t.manifest
        layer_bytes = npy_header_len((m.n, m.dim), m.dtype) + m.n * m.dim * item
        one = m.n_layers * layer_bytes + m.n * (4 * 32 + 8)  # + ids (unicode) and labels
        store += one
        done = [k for k in range(m.n_chunks) if chunk_done(t.path, k)]
        rows_done = sum(sum(it.n_rows for it in t.plan.items[t.plan.bounds[k]:t.plan.bounds[k + 1]]) for k in done)
        disk += one + max(m.n - rows_done, 0) * m.n_layers * m.dim * item
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    longest = max((len(it.input_ids) for it in targets[0].plan.items), default=1)
    m0 = targets[0].manifest
    elem = next((p.element_size() for p in lm.model.parameters() if p.is_floating_point()), 4)
    batch = batch_size * longest * lm.hidden_size * ((lm.n_layers + 1) * elem + m0.n_layers * 4 * (1 + len(targets)))
    return Estimate(int(store), int(disk), int(weights), int(batch))


def check_disk(path: Path, est: Estimate, what: str) -> Estimate:
    """Refuse (one line, :class:`~ftgeo._atomic.StorageError`) when the file system of ``path`` cannot hold
    ``est.disk``; returns ``est`` with the free space filled in."""
    import errno
    import shutil
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    est.free = int(free)
    if free < est.disk + 2**20:
        raise StorageError(errno.ENOSPC, f"not enough disk space for {what}: it needs {_gb(est.disk)} "
                                         f"(layers x rows x dims x storage dtype, chunks and layer files at the peak) "
                                         f"and {_gb(free)} are free on the file system of {path}; free some space, "
                                         "keep fewer layers (--layers) or store float16 (--dtype float16)")
    return est


# ----------------------------------------------------------------------------- model and plan
def _load_lm(model, device, world: int, progress: bool, dtype: str = "float32", device_map=None):
    from ftgeo.models import LoadedModel, hf_progress_off, load_model
    given = isinstance(model, LoadedModel)
    with hf_progress_off(True if not progress else None):  # progress=False also hides transformers' bars
        lm = model if given else load_model(model, dtype=dtype, device_map=device_map)
    if device_map is not None:  # Accelerate placed the weights
        return lm
    if device is None and not given:
        device = _default_device(world)
    if device is not None:
        lm.model.to(device)
    return lm


def _prepare(lm, task, examples, *, pooling, max_length, chunk_size, identity, split, layers=None,
             items=None) -> _Plan:
    """Validate the model against the request, tokenise, cut into chunks, build the manifest."""
    if pooling == "cls" and lm.is_decoder:
        raise ValidationError(f"pooling='cls' on the decoder {lm.name!r} would take the first token, which attends "
                              "to nothing after it; use pooling='last' or 'mean'")
    check_max_length(lm, max_length)
    if items is None:
        items, dropped = tokenize(lm, task, examples, pooling, max_length)
    else:
        items, dropped = items
    starts = _plan(items, chunk_size)
    n = sum(it.n_rows for it in items)
    if n == 0:
        raise ValidationError(f"{task.name}/{split} gives no rows to extract"
                              + (f" ({dropped} word targets were cut by max_length={max_length})" if dropped else ""))
    keep = list(range(lm.n_layers + 1)) if layers is None else list(layers)
    if keep and keep[-1] > lm.n_layers:
        raise ValidationError(f"layers {keep} go beyond {lm.name}'s layers 0..{lm.n_layers}")
    names = list(lm.layer_names)
    manifest = StoreManifest.from_dict(dict(
        identity, model_source=lm.source, task_kind=task.kind, is_decoder=lm.is_decoder,
        n=n, dim=lm.hidden_size * (2 if pooling == "pair" else 1), n_layers=len(keep), n_blocks=lm.n_layers,
        layers=keep, layer_names=[names[l] for l in keep], label_names=list(task.label_names),
        n_examples=len(examples), dropped_targets=dropped, chunk_size=chunk_size, n_chunks=len(starts),
        chunk_bounds=starts, n_tokens=int(sum(len(it.input_ids) for it in items)), complete=False,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")))
    return _Plan(items, starts + [len(items)], manifest)


def _start(path: Path, plan: _Plan, old: StoreManifest | None, overwrite: bool, rank: int, barrier) -> StoreManifest:
    """Resume (same plan) or start afresh (rank 0 writes the manifest); every rank checks the plan."""
    manifest = plan.manifest
    if old is not None and not overwrite:
        check_manifest(path, old, manifest, plan=True)
        manifest = manifest.replace(created=old.created or manifest.created)
    elif rank == 0:
        with storage_errors(path, "write the store"):
            if old is not None or path.is_dir():
                remove_store(path, old)
            path.mkdir(parents=True, exist_ok=True)
            write_json(path / MANIFEST_NAME, manifest.to_dict())
    barrier()
    if rank != 0:
        check_manifest(path, read_manifest(path) or {}, manifest, plan=True)
    return manifest


def _run_chunks(lm, targets: list[_Target], mine: list[int], *, batch_size, dtype, bar) -> None:
    """Forward passes of the chunks ``mine`` (once for every store missing it), each chunk written atomically
    into each store as soon as it is done."""
    was_training = lm.model.training
    lm.model.eval()  # no dropout, whatever state a fine-tuning loop left the model in
    try:
        dtype_np = np.dtype(dtype)
        plan = targets[0].plan
        for k in mine:
            todo = [t for t in targets if not chunk_done(t.path, k)]
            if not todo:
                continue
            chunk_items = plan.items[plan.bounds[k]:plan.bounds[k + 1]]
            keep = targets[0].manifest.stored_layers
            arrs = _forward_chunk(lm, chunk_items, [t.pooling for t in todo], batch_size, bar=bar, layers=keep)
            bar.update(sum(1 for it in chunk_items if not it.n_rows))
            ids = np.asarray([r for it in chunk_items for r in it.row_ids], dtype=str)
            labels = np.asarray([r for it in chunk_items for r in it.row_labels], dtype=np.int64)
            for t in todo:
                with storage_errors(t.path, "write a chunk of the store"):
                    write_chunk(t.path, k, arrs[t.pooling].astype(dtype_np), ids, labels, layer_numbers=keep)
            _after_chunk(k)
    finally:
        bar.close()
        lm.model.train(was_training)


# ----------------------------------------------------------------------------- public
def extract(model, task, split: str, *, pooling, out, max_length: int = 128, batch_size: int = 32,
            dtype: str = "float16", checkpoint: str | None = None, max_examples: int | None = None,
            data_root=None, overwrite: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
            device: str | None = None, progress: bool = True, lock_timeout: float = 0.0, layers=None,
            model_dtype: str | None = "auto", device_map=None):
    """Extract the pooled representations of every layer (or of ``layers``) of ``task``/``split`` into a store.

    Parameters
    ----------
    model : a :class:`~ftgeo.models.LoadedModel` or anything :func:`~ftgeo.models.load_model`
        accepts (packaged name, HF folder such as a fine-tuning checkpoint -- a PEFT adapter folder
        is merged into its base --, hub id).
    task : a :class:`~ftgeo.data.base.Task` or a task name (loaded with ``data_root``).
    pooling : ``last``/``cls``/``mean`` (sentence, pair and unlabelled tasks), ``word``/``pair``
        (token tasks; ``pair`` needs (head, dependent) targets and stores 2*hidden dims).
        ``cls`` on a decoder raises: its first token never sees the rest of the input. Several
        names (a list, or ``"last,mean"``) share one forward pass and give one store each; ``out``
        must then be a run folder, and the result is ``{pooling: store}``.
    out : the store folder, or a run folder / :class:`~ftgeo.run.RunDir`, in which case the
        store is ``run/reps/<store_key(...)>``.
    max_length : truncate inputs to this many tokens; more than the model's positions raises.
    dtype : storage dtype, ``float16`` (default, half the disk) or ``float32``; the forward
        pass runs in the model's dtype and pooling in float32.
    checkpoint : optional label of the model's checkpoint (recorded and part of the key).
    max_examples : keep only the first N examples of the split.
    overwrite : replace a store written with other settings instead of raising (only files
        ftgeo wrote are removed; a folder holding anything else is refused).
    chunk_size : at most this many output rows per resumable chunk.
    device : where to run the forward passes. Default: a model given as a ``LoadedModel`` stays
        where it is; a model loaded here goes to this rank's accelerator (CUDA if available) or the CPU.
    lock_timeout : seconds to wait for another process writing the same store (default 0:
        fail at once with a message naming it).
    layers : the layers to keep (default all): model layer numbers ``"0,8,16,24,32"`` (or a list),
        ranges ``"0-4"``, ``"every:4"`` (0, 4, 8, ... and the last layer), ``"last"``, negative indices
        from the end. The store keeps the model's numbering (``store.layer(8)``, ``store.layers``).
    model_dtype : the dtype the model runs in: ``auto`` (default: bfloat16 on CUDA, float32 on the
        CPU), ``float32``, ``bfloat16`` or ``float16`` (recorded; part of the identity).
    device_map : ``"auto"`` spreads a model that does not fit one device over the visible GPUs (and
        the CPU) with Accelerate (single process only).

    Returns the opened :class:`~ftgeo.extract.store.RepresentationStore` (a dict of them for several
    poolings). Before the forward passes the disk and memory needed are printed (``progress=True``);
    a file system that cannot hold the stores raises :class:`~ftgeo._atomic.StorageError` before
    anything is written.
    """
    from ftgeo import __version__
    from ftgeo.data.base import fingerprint_examples

    poolings = _poolings(pooling)
    _check_args(poolings, dtype, max_length, batch_size, chunk_size, max_examples, lock_timeout)
    if device_map not in (None, "auto") and not isinstance(device_map, dict):
        raise ValidationError(f"device_map={device_map!r} must be 'auto' (or a dict for from_pretrained), or None")
    several = not isinstance(pooling, str) or len(poolings) > 1
    task, examples = _load_split(task, split, poolings, data_root, max_examples)
    ident = model_identity(model)
    from ftgeo.models import LoadedModel
    lay = layer_request(layers, model.n_layers if isinstance(model, LoadedModel) else None, model)
    mdtype = _model_dtype(model, model_dtype, device, device_map)
    if several and not is_run_folder(out):
        raise ValidationError(f"several poolings ({', '.join(poolings)}) make one store each: pass a run folder as "
                              "out (CLI --run), not a single store folder")
    fingerprint = fingerprint_examples(examples, task.label_names)
    targets = []
    for p in poolings:
        if is_run_folder(out):
            run = out if isinstance(out, RunDir) else RunDir(out)
            path = run.reps / store_key(ident.name, task.name, split, p, checkpoint=checkpoint, max_length=max_length,
                                        max_examples=max_examples, layers=lay, model_dtype=mdtype)
        else:
            path = Path(out)
        identity = {"format": FORMAT, "model": ident.name, "model_id": ident.id, "checkpoint": checkpoint,
                    "task": task.name, "split": split, "pooling": p, "max_length": max_length, "dtype": dtype,
                    "max_examples": max_examples, "fingerprint": fingerprint, "ftgeo_version": __version__,
                    "layers": lay, "model_dtype": mdtype}
        targets.append(_Target(p, path, identity))
    done: dict[str, RepresentationStore] = {}
    for t in targets:
        hit = _cache_hit(t.path, t.identity, overwrite)
        if hit is not None:
            done[t.pooling] = hit
    todo = [t for t in targets if t.pooling not in done]
    if todo:
        rank, world, barrier = _dist()
        if device_map is not None and world > 1:
            raise ValidationError("device_map spreads one model over the devices of one process; under a launcher "
                                  f"({world} processes) each process takes its own device: drop device_map")
        locks = [FolderLock(t.path, purpose=f"extract {ident.name} {task.name}/{split} {t.pooling}",
                            timeout=lock_timeout) for t in sorted(todo, key=lambda t: str(t.path))]
        try:
            if rank == 0:
                for lock, t in zip(locks, sorted(todo, key=lambda t: str(t.path))):
                    with storage_errors(t.path, "write the store"):
                        lock.acquire()
            done.update(_extract_locked(model, task, split, examples, todo, rank=rank, world=world, barrier=barrier,
                                        max_length=max_length, batch_size=batch_size, dtype=dtype,
                                        overwrite=overwrite, chunk_size=chunk_size, device=device, progress=progress,
                                        layers=lay, model_dtype=mdtype, device_map=device_map))
        finally:
            for lock in reversed(locks):
                lock.release()
    if not several:
        return done[poolings[0]]
    return {p: done[p] for p in poolings}


def _extract_locked(model, task, split, examples, targets: list[_Target], *, rank, world, barrier, max_length,
                    batch_size, dtype, overwrite, chunk_size, device, progress, layers=None, model_dtype="float32",
                    device_map=None) -> dict[str, RepresentationStore]:
    """The part of :func:`extract` that runs while rank 0 holds the stores' locks."""
    from ftgeo.progress import progress as _progress
    if rank == 0:
        for t in targets:
            with storage_errors(t.path, "clean up the store"):
                clean_store_tmp(t.path)
    barrier()
    out: dict[str, RepresentationStore] = {}
    for t in targets:
        t.old = _read_old(t.path, overwrite)
        _check_folder(t.path, t.old, t.identity, overwrite)
    barrier()  # every rank has read the folders before rank 0 changes them
    for t in targets:
        if t.old is not None and t.old.complete and not overwrite:  # finished by the writer we waited for
            out[t.pooling] = RepresentationStore(t.path)
    todo = [t for t in targets if t.pooling not in out]
    if not todo:
        return out
    lm = _load_lm(model, device, world, progress, model_dtype, device_map)
    sentence_items = None
    for t in todo:
        items = None
        if t.pooling in SENTENCE_POOLINGS:  # the same tokenisation for every sentence pooling
            if sentence_items is None and not (t.pooling == "cls" and lm.is_decoder):
                sentence_items = tokenize(lm, task, examples, t.pooling, max_length)
            items = sentence_items
        t.plan = _prepare(lm, task, examples, pooling=t.pooling, max_length=max_length, chunk_size=chunk_size,
                          identity=t.identity, split=split, layers=layers, items=items)
        t.manifest = t.plan.manifest
    what = f"extract {todo[0].identity['model']} {task.name}/{split} {','.join(t.pooling for t in todo)}"
    est = check_disk(todo[0].path, estimate(todo, lm, batch_size=batch_size, dtype=dtype), what)
    if progress and rank == 0:
        m = todo[0].manifest
        print(f"{what}: {m.n_layers} of {lm.n_layers + 1} layers x {m.n} rows x {m.dim} dims x {dtype} x "
              f"{len(todo)} store(s) = {est.summary()}", file=sys.stderr, flush=True)
    for t in todo:
        t.manifest = _start(t.path, t.plan, t.old, overwrite, rank, barrier)
    plan = todo[0].plan
    n_chunks = len(plan.bounds) - 1
    mine = [k for k in range(n_chunks) if k % world == rank and any(not chunk_done(t.path, k) for t in todo)]
    bar = _progress(total=sum(plan.bounds[k + 1] - plan.bounds[k] for k in mine), enabled=progress and rank == 0,
                    unit="ex", desc=what)
    t0 = time.perf_counter()
    _run_chunks(lm, todo, mine, batch_size=batch_size, dtype=dtype, bar=bar)
    seconds = round(time.perf_counter() - t0, 3)
    barrier()
    if rank == 0:
        for t in todo:
            consolidate(t.path, t.manifest.replace(seconds=seconds))
    barrier()
    for t in todo:
        out[t.pooling] = RepresentationStore(t.path)
    return out
