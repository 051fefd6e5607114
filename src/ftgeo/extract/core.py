"""``extract``: batched, length-sorted forward passes into a resumable on-disk store.

Plan of one run:

1. load the task split (``max_examples`` keeps the first N examples) and fingerprint it;
2. look at ``out``: a complete store with the same identity is a cache hit (returned at
   once, the model is not even loaded); a store with a different identity raises
   :class:`~ftgeo.errors.ManifestMismatchError` (``overwrite=True`` replaces it); a half-written
   one with the same identity is resumed;
3. tokenise everything (truncation at ``max_length``) and cut the examples, in their original
   order, into chunks of at most ``chunk_size`` output rows;
4. for each chunk not yet on disk (under ``accelerate launch``: the chunks ``k`` with
   ``k % world_size == rank``): sort its examples by token length, run batches of
   ``batch_size`` under ``torch.inference_mode()``, pool every layer, put the rows back in
   the original order and write ``chunks/NNNNN.npz`` atomically;
5. (rank 0, after every chunk exists) stream the chunks into ``layers/layer_XX.npy`` and mark
   the manifest complete.

Word targets whose word lost sub-tokens to ``max_length`` truncation are dropped, and counted
in the manifest (``dropped_targets``); nothing is silently cut in half.
"""
from __future__ import annotations

import bisect
import datetime as _dt
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ftgeo._atomic import write_json
from ftgeo.errors import ValidationError
from ftgeo.extract.pooling import (POOLINGS, SENTENCE_POOLINGS, pool_cls, pool_last, pool_mean, pool_spans)
from ftgeo.extract.store import (FORMAT, RepresentationStore, check_manifest, chunk_done, consolidate,
                                 read_manifest, write_chunk)

DEFAULT_CHUNK_SIZE = 1024
STORE_DTYPES = ("float16", "float32")


# ----------------------------------------------------------------------------- helpers
@dataclass
class _Item:
    """One example after tokenisation; ``spans`` lists, per output row, the token positions of its words."""

    input_ids: list[int]
    token_type_ids: list[int] | None
    row_ids: list[str] = field(default_factory=list)
    row_labels: list[int] = field(default_factory=list)
    spans: list[tuple[list[int], ...]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.row_ids)


