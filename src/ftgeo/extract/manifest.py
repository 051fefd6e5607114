"""The manifest of a representation store: a validated, typed record (``manifest.json``).

:class:`StoreManifest` is a frozen dataclass. It also reads as a read-only mapping of its JSON
form (``m["pooling"]``, ``m.get("checkpoint")``, ``dict(m)``), so code that treated the manifest
as a dict keeps working; new code uses the attributes (``m.pooling``).

What it records (see docs/extraction.md):

* identity (:data:`IDENTITY_KEYS`): a cache hit needs all of them equal;
* the chunk plan (:data:`PLAN_KEYS`): a half-written store resumes only with the same plan;
* content: ``n`` rows, ``dim``, ``n_layers`` stored layers and their names, the label vocabulary;
* integrity (written at consolidation): ``files`` -- per file its size in bytes and a CRC-32 of
  its bytes, hashed while writing -- and ``label_names_crc32``, a CRC-32 of the label vocabulary.

Reading a manifest checks types, ranges and internal consistency; a manifest whose label names
no longer match their recorded CRC, or whose ``n``/``dim``/``dtype`` no longer match the recorded
files, was edited by hand and is refused (``ValidationError``), like any other mismatch.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ftgeo.errors import ManifestMismatchError, ValidationError

FORMAT = "ftgeo-reps/2"
#: formats this version reads (``/1`` stores have no checksums; they are checked by size and header)
READABLE_FORMATS = ("ftgeo-reps/1", "ftgeo-reps/2")
STORE_DTYPES = ("float16", "float32")
# fields that identify a store: a cache hit needs all of them equal (DESIGN.md)
IDENTITY_KEYS = ("format", "model", "model_id", "checkpoint", "task", "split", "pooling", "max_length", "dtype",
                 "max_examples", "fingerprint", "ftgeo_version", "layers", "model_dtype")
#: the dtypes a model may run in during extraction (``model_dtype``; stores written before it ran in float32)
MODEL_DTYPES = ("float32", "bfloat16", "float16")
# fields that must also agree to resume a half-written store (they fix the chunk plan)
PLAN_KEYS = ("n", "n_layers", "dim", "chunk_size", "n_chunks", "chunk_bounds")
MANIFEST_NAME = "manifest.json"
_FIX = "the store is damaged or its manifest was edited by hand; re-extract it with overwrite=True (CLI --overwrite)"


def crc32_hex(data: bytes | memoryview, value: int = 0) -> str:
    return f"{zlib.crc32(data, value) & 0xFFFFFFFF:08x}"


def label_names_crc(names) -> str:
    return crc32_hex(json.dumps(list(names), ensure_ascii=False).encode("utf-8"))


def layer_file(i: int) -> str:
    """Path of layer ``i``'s file inside a store: ``layers/layer_XX.npy``."""
    return f"layers/layer_{i:02d}.npy"


def npy_header_len(shape: tuple[int, ...], dtype) -> int:
    """Length in bytes of the ``.npy`` header numpy writes for an array of ``shape``/``dtype``."""
    buf = _HeaderProbe()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                               "fortran_order": False, "shape": tuple(shape)})
    return buf.n


class _HeaderProbe:
    def __init__(self):
        self.n = 0

    def write(self, b) -> int:
        self.n += len(b)
        return len(b)


@dataclass(frozen=True)
class FileSum:
    """Size and CRC-32 of one file of a store, recorded while the file was written."""

    bytes: int
    crc32: str

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "crc32": self.crc32}


def _bad(source, msg: str) -> ValidationError:
    return ValidationError(f"{source}: {msg}; {_FIX}")


def _int(source, name: str, v, *, minimum: int = 0, optional: bool = False):
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < minimum:
        raise _bad(source, f"{name}={v!r} must be an integer >= {minimum}")
    return int(v)


def _str(source, name: str, v, *, optional: bool = True):
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise _bad(source, f"{name}={v!r} must be a string")
    return v


def _strs(source, name: str, v) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise _bad(source, f"{name} must be a list of strings; got {v!r:.80}")
    return list(v)


