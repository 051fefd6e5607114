"""Your own data: csv/tsv/jsonl files with named columns, and CoNLL-U files.

>>> load_task("file:reviews.csv", text_column="review", label_column="stars")        # doctest: +SKIP
>>> load_task("local_file", files={"train": "a.jsonl", "test": "b.jsonl"})             # doctest: +SKIP
>>> load_task("conllu:my-treebank.conllu", target="dep", relations="full")            # doctest: +SKIP

Table files (``.csv``, ``.tsv``, ``.jsonl``, each optionally ``.gz``; or ``format=``):

* csv/tsv need a header line; jsonl is one JSON object per line.
* ``text_column`` (default ``"text"``) is the input; with ``text_pair_column`` the task is a
  sentence-pair task. ``label_column`` (default ``"label"``) gives the labels; ``label_column=None``
  makes an unlabelled task. ``id_column`` names an id column (default: ``<split>-<row>``).
* The vocabulary is ``label_names`` if you give it (file labels must be among them), else the
  sorted union of the labels of every split (numerically sorted when all labels are integers).
* Paths are relative to the working directory (not the data root).
* One file (``path=``) is split ``split`` (default ``train``); ``files={split: path}`` gives several.
  ``derive_splits=True`` cuts one file into a seeded, stratified ``train``/``test`` partition.

CoNLL-U files: ``target="pos"`` (UPOS per word) or ``"dep"`` ((head, dependent) pairs, with
``relations="base"|"full"``), exactly as :mod:`ftgeo.data.ud`. The split name of ``path`` is taken
from the file name when it contains ``train``, ``dev`` or ``test`` (else ``split``).
"""
from __future__ import annotations

import csv
import difflib
import json
import re
from pathlib import Path
from typing import Mapping, Sequence

from ftgeo.data._common import FileTask, RawExample, build_file_task, open_text
from ftgeo.data.ud import UPOS, dep_examples, pos_examples
from ftgeo.errors import DataNotFoundError, ValidationError

FORMATS = ("csv", "tsv", "jsonl")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValidationError(f"format={fmt!r} is not one of {list(FORMATS)}")
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1].lstrip(".") if suffixes else ""
    if ext == "json":
        ext = "jsonl"
    if ext not in FORMATS:
        raise ValidationError(f"cannot tell the format of {path} from its extension; name it .csv, .tsv or "
                              f".jsonl (optionally .gz) or pass format='csv'|'tsv'|'jsonl'")
    return ext


def _column_error(path: Path, what: str, col: str, have: Sequence[str], line: int | None = None) -> ValidationError:
    close = difflib.get_close_matches(col, list(have), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    where = f"{path}:{line}" if line else str(path)
    return ValidationError(f"{where}: {what}={col!r} is not a column of the file{hint} Columns: {', '.join(have)}")


def _rows(path: Path, fmt: str, delimiter: str | None):
    """Yield (line number, dict) for every record of a table file; the header is checked by the caller."""
    if fmt == "jsonl":
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValidationError(f"{path}:{lineno}: not valid JSON ({exc.msg}); expected one JSON object "
                                          "per line (.jsonl)") from None
                if not isinstance(obj, dict):
                    raise ValidationError(f"{path}:{lineno}: expected a JSON object per line; got "
                                          f"{type(obj).__name__}")
                yield lineno, obj
        return
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter or ("\t" if fmt == "tsv" else ","))
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationError(f"{path}:1: {exc}") from None
        yield 1, header  # the header row, as a list
        n = len(header)
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != n:
                    raise ValidationError(f"{path}:{reader.line_num}: expected {n} fields ({', '.join(header)}), "
                                          f"got {len(row)}")
                yield reader.line_num, dict(zip(header, row))
        except csv.Error as exc:
            raise ValidationError(f"{path}:{reader.line_num}: {exc}") from None


def table_examples(path: Path, split: str, *, fmt: str, text_column: str, text_pair_column: str | None,
                   label_column: str | None, id_column: str | None, delimiter: str | None) -> list[RawExample]:
    out = []
    need = [("text_column", text_column)]
    if text_pair_column is not None:
        need.append(("text_pair_column", text_pair_column))
    if label_column is not None:
        need.append(("label_column", label_column))
    if id_column is not None:
        need.append(("id_column", id_column))
    checked = False
    for lineno, row in _rows(path, fmt, delimiter):
        if isinstance(row, list):  # csv/tsv header
            for what, col in need:
                if col not in row:
                    raise _column_error(path, what, col, row, 1)
            checked = True
            continue
        if fmt == "jsonl":
            for what, col in need:
                if col not in row:
                    raise _column_error(path, what, col, list(row), lineno)
            checked = True

        def val(col: str) -> str:
            v = row[col]
            if v is None:
                raise ValidationError(f"{path}:{lineno}: column {col!r} is empty (null)")
            return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)

        text = val(text_column)
        label = None
        if label_column is not None:
            label = val(label_column).strip()
            if label == "":
                raise ValidationError(f"{path}:{lineno}: empty label in column {label_column!r}")
        out.append(RawExample(id=val(id_column) if id_column else f"{split}-{len(out)}", text=text,
                              text_pair=val(text_pair_column) if text_pair_column else None, label=label))
    if not checked and not out:
        raise ValidationError(f"{path}: the file is empty; expected a header line and rows")
    return out


