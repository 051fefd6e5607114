"""The on-disk representation store written by :func:`ftgeo.extract.extract`.

Layout of one store folder::

    manifest.json          what produced it (see MANIFEST_KEYS) and whether it is complete
    chunks/00000.npz ...   while extracting: one file per chunk of examples (atomic writes);
                           members layer_00 .. layer_LL, ids, labels. Deleted once consolidated.
    layers/layer_00.npy    when complete: one (n, dim) array per layer (memory-mapped on read)
    ids.npy, labels.npy    (n,) str and int64

:func:`open_reps` returns a :class:`RepresentationStore` (the ``ftgeo.reps.Representations``
protocol): ``.layer(i)`` opens only ``layers/layer_{i:02d}.npy``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ftgeo._atomic import atomic_path, save_npz, write_json
from ftgeo.errors import DataNotFoundError, ManifestMismatchError, ValidationError
from ftgeo.reps import resolve_layer

FORMAT = "ftgeo-reps/1"
# fields that identify a store: a cache hit needs all of them equal (DESIGN.md)
IDENTITY_KEYS = ("format", "model", "model_id", "checkpoint", "task", "split", "pooling", "max_length", "dtype",
                 "max_examples", "fingerprint", "ftgeo_version")
# fields that must also agree to resume a half-written store (they fix the chunk plan)
PLAN_KEYS = ("n", "n_layers", "dim", "chunk_size", "n_chunks", "chunk_bounds")


def chunk_name(k: int) -> str:
    return f"{k:05d}.npz"


def layer_file(i: int) -> str:
    return f"layer_{i:02d}.npy"


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    f = Path(path) / "manifest.json"
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text())
    except ValueError as exc:
        raise ValidationError(f"{f} is not valid JSON ({exc}); delete the folder or pass overwrite=True") from None


def diff_manifest(old: dict[str, Any], new: dict[str, Any], keys) -> list[str]:
    """``["pooling: 'cls' (stored) != 'mean' (requested)", ...]`` for the differing ``keys``."""
    out = []
    for k in keys:
        a, b = _norm(old.get(k)), _norm(new.get(k))
        if a != b:
            out.append(f"{k}: {old.get(k)!r} (stored) != {new.get(k)!r} (requested)")
    return out


def _norm(v):
    return json.loads(json.dumps(v)) if v is not None else None


def check_manifest(path: Path, old: dict[str, Any], new: dict[str, Any], *, plan: bool) -> None:
    diffs = diff_manifest(old, new, IDENTITY_KEYS + (PLAN_KEYS if plan else ()))
    if diffs:
        raise ManifestMismatchError(
            f"the store at {path} was written with different settings: {'; '.join(diffs)}. "
            "Pick another output folder, or pass overwrite=True (CLI: --overwrite) to replace it.")


def write_chunk(path: Path, k: int, layers: np.ndarray, ids: np.ndarray, labels: np.ndarray) -> None:
    """Write chunk ``k``: ``layers`` is ``(L+1, rows, dim)`` already in the store dtype."""
    members = {f"layer_{i:02d}": layers[i] for i in range(layers.shape[0])}
    save_npz(path / "chunks" / chunk_name(k), ids=ids.astype(str), labels=labels.astype(np.int64), **members)


def chunk_done(path: Path, k: int) -> bool:
    return (path / "chunks" / chunk_name(k)).is_file()


def consolidate(path: Path, manifest: dict[str, Any], *, keep_chunks: bool = False) -> None:
    """Stream the chunks into one ``.npy`` per layer (peak memory: one chunk's layer), then mark complete."""
    n, dim, n_layers = manifest["n"], manifest["dim"], manifest["n_layers"]
    dtype = np.dtype(manifest["dtype"])
    chunks = [path / "chunks" / chunk_name(k) for k in range(manifest["n_chunks"])]
    missing = [c.name for c in chunks if not c.is_file()]
    if missing:
        raise DataNotFoundError(f"cannot consolidate {path}: chunks {missing[:5]} are missing; rerun extract")
    (path / "layers").mkdir(parents=True, exist_ok=True)
    ids, labels = [], []
    for c in chunks:
        with np.load(c) as z:
            ids.append(z["ids"])
            labels.append(z["labels"])
    ids_arr, labels_arr = np.concatenate(ids) if ids else np.zeros(0, str), \
        np.concatenate(labels) if labels else np.zeros(0, np.int64)
    if ids_arr.shape[0] != n:
        raise ValidationError(f"{path}: the chunks hold {ids_arr.shape[0]} rows but the manifest says {n}")
    with atomic_path(path / "ids.npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, ids_arr.astype(str))
    with atomic_path(path / "labels.npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, labels_arr.astype(np.int64))
    for i in range(n_layers):
        with atomic_path(path / "layers" / layer_file(i)) as tmp:
            mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, dim))
            row = 0
            for c in chunks:
                with np.load(c) as z:
                    a = z[f"layer_{i:02d}"]
                mm[row:row + a.shape[0]] = a
                row += a.shape[0]
            mm.flush()
            del mm
    manifest = dict(manifest, complete=True)
    write_json(path / "manifest.json", manifest)
    if not keep_chunks:
        for c in chunks:
            c.unlink(missing_ok=True)
        try:
            (path / "chunks").rmdir()
        except OSError:
            pass


class RepresentationStore:
    """A completed store on disk (``ftgeo.reps.Representations``); layers are read one at a time."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        manifest = read_manifest(self.path)
        if manifest is None:
            raise DataNotFoundError(f"{self.path} holds no manifest.json; it is not a representation store "
                                    "written by `ftgeo extract` (see `ftgeo list reps --run RUN`)")
        if not manifest.get("complete"):
            done = sum(chunk_done(self.path, k) for k in range(manifest.get("n_chunks", 0)))
            raise ValidationError(f"the store at {self.path} is incomplete ({done} of {manifest.get('n_chunks')} "
                                  "chunks); rerun the same extract command to finish it")
        self._manifest = manifest
        self._labels: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    # -- protocol
    @property
    def manifest(self) -> dict[str, Any]:
        return dict(self._manifest)

    @property
    def n_layers(self) -> int:
        return int(self._manifest["n_layers"])

    @property
    def layers(self) -> list[int]:
        return list(range(self.n_layers))

    @property
    def layer_names(self) -> list[str]:
        return list(self._manifest["layer_names"])

    @property
    def label_names(self) -> list[str]:
        return list(self._manifest.get("label_names") or [])

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = np.load(self.path / "labels.npy")
        return self._labels

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.load(self.path / "ids.npy")
        return self._ids

    @property
    def n(self) -> int:
        return int(self._manifest["n"])

    @property
    def dim(self) -> int:
        return int(self._manifest["dim"])

    def layer(self, index: int, dtype=np.float32) -> np.ndarray:
        """Layer ``index`` (0 = embeddings, -1 = last block) as ``(n, dim)``.

        Only ``layers/layer_XX.npy`` of that layer is opened (memory-mapped). With
        ``dtype=None`` the read-only memmap itself is returned; otherwise an in-memory copy
        in ``dtype`` (float32 by default, whatever the stored dtype).
        """
        i = resolve_layer(index, self.n_layers)
        mm = np.load(self.path / "layers" / layer_file(i), mmap_mode="r")
        if dtype is None:
            return mm
        return np.array(mm, dtype=dtype)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        m = self._manifest
        return (f"<RepresentationStore {m.get('model')} {m.get('task')}/{m.get('split')} pooling={m.get('pooling')} "
                f"n={m.get('n')} dim={m.get('dim')} layers={m.get('n_layers')} at {self.path}>")


def open_reps(path: str | os.PathLike) -> RepresentationStore:
    """Open a completed store folder written by :func:`ftgeo.extract.extract`."""
    return RepresentationStore(path)


def describe(path: Path) -> str:
    m = read_manifest(path) or {}
    state = "complete" if m.get("complete") else \
        f"incomplete {sum(chunk_done(path, k) for k in range(m.get('n_chunks', 0)))}/{m.get('n_chunks')} chunks"
    ck = f"@{m['checkpoint']}" if m.get("checkpoint") else ""
    return (f"{path}  model={m.get('model')}{ck} task={m.get('task')} split={m.get('split')} "
            f"pooling={m.get('pooling')} n={m.get('n')} dim={m.get('dim')} layers={m.get('n_layers')} "
            f"dtype={m.get('dtype')} {state}")


def list_reps(run_folder: str | os.PathLike = ".") -> list[str]:
    """One line per store under ``run_folder/reps`` (or in ``run_folder`` itself), sorted by folder name."""
    root = Path(run_folder)
    if not root.is_dir():
        raise DataNotFoundError(f"{root} is not a folder")
    if (root / "manifest.json").is_file():
        return [describe(root)]
    base = root / "reps" if (root / "reps").is_dir() else root
    return [describe(p) for p in sorted(base.iterdir()) if p.is_dir() and (p / "manifest.json").is_file()]
