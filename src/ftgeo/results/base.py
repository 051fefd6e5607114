"""The one on-disk format every analysis result uses.

A result folder holds::

    result.json     {"kind": ..., "meta": {...}, "tables": [...], "arrays": [...], "ftgeo_version": ...}
    <table>.csv     one tidy table per entry of ``tables`` (long format, one row per observation)
    arrays.npz      every entry of ``arrays``

Subclasses set ``kind`` and add convenience properties; they do not change the format,
so plots and the report can read any result without recomputing it.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ftgeo import _atomic
from ftgeo.errors import DataNotFoundError, ValidationError

_KINDS: dict[str, type["Result"]] = {}


@dataclass
class Result:
    """A named bundle of tidy tables, arrays and metadata."""

    kind: ClassVar[str] = "result"
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    # ------------------------------------------------------------------ io
    def save(self, folder: str | Path) -> Path:
        """Write the result into ``folder`` (created if needed); every file is written atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables.items():
            _check_name(name)
            buf = io.StringIO()
            df.to_csv(buf, index=False)
            _atomic.write_text(folder / f"{name}.csv", buf.getvalue())
        if self.arrays:
            for name in self.arrays:
                _check_name(name)
            _atomic.save_npz(folder / "arrays.npz", **{k: np.asarray(v) for k, v in self.arrays.items()})
        from ftgeo import __version__
        _atomic.write_json(folder / "result.json", {
            "kind": self.kind, "meta": self.meta, "tables": sorted(self.tables),
            "arrays": sorted(self.arrays), "ftgeo_version": __version__,
        })
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Result":
        """Read a result folder written by :meth:`save` (the class is chosen by its ``kind``)."""
        folder = Path(folder)
        head_path = folder / "result.json"
        if not head_path.is_file():
            raise DataNotFoundError(f"{folder} is not a result folder (no result.json); "
                                    "run the analysis first or check the path.")
        head = json.loads(head_path.read_text())
        klass = _KINDS.get(_discover_kind(head["kind"]), Result) if cls is Result else cls
        tables = {n: pd.read_csv(folder / f"{n}.csv") for n in head["tables"]}
        arrays: dict[str, np.ndarray] = {}
        if head["arrays"]:
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {n: z[n] for n in head["arrays"]}
        obj = klass.__new__(klass)
        Result.__init__(obj, tables=tables, arrays=arrays, meta=head["meta"])
        return obj

    def summary(self) -> pd.DataFrame:
        """A small table for the HTML report (subclasses override; default: the first table's head)."""
        return next(iter(self.tables.values())).head(20) if self.tables else pd.DataFrame()

    def table(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise ValidationError(f"{self.kind} result has no table {name!r}; it has {sorted(self.tables)}")
        return self.tables[name]

    def array(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise ValidationError(f"{self.kind} result has no array {name!r}; it has {sorted(self.arrays)}")
        return self.arrays[name]


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValidationError(f"result part name {name!r} must be letters, digits, '_' or '-'")


def result_class(kind: str) -> type[Result]:
    return _KINDS.get(_discover_kind(kind), Result)


def _discover_kind(kind: str) -> str:
    """Import the ``ftgeo.results.*`` modules once if ``kind`` is not registered yet (a fresh
    process, e.g. the report, has not imported the module that defines the subclass)."""
    if kind not in _KINDS:
        import importlib
        import pkgutil

        import ftgeo.results as _pkg
        for m in pkgutil.iter_modules(_pkg.__path__):
            if m.name != "base":
                try:
                    importlib.import_module(f"ftgeo.results.{m.name}")
                except ImportError:  # pragma: no cover - a broken optional module must not break loading
                    pass
    return kind


def load_result(folder: str | Path) -> Result:
    """Load any saved result, returning the subclass recorded in its ``result.json``."""
    return Result.load(folder)