@dataclass(frozen=True)
class StoreManifest(Mapping):
    """The validated manifest of one representation store (``<store>/manifest.json``)."""

    n: int
    dim: int
    n_layers: int
    dtype: str = "float32"
    # identity
    format: str = FORMAT
    model: str | None = None
    model_id: str | None = None
    checkpoint: str | None = None
    task: str | None = None
    split: str | None = None
    pooling: str | None = None
    max_length: int | None = None
    max_examples: int | None = None
    fingerprint: str | None = None
    ftgeo_version: str | None = None
    # content
    model_source: str | None = None
    task_kind: str | None = None
    is_decoder: bool | None = None
    n_blocks: int | None = None
    #: the model's layer numbers stored (0 = embeddings); None in stores written before selective extraction
    #: (they hold every layer). ``layers/layer_XX.npy`` is named by the model's layer number.
    layers: list[int] | None = None
    #: the dtype the model ran in (None in older stores: float32)
    model_dtype: str | None = None
    layer_names: list[str] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)
    n_examples: int | None = None
    dropped_targets: int = 0
    n_tokens: int | None = None
    # chunk plan
    chunk_size: int | None = None
    n_chunks: int = 1
    chunk_bounds: list[int] | None = None
    # state and integrity
    complete: bool = False
    created: str | None = None
    seconds: float | None = None
    files: dict[str, FileSum] | None = None
    label_names_crc32: str | None = None
    #: keys this version does not know (kept and written back unchanged)
    extra: dict[str, Any] = field(default_factory=dict)
    #: where it was read from (messages only; not part of the JSON)
    source: str = field(default="manifest", compare=False, repr=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self):
        src = self.source
        for name in ("n", "dim", "n_chunks", "dropped_targets"):
            _int(src, name, getattr(self, name))
        _int(src, "n_layers", self.n_layers, minimum=1)
        for name in ("max_length", "max_examples", "chunk_size"):
            _int(src, name, getattr(self, name), minimum=1, optional=True)
        for name in ("n_blocks", "n_examples", "n_tokens"):
            _int(src, name, getattr(self, name), optional=True)
        for name in ("model", "model_id", "checkpoint", "task", "split", "pooling", "fingerprint", "ftgeo_version",
                     "model_source", "task_kind", "created", "label_names_crc32"):
            _str(src, name, getattr(self, name))
        if self.format not in READABLE_FORMATS:
            raise ValidationError(f"{src}: format {self.format!r} is not one this ftgeo version reads "
                                  f"({', '.join(READABLE_FORMATS)}); re-extract the store with this version "
                                  "(overwrite=True, CLI --overwrite)")
        if self.dtype not in STORE_DTYPES:
            raise _bad(src, f"dtype={self.dtype!r} must be one of {list(STORE_DTYPES)}")
        from ftgeo.extract.pooling import POOLINGS
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise _bad(src, f"pooling={self.pooling!r} is not one of {list(POOLINGS)}")
        if not isinstance(self.complete, bool):
            raise _bad(src, f"complete={self.complete!r} must be true or false")
        object.__setattr__(self, "layer_names", _strs(src, "layer_names", self.layer_names))
        object.__setattr__(self, "label_names", _strs(src, "label_names", self.label_names))
        if self.layer_names and len(self.layer_names) != self.n_layers:
            raise _bad(src, f"{len(self.layer_names)} layer_names for n_layers={self.n_layers}")
        if self.layers is not None:
            ok = isinstance(self.layers, (list, tuple)) and all(
                isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in self.layers)
            if not ok or list(self.layers) != sorted(set(self.layers)) or len(self.layers) != self.n_layers:
                raise _bad(src, f"layers must be n_layers={self.n_layers} increasing layer numbers >= 0; got "
                                f"{self.layers!r:.80}")
            if self.n_blocks is not None and self.layers and self.layers[-1] > self.n_blocks:
                raise _bad(src, f"layers {self.layers!r:.80} go beyond the model's {self.n_blocks} blocks")
            object.__setattr__(self, "layers", list(self.layers))
        if self.model_dtype is not None and self.model_dtype not in MODEL_DTYPES:
            raise _bad(src, f"model_dtype={self.model_dtype!r} must be one of {list(MODEL_DTYPES)}")
        if self.chunk_bounds is not None:
            if not isinstance(self.chunk_bounds, (list, tuple)) or \
                    not all(isinstance(b, int) and not isinstance(b, bool) for b in self.chunk_bounds) or \
                    len(self.chunk_bounds) != self.n_chunks or list(self.chunk_bounds) != sorted(self.chunk_bounds):
                raise _bad(src, f"chunk_bounds must be {self.n_chunks} increasing integers; got "
                                f"{self.chunk_bounds!r:.80}")
            object.__setattr__(self, "chunk_bounds", list(self.chunk_bounds))
        if self.label_names_crc32 is not None and label_names_crc(self.label_names) != self.label_names_crc32:
            raise _bad(src, f"label_names {self.label_names!r:.120} do not match the label vocabulary recorded at "
                            "extraction (label_names_crc32)")
        if self.files is not None:
            object.__setattr__(self, "files", self._parse_files(self.files))
            self._check_files_agree()
        if self.complete and self.format == FORMAT and self.files is None:
            raise _bad(src, "a complete store must record its files (size and CRC-32)")

    def _parse_files(self, files) -> dict[str, FileSum]:
        if not isinstance(files, Mapping):
            raise _bad(self.source, "files must be a mapping of file name to size and crc32")
        out = {}
        for name, v in files.items():
            if isinstance(v, FileSum):
                out[name] = v
                continue
            ok = isinstance(v, Mapping) and isinstance(v.get("bytes"), int) and isinstance(v.get("crc32"), str) \
                and len(v["crc32"]) == 8
            if not ok:
                raise _bad(self.source, f"files[{name!r}] must be {{'bytes': int, 'crc32': 8 hex digits}}; got {v!r:.80}")
            out[name] = FileSum(int(v["bytes"]), v["crc32"])
        return out

    @property
    def stored_layers(self) -> list[int]:
        """The model's layer numbers this store holds (``layers``, or ``0..n_layers-1`` for older stores)."""
        return list(self.layers) if self.layers is not None else list(range(self.n_layers))

    @property
    def all_layers(self) -> bool:
        """True if the store holds every layer of its model."""
        total = self.n_blocks + 1 if self.n_blocks is not None else self.n_layers
        return self.stored_layers == list(range(total))

    def _check_files_agree(self) -> None:
        """The recorded file sizes must be those of (n, dim) arrays in ``dtype``: catches an edited n/dim/dtype."""
        for i in self.stored_layers:
            rec = self.files.get(layer_file(i))
            if rec is None:
                raise _bad(self.source, f"files has no entry for {layer_file(i)}")
            want = self.layer_bytes()
            if rec.bytes != want:
                rows = (rec.bytes - npy_header_len((self.n, self.dim), self.dtype)) / max(
                    self.dim * np.dtype(self.dtype).itemsize, 1)
                raise _bad(self.source, f"n={self.n}, dim={self.dim}, dtype={self.dtype} make {layer_file(i)} "
                                        f"{want} bytes, but it was written with {rec.bytes} bytes "
                                        f"(about {rows:g} rows of dim {self.dim})")

    def layer_bytes(self) -> int:
        """Size of one layer file: ``.npy`` header + ``n * dim`` values of ``dtype``."""
        return npy_header_len((self.n, self.dim), self.dtype) + self.n * self.dim * np.dtype(self.dtype).itemsize

    # ------------------------------------------------------------------ JSON
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "source"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | os.PathLike = "manifest") -> "StoreManifest":
        """Validate ``data`` (a parsed ``manifest.json``); unknown keys are kept in ``extra``."""
        if isinstance(data, StoreManifest):
            return data
        if not isinstance(data, Mapping):
            raise _bad(source, f"the manifest must be a JSON object; got {type(data).__name__}")
        names = set(cls.field_names())
        missing = [k for k in ("n", "dim", "n_layers") if k not in data]
        if missing:
            raise _bad(source, f"the manifest has no {', '.join(missing)}")
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        if isinstance(data.get("extra"), Mapping):
            extra.pop("extra", None)
            extra.update(data["extra"])
        try:
            return cls(**known, extra=extra, source=str(source))
        except TypeError as exc:  # pragma: no cover - a field of the wrong kind for the constructor
            raise _bad(source, str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        cached = self.__dict__.get("_dict")
        if cached is None:
            cached = {}
            for name in self.field_names():
                v = getattr(self, name)
                if name == "files":
                    v = None if v is None else {k: s.to_dict() for k, s in sorted(v.items())}
                elif isinstance(v, list):
                    v = list(v)
                cached[name] = v
            for k, v in self.extra.items():
                cached.setdefault(k, v)
            object.__setattr__(self, "_dict", cached)
        return json.loads(json.dumps(cached))  # a deep copy: callers may change it

    def replace(self, **changes) -> "StoreManifest":
        """A copy with ``changes`` applied (validated again)."""
        data = self.to_dict()
        data.update(changes)
        return StoreManifest.from_dict(data, source=self.source)

    def identity(self) -> dict[str, Any]:
        return {k: identity_value(self, k) for k in IDENTITY_KEYS}

    # ------------------------------------------------------------------ read-only mapping (transition)
    def _get(self, key: str):
        d = self.__dict__.get("_dict")
        if d is None:
            self.to_dict()
            d = self.__dict__["_dict"]
        return d[key]

    def __getitem__(self, key: str) -> Any:
        try:
            v = self._get(key)
        except KeyError:
            raise KeyError(key) from None
        return json.loads(json.dumps(v)) if isinstance(v, (dict, list)) else v

    def __iter__(self) -> Iterator[str]:
        self.to_dict()
        return iter(list(self.__dict__["_dict"]))

    def __len__(self) -> int:
        self.to_dict()
        return len(self.__dict__["_dict"])

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other) -> bool:
        if isinstance(other, StoreManifest):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented


