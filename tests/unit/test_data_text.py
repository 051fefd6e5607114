"""Sentence and pair classification tasks on the real files: SST-2, QNLI, TREC, IMDB, AG News, DBpedia."""
from __future__ import annotations

from collections import Counter

import pytest

from ftgeo.data import load_task
from ftgeo.errors import DataNotFoundError


def _counts(task, split):
    return Counter(task.label_names[e.label] for e in task.examples(split))


@pytest.fixture(scope="module")
def sst2(data_root):
    return load_task("sst2", data_root=data_root)


@pytest.fixture(scope="module")
def qnli(data_root):
    return load_task("qnli", data_root=data_root)


def test_sst2_counts_and_rows(sst2):
    assert sst2.kind == "sentence" and sst2.splits() == ["train", "dev"]
    assert sst2.label_names == ["negative", "positive"]
    assert _counts(sst2, "train") == {"negative": 29780, "positive": 37569}
    assert _counts(sst2, "dev") == {"negative": 428, "positive": 444}
    first = sst2.examples("train")[0]
    assert first.text == "hide new secretions from the parental units" and first.label == 0
    assert first.id == "train-0" and first.text_pair is None
    dev0 = sst2.examples("dev")[0]
    assert dev0.text == "it 's a charming and often affecting journey ." and dev0.label == 1


def test_sst2_unlabelled_test_is_not_exposed(sst2):
    with pytest.raises(DataNotFoundError, match=r"the GLUE test split has no labels and is not exposed; evaluate on 'dev'"):
        sst2.examples("test")


def test_fingerprint_is_stable_and_content_sensitive(sst2, data_root, tmp_path):
    assert sst2.fingerprint("dev") == load_task("sst2", data_root=data_root).fingerprint("dev")
    assert sst2.fingerprint("dev") != sst2.fingerprint("train")
    (tmp_path / "sst2").mkdir()
    lines = (data_root / "sst2" / "dev.tsv").read_text().splitlines(keepends=True)
    (tmp_path / "sst2" / "dev.tsv").write_text("".join(lines))
    assert load_task("sst2", data_root=tmp_path).fingerprint("dev") == sst2.fingerprint("dev")
    lines[1] = lines[1].replace("charming", "charmless")
    (tmp_path / "sst2" / "dev.tsv").write_text("".join(lines))
    assert load_task("sst2", data_root=tmp_path).fingerprint("dev") != sst2.fingerprint("dev")


def test_qnli_dev_pairs(qnli):
    assert qnli.kind == "pair" and qnli.splits() == ["dev"]
    assert qnli.label_names == ["entailment", "not_entailment"]
    assert _counts(qnli, "dev") == {"entailment": 2702, "not_entailment": 2761}
    e = qnli.examples("dev")[0]
    assert e.id == "dev-0"
    assert e.text == "What came into force after the new constitution was herald?"
    assert e.text_pair == "As of that day, the new constitution heralding the Second Republic came into force."
    assert e.label == 0


def test_qnli_missing_train_says_how_to_derive(qnli):
    with pytest.raises(DataNotFoundError, match=r"task 'qnli': split 'train' is missing locally \(only dev exist\(s\), "
                                                 r"in .*qnli\)\. Pass derive_splits=True"):
        qnli.examples("train")


def test_qnli_derived_splits_disjoint_stratified_seeded(data_root, qnli):
    t = load_task("qnli", data_root=data_root, derive_splits=True)
    assert t.splits() == ["train", "dev"]
    train, dev = t.examples("train"), t.examples("dev")
    assert (len(train), len(dev)) == (4371, 1092)
    assert {e.id for e in train}.isdisjoint({e.id for e in dev})
    assert {e.id for e in train} | {e.id for e in dev} == {e.id for e in qnli.examples("dev")}
    assert _counts(t, "dev") == {"entailment": 540, "not_entailment": 552}  # round(0.2 * class size)
    again = load_task("qnli", data_root=data_root, derive_splits=True)
    assert [e.id for e in again.examples("dev")] == [e.id for e in dev]
    other = load_task("qnli", data_root=data_root, derive_splits=True, seed=1)
    assert [e.id for e in other.examples("dev")] != [e.id for e in dev]
    half = load_task("qnli", data_root=data_root, derive_splits=True, holdout=0.5)
    assert len(half.examples("dev")) == 1351 + 1380


