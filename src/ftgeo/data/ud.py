"""Universal Dependencies (English EWT / PUD): UPOS tagging and dependency relations.

Local layout (the UD release files; ``.gz`` copies are read transparently)::

    DATA_ROOT/ud_english_ewt/en_ewt-ud-{train,dev,test}.conllu[.gz]
    DATA_ROOT/ud_english_pud/en_pud-ud-test.conllu

Words are the syntactic words of CoNLL-U: multiword-token range lines (``3-4``) and empty nodes
(``5.1``) are skipped, and word index ``i`` (0-based) is the word whose ID is ``i + 1``.

* ``ud_pos``: one :class:`~ftgeo.data.base.Target` per word, ``word_indices=(i,)``, label = UPOS;
  the vocabulary is the 17 UD UPOS tags, sorted.
* ``ud_dep``: one target per word whose head is not the root, ``word_indices=(head, dependent)``,
  label = DEPREL (``relations="base"``: the part before ``:``; ``"full"``: with subtypes); the
  vocabulary is the sorted union of the relations over every split of the treebank (``root``
  never appears, since root words have no head word).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ftgeo.data._common import RawExample, build_file_task, dispatch, first_existing, open_text
from ftgeo.errors import ValidationError

UPOS = sorted(["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
               "PUNCT", "SCONJ", "SYM", "VERB", "X"])

TREEBANKS = {
    "ewt": ("ud_english_ewt", "en_ewt-ud-{split}.conllu", ("train", "dev", "test")),
    "pud": ("ud_english_pud", "en_pud-ud-{split}.conllu", ("test",)),
}


@dataclass
class Sentence:
    """One CoNLL-U sentence, syntactic words only. ``extra`` holds columns 11+ (e.g. CoNLL-U-Lex)."""

    sent_id: str
    line: int
    words: list[str]
    upos: list[str]
    heads: list[int]          # 1-based CoNLL-U heads (0 = root)
    deprels: list[str]
    extra: list[list[str]]


def read_conllu(path: Path, *, min_columns: int = 10) -> Iterator[Sentence]:
    """Parse a CoNLL-U (or CoNLL-U-Lex) file into :class:`Sentence` objects.

    Raises :class:`ValidationError` with the line number on a malformed line (too few columns,
    non-integer ID or HEAD, IDs that do not run 1..n).
    """
    with open_text(path) as fh:
        text = fh.read()
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lineno = 1  # line number of the block's first line
    for block in re.split(r"\n[ \t]*\n", text):
        lines = block.split("\n")
        n_lines = len(lines)
        block_start = lineno
        lineno += n_lines + 1
        k0 = 0
        while k0 < n_lines and not lines[k0].strip():  # leading blank lines (e.g. several blank lines)
            k0 += 1
        lines = lines[k0:]
        if not lines:
            continue
        start = block_start + k0
        sent_id = None
        rows = []
        for line in lines:
            if line[:1] == "#":
                if sent_id is None and line.startswith("# sent_id"):
                    sent_id = line.split("=", 1)[1].strip() if "=" in line else line[9:].strip()
            elif line:
                rows.append(line.split("\t"))
        if not rows:
            continue
        if min(map(len, rows)) < min_columns:
            _raise_at(path, start, lines, min_columns)
        skipped = [r[0] for r in rows if not r[0].isdigit()]
        if skipped:
            if not all("-" in w or "." in w for w in skipped):
                _raise_at(path, start, lines, min_columns)
            rows = [r for r in rows if r[0].isdigit()]
        n = len(rows)
        if [r[0] for r in rows] != [str(i) for i in range(1, n + 1)] or not all(r[6].isdigit() for r in rows):
            _raise_at(path, start, lines, min_columns)
        yield Sentence(sent_id or f"{path.name}:{start}", start, [r[1] for r in rows], [r[3] for r in rows],
                       [int(r[6]) for r in rows], [r[7] for r in rows],
                       [r[10:] for r in rows] if min_columns > 10 else [])


def _raise_at(path: Path, start: int, lines: list[str], min_columns: int) -> None:
    """Find the first malformed line of a sentence block and raise with its line number."""
    expected = 1
    for k, line in enumerate(lines):
        lineno = start + k
        if not line or line[0] == "#":
            continue
        cols = line.split("\t")
        if len(cols) < min_columns:
            raise ValidationError(f"{path}:{lineno}: expected {min_columns} tab-separated CoNLL-U columns, "
                                  f"got {len(cols)}; is this a CoNLL-U file?")
        wid = cols[0]
        if not wid.isdigit():
            if re.fullmatch(r"\d+-\d+|\d+\.\d+", wid):
                continue  # multiword-token range or empty node
            raise ValidationError(f"{path}:{lineno}: word ID {wid!r} must be an integer, a range (3-4) or an "
                                  "empty node (5.1)")
        if int(wid) != expected:
            raise ValidationError(f"{path}:{lineno}: word ID {wid} out of order (expected {expected}); "
                                  "is a blank line missing between sentences?")
        if not cols[6].isdigit():
            raise ValidationError(f"{path}:{lineno}: HEAD {cols[6]!r} must be a non-negative integer")
        expected += 1
    raise ValidationError(f"{path}:{start}: malformed sentence block")  # pragma: no cover


def pos_examples(path: Path, split: str) -> list[RawExample]:
    out = []
    known = set(UPOS)
    for s in read_conllu(path):
        if not known.issuperset(s.upos):
            k, tag = next((k, t) for k, t in enumerate(s.upos) if t not in known)
            raise ValidationError(f"{path}:{s.line}: sentence {s.sent_id}, word {k + 1} has UPOS {tag!r}, "
                                  f"not one of the 17 UD tags")
        out.append(RawExample(id=s.sent_id, words=tuple(s.words),
                              targets=[((k,), tag) for k, tag in enumerate(s.upos)]))
    return out


def dep_examples(path: Path, split: str, relations: str = "base") -> list[RawExample]:
    out = []
    for s in read_conllu(path):
        n = len(s.words)
        targets = []
        for k, (h, rel) in enumerate(zip(s.heads, s.deprels)):
            if h <= 0:
                continue  # root (or no head annotated)
            if h > n:
                raise ValidationError(f"{path}:{s.line}: sentence {s.sent_id}, word {k + 1} has HEAD {h} but the "
                                      f"sentence has {n} words")
            targets.append(((h - 1, k), rel.split(":", 1)[0] if relations == "base" else rel))
        out.append(RawExample(id=s.sent_id, words=tuple(s.words), targets=targets))
    return out


def _check(treebank: str, relations: str | None = None) -> None:
    if treebank not in TREEBANKS:
        raise ValidationError(f"treebank={treebank!r} is not one of {sorted(TREEBANKS)}")
    if relations is not None and relations not in ("base", "full"):
        raise ValidationError(f"relations={relations!r} is not one of ['base', 'full']")


def _ud_task(name: str, target: str, data_root, source: str, treebank: str, relations: str,
             derive_splits: bool, holdout: float, seed: int):
    _check(treebank, relations if target == "dep" else None)
    folder, pattern, splits = TREEBANKS[treebank]

    def local(root: Path):
        files, readers = {}, {}
        for split in splits:
            base = root / folder / pattern.format(split=split)
            cands = [base, base.with_name(base.name + ".gz")]
            path = next((c for c in cands if c.is_file()), None)
            files[split] = path or base
            if path is None:
                continue
            if target == "pos":
                readers[split] = (lambda p=path, s=split: pos_examples(p, s))
            else:
                readers[split] = (lambda p=path, s=split: dep_examples(p, s, relations))
        if not readers:  # name the expected files, with the .gz alternative
            first_existing([files[splits[0]], files[splits[0]].with_name(files[splits[0]].name + ".gz")], name)
        task = build_file_task(name, "token", readers, files, standard_splits=("train", "dev", "test"),
                               derive_splits=derive_splits, holdout=holdout, seed=seed,
                               label_names=UPOS if target == "pos" else None,
                               info={"treebank": treebank, **({"relations": relations} if target == "dep" else {})})
        return task
    return dispatch(name, data_root, source, local)


def ud_pos(*, data_root=None, source: str = "auto", treebank: str = "ewt", derive_splits: bool = False,
           holdout: float = 0.2, seed: int = 0):
    """UPOS tagging on UD English ``treebank`` (``"ewt"``: train/dev/test; ``"pud"``: test only,
    ``derive_splits=True`` cuts a seeded random train/test partition of its sentences)."""
    return _ud_task("ud_pos", "pos", data_root, source, treebank, "base", derive_splits, holdout, seed)


def ud_dep(*, data_root=None, source: str = "auto", treebank: str = "ewt", relations: str = "base",
           derive_splits: bool = False, holdout: float = 0.2, seed: int = 0):
    """Dependency relations: one target per non-root word, ``word_indices=(head, dependent)``,
    label = DEPREL (``relations="base"`` strips subtypes, ``"full"`` keeps them)."""
    return _ud_task("ud_dep", "dep", data_root, source, treebank, relations, derive_splits, holdout, seed)