def _file_map(name: str, path, files: Mapping | None, split: str, infer_split: bool) -> dict[str, Path]:
    if (path is None) == (files is None):
        raise ValidationError(f"task {name!r} needs either path=... (one file) or files={{split: path}}, not "
                              f"{'both' if path is not None else 'neither'}")
    if files is not None:
        if not isinstance(files, Mapping) or not files:
            raise ValidationError("files must be a non-empty mapping {split: path}")
        out = {str(s): Path(p).expanduser() for s, p in files.items()}
    else:
        p = Path(path).expanduser()
        s = split
        if infer_split and split == "train":
            m = re.search(r"(?<![a-z])(train|dev|test)(?![a-z])", p.name.lower())
            s = m.group(1) if m else split
        out = {s: p}
    for s, p in out.items():
        if p.is_dir():
            raise ValidationError(f"task {name!r}: {p} (split {s!r}) is a folder; give the path of a data file")
        if not p.is_file():
            raise DataNotFoundError(f"task {name!r}: the file {p} (split {s!r}) does not exist; paths are relative "
                                    f"to the working directory {Path.cwd()}")
    return out


def local_file(*, data_root=None, source: str = "auto", path: str | None = None,
               files: Mapping[str, str] | None = None, split: str = "train", text_column: str = "text",
               text_pair_column: str | None = None, label_column: str | None = "label",
               id_column: str | None = None, label_names: Sequence[str] | None = None, format: str | None = None,
               delimiter: str | None = None, derive_splits: bool = False, holdout: float = 0.2,
               seed: int = 0) -> FileTask:
    """A sentence / pair / unlabelled task from csv, tsv or jsonl file(s) with named columns."""
    if source == "hub":
        raise ValidationError("local files have no hub source; drop source='hub'")
    fmap = _file_map("local_file", path, files, split, infer_split=False)
    kind = "unlabelled" if label_column is None else ("pair" if text_pair_column else "sentence")
    readers = {}
    for s, p in fmap.items():
        fmt = _format_of(p, format)
        readers[s] = (lambda p=p, s=s, fmt=fmt: table_examples(
            p, s, fmt=fmt, text_column=text_column, text_pair_column=text_pair_column, label_column=label_column,
            id_column=id_column, delimiter=delimiter))
    name = f"file:{fmap[next(iter(fmap))]}" if path is not None else "local_file"
    return build_file_task(name, kind, readers, fmap, standard_splits=list(fmap), derive_splits=derive_splits,
                           holdout=holdout, seed=seed, label_names=label_names, label_sort="numeric")


def conllu_file(*, data_root=None, source: str = "auto", path: str | None = None,
                files: Mapping[str, str] | None = None, split: str = "train", target: str = "pos",
                relations: str = "base", derive_splits: bool = False, holdout: float = 0.2,
                seed: int = 0) -> FileTask:
    """A token task from CoNLL-U file(s): UPOS (``target="pos"``) or dependency relations (``"dep"``)."""
    if source == "hub":
        raise ValidationError("local files have no hub source; drop source='hub'")
    if target not in ("pos", "dep"):
        raise ValidationError(f"target={target!r} is not one of ['pos', 'dep']")
    if relations not in ("base", "full"):
        raise ValidationError(f"relations={relations!r} is not one of ['base', 'full']")
    fmap = _file_map("conllu_file", path, files, split, infer_split=True)
    if target == "pos":
        readers = {s: (lambda p=p, s=s: pos_examples(p, s)) for s, p in fmap.items()}
    else:
        readers = {s: (lambda p=p, s=s: dep_examples(p, s, relations)) for s, p in fmap.items()}
    name = f"conllu:{fmap[next(iter(fmap))]}" if path is not None else "conllu_file"
    return build_file_task(name, "token", readers, fmap, standard_splits=list(fmap), derive_splits=derive_splits,
                           holdout=holdout, seed=seed, label_names=UPOS if target == "pos" else None,
                           info={"target": target, **({"relations": relations} if target == "dep" else {})})
