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
    sent_id: str | None = None
    start: int | None = None
    words: list[str] = []
    upos: list[str] = []
    heads: list[int] = []
    deprels: list[str] = []
    extra: list[list[str]] = []

    def flush() -> Sentence:
        nonlocal sent_id, start, words, upos, heads, deprels, extra
        sent = Sentence(sent_id or f"{path.name}:{start}", start or 0, words, upos, heads, deprels, extra)
        sent_id, start, words, upos, heads, deprels, extra = None, None, [], [], [], [], []
        return sent

    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if words:
                    yield flush()
                sent_id, start = None, None
                continue
            if start is None:
                start = lineno
            if line.startswith("#"):
                if line.startswith("# sent_id"):
                    sent_id = line.split("=", 1)[1].strip() if "=" in line else line[9:].strip()
                continue
            cols = line.split("\t")
            if len(cols) < min_columns:
                raise ValidationError(f"{path}:{lineno}: expected {min_columns} tab-separated CoNLL-U columns, "
                                      f"got {len(cols)}; is this a CoNLL-U file?")
            wid = cols[0]
            if "-" in wid or "." in wid:
                continue  # multiword-token range or empty node
            try:
                i = int(wid)
                head = int(cols[6]) if cols[6] != "_" else -1
            except ValueError:
                raise ValidationError(f"{path}:{lineno}: ID {wid!r} / HEAD {cols[6]!r} must be integers") from None
            if i != len(words) + 1:
                raise ValidationError(f"{path}:{lineno}: word ID {i} out of order (expected {len(words) + 1}); "
                                      "is a blank line missing between sentences?")
            words.append(cols[1])
            upos.append(cols[3])
            heads.append(head)
            deprels.append(cols[7])
            if len(cols) > 10:
                extra.append(cols[10:])
        if words:
            yield flush()


def pos_examples(path: Path, split: str) -> list[RawExample]:
    out = []
    for s in read_conllu(path):
        for k, tag in enumerate(s.upos):
            if tag not in UPOS:
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
