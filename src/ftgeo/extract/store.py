"""The on-disk representation store written by :func:`ftgeo.extract.extract`.

Layout of one store folder::

    manifest.json          what produced it (:class:`~ftgeo.extract.manifest.StoreManifest`), whether it is
                           complete, and (once complete) each file's size and CRC-32
    .ftgeo.lock            only while a writer works in the folder (:mod:`ftgeo._lock`)
    chunks/00000.npz ...   while extracting: one file per chunk of examples (atomic writes);
                           members layer_00 .. layer_LL, ids, labels. Deleted once consolidated.
    layers/layer_00.npy    when complete: one (n, dim) array per layer (memory-mapped on read)
    ids.npy, labels.npy    (n,) str and int64

:func:`open_reps` returns a :class:`RepresentationStore` (the ``ftgeo.reps.Representations``
protocol): ``.layer(i)`` opens only ``layers/layer_{i:02d}.npy``.

Integrity. Consolidation writes every file with ordinary buffered writes (no memory-mapping of a
new file, whose pages a full disk turns into SIGBUS), into a temporary sibling that is renamed into
place, after checking that the file system has room for all of them; the CRC-32 of each file's
array data is computed from the bytes as they are written. Opening a store checks the manifest,
every file's size (a truncated file is named, with the fix) and the first layer's header; each
layer's CRC is checked the first time it is read into memory (``layer(i)``; ``dtype=None``, the
raw memmap, checks size and header only); :meth:`RepresentationStore.verify` checks everything.
"""
from __future__ import annotations

import json
import os
import re
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ftgeo._atomic import (atomic_path, check_free_space, clean_stale_tmp, is_tmp_name, save_npz, storage_errors,
                           write_bytes, write_json)
from ftgeo._lock import LOCK_NAME
from ftgeo.errors import DataNotFoundError, ValidationError
from ftgeo.extract.manifest import (FORMAT, IDENTITY_KEYS, MANIFEST_NAME, PLAN_KEYS, FileSum, StoreManifest,  # noqa: F401
                                    check_manifest, crc32_hex, diff_manifest, label_names_crc, layer_file,
                                    npy_header_len, read_manifest)
from ftgeo.reps import resolve_layer

_FIX = "re-extract it with overwrite=True (CLI --overwrite)"


def chunk_name(k: int) -> str:
    return f"{k:05d}.npz"


def write_chunk(path: Path, k: int, layers: np.ndarray, ids: np.ndarray, labels: np.ndarray,
                layer_numbers=None) -> None:
    """Write chunk ``k``: ``layers`` is ``(stored layers, rows, dim)`` already in the store dtype; member
    ``layer_XX`` is named by the model's layer number (``layer_numbers``, default ``0, 1, ...``)."""
    nums = list(range(layers.shape[0])) if layer_numbers is None else list(layer_numbers)
    members = {f"layer_{l:02d}": layers[i] for i, l in enumerate(nums)}
    save_npz(Path(path) / "chunks" / chunk_name(k), ids=ids.astype(str), labels=labels.astype(np.int64), **members)


def chunk_done(path: Path, k: int) -> bool:
    return (Path(path) / "chunks" / chunk_name(k)).is_file()


# ----------------------------------------------------------------------------- what ftgeo wrote
def owned_entries(manifest: StoreManifest | None) -> set[str]:
    """Relative paths a store folder may hold that ftgeo wrote (``overwrite`` removes exactly these)."""
    out = {MANIFEST_NAME, LOCK_NAME, "ids.npy", "labels.npy", "layers", "chunks"}
    if manifest is not None:
        out |= {layer_file(i) for i in manifest.stored_layers}
        out |= {f"chunks/{chunk_name(k)}" for k in range(manifest.n_chunks)}
        if manifest.files:
            out |= set(manifest.files)
    return out


