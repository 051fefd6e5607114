"""STREUSLE 4.7 PS-role / PS-fxn: single-word SNACS targets, counts per split, labels."""
from __future__ import annotations

from collections import Counter

import pytest

from ftgeo.data import load_task
from ftgeo.errors import ValidationError


@pytest.fixture(scope="module")
def role(data_root):
    return load_task("ps_role", data_root=data_root)


@pytest.fixture(scope="module")
def fxn(data_root):
    return load_task("ps_fxn", data_root=data_root)


def _n(task, split):
    return sum(len(e.targets) for e in task.examples(split))


def test_counts_per_split(role, fxn):
    for t in (role, fxn):
        assert t.kind == "token" and t.splits() == ["train", "dev", "test"]
        assert [len(t.examples(s)) for s in t.splits()] == [2725, 554, 535]
        assert [_n(t, s) for s in t.splits()] == [4285, 433, 457]
    assert len(role.label_names) == 46 and len(fxn.label_names) == 38
    assert all(lab.startswith("p.") for lab in role.label_names + fxn.label_names)
    assert "p.Experiencer" in role.label_names and "p.Experiencer" not in fxn.label_names


def test_most_frequent_labels_match_official_stats(role, fxn):
    # single-word subset of the official train counts (PROVENANCE: p.Locus 498 role, p.Gestalt 701 fxn overall)
    r = Counter(role.label_names[t.label] for e in role.examples("train") for t in e.targets)
    f = Counter(fxn.label_names[t.label] for e in fxn.examples("train") for t in e.targets)
    # possessives are all single words, so their counts equal the official ones; multi-word
    # prepositions (in front of, ...) are skipped, so p.Locus is below the official 498
    assert r.most_common(5) == [("p.Locus", 460), ("p.Time", 302), ("p.Purpose", 291), ("p.Possessor", 276),
                                ("p.Theme", 197)]
    assert f.most_common(2) == [("p.Gestalt", 701), ("p.Locus", 538)] and f["p.Possessor"] == 292


def test_known_row_and_alignment(role, fxn):
    # PROVENANCE dev row "6 before before SCONJ IN ... P before p.Time p.Time": the first dev target
    er = next(e for e in role.examples("dev") if e.targets)
    ef = next(e for e in fxn.examples("dev") if e.targets)
    assert er.id == ef.id == "reviews-001961-0003"
    assert er.words == ("Have", "a", "real", "mechanic", "check", "before", "you", "buy", "!!!!")
    assert [(t.word_indices, role.label_names[t.label]) for t in er.targets] == [((5,), "p.Time")]
    assert [(t.word_indices, fxn.label_names[t.label]) for t in ef.targets] == [((5,), "p.Time")]
    for t in (role, fxn):
        for e in t.examples("dev")[:50]:
            for tg in e.targets:
                assert len(tg.word_indices) == 1 and 0 <= tg.word_indices[0] < len(e.words)
    # the same sentence and word carry role and function; congruent construals give equal labels
    pairs = Counter()
    for er, ef in zip(role.examples("train"), fxn.examples("train")):
        assert er.id == ef.id
        for tr, tf in zip(er.targets, ef.targets):
            assert tr.word_indices == tf.word_indices
            pairs[(role.label_names[tr.label], fxn.label_names[tf.label])] += 1
    assert pairs[("p.SocialRel", "p.Gestalt")] > 0
    my = next(e for e in role.examples("train") if e.words[0] == "My" and any(t.word_indices == (0,) for t in e.targets))
    assert role.label_names[next(t for t in my.targets if t.word_indices == (0,)).label].startswith("p.")


def test_lexcats_option(data_root):
    t = load_task("ps_role", data_root=data_root, lexcats=["P"])
    assert [sum(len(e.targets) for e in t.examples(s)) for s in t.splits()] == [3163, 319, 343]
    with pytest.raises(ValidationError, match=r"lexcats=\('PP',\): each must be one of \['P', 'PRON.POSS', 'POSS', 'INF.P'\]"):
        load_task("ps_role", data_root=data_root, lexcats=["PP"])
