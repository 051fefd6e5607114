"""UD English EWT / PUD: UPOS and dependency relations against the PROVENANCE counts."""
from __future__ import annotations

import pytest

from ftgeo.data import load_task
from ftgeo.data.ud import UPOS, read_conllu


@pytest.fixture(scope="module")
def ewt_pos(data_root):
    return load_task("ud_pos", data_root=data_root)


@pytest.fixture(scope="module")
def pud_dep(data_root):
    return load_task("ud_dep", data_root=data_root, treebank="pud")


def test_ewt_pos_counts(ewt_pos):
    assert ewt_pos.kind == "token" and ewt_pos.splits() == ["train", "dev", "test"]
    assert ewt_pos.label_names == UPOS and len(UPOS) == 17
    for split, n_sent, n_words in (("train", 12544, 204577), ("dev", 2001, 25147), ("test", 2077, 25094)):
        ex = ewt_pos.examples(split)
        assert len(ex) == n_sent
        assert sum(len(e.targets) for e in ex) == n_words
    first = ewt_pos.examples("train")[0]
    assert first.words[:3] == ("Al", "-", "Zaman")
    assert first.targets[0].word_indices == (0,) and ewt_pos.label_names[first.targets[0].label] == "PROPN"
    assert ewt_pos.label_names[first.targets[1].label] == "PUNCT"


def test_pud_pos_counts_and_tag_distribution(data_root):
    t = load_task("ud_pos", data_root=data_root, treebank="pud")
    ex = t.examples("test")
    assert len(ex) == 1000 and sum(len(e.targets) for e in ex) == 21180
    counts = {}
    for e in ex:
        for tg in e.targets:
            counts[t.label_names[tg.label]] = counts.get(t.label_names[tg.label], 0) + 1
    assert counts["NOUN"] == 4015 and counts["ADP"] == 2488 and counts["INTJ"] == 1


def test_pud_dep_structure(pud_dep, data_root):
    ex = pud_dep.examples("test")
    # every word but the 1,000 roots is a (head, dependent) target
    assert sum(len(e.targets) for e in ex) == 21180 - 1000
    assert len(pud_dep.label_names) == 34  # 35 base relations minus root
    assert "root" not in pud_dep.label_names
    sents = list(read_conllu(data_root / "ud_english_pud" / "en_pud-ud-test.conllu"))
    s, e = sents[0], ex[0]
    assert e.words[0] == "“" and e.words[1] == "While"
    # word 2 "While" (index 1) has head 9 (index 8) and relation mark
    t = next(t for t in e.targets if t.word_indices[1] == 1)
    assert t.word_indices == (8, 1) and pud_dep.label_names[t.label] == "mark"
    for t in e.targets:
        h, d = t.word_indices
        assert s.heads[d] == h + 1
        assert pud_dep.label_names[t.label] == s.deprels[d].split(":")[0]


def test_pud_dep_full_relations(data_root):
    t = load_task("ud_dep", data_root=data_root, treebank="pud", relations="full")
    assert len(t.label_names) == 46 and "nmod:poss" in t.label_names  # 47 minus root


def test_ewt_dep_heads_match_the_file(data_root):
    t = load_task("ud_dep", data_root=data_root)
    dev = t.examples("dev")
    assert len(dev) == 2001
    assert len(t.label_names) == 35  # the 36 base relations of EWT train (PROVENANCE), minus root
    sents = list(read_conllu(data_root / "ud_english_ewt" / "en_ewt-ud-dev.conllu"))
    n_roots = sum(s.heads.count(0) for s in sents)
    assert sum(len(e.targets) for e in dev) == 25147 - n_roots
    for s, e in zip(sents[:200], dev[:200]):
        assert e.id == s.sent_id and list(e.words) == s.words
        for tg in e.targets:
            h, d = tg.word_indices
            assert 0 <= h < len(e.words) and s.heads[d] == h + 1
            assert t.label_names[tg.label] == s.deprels[d].split(":")[0]


def test_pud_derived_split_by_sentence(data_root):
    t = load_task("ud_pos", data_root=data_root, treebank="pud", derive_splits=True, holdout=0.1)
    assert t.splits() == ["train", "test"]
    train, test = t.examples("train"), t.examples("test")
    assert (len(train), len(test)) == (900, 100)
    assert {e.id for e in train}.isdisjoint(e.id for e in test)
    assert sum(len(e.targets) for e in train + test) == 21180
    again = load_task("ud_pos", data_root=data_root, treebank="pud", derive_splits=True, holdout=0.1)
    assert [e.id for e in again.examples("test")] == [e.id for e in test]


def test_pud_has_no_train_without_derive(data_root):
    from ftgeo.errors import DataNotFoundError
    t = load_task("ud_pos", data_root=data_root, treebank="pud")
    with pytest.raises(DataNotFoundError, match=r"task 'ud_pos': split 'train' is missing locally \(only test "
                                                 r"exist\(s\), in .*ud_english_pud\)\. Pass derive_splits=True"):
        t.examples("train")


def test_bad_treebank_and_relations(data_root):
    from ftgeo.errors import ValidationError
    with pytest.raises(ValidationError, match=r"treebank='gum' is not one of \['ewt', 'pud'\]"):
        load_task("ud_pos", data_root=data_root, treebank="gum")
    with pytest.raises(ValidationError, match=r"relations='enhanced' is not one of \['base', 'full'\]"):
        load_task("ud_dep", data_root=data_root, relations="enhanced")