def foreign_entries(path: Path, manifest: StoreManifest | None) -> list[str]:
    """Entries of the store folder that ftgeo did not write (sorted, relative paths)."""
    owned = owned_entries(manifest)
    out = []
    for p in sorted(Path(path).iterdir()):
        rel = p.name
        if is_tmp_name(rel):
            continue
        if rel not in owned:
            out.append(rel)
        elif rel in ("layers", "chunks") and p.is_dir():
            for q in sorted(p.iterdir()):
                r = f"{rel}/{q.name}"
                if r not in owned and not is_tmp_name(q.name):
                    if manifest is None and re.fullmatch(r"layers/layer_\d{2,}\.npy|chunks/\d{5}\.npz", r):
                        continue
                    out.append(r)
        elif rel in ("layers", "chunks"):
            out.append(rel)
    return out


def remove_store(path: Path, manifest: StoreManifest | None) -> None:
    """Delete what ftgeo wrote in the store folder ``path`` (the folder itself and the lock stay).

    Refuses (``ValidationError``, naming the first one) if the folder holds anything else.
    """
    path = Path(path)
    foreign = foreign_entries(path, manifest)
    if foreign:
        raise ValidationError(f"refusing to overwrite {path}: it holds {foreign[0]!r}, which ftgeo did not write "
                              f"({len(foreign)} such entr{'y' if len(foreign) == 1 else 'ies'}); move it away or "
                              "pick another output folder")
    clean_store_tmp(path)
    for sub in ("chunks", "layers"):
        d = path / sub
        if d.is_dir():
            for q in d.iterdir():
                q.unlink()
            d.rmdir()
    for name in ("ids.npy", "labels.npy", MANIFEST_NAME):
        (path / name).unlink(missing_ok=True)


def clean_store_tmp(path: Path) -> list[Path]:
    """Remove temporary files a killed writer left (call it only while holding the store's lock)."""
    path = Path(path)
    return clean_stale_tmp([path, path / "layers", path / "chunks"])


# ----------------------------------------------------------------------------- consolidation
def _data_crc(arr: np.ndarray, value: int = 0) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(arr)).cast("B"), value)


def _save_npy(path: Path, arr: np.ndarray) -> FileSum:
    import io
    buf = io.BytesIO()
    np.save(buf, arr)
    data = buf.getvalue()
    write_bytes(path, data)
    return FileSum(len(data), crc32_hex(b"", _data_crc(arr)))


def _write_layer_file(target: Path, chunk_files: list[Path], member: str, m: StoreManifest) -> FileSum:
    """Stream one layer's rows from the chunks into ``target`` with ordinary writes; size + data CRC."""
    dtype = np.dtype(m.dtype)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                      "fortran_order": False, "shape": (m.n, m.dim)})
            crc, rows = 0, 0
            for c in chunk_files:
                with np.load(c) as z:
                    a = np.ascontiguousarray(z[member], dtype=dtype)
                if a.ndim != 2 or a.shape[1] != m.dim:
                    raise ValidationError(f"{c}: {member} has shape {a.shape}; expected (rows, {m.dim})")
                b = memoryview(a).cast("B")
                crc = zlib.crc32(b, crc)
                fh.write(b)
                rows += a.shape[0]
            if rows != m.n:
                raise ValidationError(f"{target.parent.parent}: the chunks hold {rows} rows but the manifest says {m.n}")
            size = fh.tell()
    return FileSum(size, f"{crc & 0xFFFFFFFF:08x}")


