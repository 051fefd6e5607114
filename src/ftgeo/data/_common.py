"""Shared machinery of the file-backed task loaders: raw rows, label vocabularies, derived splits, checks.

Every local loader reads its files into :class:`RawExample` rows whose labels are still strings;
:class:`FileTask` builds the label vocabulary (a fixed official list, or the sorted union over
every split it can read), turns labels into ``int`` indices, validates each split (not empty,
more than one class) and caches it. Nothing here touches the network.
"""
from __future__ import annotations

import gzip
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence


from ftgeo.data.base import UNLABELLED, Example, Target, Task, TaskKind
from ftgeo.errors import DataNotFoundError, ValidationError, decode_error_message, locate_decode_error

DATA_ROOT_HINT = ("pass data_root=... (CLI: --data-root DIR) or set FTGEO_DATA_ROOT to the folder that holds "
                  "the datasets (the repository's tests use ../shared/data beside the checkout)")


@dataclass
class RawExample:
    """One example with string labels, before the vocabulary is known."""

    id: str
    text: str | None = None
    text_pair: str | None = None
    label: str | None = None
    words: tuple[str, ...] | None = None
    targets: list[tuple[tuple[int, ...], str]] = field(default_factory=list)


Reader = Callable[[], list[RawExample]]


# --------------------------------------------------------------------------------------------- files
def open_text(path: Path, encoding: str = "utf-8-sig") -> io.TextIOBase:
    """Open a data file for reading text, transparently gunzipping ``*.gz``; newline handling left to the caller.

    Every local reader goes through here and uses the result as a context manager
    (``with open_text(p) as fh: ...``). On leaving the ``with`` block, a read that failed because of the
    file's bytes becomes one :class:`ValidationError` naming the file: a byte that is not valid in
    ``encoding`` as ``FILE:LINE: byte 0xe9 is not valid UTF-8 ...; re-encode the file as UTF-8``, a
    corrupt or truncated ``.gz``, or a CSV error. The default ``utf-8-sig`` reads UTF-8 and drops a
    leading byte-order mark (files saved by spreadsheet programs start with one).
    """
    path = Path(path)
    binary = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    try:
        fh = _TextFile(binary, encoding=encoding, newline="")
    except BaseException:
        binary.close()
        raise
    fh.ftgeo_path, fh.ftgeo_encoding = path, encoding
    return fh


class _TextFile(io.TextIOWrapper):
    """A text file whose ``with`` block turns decoding, gzip and CSV failures into a one-line ValidationError."""

    ftgeo_path: Path
    ftgeo_encoding: str

    def __exit__(self, exc_type, exc, tb):
        super().__exit__(exc_type, exc, tb)
        if exc is not None and not isinstance(exc, ValidationError):
            error = file_read_error(self.ftgeo_path, exc, self.ftgeo_encoding)
            if error is not None:
                raise error from exc
        return False


def file_read_error(path: Path, exc: BaseException, encoding: str = "utf-8-sig") -> ValidationError | None:
    """The one-line :class:`ValidationError` for a failed read of data file ``path``, or None when ``exc``
    is not about the file's content (e.g. a permission error, which the CLI reports itself)."""
    import csv
    import zlib
    if isinstance(exc, UnicodeDecodeError):
        line = _first_undecodable_line(path, encoding)
        where = f"{path}:{line[0]}:{line[1]}" if line else str(path)
        return ValidationError(decode_error_message(where, exc))
    if isinstance(exc, gzip.BadGzipFile):
        return ValidationError(f"{path}: not a gzip file ({exc}); if it is plain text, drop the .gz from its name")
    if isinstance(exc, (EOFError, zlib.error)) and path.suffix == ".gz":
        return ValidationError(f"{path}: the gzip file is truncated or corrupt ({exc}); download or copy it again")
    if isinstance(exc, csv.Error):
        return ValidationError(f"{path}: cannot read it as CSV ({exc})")
    return None


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the first byte of ``path`` that ``encoding`` cannot decode."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    return lineno, locate_decode_error(raw, exc)[1]
    except (OSError, EOFError):
        return None
    return None


def require_file(path: Path, task: str) -> Path:
    """``path`` if it is a file, else a :class:`DataNotFoundError` naming it and the data-root option."""
    if not path.is_file():
        raise DataNotFoundError(f"task {task!r}: expected the file {path}, which does not exist; {DATA_ROOT_HINT}.")
    return path


