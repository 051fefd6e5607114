"""The one on-disk format every analysis result uses.

A result folder holds::

    result.json     {"kind", "meta", "tables", "arrays", "files": {name: sha256}, "ftgeo_version"}
    <table>.csv     one tidy table per entry of ``tables`` (long format, one row per observation)
    arrays.npz      every entry of ``arrays``

``result.json`` is written last and names every file of the result with its SHA-256, so a result
is complete exactly when ``result.json`` exists and its files match: saving first removes the old
``result.json``, a crash part-way leaves a folder without one (incomplete, never mistaken for the
old result), and a file changed or truncated afterwards is refused on load.

Subclasses set ``kind``, add accessors, a ``summary()`` and their figures (``displays()``); they do
not change the format, so plots and the report read any result without recomputing it.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ftgeo import _atomic
from ftgeo.errors import DataNotFoundError, ValidationError

_KINDS: dict[str, type["Result"]] = {}
HEAD = "result.json"

#: modules whose import (and whose ``discover_result_kinds()``, where defined) registers Result kinds:
#: a loader in a fresh process finds the class of any saved kind without this layer importing them
KIND_PROVIDERS = ("ftgeo.analyses", "ftgeo.results.finetune", "ftgeo.studies.base", "ftgeo.studies.claims",
                  "ftgeo.studies.lora")


class IncompleteResultError(DataNotFoundError):
    """A result folder without a (matching) ``result.json``: its analysis did not finish writing it."""


@dataclass
class Result:
    """A named bundle of tidy tables, arrays and metadata."""

    kind: ClassVar[str] = "result"
    #: report section for kinds that no registered analysis owns (see ``ftgeo.analyses.FAMILIES``)
    family: ClassVar[str | None] = None
    tables: dict[str, Any] = field(default_factory=dict)      # name -> pandas.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    # ------------------------------------------------------------------ figures
    def displays(self) -> list[tuple[str, Any]]:
        """The figures of this result: ``(suffix, Display)`` pairs, saved as ``<name>_<suffix>``.

        Displays only copy what they draw out of the result (``Display.from_result``); drawing
        and saving happen in :func:`save_result`. Subclasses override; the default has none."""
        return []

    def findings(self) -> list:
        """Sentences for the report's findings section, generated from the saved tables (no recomputing):
        each a string or ``(sentence, figure_suffix)`` to link it to the figure ``<name>_<suffix>`` instead
        of the result's section. Numbers carry their interval where the table has ``*_low/*_high``
        columns (:func:`ftgeo.results.findings.with_ci`). Subclasses override; the default has none."""
        return []

    # ------------------------------------------------------------------ io
    def save(self, folder: str | Path) -> Path:
        """Write the result into ``folder`` (created if needed), ``result.json`` last (see the module doc),
        holding the folder's lock (a second writer of the same result fails with one line naming the first)."""
        folder = Path(folder)
        with _writing(folder, f"saving a {self.kind} result"):
            return self._write(folder)

    def _write(self, folder: Path) -> Path:
        for name in (*self.tables, *self.arrays):
            _check_name(name)
        previous = _read_head(folder)
        invalidate(folder)
        files: dict[str, str] = {}
        for name, df in self.tables.items():
            buf = io.StringIO()
            df.to_csv(buf, index=False)
            files[f"{name}.csv"] = _write(folder / f"{name}.csv", buf.getvalue().encode("utf-8"))
        if self.arrays:
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in self.arrays.items()})
            files["arrays.npz"] = _write(folder / "arrays.npz", buf.getvalue())
        _remove_stale(folder, previous, files)
        from ftgeo import __version__
        _atomic.write_json(folder / HEAD, {
            "kind": self.kind, "meta": self.meta, "tables": sorted(self.tables), "arrays": sorted(self.arrays),
            "files": files, "ftgeo_version": __version__,
        })
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, verify: bool = True) -> "Result":
        """Read a result folder written by :meth:`save` (the class is chosen by its ``kind``).

        Refuses a folder without ``result.json`` (:class:`IncompleteResultError`) and, with
        ``verify``, one whose files no longer match the hashes ``result.json`` recorded."""
        import pandas as pd

        folder = Path(folder)
        head = _read_head(folder)
        if head is None:
            if folder.is_dir() and any(f.suffix in (".csv", ".npz", ".tmp") for f in folder.iterdir()):
                raise IncompleteResultError(f"{folder} holds an incomplete result (no {HEAD}: its analysis was "
                                            "interrupted while saving); rerun the analysis")
            raise DataNotFoundError(f"{folder} is not a result folder (no {HEAD}); run the analysis first or "
                                    "check the path.")
        if verify:
            _verify(folder, head)
        klass = result_class(head["kind"]) if cls is Result else cls
        tables = {n: pd.read_csv(folder / f"{n}.csv") for n in head["tables"]}
        arrays: dict[str, np.ndarray] = {}
        if head["arrays"]:
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {n: z[n] for n in head["arrays"]}
        obj = klass.__new__(klass)
        Result.__init__(obj, tables=tables, arrays=arrays, meta=head["meta"])
        return obj

    def summary(self):
        """A small table for the HTML report (subclasses override; default: the first table's head)."""
        import pandas as pd
        return next(iter(self.tables.values())).head(20) if self.tables else pd.DataFrame()

    def table(self, name: str):
        if name not in self.tables:
            raise ValidationError(f"{self.kind} result has no table {name!r}; it has {sorted(self.tables)}")
        return self.tables[name]

    def array(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise ValidationError(f"{self.kind} result has no array {name!r}; it has {sorted(self.arrays)}")
        return self.arrays[name]


def save_result(result: Result, run, name: str, *, figures: bool = True) -> Path:
    """Save ``result`` as ``run/results/<name>`` with its figures as ``run/figures/<name>_<suffix>.png|svg``.

    The only saving route of every analysis: the old ``result.json`` goes first, then the figures
    that ``result.displays()`` lists are drawn and written (stems recorded in
    ``result.meta["figures"]``), then the tables and arrays, and ``result.json`` last."""
    from ftgeo.run import RunDir

    run = run if isinstance(run, RunDir) else RunDir(run)
    folder = run.result_dir(name)
    with _writing(folder, f"saving result {name}"):
        invalidate(folder)
        if figures:
            with _writing(run.figures, f"drawing the figures of {name}"):
                result.meta["figures"] = _draw(result, run, name)
        return result._write(folder)


def _draw(result: Result, run, name: str) -> list[str]:
    stems = []
    skipped = {}
    for suffix, display in result.displays():
        stem = f"{name}_{suffix}"
        why = display.empty_reason()
        if why:                        # nothing to draw: one line in the report instead of an empty figure
            skipped[stem] = why
            continue
        display.save(run.figure_stem(stem))
        display.close()
        stems.append(stem)
    if skipped:
        result.meta["figures_not_drawn"] = skipped
    else:
        result.meta.pop("figures_not_drawn", None)
    return stems


@contextlib.contextmanager
def _writing(folder: Path, purpose: str):
    """Hold ``folder``'s lock and remove the temporaries a killed writer left there."""
    from ftgeo._atomic import clean_stale_tmp
    from ftgeo._lock import FolderLock
    folder.mkdir(parents=True, exist_ok=True)
    with FolderLock(folder, purpose=purpose):
        clean_stale_tmp([folder])
        yield


def invalidate(folder: Path) -> None:
    """Mark the result in ``folder`` incomplete (remove its ``result.json``) before rewriting it."""
    (Path(folder) / HEAD).unlink(missing_ok=True)


def result_class(kind: str) -> type[Result]:
    """The Result subclass of ``kind`` (importing the :data:`KIND_PROVIDERS` once when it is not known yet)."""
    if kind not in _KINDS:
        for name in KIND_PROVIDERS:
            hook = getattr(importlib.import_module(name), "discover_result_kinds", None)
            if hook is not None:
                hook()
    return _KINDS.get(kind, Result)


def load_result(folder: str | Path) -> Result:
    """Load any saved result, returning the subclass recorded in its ``result.json``."""
    return Result.load(folder)


def _write(path: Path, data: bytes) -> str:
    _atomic.write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def _read_head(folder: Path) -> dict | None:
    f = Path(folder) / HEAD
    if not f.is_file():
        return None
    try:
        head = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{f} is not valid JSON ({exc}); rerun the analysis that wrote it") from None
    if not isinstance(head, dict) or not {"kind", "meta", "tables", "arrays"} <= set(head):
        raise ValidationError(f"{f} is not an ftgeo result header; rerun the analysis that wrote it")
    return head


def _verify(folder: Path, head: dict) -> None:
    for fname, digest in (head.get("files") or {}).items():
        path = folder / fname
        if not path.is_file():
            raise IncompleteResultError(f"{folder}: {fname} is missing; rerun the analysis")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise ValidationError(f"{folder}: {fname} changed after the result was written (checksum differs); "
                                  "rerun the analysis")


def _remove_stale(folder: Path, previous: dict | None, files: dict[str, str]) -> None:
    """Remove the files an earlier save of this result wrote and this one did not (never others)."""
    if not previous:
        return
    old = set(previous.get("files") or {}) | {f"{t}.csv" for t in previous.get("tables", [])}
    if previous.get("arrays"):
        old.add("arrays.npz")
    for fname in old - set(files):
        if "/" not in fname and fname != HEAD:
            (folder / fname).unlink(missing_ok=True)


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValidationError(f"result part name {name!r} must be letters, digits, '_' or '-'")
