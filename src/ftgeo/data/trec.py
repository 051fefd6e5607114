"""TREC question classification (Li & Roth 2002): 6 coarse or 50 fine classes.

Local layout (the original UIUC files, ISO-8859-1)::

    DATA_ROOT/trec/train_5500.label   (train, 5,452 questions)
    DATA_ROOT/trec/TREC_10.label      (test, 500 questions)

Each line is ``COARSE:fine question tokens``. ``trec6`` labels are the coarse class (vocabulary:
ABBR DESC ENTY HUM LOC NUM); ``trec50`` labels are ``COARSE:fine`` (vocabulary: the sorted union
over train and test, 50 labels). Hub: ``CogComp/trec``.
"""
from __future__ import annotations

import re
from pathlib import Path

from ftgeo.data._common import RawExample, build_file_task, dispatch, open_text
from ftgeo.errors import ValidationError

COARSE = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
FILES = {"train": "train_5500.label", "test": "TREC_10.label"}
_LINE = re.compile(r"([A-Z]+):(\S+) (.*)")


def trec_examples(path: Path, split: str, fine: bool) -> list[RawExample]:
    out = []
    with open_text(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            m = _LINE.fullmatch(line)
            if m is None:
                raise ValidationError(f"{path}:{lineno}: expected 'COARSE:fine question' (e.g. 'HUM:ind Who ...'); "
                                      f"got {line[:60]!r}")
            coarse, sub, text = m.groups()
            if coarse not in COARSE:
                raise ValidationError(f"{path}:{lineno}: coarse class {coarse!r} is not one of {COARSE}")
            out.append(RawExample(id=f"{split}-{len(out)}", text=text.strip(),
                                  label=f"{coarse}:{sub}" if fine else coarse))
    return out


def _trec(name: str, fine: bool, data_root, source: str):
    def local(root: Path):
        files = {s: root / "trec" / f for s, f in FILES.items()}
        readers = {s: (lambda p=p, s=s: trec_examples(p, s, fine)) for s, p in files.items() if p.is_file()}
        return build_file_task(name, "sentence", readers, files, standard_splits=("train", "test"),
                               label_names=None if fine else COARSE)
    return dispatch(name, data_root, source, local, hub_id="CogComp/trec",
                    hub_kwargs={"label_column": "fine_label" if fine else "coarse_label"})


def trec6(*, data_root=None, source: str = "auto"):
    """TREC-6: coarse question class; train 5,452, test 500."""
    return _trec("trec6", False, data_root, source)


def trec50(*, data_root=None, source: str = "auto"):
    """TREC-50: fine question class ``COARSE:fine``; train 5,452, test 500."""
    return _trec("trec50", True, data_root, source)