def _slug(s: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", str(s)).strip("-") or "x"


def store_key(model: str, task: str, split: str, pooling: str, *, checkpoint: str | None = None,
              max_length: int = 128, max_examples: int | None = None) -> str:
    """Readable folder name of a store inside ``run/reps``: ``model[@checkpoint]__task__split__pooling[...]``."""
    parts = [_slug(model) + (f"@{_slug(checkpoint)}" if checkpoint else ""), _slug(task), _slug(split), pooling]
    if max_length != 128:
        parts.append(f"ml{max_length}")
    if max_examples is not None:
        parts.append(f"n{max_examples}")
    return "__".join(parts)


def _model_identity(model) -> tuple[str, str, str | None]:
    """(display name, identity, source) without loading the model when it is a name or a path."""
    from ftgeo.models import MODELS, LoadedModel, folder_model_name
    if isinstance(model, LoadedModel):
        ident = model.name if model.name in MODELS else model.source
        return model.name, ident, model.source
    raw = str(model)
    if raw in MODELS:
        return raw, raw, None
    p = Path(raw).expanduser()
    if p.is_dir():
        return folder_model_name(p.resolve()), str(p.resolve()), str(p.resolve())
    return raw, raw, raw


def _resolve_task(task, data_root):
    if isinstance(task, str):
        from ftgeo.data import load_task
        return load_task(task, data_root=data_root) if data_root is not None else load_task(task)
    return task


def _is_run_folder(out) -> bool:
    from ftgeo.run import RunDir
    if isinstance(out, RunDir):
        return True
    p = Path(out)
    if (p / "manifest.json").is_file():
        return False
    return (p / "reps").is_dir() or (p / "config.yaml").is_file() or (p / "models").is_dir()


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


# ----------------------------------------------------------------------------- tokenisation
def _tokenize(lm, task, examples, pooling: str, max_length: int) -> tuple[list[_Item], int]:
    tok = lm.tokenizer
    use_tt = (not lm.is_decoder) and "token_type_ids" in getattr(tok, "model_input_names", [])
    items: list[_Item] = []
    if task.kind != "token":
        texts = [ex.text or "" for ex in examples]
        if task.kind == "pair":
            enc = tok(texts, [ex.text_pair or "" for ex in examples], truncation=True, max_length=max_length)
        else:
            enc = tok(texts, truncation=True, max_length=max_length)
        for i, ex in enumerate(examples):
            tt = enc["token_type_ids"][i] if use_tt and "token_type_ids" in enc else None
            items.append(_Item(enc["input_ids"][i], tt, [str(ex.id)], [int(ex.label)], [()]))
        return items, 0

    if not getattr(tok, "is_fast", False):
        raise ValidationError("word and pair pooling need a fast tokenizer (character offsets); "
                              f"{type(tok).__name__} is not one")
    texts, starts_all = [], []
    for ex in examples:
        words = list(ex.words or ())
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        starts_all.append(starts)
        texts.append(" ".join(words))
    kw = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    enc = tok(texts, truncation=True, max_length=max_length, **kw)
    dropped = 0
    need = 1 if pooling == "word" else 2
    for i, ex in enumerate(examples):
        words = list(ex.words or ())
        word_tokens = _word_tokens(texts[i], starts_all[i], words, enc["offset_mapping"][i],
                                   enc["special_tokens_mask"][i])
        if len(enc["input_ids"][i]) >= max_length:  # maybe truncated: compare with the full tokenisation
            full = tok(texts[i], truncation=False, **kw)
            full_tokens = _word_tokens(texts[i], starts_all[i], words, full["offset_mapping"], full["special_tokens_mask"])
            cut = {w for w in range(len(words)) if len(word_tokens[w]) != len(full_tokens[w])}
        else:
            cut = set()
        item = _Item(enc["input_ids"][i], enc["token_type_ids"][i] if use_tt and "token_type_ids" in enc else None)
        for j, t in enumerate(ex.targets):
            idx = tuple(int(w) for w in t.word_indices)
            if len(idx) != need:
                raise ValidationError(
                    f"example {ex.id!r} target {j} names {len(idx)} word(s) {idx}; pooling={pooling!r} needs {need} "
                    + ("(use pooling='pair' for head-dependent targets)" if need == 1 else
                       "(use pooling='word' for single-word targets)"))
            bad = [w for w in idx if not 0 <= w < len(words)]
            if bad:
                raise ValidationError(f"example {ex.id!r} target {j}: word index {bad[0]} is outside 0..{len(words) - 1}")
            if any(w in cut or not word_tokens[w] for w in idx):
                dropped += 1
                continue
            item.row_ids.append(f"{ex.id}:{j}")
            item.row_labels.append(int(t.label))
            item.spans.append(tuple(word_tokens[w] for w in idx))
        items.append(item)
    return items, dropped


def _word_tokens(text: str, starts: Sequence[int], words: Sequence[str], offsets, special) -> list[list[int]]:
    """Token positions of every word, from the tokens' character offsets in ``" ".join(words)``.

    A token belongs to the word holding its first non-space character (byte-level BPE puts
    the preceding space into the token, e.g. ``"Ġdog"``); special tokens belong to no word.
    """
    out: list[list[int]] = [[] for _ in words]
    if not words:
        return out
    for t, ((s, e), sp) in enumerate(zip(offsets, special)):
        if sp or e <= s:
            continue
        c = s
        while c < e and text[c] == " ":
            c += 1
        w = bisect.bisect_right(starts, c) - 1
        if 0 <= w < len(words) and c < starts[w] + max(len(words[w]), 1):
            out[w].append(t)  # (a bare-space token ends at the next word's start and lands there)
    return out


def _plan(items: list[_Item], chunk_size: int) -> list[int]:
    """Start index of each chunk: consecutive examples, at most ``chunk_size`` rows per chunk."""
    starts, rows = [0], 0
    for i, it in enumerate(items):
        if rows and rows + it.n_rows > chunk_size:
            starts.append(i)
            rows = 0
        rows += it.n_rows
    return starts if items else []


# ----------------------------------------------------------------------------- forward pass
def _forward_chunk(lm, items: list[_Item], pooling: str, batch_size: int, *, bar=None) -> np.ndarray:
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


# ----------------------------------------------------------------------------- public
def extract(model, task, split: str, *, pooling: str, out, max_length: int = 128, batch_size: int = 32,
            dtype: str = "float16", checkpoint: str | None = None, max_examples: int | None = None,
            data_root=None, overwrite: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
            device: str | None = None, progress: bool = True) -> RepresentationStore:
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
    dtype : storage dtype, ``float16`` (default, half the disk) or ``float32``; the forward
        pass and pooling always run in the model's dtype and pooling in float32.
    checkpoint : optional label of the model's checkpoint (recorded and part of the key).
    max_examples : keep only the first N examples of the split.
    overwrite : replace a store written with other settings instead of raising.
    chunk_size : at most this many output rows per resumable chunk.
    device : where to run the forward passes. Default: a model given as a ``LoadedModel`` stays
        where it is; a model loaded here goes to this rank's accelerator (CUDA if available) or the CPU.

    Returns the opened :class:`~ftgeo.extract.store.RepresentationStore`.
    """
    from ftgeo import __version__
    from ftgeo.progress import progress as _progress
    from ftgeo.run import RunDir

    if pooling not in POOLINGS:
        raise ValidationError(f"pooling={pooling!r} is not one of {list(POOLINGS)}")
    if dtype not in STORE_DTYPES:
        raise ValidationError(f"dtype={dtype!r} must be one of {list(STORE_DTYPES)}")
    for name, v in (("max_length", max_length), ("batch_size", batch_size), ("chunk_size", chunk_size)):
        if not isinstance(v, int) or v < 1:
            raise ValidationError(f"{name}={v!r} must be a positive integer")
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValidationError(f"max_examples={max_examples!r} must be a positive integer or None")

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
    from ftgeo.data.base import fingerprint_examples
    fingerprint = fingerprint_examples(examples, task.label_names)

    display, ident, _ = _model_identity(model)
    if _is_run_folder(out):
        run = out if isinstance(out, RunDir) else RunDir(out)
        path = run.reps / store_key(display, task.name, split, pooling, checkpoint=checkpoint,
                                    max_length=max_length, max_examples=max_examples)
    else:
        path = Path(out)
    identity = {"format": FORMAT, "model": display, "model_id": ident, "checkpoint": checkpoint, "task": task.name,
                "split": split, "pooling": pooling, "max_length": max_length, "dtype": dtype,
                "max_examples": max_examples, "fingerprint": fingerprint, "ftgeo_version": __version__}

    rank, world, barrier = _dist()
    old = read_manifest(path)
    if old is not None and overwrite:
        if rank == 0:
            shutil.rmtree(path)
        barrier()
        old = None
    elif old is None and path.is_dir() and any(path.iterdir()) and rank == 0 and not overwrite:
        raise ValidationError(f"{path} exists, is not empty and holds no manifest.json; refusing to write a store "
                              "into it (pick an empty or new folder)")
    if old is not None:
        check_manifest(path, old, identity, plan=False)
        if old.get("complete"):
            return RepresentationStore(path)

    # -- load the model, tokenise, plan
    from ftgeo.models import LoadedModel, hf_progress_off, load_model
    given = isinstance(model, LoadedModel)
    with hf_progress_off(True if not progress else None):  # progress=False also hides transformers' bars
        lm = load_model(model)
    if device is None and not given:
        device = _default_device(world)
    if device is not None:
        lm.model.to(device)
    if pooling == "cls" and lm.is_decoder:
        raise ValidationError(f"pooling='cls' on the decoder {lm.name!r} would take the first token, which attends "
                              "to nothing after it; use pooling='last' or 'mean'")
    items, dropped = _tokenize(lm, task, examples, pooling, max_length)
    starts = _plan(items, chunk_size)
    bounds = starts + [len(items)]
    n = sum(it.n_rows for it in items)
    dim = lm.hidden_size * (2 if pooling == "pair" else 1)
    manifest = dict(identity, model_source=lm.source, task_kind=task.kind, is_decoder=lm.is_decoder,
                    n=n, dim=dim, n_layers=lm.n_layers + 1, n_blocks=lm.n_layers, layer_names=list(lm.layer_names),
                    label_names=list(task.label_names), n_examples=len(examples), dropped_targets=dropped,
                    chunk_size=chunk_size, n_chunks=len(starts), chunk_bounds=starts,
                    n_tokens=int(sum(len(it.input_ids) for it in items)), complete=False,
                    created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if n == 0:
        raise ValidationError(f"{task.name}/{split} gives no rows to extract"
                              + (f" ({dropped} word targets were cut by max_length={max_length})" if dropped else ""))
    if old is not None:
        check_manifest(path, old, manifest, plan=True)
        manifest["created"] = old.get("created", manifest["created"])
    elif rank == 0:
        path.mkdir(parents=True, exist_ok=True)
        write_json(path / "manifest.json", manifest)
    barrier()
    if rank != 0:
        check_manifest(path, read_manifest(path) or {}, manifest, plan=True)

    # -- forward passes, one chunk at a time
    mine = [k for k in range(len(starts)) if k % world == rank and not chunk_done(path, k)]
    todo_examples = sum(bounds[k + 1] - bounds[k] for k in mine)
    t0 = time.perf_counter()
    bar = _progress(total=todo_examples, enabled=progress and rank == 0, unit="ex",
                    desc=f"extract {display} {task.name}/{split} {pooling}")
    was_training = lm.model.training
    lm.model.eval()  # no dropout, whatever state a fine-tuning loop left the model in
    try:
        dtype_np = np.dtype(dtype)
        for k in mine:
            chunk_items = items[bounds[k]:bounds[k + 1]]
            arr = _forward_chunk(lm, chunk_items, pooling, batch_size, bar=bar)
            bar.update(sum(1 for it in chunk_items if not it.n_rows))
            ids = np.asarray([r for it in chunk_items for r in it.row_ids], dtype=str)
            labels = np.asarray([r for it in chunk_items for r in it.row_labels], dtype=np.int64)
            write_chunk(path, k, arr.astype(dtype_np), ids, labels)
            _after_chunk(k)
    finally:
        bar.close()
        lm.model.train(was_training)
    manifest["seconds"] = round(time.perf_counter() - t0, 3)
    barrier()
    if rank == 0:
        consolidate(path, manifest)
    barrier()
    return RepresentationStore(path)
