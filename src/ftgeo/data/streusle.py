"""STREUSLE 4.7 preposition/possessive supersenses (SNACS): PS-role and PS-fxn.

Local layout (the release files; the train files are ``.gz``)::

    DATA_ROOT/streusle/streusle.ud_{train,dev,test}.conllulex[.gz]

The ``.conllulex`` format is CoNLL-U plus 9 columns: SMWE (11), LEXCAT (12), LEXLEMMA (13),
SS (14), SS2 (15), WMWE, WCAT, WLEMMA, LEXTAG. Following the probing literature (Liu et al.
2019, "Linguistic knowledge and transferability of contextual representations", PS-role/PS-fxn;
Zhou & Srikumar 2022), a target is a **single-word strong lexical expression** (SMWE = ``_``)
whose SS label starts with ``p.``:

* ``ps_role``: label = SS (the scene role); ``ps_fxn``: label = SS2 (the function).
* Multi-word expressions (SMWE ``n:m``, e.g. *in front of*, PP idioms) are skipped, and so are
  ``??`` (unannotatable) and ```$`` tokens, since their SS does not start with ``p.``.
* Included lexical categories: P, PRON.POSS, POSS and INF.P (the single-token ones that carry
  SNACS labels); ``lexcats=("P",)`` keeps adpositions only.
* A token inside a *weak* MWE still counts (its strong expression is a single word).

Counts (all lexcats): train 4,285, dev 433, test 457 targets (of 4,553 / 462 / 485 SNACS
expressions in total); ``lexcats=("P",)``: 3,163 / 319 / 343. The vocabulary is the sorted
union over the three splits: 46 role labels, 38 function labels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ftgeo.data._common import RawExample, build_file_task, dispatch
from ftgeo.data.ud import read_conllu
from ftgeo.errors import ValidationError

SNACS_LEXCATS = ("P", "PRON.POSS", "POSS", "INF.P")


def streusle_examples(path: Path, column: str, lexcats: Sequence[str] | None) -> list[RawExample]:
    """Sentences of a ``.conllulex`` file with their single-word SNACS targets (``column``: ss/ss2)."""
    col = 3 if column == "ss" else 4   # index into the columns after the 10 CoNLL-U ones
    keep = set(lexcats) if lexcats is not None else None
    out = []
    for s in read_conllu(path, min_columns=19):
        if len(s.extra) != len(s.words):
            raise ValidationError(f"{path}:{s.line}: sentence {s.sent_id} has lines with fewer than 19 columns; "
                                  "expected the CoNLL-U-Lex format (.conllulex)")
        targets = []
        for k, x in enumerate(s.extra):
            smwe, lexcat, ss = x[0], x[1], x[3]
            if smwe != "_" or not ss.startswith("p."):
                continue
            if keep is not None and lexcat not in keep:
                continue
            label = x[col]
            if not label.startswith("p."):
                raise ValidationError(f"{path}:{s.line}: sentence {s.sent_id}, word {k + 1}: SS {ss!r} with "
                                      f"{'SS2' if col == 4 else 'SS'} {label!r}; expected a p.* label")
            targets.append(((k,), label))
        out.append(RawExample(id=s.sent_id, words=tuple(s.words), targets=targets))
    return out


def _streusle_task(name: str, column: str, data_root, source: str, lexcats):
    if lexcats is not None:
        lexcats = tuple(lexcats) if not isinstance(lexcats, str) else (lexcats,)
        bad = [c for c in lexcats if c not in SNACS_LEXCATS]
        if bad or not lexcats:
            raise ValidationError(f"lexcats={lexcats!r}: each must be one of {list(SNACS_LEXCATS)}")

    def local(root: Path):
        files, readers = {}, {}
        for split in ("train", "dev", "test"):
            base = root / "streusle" / f"streusle.ud_{split}.conllulex"
            path = next((c for c in (base, base.with_name(base.name + ".gz")) if c.is_file()), None)
            files[split] = path or base
            if path is not None:
                readers[split] = (lambda p=path: streusle_examples(p, column, lexcats))
        return build_file_task(name, "token", readers, files, standard_splits=("train", "dev", "test"),
                               info={"column": column.upper(), "lexcats": list(lexcats or SNACS_LEXCATS)})
    return dispatch(name, data_root, source, local)


def ps_role(*, data_root=None, source: str = "auto", lexcats: Sequence[str] | None = None):
    """PS-role: the SNACS scene role (SS column) of single-word adpositions/possessives."""
    return _streusle_task("ps_role", "ss", data_root, source, lexcats)


def ps_fxn(*, data_root=None, source: str = "auto", lexcats: Sequence[str] | None = None):
    """PS-fxn: the SNACS function (SS2 column) of single-word adpositions/possessives."""
    return _streusle_task("ps_fxn", "ss2", data_root, source, lexcats)