def consolidate(path: Path, manifest: Mapping[str, Any], *, keep_chunks: bool = False) -> StoreManifest:
    """Stream the chunks into one ``.npy`` per layer (peak memory: one chunk's layer), then mark complete.

    Checks the free space first (all layer files plus ids and labels); a full disk or an
    unwritable folder raises :class:`~ftgeo._atomic.StorageError` and leaves the chunks (and no
    temporary file) behind, so the same extract command finishes the store later.
    """
    path = Path(path)
    m = StoreManifest.from_dict(manifest, source=path / MANIFEST_NAME)
    chunks = [path / "chunks" / chunk_name(k) for k in range(m.n_chunks)]
    missing = [c.name for c in chunks if not c.is_file()]
    if missing:
        raise DataNotFoundError(f"cannot consolidate {path}: chunks {missing[:5]} are missing; rerun extract")
    ids, labels = [], []
    for c in chunks:
        with np.load(c) as z:
            ids.append(z["ids"])
            labels.append(z["labels"])
    ids_arr = (np.concatenate(ids) if ids else np.zeros(0, str)).astype(str)
    labels_arr = (np.concatenate(labels) if labels else np.zeros(0, np.int64)).astype(np.int64)
    if ids_arr.shape[0] != m.n:
        raise ValidationError(f"{path}: the chunks hold {ids_arr.shape[0]} rows but the manifest says {m.n}")
    need = m.n_layers * m.layer_bytes() + ids_arr.nbytes + labels_arr.nbytes + 4096
    with storage_errors(path, "consolidate the store"):
        clean_store_tmp(path)
        check_free_space(path, need, f"consolidate the store {path}")
        (path / "layers").mkdir(parents=True, exist_ok=True)
        files = {"ids.npy": _save_npy(path / "ids.npy", ids_arr),
                 "labels.npy": _save_npy(path / "labels.npy", labels_arr)}
        for i in m.stored_layers:
            files[layer_file(i)] = _write_layer_file(path / layer_file(i), chunks, f"layer_{i:02d}", m)
        done = m.replace(complete=True, files={k: v.to_dict() for k, v in files.items()},
                         label_names_crc32=label_names_crc(m.label_names))
        write_json(path / MANIFEST_NAME, done.to_dict())
    if not keep_chunks:
        remove_chunks(path, m.n_chunks)
    return done


def remove_chunks(path: Path, n_chunks: int | None = None) -> None:
    d = Path(path) / "chunks"
    if not d.is_dir():
        return
    for c in d.iterdir():
        if re.fullmatch(r"\d{5}\.npz", c.name) or is_tmp_name(c.name):
            c.unlink(missing_ok=True)
    try:
        d.rmdir()
    except OSError:
        pass


# ----------------------------------------------------------------------------- reading
def _damaged(path: Path, what: str) -> ValidationError:
    return ValidationError(f"the store at {path} is damaged: {what}; {_FIX}")


def _read_npy_header(f: Path) -> tuple[tuple[int, ...], np.dtype]:
    with open(f, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape), np.dtype(dtype)


