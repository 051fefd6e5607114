"""Unlabelled general-domain sentences: WikiText-2 (raw test) and the Brown corpus.

Both are ``kind="unlabelled"`` (``label = -1``), for out-of-domain statistics (e.g. a PCA basis or
isotropy estimates on text the model was not fine-tuned on).

* ``wikitext2``: split ``test`` from ``DATA_ROOT/wikitext2/wiki.test.raw``. Blank lines and
  headings (`` = Title = ``, `` = = Section = = ``) are skipped; every paragraph line is cut into
  sentences after a space-separated ``.``, ``!`` or ``?`` token (the raw WikiText tokenisation;
  ``@.@`` decimal points are not sentence ends). 9,314 sentences.
* ``brown``: split ``all`` from ``DATA_ROOT/brown/brown_sentences.tsv.gz`` (columns
  fileid, category, sentence): 57,340 sentences, ids ``<fileid>-<n>``.

``max_sentences=N`` keeps a seeded random sample of N sentences (``seed``, default 0), in corpus
order; the default (``None``) keeps all.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ftgeo.data._common import RawExample, build_file_task, dispatch, open_text
from ftgeo.errors import ValidationError

_SENT_END = re.compile(r"(?<= [.!?]) +")
_HEADING = re.compile(r"=( =)* .* =( =)*")


def wikitext_sentences(path: Path) -> list[RawExample]:
    out = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or _HEADING.fullmatch(line):
                continue
            for k, sent in enumerate(_SENT_END.split(line)):
                sent = sent.strip()
                if sent:
                    out.append(RawExample(id=f"test-{lineno}-{k}", text=sent))
    return out


def brown_sentences(path: Path) -> list[RawExample]:
    out = []
    counter: dict[str, int] = {}
    with open_text(path) as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        if header != ["fileid", "category", "sentence"]:
            raise ValidationError(f"{path}:1: expected the header fileid<TAB>category<TAB>sentence; got {header}")
        for lineno, line in enumerate(fh, start=2):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 3:
                raise ValidationError(f"{path}:{lineno}: expected 3 tab-separated fields, got {len(fields)}")
            fid = fields[0]
            n = counter.get(fid, 0)
            counter[fid] = n + 1
            out.append(RawExample(id=f"{fid}-{n}", text=fields[2]))
    return out


def sample_sentences(rows: list[RawExample], max_sentences: int | None, seed: int) -> list[RawExample]:
    """A seeded sample of ``max_sentences`` rows (without replacement), kept in corpus order."""
    if max_sentences is None or max_sentences >= len(rows):
        return rows
    idx = np.sort(np.random.default_rng(seed).choice(len(rows), size=max_sentences, replace=False))
    return [rows[i] for i in idx]


def _check_max(max_sentences):
    if max_sentences is not None and (not isinstance(max_sentences, (int, np.integer)) or isinstance(max_sentences, bool)
                                      or max_sentences < 1):
        raise ValidationError(f"max_sentences must be a positive integer or None (all); got {max_sentences!r}")


def _corpus_task(name: str, split: str, rel_path: str, reader, *, data_root, source: str,
                 max_sentences: int | None, seed: int):
    """A one-split unlabelled task read from ``DATA_ROOT/<rel_path>`` by ``reader``, optionally sampled."""
    _check_max(max_sentences)

    def local(root: Path):
        files = {split: root / rel_path}
        readers = {s: (lambda p=p: sample_sentences(reader(p), max_sentences, seed))
                   for s, p in files.items() if p.is_file()}
        return build_file_task(name, "unlabelled", readers, files, standard_splits=(split,))
    return dispatch(name, data_root, source, local)


def wikitext2(*, data_root=None, source: str = "auto", max_sentences: int | None = None, seed: int = 0):
    """WikiText-2 raw test split, one example per sentence (split ``test``)."""
    return _corpus_task("wikitext2", "test", "wikitext2/wiki.test.raw", wikitext_sentences, data_root=data_root,
                        source=source, max_sentences=max_sentences, seed=seed)


def brown(*, data_root=None, source: str = "auto", max_sentences: int | None = None, seed: int = 0):
    """Brown corpus sentences (split ``all``)."""
    return _corpus_task("brown", "all", "brown/brown_sentences.tsv.gz", brown_sentences, data_root=data_root,
                        source=source, max_sentences=max_sentences, seed=seed)