# ----------------------------------------------------------------------------- files
def read_manifest(path: str | os.PathLike) -> StoreManifest | None:
    """The validated manifest of the store folder ``path``, or None if it has none."""
    f = Path(path) / MANIFEST_NAME
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text())
    except ValueError as exc:
        raise ValidationError(f"{f} is not valid JSON ({exc}); delete the folder or pass overwrite=True") from None
    return StoreManifest.from_dict(data, source=f)


def _norm(v):
    return json.loads(json.dumps(v)) if v is not None else None


def identity_value(m: Mapping[str, Any], key: str):
    """``m[key]`` as identity compares it: ``layers`` is None when the store (or request) covers every layer
    (stores written before ``layers`` existed hold all); ``model_dtype`` is float32 when not recorded."""
    v = m.get(key)
    if key == "model_dtype":
        return v or "float32"
    if key == "layers" and v is not None:
        v = [int(x) for x in v]
        blocks = m.get("n_blocks")
        if blocks is not None and v == list(range(int(blocks) + 1)):
            return None
    return v


def diff_manifest(old: Mapping[str, Any], new: Mapping[str, Any], keys) -> list[str]:
    """``["pooling: 'cls' (stored) != 'mean' (requested)", ...]`` for the differing ``keys``."""
    out = []
    for k in keys:
        a, b = _norm(identity_value(old, k)), _norm(identity_value(new, k))
        if a != b:
            show = (lambda v: "all" if v is None else v) if k == "layers" else (lambda v: v)
            out.append(f"{k}: {show(identity_value(old, k))!r} (stored) != {show(identity_value(new, k))!r} "
                       "(requested)")
    return out


def check_manifest(path, old: Mapping[str, Any], new: Mapping[str, Any], *, plan: bool) -> None:
    diffs = diff_manifest(old, new, IDENTITY_KEYS + (PLAN_KEYS if plan else ()))
    if diffs:
        raise ManifestMismatchError(
            f"the store at {path} was written with different settings: {'; '.join(diffs)}. "
            "Pick another output folder, or pass overwrite=True (CLI: --overwrite) to replace it.")