class RepresentationStore:
    """A completed store on disk (``ftgeo.reps.Representations``); layers are read one at a time.

    ``verify=True`` (default) checks each layer's CRC-32 the first time it is read into memory;
    ``verify=False`` checks sizes and headers only.
    """

    def __init__(self, path: str | os.PathLike, *, verify: bool = True):
        self.path = Path(path)
        manifest = read_manifest(self.path)
        if manifest is None:
            raise DataNotFoundError(f"{self.path} holds no manifest.json; it is not a representation store "
                                    "written by `ftgeo extract` (see `ftgeo list reps --run RUN`)")
        if not manifest.complete:
            done = sum(chunk_done(self.path, k) for k in range(manifest.n_chunks))
            raise ValidationError(f"the store at {self.path} is incomplete ({done} of {manifest.n_chunks} "
                                  "chunks); rerun the same extract command to finish it")
        self._manifest = manifest
        self._verify = verify
        self._verified: set[str] = set()
        self._labels: np.ndarray | None = None
        self._ids: np.ndarray | None = None
        self._check_sizes()

    # -- integrity
    def _expected_sizes(self) -> dict[str, int | None]:
        m = self._manifest
        if m.files:
            return {k: v.bytes for k, v in m.files.items()}
        sizes: dict[str, int | None] = {layer_file(i): m.layer_bytes() for i in m.stored_layers}
        sizes.update({"ids.npy": None, "labels.npy": None})
        return sizes

    def _check_sizes(self) -> None:
        m = self._manifest
        for rel, want in self._expected_sizes().items():
            f = self.path / rel
            try:
                have = f.stat().st_size
            except FileNotFoundError:
                raise _damaged(self.path, f"{rel} is missing") from None
            if want is not None and have != want:
                kind = "truncated" if have < want else "longer than written"
                raise _damaged(self.path, f"{rel} is {kind} ({have} of {want} bytes)")
        first = layer_file(m.stored_layers[0])
        shape, dtype = _read_npy_header(self.path / first)
        if shape != (m.n, m.dim) or dtype != np.dtype(m.dtype):
            raise _damaged(self.path, f"{first} holds {shape} {dtype} but the manifest says n={m.n}, "
                                      f"dim={m.dim}, dtype={m.dtype}")

    def _check_crc(self, rel: str, arr: np.ndarray) -> None:
        files = self._manifest.files
        if not files or rel in self._verified or rel not in files:
            return
        got = crc32_hex(b"", _data_crc(arr))
        if got != files[rel].crc32:
            raise _damaged(self.path, f"{rel} does not match the CRC-32 recorded when it was written "
                                      f"({got} != {files[rel].crc32}): its content changed")
        self._verified.add(rel)

    def verify(self) -> "RepresentationStore":
        """Check every file completely (sizes, headers, CRC-32s, labels in range); returns self."""
        self._check_sizes()
        saved, self._verify = self._verify, True
        try:
            self._verified.clear()
            self._labels = self._ids = None
            _ = self.labels, self.ids
            for i in self.layers:
                self._check_crc(layer_file(i), self._open_layer(i))
        finally:
            self._verify = saved
        return self

    # -- protocol
    @property
    def manifest(self) -> StoreManifest:
        """The validated manifest (a :class:`StoreManifest`, which also reads as a mapping)."""
        return self._manifest

    @property
    def n_layers(self) -> int:
        return self._manifest.n_layers

    @property
    def layers(self) -> list[int]:
        """The model's layer numbers stored (0 = embeddings); all of ``0..n_layers-1`` unless the store was
        extracted with ``layers=`` (e.g. ``[0, 8, 16]``)."""
        return self._manifest.stored_layers

    @property
    def layer_names(self) -> list[str]:
        return list(self._manifest.layer_names)

    @property
    def label_names(self) -> list[str]:
        return list(self._manifest.label_names)

    def _load_small(self, rel: str, dtype_kind: str) -> np.ndarray:
        f = self.path / rel
        try:
            arr = np.load(f)
        except (ValueError, OSError) as exc:
            raise _damaged(self.path, f"{rel} cannot be read ({exc})") from None
        if arr.shape != (self.n,) or arr.dtype.kind != dtype_kind:
            raise _damaged(self.path, f"{rel} holds {arr.shape} {arr.dtype} but the manifest says n={self.n}")
        if self._verify:
            self._check_crc(rel, arr)
        return arr

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            lab = self._load_small("labels.npy", "i")
            k = len(self._manifest.label_names)
            if lab.size and (lab.min() < -1 or (k and lab.max() >= k)):
                raise _damaged(self.path, f"labels.npy holds label indices {int(lab.min())}..{int(lab.max())} but "
                                          f"the manifest names {k} labels")
            self._labels = lab
        return self._labels

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = self._load_small("ids.npy", "U")
        return self._ids

    @property
    def n(self) -> int:
        return self._manifest.n

    @property
    def dim(self) -> int:
        return self._manifest.dim

    def _open_layer(self, i: int) -> np.memmap:
        rel = layer_file(i)
        f = self.path / rel
        try:
            mm = np.load(f, mmap_mode="r")
        except FileNotFoundError:
            raise _damaged(self.path, f"{rel} is missing") from None
        except (ValueError, OSError) as exc:  # e.g. "mmap length is greater than file size"
            size = f.stat().st_size if f.exists() else 0
            raise _damaged(self.path, f"{rel} cannot be memory-mapped ({exc}; the file has {size} bytes, "
                                      f"{self._manifest.layer_bytes()} expected)") from None
        if mm.shape != (self.n, self.dim) or mm.dtype != np.dtype(self._manifest.dtype):
            raise _damaged(self.path, f"{rel} holds {mm.shape} {mm.dtype} but the manifest says n={self.n}, "
                                      f"dim={self.dim}, dtype={self._manifest.dtype}")
        return mm

    def layer(self, index: int, dtype=np.float32) -> np.ndarray:
        """Layer ``index`` (the model's layer number, 0 = embeddings; -1 = the last stored layer) as ``(n, dim)``.

        Only ``layers/layer_XX.npy`` of that layer is opened (memory-mapped). With
        ``dtype=None`` the read-only memmap itself is returned; otherwise an in-memory copy
        in ``dtype`` (float32 by default, whatever the stored dtype), whose file's CRC-32 is
        checked the first time.
        """
        i = resolve_layer(index, self.layers)
        mm = self._open_layer(i)
        if dtype is None:
            return mm
        if self._verify:
            self._check_crc(layer_file(i), mm)
        return np.array(mm, dtype=dtype)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        m = self._manifest
        return (f"<RepresentationStore {m.model} {m.task}/{m.split} pooling={m.pooling} "
                f"n={m.n} dim={m.dim} layers={_layers_text(m)} at {self.path}>")