def first_existing(candidates: Sequence[Path], task: str) -> Path:
    """The first of ``candidates`` that exists (e.g. ``x.conllulex`` or ``x.conllulex.gz``)."""
    for c in candidates:
        if c.is_file():
            return c
    names = " or ".join(str(c) for c in candidates)
    raise DataNotFoundError(f"task {task!r}: expected the file {names}, which does not exist; {DATA_ROOT_HINT}.")


# ------------------------------------------------------------------------------------- derived splits
def check_holdout(holdout: float) -> float:
    try:
        h = float(holdout)
    except (TypeError, ValueError):
        raise ValidationError(f"holdout must be a number strictly between 0 and 1; got {holdout!r}") from None
    if not 0.0 < h < 1.0:
        raise ValidationError(f"holdout must be strictly between 0 and 1 (the held-out fraction); got {holdout!r}")
    return h


def stratified_holdout(strata: Sequence, holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded, stratified partition of ``range(len(strata))`` into sorted (kept, held_out) index lists
    (:func:`ftgeo.sampling.stratified_holdout`, strata in ``repr`` order): within every stratum the
    first ``round(holdout * n)`` of a seeded permutation are held out (at least one when the stratum
    has two or more members, never all of them). Each part keeps the file order."""
    from ftgeo.sampling import stratified_holdout as _holdout
    kept, held = _holdout(strata, check_holdout(holdout), seed, order="repr")
    return kept.tolist(), held.tolist()


class FileTask(Task):
    """A task read from local files.

    Parameters
    ----------
    name, kind : the task's name and kind (see :mod:`ftgeo.data.base`).
    readers : ``{split: callable returning [RawExample, ...]}`` for the splits that exist.
    label_names : a fixed official vocabulary, or ``None`` to use the sorted union of the labels
        of every split (``label_sort="numeric"`` sorts labels that are all integers numerically).
    missing : ``{split: message}`` for standard splits that do not exist locally; asking for one
        raises :class:`DataNotFoundError` with that message.
    derive : ``(source_split, holdout, seed)`` to replace the splits by a seeded stratified
        partition of ``source_split`` into ``train`` and a held-out part. The held-out part keeps
        the source split's name (``dev`` for QNLI, ``test`` for AG News and PUD), or is called
        ``test`` when the source is ``train`` itself.
    """

    def __init__(self, name: str, kind: TaskKind, readers: dict[str, Reader], *,
                 label_names: Sequence[str] | None = None, label_sort: str = "lexical",
                 missing: dict[str, str] | None = None, derive: tuple[str, float, int] | None = None,
                 source_files: dict[str, Path] | None = None, info: dict | None = None) -> None:
        self._fixed_labels = list(label_names) if label_names is not None else None
        self._labels: list[str] | None = self._fixed_labels
        super().__init__()
        self.name, self.kind = name, kind
        self._readers = dict(readers)
        self._raw: dict[str, list[RawExample]] = {}
        self._missing = dict(missing or {})
        self._label_sort = label_sort
        self.source_files = dict(source_files or {})
        self.info = dict(info or {})
        self.derived_from: tuple[str, float, int] | None = None
        if derive is not None:
            self._setup_derived(*derive)

    # label_names is computed lazily for data-derived vocabularies
    @property  # type: ignore[override]
    def label_names(self) -> list[str]:
        if self._labels is None:
            if self.kind == "unlabelled":
                self._labels = []
            else:
                self._labels = self._build_vocabulary()
        return self._labels

    @label_names.setter
    def label_names(self, value) -> None:  # the base __init__ assigns [] when nothing is set
        if value:
            self._labels = list(value)

    def examples(self, split: str) -> list[Example]:
        if split not in self._readers and split in self._missing:
            raise DataNotFoundError(self._missing[split])
        return super().examples(split)

    # --------------------------------------------------------------------------------- internals
    def _load_split(self, split: str) -> list[Example]:
        rows = self.raw(split)
        labels = self.label_names
        index = {lab: i for i, lab in enumerate(labels)}
        where = self.source_files.get(split, "")

        def enc(lab: str, rid: str) -> int:
            try:
                return index[lab]
            except KeyError:
                raise ValidationError(f"task {self.name!r}, split {split!r}, example {rid}: label {lab!r} is not "
                                      f"one of the task's labels {labels}" + (f" ({where})" if where else "")) from None

        out: list[Example] = []
        used: dict[int, int] = {}
        n_targets = 0
        interned: dict[tuple, Target] = {}  # Target is frozen: equal targets can share one object
        for r in rows:
            if self.kind == "token":
                tl = []
                for ix, lab in r.targets:
                    key = (ix, lab)
                    t = interned.get(key)
                    if t is None:
                        t = interned[key] = Target(tuple(ix), enc(lab, r.id))
                    tl.append(t)
                n_targets += len(tl)
                out.append(Example(id=r.id, words=r.words, targets=tuple(tl)))
            elif self.kind == "unlabelled":
                out.append(Example(id=r.id, text=r.text, label=UNLABELLED))
            else:
                lab = enc(r.label, r.id) if r.label is not None else UNLABELLED
                if lab != UNLABELLED:
                    used[lab] = used.get(lab, 0) + 1
                out.append(Example(id=r.id, text=r.text, text_pair=r.text_pair, label=lab))
        if self.kind == "token":
            for t in interned.values():
                used[t.label] = 1
        if self.kind == "token" and n_targets == 0:
            raise ValidationError(f"task {self.name!r}: split {split!r} has {len(out)} sentences but no targets"
                                  + (f" (read from {where})" if where else "") + "; check the file and the options.")
        if self.kind != "unlabelled" and len(used) == 1:
            only = labels[next(iter(used))]
            raise ValidationError(f"task {self.name!r}: split {split!r} has a single class ({only!r}); a labelled "
                                  "split needs at least two classes. Check the label column / file.")
        self._raw.pop(split, None)  # the encoded examples are cached by the base class; free the raw rows
        return out

    def _setup_derived(self, source: str, holdout: float, seed: int) -> None:
        holdout = check_holdout(holdout)
        if source not in self._readers:
            raise ValidationError(f"task {self.name!r}: cannot derive splits from {source!r}; "
                                  f"it has {self.splits()}")
        held_name = "test" if source == "train" else source
        base_reader = self._readers[source]
        cache: dict[str, list[int]] = {}

        def partition() -> tuple[list[int], list[int]]:
            if "kept" not in cache:
                rows = self.raw("__source__")
                if self.kind == "token" or self.kind == "unlabelled":
                    strata = [0] * len(rows)  # sentences are split at random, not stratified
                else:
                    strata = [r.label for r in rows]
                cache["kept"], cache["held"] = stratified_holdout(strata, holdout, seed)
            return cache["kept"], cache["held"]

        def reader(which: str) -> Reader:
            def read() -> list[RawExample]:
                kept, held = partition()
                rows = self.raw("__source__")
                return [rows[i] for i in (kept if which == "train" else held)]
            return read

        src_file = self.source_files.get(source)
        self._readers = {"__source__": base_reader, "train": reader("train"), held_name: reader("held")}
        if src_file is not None:
            self.source_files = {"train": src_file, held_name: src_file}
        self.derived_from = (source, holdout, seed)
        for s in ("train", held_name):
            self._missing.pop(s, None)

    def splits(self) -> list[str]:
        """The public split names (a derived task hides the split it was cut from)."""
        return [s for s in self._readers if s != "__source__"]

    def _build_vocabulary(self) -> list[str]:
        """Sorted union of the labels of every split (of the source split, for a derived task)."""
        seen: set[str] = set()
        names = ["__source__"] if "__source__" in self._readers else self.splits()
        for split in names:
            for r in self.raw(split):
                if r.label is not None:
                    seen.add(r.label)
                for _, lab in r.targets:
                    seen.add(lab)
        if self._label_sort == "numeric" and seen and all(re.fullmatch(r"-?\d+", s) for s in seen):
            return sorted(seen, key=int)
        return sorted(seen)

    def raw(self, split: str) -> list[RawExample]:
        """The split's rows with string labels (read once)."""
        if split not in self._raw:
            if split not in self._readers:
                if split in self._missing:
                    raise DataNotFoundError(self._missing[split])
                raise ValidationError(f"task {self.name!r} has no split {split!r}; it has {self.splits()}")
            rows = self._readers[split]()
            if not rows:
                where = self.source_files.get(split)
                raise ValidationError(f"task {self.name!r}: split {split!r} is empty"
                                      + (f" (read from {where})" if where else "") + "; check the file.")
            self._raw[split] = rows
        return self._raw[split]


def missing_split_message(task: str, split: str, have: Iterable[str], source_split: str, where: Path | str,
                          hub: str | None = None) -> str:
    """The one message for 'this standard split does not exist locally, here is how to get one'."""
    held = "test" if source_split == "train" else source_split
    msg = (f"task {task!r}: split {split!r} is missing locally (only {', '.join(have)} exist(s), in {where}). "
           f"Pass derive_splits=True (holdout=0.2, seed=0 by default) to cut a seeded, stratified, disjoint "
           f"train/{held} partition out of {source_split!r}")
    if hub:
        msg += f", or source='hub' to download the official split ({hub}) where the `datasets` package and the network are available"
    return msg + "."


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def build_file_task(name: str, kind: TaskKind, readers: dict[str, Reader], files: dict[str, Path], *,
                    standard_splits: Sequence[str], derive_splits: bool = False, holdout: float = 0.2,
                    seed: int = 0, hub: str | None = None, notes: dict[str, str] | None = None,
                    **task_kwargs) -> FileTask:
    """A :class:`FileTask` whose absent standard splits raise a 'missing, here is how to derive' error.

    ``readers``/``files`` hold only the splits whose files exist. ``notes`` gives a fixed message for
    splits that are absent on purpose (e.g. SST-2's unlabelled test). With ``derive_splits=True``
    the single existing split is partitioned (see :class:`FileTask`).
    """
    if not readers:
        raise DataNotFoundError(f"task {name!r}: none of its files exist: "
                                f"{', '.join(str(p) for p in files.values())}; {DATA_ROOT_HINT}.")
    notes = dict(notes or {})
    have = list(readers)
    derive = None
    if derive_splits:
        if len(have) != 1:
            raise ValidationError(f"task {name!r}: derive_splits=True cuts train/held-out splits out of a task's "
                                  f"only split, but {name!r} has {len(have)} splits locally ({', '.join(have)}); "
                                  "use them as they are.")
        derive = (have[0], holdout, seed)
    where = Path(next(iter(files.values()))).parent if files else ""
    missing = {}
    for s in standard_splits:
        if s in readers:
            continue
        if s in notes:
            missing[s] = notes[s]
        elif len(have) == 1:
            missing[s] = missing_split_message(name, s, have, have[0], where, hub)
        else:
            missing[s] = (f"task {name!r}: split {s!r} is missing locally (expected {files.get(s, where)}; "
                          f"found {', '.join(have)}); {DATA_ROOT_HINT}.")
    return FileTask(name, kind, readers, missing=missing, derive=derive,
                    source_files={s: files[s] for s in readers if s in files}, **task_kwargs)


def dispatch(name: str, data_root, source: str, local: Callable[[Path], Task], *,
             hub_id: str | None = None, hub_kwargs: dict | None = None) -> Task:
    """Build task ``name`` from the local data root or the hub, following ``source``.

    ``auto`` uses the local files when they exist; when they (or the data root) are missing it
    falls back to the hub if ``hub_id`` is set and the hub is usable, and otherwise re-raises the
    local :class:`DataNotFoundError`.
    """
    if source == "hub":
        if hub_id is None:
            raise ValidationError(f"task {name!r} has no Hugging Face hub source; use source='local' with a data root")
        from ftgeo.data.hub import load_hub
        return load_hub(hub_id, task_name=name, **(hub_kwargs or {}))
    from ftgeo.data import resolve_data_root
    try:
        return local(resolve_data_root(data_root))
    except DataNotFoundError as local_error:
        if source == "auto" and hub_id is not None:
            from ftgeo.data.hub import hub_available, load_hub
            from ftgeo.errors import OfflineError
            if hub_available():
                try:
                    return load_hub(hub_id, task_name=name, **(hub_kwargs or {}))
                except OfflineError as hub_error:
                    raise DataNotFoundError(f"{local_error} The fallback to the Hugging Face hub failed too: "
                                            f"{hub_error}") from None
        raise


def read_glue_tsv(path: Path, columns: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """GLUE-style TSV (header line, tab-separated, no quoting): yields (line number, row dict).

    Every row must have as many fields as the header; ``columns`` must all be in the header.
    """
    with open_text(path) as fh:
        header_line = fh.readline()
        header = header_line.rstrip("\r\n").split("\t")
        for c in columns:
            if c not in header:
                raise ValidationError(f"{path}:1: expected a header with column {c!r}; got {header}")
        n = len(header)
        for lineno, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != n:
                raise ValidationError(f"{path}:{lineno}: expected {n} tab-separated fields ({', '.join(header)}), "
                                      f"got {len(fields)}")
            yield lineno, dict(zip(header, fields))