def test_trec(data_root):
    t6 = load_task("trec6", data_root=data_root)
    assert t6.label_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert _counts(t6, "train") == {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}
    assert _counts(t6, "test") == {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}
    first = t6.examples("train")[0]
    assert first.text == "How did serfdom develop in and then leave Russia ?" and t6.label_names[first.label] == "DESC"
    assert "sister\xf0city" in t6.examples("train")[65].text  # latin-1 byte on line 66
    t50 = load_task("trec50", data_root=data_root)
    assert len(t50.label_names) == 50 and t50.label_names == sorted(t50.label_names)
    assert t50.label_names[t50.examples("test")[0].label] == "NUM:dist"
    c = _counts(t50, "train")
    assert c["HUM:ind"] == 962 and c["ENTY:currency"] == 4 and len(_counts(t50, "test")) == 42


def test_imdb(data_root):
    t = load_task("imdb", data_root=data_root)
    assert t.splits() == ["train", "test"] and t.label_names == ["neg", "pos"]
    assert _counts(t, "train") == {"neg": 12500, "pos": 12500}
    assert _counts(t, "test") == {"neg": 12500, "pos": 12500}
    # the files are sorted by label; the reader's fixed hash order makes the first N reviews a balanced sample
    first = t.examples("test")[:2000]
    assert 900 < sum(ex.label for ex in first) < 1100
    assert [ex.id for ex in load_task("imdb", data_root=data_root).examples("test")[:50]] == [ex.id for ex in first[:50]]
    e = next(x for x in t.examples("test") if x.id == "neg/0_2")
    assert e.text.startswith("Once again Mr. Costner has dragged out a movie") and e.label == 0
    assert any(x.id == "pos/0_9" and x.text.startswith("Bromwell High is a cartoon comedy.") and x.label == 1
               for x in t.examples("train"))


def test_ag_news(data_root):
    t = load_task("ag_news", data_root=data_root)
    assert t.splits() == ["test"] and t.label_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert _counts(t, "test") == {"World": 1900, "Sports": 1900, "Business": 1900, "Sci/Tech": 1900}
    e = t.examples("test")[0]
    assert e.text.startswith("Fears for T N pension after talks Unions representing workers at Turner")
    assert t.label_names[e.label] == "Business"
    with pytest.raises(DataNotFoundError, match=r"task 'ag_news': split 'train' is missing locally .*derive_splits=True"):
        t.examples("train")
    d = load_task("ag_news", data_root=data_root, derive_splits=True, holdout=0.25, seed=3)
    assert d.splits() == ["train", "test"]
    assert _counts(d, "test") == {"World": 475, "Sports": 475, "Business": 475, "Sci/Tech": 475}
    assert _counts(d, "train") == {"World": 1425, "Sports": 1425, "Business": 1425, "Sci/Tech": 1425}
    assert {e.id for e in d.examples("train")}.isdisjoint(e.id for e in d.examples("test"))


def test_dbpedia_missing_names_expected_path(data_root):
    with pytest.raises(DataNotFoundError) as exc:
        load_task("dbpedia", data_root=data_root)
    msg = str(exc.value)
    assert str(data_root / "dbpedia" / "train.csv") in msg and str(data_root / "dbpedia" / "test.csv") in msg
    assert "data_root" in msg


def test_derive_splits_refused_when_splits_exist(data_root):
    from ftgeo.errors import ValidationError
    with pytest.raises(ValidationError, match=r"derive_splits=True cuts train/held-out splits out of a task's only "
                                              r"split, but 'ud_pos' has 3 splits locally \(train, dev, test\)"):
        load_task("ud_pos", data_root=data_root, derive_splits=True)
