"""GLUE tasks from their official TSV files: SST-2 (sentence) and QNLI (question/sentence pair).

Local layout (the GLUE download, one folder per task)::

    DATA_ROOT/sst2/{train,dev}.tsv      sentence<TAB>label (0 negative, 1 positive)
    DATA_ROOT/qnli/{train,dev}.tsv      index<TAB>question<TAB>sentence<TAB>label

The GLUE test files carry no labels and are not exposed. Texts are stripped of surrounding
whitespace (the SST-2 files end each sentence with a space).
"""
from __future__ import annotations

from pathlib import Path

from ftgeo.data._common import RawExample, build_file_task, dispatch, read_glue_tsv

SST2_LABELS = ["negative", "positive"]
QNLI_LABELS = ["entailment", "not_entailment"]


def _sst2_reader(path: Path, split: str):
    def read() -> list[RawExample]:
        out = []
        for i, (lineno, row) in enumerate(read_glue_tsv(path, ("sentence", "label"))):
            lab = row["label"].strip()
            if lab not in ("0", "1"):
                from ftgeo.errors import ValidationError
                raise ValidationError(f"{path}:{lineno}: label must be 0 or 1; got {lab!r}")
            out.append(RawExample(id=f"{split}-{i}", text=row["sentence"].strip(), label=SST2_LABELS[int(lab)]))
        return out
    return read


def sst2(*, data_root=None, source: str = "auto"):
    """GLUE SST-2: ``train`` (67,349) and ``dev`` (872); labels ``negative``(0), ``positive``(1).

    Hub: ``glue/sst2`` (``validation`` is renamed ``dev``).
    """
    def local(root: Path):
        d = root / "sst2"
        files = {s: d / f"{s}.tsv" for s in ("train", "dev")}
        readers = {s: _sst2_reader(p, s) for s, p in files.items() if p.is_file()}
        return build_file_task(
            "sst2", "sentence", readers, files, standard_splits=("train", "dev", "test"),
            notes={"test": "task 'sst2': the GLUE test split has no labels and is not exposed; "
                           "evaluate on 'dev' (872 labelled sentences)."},
            label_names=SST2_LABELS, hub="glue/sst2")
    return dispatch("sst2", data_root, source, local, hub_id="glue/sst2")


def _qnli_reader(path: Path, split: str):
    def read() -> list[RawExample]:
        from ftgeo.errors import ValidationError
        out = []
        for lineno, row in read_glue_tsv(path, ("index", "question", "sentence", "label")):
            lab = row["label"].strip()
            if lab not in QNLI_LABELS:
                raise ValidationError(f"{path}:{lineno}: label must be one of {QNLI_LABELS}; got {lab!r}")
            out.append(RawExample(id=f"{split}-{row['index']}", text=row["question"].strip(),
                                  text_pair=row["sentence"].strip(), label=lab))
        return out
    return read


def qnli(*, data_root=None, source: str = "auto", derive_splits: bool = False, holdout: float = 0.2,
         seed: int = 0):
    """GLUE QNLI (question, sentence) pairs; labels ``entailment``(0), ``not_entailment``(1).

    Locally only ``dev`` (5,463) exists. ``derive_splits=True`` partitions it (stratified by label,
    seeded) into ``train`` (1 - holdout) and ``dev`` (holdout). Hub: ``glue/qnli``.
    """
    def local(root: Path):
        d = root / "qnli"
        files = {s: d / f"{s}.tsv" for s in ("train", "dev")}
        readers = {s: _qnli_reader(p, s) for s, p in files.items() if p.is_file()}
        return build_file_task(
            "qnli", "pair", readers, files, standard_splits=("train", "dev", "test"),
            notes={"test": "task 'qnli': the GLUE test split has no labels and is not exposed; evaluate on 'dev'"
                           + (" (or pass derive_splits=True to hold out part of dev)." if "train" not in readers
                              else ".")},
            derive_splits=derive_splits, holdout=holdout, seed=seed, hub="glue/qnli",
            label_names=QNLI_LABELS)
    return dispatch("qnli", data_root, source, local, hub_id="glue/qnli")
