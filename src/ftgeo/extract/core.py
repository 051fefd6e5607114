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
"""
from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftgeo._atomic import storage_errors, write_json
from ftgeo._lock import FolderLock, LockHeldError
from ftgeo.errors import ValidationError
from ftgeo.extract.identity import model_identity
from ftgeo.extract.manifest import FORMAT, MANIFEST_NAME, STORE_DTYPES, StoreManifest, check_manifest, read_manifest
from ftgeo.extract.pooling import POOLINGS, SENTENCE_POOLINGS, pool_cls, pool_last, pool_mean, pool_spans
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
              max_length: int = 128, max_examples: int | None = None) -> str:
    """Readable folder name of a store inside ``run/reps``: ``model[@checkpoint]__task__split__pooling[...]``."""
    parts = [slug(model) + (f"@{slug(checkpoint)}" if checkpoint else ""), slug(task), slug(split), pooling]
    if max_length != 128:
        parts.append(f"ml{max_length}")
    if max_examples is not None:
        parts.append(f"n{max_examples}")
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
def _forward_chunk(lm, items: list[TokenizedItem], pooling: str, batch_size: int, *, bar=None) -> np.ndarray:
    """Pooled float32 vectors ``(L+1, rows, dim)`` of ``items`` in their given order."""
    import torch
    n_rows = sum(it.n_rows for it in items)
    L1 = lm.n_layers + 1
    dim = lm.hidden_size * (2 if pooling == "pair" else 1)
    out = np.zeros((L1, n_rows, dim), dtype=np.float32)
    offsets = np.cumsum([0] + [it.n_rows for it in items])
    order = sorted((i for i, it in enumerate(items) if it.n_rows), key=lambda i: (-len(items[i].input_ids), i))
    pad_id = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    model = lm.model
    device = next(model.parameters()).device
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
            hs = torch.stack(hs).float()
            m = inputs["attention_mask"]
            if pooling == "cls":
                pooled = pool_cls(hs, m)
            elif pooling == "last":
                pooled = pool_last(hs, m)
            elif pooling == "mean":
                pooled = pool_mean(hs, m)
            else:
                spans = [(r, pos) for r, it in enumerate(batch) for sp in it.spans for pos in sp]
                pooled = pool_spans(hs, spans)
                if pooling == "pair":  # rows alternate head, dependent -> concatenate
                    pooled = torch.cat([pooled[:, 0::2], pooled[:, 1::2]], dim=2)
            pooled = pooled.cpu().numpy()
        row = 0
        for i in order[b0:b0 + batch_size]:
            k = items[i].n_rows
            out[:, offsets[i]:offsets[i] + k] = pooled[:, row:row + k]
            row += k
        if bar is not None:
            bar.update(len(batch))
    return out


# ----------------------------------------------------------------------------- one run, step by step
@dataclass
class _Plan:
    """Everything known before the first forward pass."""

    items: list[TokenizedItem]
    bounds: list[int]            # chunk k holds items[bounds[k]:bounds[k+1]]
    manifest: StoreManifest


def _check_args(pooling, dtype, max_length, batch_size, chunk_size, max_examples, lock_timeout) -> None:
    if pooling not in POOLINGS:
        raise ValidationError(f"pooling={pooling!r} is not one of {list(POOLINGS)}")
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
    if task.kind == "token" and pooling in SENTENCE_POOLINGS:
        raise ValidationError(f"task {task.name!r} has word-level targets; use pooling='word' (or 'pair' for "
                              f"head-dependent targets), not {pooling!r}")
    if task.kind != "token" and pooling not in SENTENCE_POOLINGS:
        raise ValidationError(f"pooling={pooling!r} needs a token-level task; {task.name!r} is a {task.kind} task "
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


def _load_lm(model, device, world: int, progress: bool):
    from ftgeo.models import LoadedModel, hf_progress_off, load_model
    given = isinstance(model, LoadedModel)
    with hf_progress_off(True if not progress else None):  # progress=False also hides transformers' bars
        lm = load_model(model)
    if device is None and not given:
        device = _default_device(world)
    if device is not None:
        lm.model.to(device)
    return lm


def _prepare(lm, task, examples, *, pooling, max_length, chunk_size, identity, split) -> _Plan:
    """Validate the model against the request, tokenise, cut into chunks, build the manifest."""
    if pooling == "cls" and lm.is_decoder:
        raise ValidationError(f"pooling='cls' on the decoder {lm.name!r} would take the first token, which attends "
                              "to nothing after it; use pooling='last' or 'mean'")
    check_max_length(lm, max_length)
    items, dropped = tokenize(lm, task, examples, pooling, max_length)
    starts = _plan(items, chunk_size)
    n = sum(it.n_rows for it in items)
    if n == 0:
        raise ValidationError(f"{task.name}/{split} gives no rows to extract"
                              + (f" ({dropped} word targets were cut by max_length={max_length})" if dropped else ""))
    manifest = StoreManifest.from_dict(dict(
        identity, model_source=lm.source, task_kind=task.kind, is_decoder=lm.is_decoder,
        n=n, dim=lm.hidden_size * (2 if pooling == "pair" else 1), n_layers=lm.n_layers + 1, n_blocks=lm.n_layers,
        layer_names=list(lm.layer_names), label_names=list(task.label_names), n_examples=len(examples),
        dropped_targets=dropped, chunk_size=chunk_size, n_chunks=len(starts), chunk_bounds=starts,
        n_tokens=int(sum(len(it.input_ids) for it in items)), complete=False,
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


def _run_chunks(lm, path: Path, plan: _Plan, mine: list[int], *, pooling, batch_size, dtype, bar) -> None:
    """Forward passes of the chunks ``mine``, each written atomically as soon as it is done."""
    was_training = lm.model.training
    lm.model.eval()  # no dropout, whatever state a fine-tuning loop left the model in
    try:
        dtype_np = np.dtype(dtype)
        for k in mine:
            chunk_items = plan.items[plan.bounds[k]:plan.bounds[k + 1]]
            arr = _forward_chunk(lm, chunk_items, pooling, batch_size, bar=bar)
            bar.update(sum(1 for it in chunk_items if not it.n_rows))
            ids = np.asarray([r for it in chunk_items for r in it.row_ids], dtype=str)
            labels = np.asarray([r for it in chunk_items for r in it.row_labels], dtype=np.int64)
            with storage_errors(path, "write a chunk of the store"):
                write_chunk(path, k, arr.astype(dtype_np), ids, labels)
            _after_chunk(k)
    finally:
        bar.close()
        lm.model.train(was_training)


# ----------------------------------------------------------------------------- public
def extract(model, task, split: str, *, pooling: str, out, max_length: int = 128, batch_size: int = 32,
            dtype: str = "float16", checkpoint: str | None = None, max_examples: int | None = None,
            data_root=None, overwrite: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
            device: str | None = None, progress: bool = True, lock_timeout: float = 0.0) -> RepresentationStore:
    """Extract every layer's pooled representations of ``task``/``split`` into a store.

    Parameters
    ----------
    model : a :class:`~ftgeo.models.LoadedModel` or anything :func:`~ftgeo.models.load_model`
        accepts (packaged name, HF folder such as a fine-tuning checkpoint, hub id).
    task : a :class:`~ftgeo.data.base.Task` or a task name (loaded with ``data_root``).
    pooling : ``last``/``cls``/``mean`` (sentence, pair and unlabelled tasks), ``word``/``pair``
        (token tasks; ``pair`` needs (head, dependent) targets and stores 2*hidden dims).
        ``cls`` on a decoder raises: its first token never sees the rest of the input.
    out : the store folder, or a run folder / :class:`~ftgeo.run.RunDir`, in which case the
        store is ``run/reps/<store_key(...)>``.
    max_length : truncate inputs to this many tokens; more than the model's positions raises.
    dtype : storage dtype, ``float16`` (default, half the disk) or ``float32``; the forward
        pass and pooling always run in the model's dtype and pooling in float32.
    checkpoint : optional label of the model's checkpoint (recorded and part of the key).
    max_examples : keep only the first N examples of the split.
    overwrite : replace a store written with other settings instead of raising (only files
        ftgeo wrote are removed; a folder holding anything else is refused).
    chunk_size : at most this many output rows per resumable chunk.
    device : where to run the forward passes. Default: a model given as a ``LoadedModel`` stays
        where it is; a model loaded here goes to this rank's accelerator (CUDA if available) or the CPU.
    lock_timeout : seconds to wait for another process writing the same store (default 0:
        fail at once with a message naming it).

    Returns the opened :class:`~ftgeo.extract.store.RepresentationStore`.
    """
    from ftgeo import __version__
    from ftgeo.data.base import fingerprint_examples

    _check_args(pooling, dtype, max_length, batch_size, chunk_size, max_examples, lock_timeout)
    task, examples = _load_split(task, split, pooling, data_root, max_examples)
    ident = model_identity(model)
    if is_run_folder(out):
        run = out if isinstance(out, RunDir) else RunDir(out)
        path = run.reps / store_key(ident.name, task.name, split, pooling, checkpoint=checkpoint,
                                    max_length=max_length, max_examples=max_examples)
    else:
        path = Path(out)
    identity = {"format": FORMAT, "model": ident.name, "model_id": ident.id, "checkpoint": checkpoint,
                "task": task.name, "split": split, "pooling": pooling, "max_length": max_length, "dtype": dtype,
                "max_examples": max_examples, "fingerprint": fingerprint_examples(examples, task.label_names),
                "ftgeo_version": __version__}
    hit = _cache_hit(path, identity, overwrite)
    if hit is not None:
        return hit
    rank, world, barrier = _dist()
    lock = FolderLock(path, purpose=f"extract {ident.name} {task.name}/{split} {pooling}", timeout=lock_timeout)
    if rank == 0:
        with storage_errors(path, "write the store"):
            lock.acquire()
    try:
        return _extract_locked(model, task, split, examples, path, identity, rank=rank, world=world, barrier=barrier,
                               pooling=pooling, max_length=max_length, batch_size=batch_size, dtype=dtype,
                               overwrite=overwrite, chunk_size=chunk_size, device=device, progress=progress)
    finally:
        lock.release()


def _extract_locked(model, task, split, examples, path: Path, identity, *, rank, world, barrier, pooling,
                    max_length, batch_size, dtype, overwrite, chunk_size, device, progress) -> RepresentationStore:
    """The part of :func:`extract` that runs while rank 0 holds the store's lock."""
    from ftgeo.progress import progress as _progress
    if rank == 0:
        with storage_errors(path, "clean up the store"):
            clean_store_tmp(path)
    barrier()
    old = _read_old(path, overwrite)
    _check_folder(path, old, identity, overwrite)
    barrier()  # every rank has read the folder before rank 0 changes it
    if old is not None and old.complete and not overwrite:  # finished by the writer we waited for
        return RepresentationStore(path)
    lm = _load_lm(model, device, world, progress)
    plan = _prepare(lm, task, examples, pooling=pooling, max_length=max_length, chunk_size=chunk_size,
                    identity=identity, split=split)
    manifest = _start(path, plan, old, overwrite, rank, barrier)
    n_chunks = len(plan.bounds) - 1
    mine = [k for k in range(n_chunks) if k % world == rank and not chunk_done(path, k)]
    bar = _progress(total=sum(plan.bounds[k + 1] - plan.bounds[k] for k in mine), enabled=progress and rank == 0,
                    unit="ex", desc=f"extract {identity['model']} {task.name}/{split} {pooling}")
    t0 = time.perf_counter()
    _run_chunks(lm, path, plan, mine, pooling=pooling, batch_size=batch_size, dtype=dtype, bar=bar)
    manifest = manifest.replace(seconds=round(time.perf_counter() - t0, 3))
    barrier()
    if rank == 0:
        consolidate(path, manifest)
    barrier()
    return RepresentationStore(path)
