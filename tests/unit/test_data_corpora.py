"""Unlabelled corpora: WikiText-2 raw test sentences and Brown sentences, with seeded sampling."""
from __future__ import annotations

import pytest

from ftgeo.data import UNLABELLED, load_task
from ftgeo.errors import ValidationError


@pytest.fixture(scope="module")
def wiki(data_root):
    return load_task("wikitext2", data_root=data_root)


def test_wikitext2_sentences(wiki):
    assert wiki.kind == "unlabelled" and wiki.splits() == ["test"] and wiki.label_names == []
    ex = wiki.examples("test")
    assert len(ex) == 9408  # PROVENANCE: ~9,400 sentences (split on " . " / " ! " / " ? ")
    assert ex[0].text == "Robert Boulter is an English film , television and theatre actor ."
    assert ex[1].text.startswith("He had a guest @-@ starring role on the television series The Bill in 2000 .")
    assert all(e.label == UNLABELLED for e in ex)
    assert not any(e.text.startswith("=") and e.text.endswith("=") for e in ex)  # headings are skipped
    assert [e.text for e in ex if e.text.startswith("=")] == ["= Qualified for the next round", "= National record"]
    assert len({e.id for e in ex}) == len(ex)
    assert sum(len(e.text.split()) for e in ex) < 241211  # headings removed from the 241,211 words


def test_brown_and_seeded_sample(data_root):
    b = load_task("brown", data_root=data_root)
    assert b.splits() == ["all"]
    ex = b.examples("all")
    assert len(ex) == 57340 and sum(len(e.text.split()) for e in ex) == 1161192
    assert ex[0].id == "ca01-0" and ex[0].text.startswith("The Fulton County Grand Jury said Friday")
    s1 = load_task("brown", data_root=data_root, max_sentences=500, seed=0).examples("all")
    s2 = load_task("brown", data_root=data_root, max_sentences=500, seed=0).examples("all")
    s3 = load_task("brown", data_root=data_root, max_sentences=500, seed=1).examples("all")
    assert len(s1) == 500 and [e.id for e in s1] == [e.id for e in s2] != [e.id for e in s3]
    order = {e.id: i for i, e in enumerate(ex)}
    assert [order[e.id] for e in s1] == sorted(order[e.id] for e in s1)  # corpus order kept
    assert {e.id: e.text for e in ex if e.id in {x.id for x in s1}} == {e.id: e.text for e in s1}


def test_max_sentences_validation(data_root):
    with pytest.raises(ValidationError, match=r"max_sentences must be a positive integer or None \(all\); got 0"):
        load_task("wikitext2", data_root=data_root, max_sentences=0)
    assert len(load_task("wikitext2", data_root=data_root, max_sentences=10**6).examples("test")) == 9408