def _layers_text(m: StoreManifest) -> str:
    """``31`` for a store with every layer, ``3 [0,8,16]`` for one extracted with ``layers=``."""
    return str(m.n_layers) if m.all_layers else f"{m.n_layers} [{','.join(map(str, m.stored_layers))}]"


def open_reps(path: str | os.PathLike, *, verify: bool = True) -> RepresentationStore:
    """Open a completed store folder written by :func:`ftgeo.extract.extract`."""
    return RepresentationStore(path, verify=verify)


# ----------------------------------------------------------------------------- listing and discovery
def _raw_manifest(folder: Path) -> dict[str, Any] | None:
    f = folder / MANIFEST_NAME
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text())
    except ValueError as exc:
        raise ValidationError(f"{f} is not valid JSON ({exc}); delete the folder or re-extract it") from None
    return data if isinstance(data, dict) else {}


def describe(path: Path) -> str:
    try:
        m = read_manifest(path)
    except ValidationError as exc:
        return f"{path}  damaged: {exc}"
    if m is None:
        return f"{path}  (no manifest.json)"
    state = "complete" if m.complete else \
        f"incomplete {sum(chunk_done(path, k) for k in range(m.n_chunks))}/{m.n_chunks} chunks"
    ck = f"@{m.checkpoint}" if m.checkpoint else ""
    return (f"{path}  model={m.model}{ck} task={m.task} split={m.split} "
            f"pooling={m.pooling} n={m.n} dim={m.dim} layers={_layers_text(m)} "
            f"dtype={m.dtype} {state}")


def list_reps(run_folder: str | os.PathLike = ".") -> list[str]:
    """One line per store under ``run_folder/reps`` (or in ``run_folder`` itself), sorted by folder name."""
    root = Path(run_folder)
    if not root.is_dir():
        raise DataNotFoundError(f"{root} is not a folder")
    if (root / MANIFEST_NAME).is_file():
        return [describe(root)]
    base = root / "reps" if (root / "reps").is_dir() else root
    return [describe(p) for p in sorted(base.iterdir()) if p.is_dir() and (p / MANIFEST_NAME).is_file()]


def _step_of(text) -> int | None:
    m = re.search(r"(\d+)(?!.*\d)", str(text or ""))
    return int(m.group(1)) if m else None


