"""Document/sentence classification: IMDB, AG News, DBpedia-14.

Local layouts::

    DATA_ROOT/imdb/{train,test}.csv[.gz]      header id,rating,label,text (label 0 neg / 1 pos)
    DATA_ROOT/ag_news/{train,test}.csv        no header: "class (1-4)","title","description"
    DATA_ROOT/dbpedia/{train,test}.csv        no header: "class (1-14)","title","content"

The AG News and DBpedia CSVs are the originals of Zhang, Zhao & LeCun (2015). Their text is
``title + " " + description`` (as the Hugging Face ``ag_news`` ``text`` column); the ``\\``
newline escapes of the originals are kept as they are. Labels follow the official class order
(class k -> index k-1), the same vocabulary as the hub datasets.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from ftgeo.data._common import RawExample, build_file_task, dispatch, open_text
from ftgeo.errors import ValidationError

IMDB_LABELS = ["neg", "pos"]
AG_NEWS_LABELS = ["World", "Sports", "Business", "Sci/Tech"]
DBPEDIA_LABELS = ["Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder", "MeanOfTransportation",
                  "Building", "NaturalPlace", "Village", "Animal", "Plant", "Album", "Film", "WrittenWork"]

csv.field_size_limit(1 << 24)


def hash_order(examples: list[RawExample]) -> list[RawExample]:
    """The examples in a fixed pseudo-random order (by a BLAKE2b hash of the id; ties keep the file order).

    The IMDB files hold 12,500 negative reviews and then 12,500 positive ones: the first N examples, which
    ``max_examples`` / ``max_eval_examples`` keep, would all be negative.  In this order they are a label-
    balanced sample (1,000 +- ~30 of each among the first 2,000 test reviews), the same on every machine."""
    import hashlib
    key = [hashlib.blake2b(ex.id.encode(), digest_size=8).digest() for ex in examples]
    return [examples[i] for i in sorted(range(len(examples)), key=key.__getitem__)]


def imdb_examples(path: Path) -> list[RawExample]:
    """The reviews of one IMDB CSV, in :func:`hash_order` (the file is sorted by label)."""
    out = []
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != ["id", "rating", "label", "text"]:
            raise ValidationError(f"{path}:1: expected the header id,rating,label,text; got {header}")
        for row in reader:
            if len(row) != 4 or row[2] not in ("0", "1"):
                raise ValidationError(f"{path}:{reader.line_num}: expected 4 fields id,rating,label(0/1),text; "
                                      f"got {row[:3]}")
            out.append(RawExample(id=row[0], text=row[3], label=IMDB_LABELS[int(row[2])]))
    return hash_order(out)


def class_csv_examples(path: Path, split: str, names: Sequence[str]) -> list[RawExample]:
    """The Zhang et al. (2015) CSV layout: class index (1-based), title, body."""
    out = []
    with open_text(path) as fh:
        reader = csv.reader(fh)
        for row in reader:
            if not row:
                continue
            if len(row) != 3:
                raise ValidationError(f"{path}:{reader.line_num}: expected 3 fields \"class\",\"title\",\"text\"; "
                                      f"got {len(row)}")
            try:
                k = int(row[0])
            except ValueError:
                k = 0
            if not 1 <= k <= len(names):
                raise ValidationError(f"{path}:{reader.line_num}: class must be an integer 1..{len(names)}; "
                                      f"got {row[0]!r}")
            out.append(RawExample(id=f"{split}-{len(out)}", text=f"{row[1]} {row[2]}".strip(), label=names[k - 1]))
    return out


def imdb(*, data_root=None, source: str = "auto"):
    """IMDB (Maas et al. 2011): ``train`` and ``test``, 25,000 reviews each; labels ``neg``/``pos``.
    Local files are read in :func:`hash_order` (their first N reviews hold both labels).
    Hub: ``stanfordnlp/imdb`` (in the hub's order, sorted by label: subsample it with a seed)."""
    def local(root: Path):
        files, readers = {}, {}
        for s in ("train", "test"):
            base = root / "imdb" / f"{s}.csv.gz"
            path = next((c for c in (base, root / "imdb" / f"{s}.csv") if c.is_file()), None)
            files[s] = path or base
            if path is not None:
                readers[s] = (lambda p=path: imdb_examples(p))
        return build_file_task("imdb", "sentence", readers, files, standard_splits=("train", "test"),
                               label_names=IMDB_LABELS)
    return dispatch("imdb", data_root, source, local, hub_id="stanfordnlp/imdb")


def _zhang(name: str, folder: str, names: list[str], hub_id: str, data_root, source: str,
           derive_splits: bool, holdout: float, seed: int, hub_kwargs: dict | None = None):
    def local(root: Path):
        files = {s: root / folder / f"{s}.csv" for s in ("train", "test")}
        readers = {s: (lambda p=p, s=s: class_csv_examples(p, s, names)) for s, p in files.items() if p.is_file()}
        return build_file_task(name, "sentence", readers, files, standard_splits=("train", "test"),
                               derive_splits=derive_splits, holdout=holdout, seed=seed, hub=hub_id,
                               label_names=names)
    return dispatch(name, data_root, source, local, hub_id=hub_id, hub_kwargs=hub_kwargs)


def ag_news(*, data_root=None, source: str = "auto", derive_splits: bool = False, holdout: float = 0.2,
            seed: int = 0):
    """AG News (Zhang et al. 2015): labels World, Sports, Business, Sci/Tech. Locally only ``test``
    (7,600, 1,900 per class); ``derive_splits=True`` partitions it (stratified, seeded) into ``train``
    and ``test``. Hub: ``fancyzhx/ag_news``."""
    return _zhang("ag_news", "ag_news", AG_NEWS_LABELS, "fancyzhx/ag_news", data_root, source,
                  derive_splits, holdout, seed)


def dbpedia(*, data_root=None, source: str = "auto", derive_splits: bool = False, holdout: float = 0.2,
            seed: int = 0):
    """DBpedia-14 (Zhang et al. 2015): 14 classes; ``DATA_ROOT/dbpedia/{train,test}.csv`` or the hub
    (``fancyzhx/dbpedia_14``, text = title + " " + content)."""
    return _zhang("dbpedia", "dbpedia", DBPEDIA_LABELS, "fancyzhx/dbpedia_14", data_root, source,
                  derive_splits, holdout, seed, hub_kwargs={"text_column": ("title", "content")})