def discover_checkpoint_reps(run_folder: str | Path, model: str | None = None, *, pretrained: str | None = None,
                             task: str | None = None, split: str | None = None, pooling: str | None = None,
                             model_folder: str | Path | None = None, with_steps: bool = False) -> list:
    """Store folders under ``run_folder/reps`` for ``model``'s checkpoints in training order, the
    pretrained set first.

    A store belongs to the run if its manifest's ``model`` is ``model`` (and ``task``/``split``/
    ``pooling`` match when given). The pretrained set is the store of model ``pretrained`` (same
    task/split/pooling) or, without it, ``model``'s store with no checkpoint. Checkpoints are
    ordered by the last number in their name (``checkpoint-500``), then by name.

    With ``model_folder`` (the folder ``ftgeo finetune`` wrote), the checkpoints are those of
    :func:`ftgeo.finetune.list_checkpoints`: a store belongs to checkpoint c when its manifest's
    ``model_id`` is c's path, and the order and steps come from the fine-tuning run.
    ``with_steps=True`` returns (path, step) pairs (step 0 for the pretrained set).
    """
    root = Path(run_folder)
    base = root / "reps" if (root / "reps").is_dir() else root
    if not base.is_dir():
        raise DataNotFoundError(f"{base} is not a folder of representation stores")
    found = []
    for p in sorted(base.iterdir()):
        m = _raw_manifest(p) if p.is_dir() else None
        if m is None:
            continue
        if task and m.get("task") != task or split and m.get("split") != split or \
                pooling and m.get("pooling") != pooling:
            continue
        found.append((p, m))
    if model is None and model_folder is None:
        raise ValidationError("say which run to follow: a model name (manifest 'model') or its model folder")
    pre = [p for p, m in found if (m.get("model") == pretrained if pretrained else
                                   (m.get("model") == model and not m.get("checkpoint")))]
    if model_folder is not None:
        return _by_model_folder(base, found, pre, model, pretrained, model_folder, with_steps)
    cks = [(p, m) for p, m in found if m.get("model") == model and m.get("checkpoint")]
    if not cks:
        have = sorted({str(m.get("model")) for _, m in found})
        raise DataNotFoundError(f"no checkpoint stores of model {model!r} under {base} (models there: {have}); "
                                "extract each checkpoint with `ftgeo extract --checkpoint ...` first")
    if len(pre) != 1:
        raise DataNotFoundError(f"expected exactly one pretrained store ({'model ' + repr(pretrained) if pretrained else 'no checkpoint'}) "
                                f"under {base}, found {len(pre)}; pass --pretrained NAME, --task/--split/--pooling, "
                                "or list the stores with --reps in order")
    cks.sort(key=lambda pm: (_step_of(pm[1].get("checkpoint")) is None, _step_of(pm[1].get("checkpoint")) or 0,
                             str(pm[1].get("checkpoint"))))
    out = [(pre[0], 0)] + [(p, _step_of(m.get("checkpoint"))) for p, m in cks]
    return out if with_steps else [p for p, _ in out]


def _by_model_folder(base, found, pre, model, pretrained, model_folder, with_steps) -> list:
    from ftgeo.finetune import list_checkpoints
    steps_of = {str(Path(c.path).resolve()): c.step for c in list_checkpoints(model_folder)}
    cks = []
    for p, m in found:
        mid = m.get("model_id")
        key = str(Path(mid).expanduser().resolve()) if mid else None
        if key in steps_of:
            cks.append((p, steps_of[key]))
    if not cks:
        raise DataNotFoundError(f"no store under {base} was extracted from a checkpoint of {model_folder} "
                                "(manifest model_id = checkpoint folder); extract the checkpoints first")
    if not pretrained and model is None:
        raise ValidationError("with model_folder, name the pretrained set's model (pretrained=...)")
    cks.sort(key=lambda ps: (ps[1], str(ps[0])))
    if len(pre) != 1:
        raise DataNotFoundError(f"expected exactly one pretrained store under {base}, found {len(pre)}; "
                                "pass --pretrained NAME and --task/--split/--pooling")
    out = [(pre[0], 0)] + [(p, int(s)) for p, s in cks]
    return out if with_steps else [p for p, _ in out]

