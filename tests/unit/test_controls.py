"""Probing controls: control tasks (Hewitt & Liang 2019), the online code (Voita & Titov 2020), the
random-init baseline and DirectProbe on the control labelling."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations


# ----------------------------------------------------------------------------- control labels
def test_control_labels_are_a_function_of_type_and_seed():
    from ftgeo.analysis.controls import control_labels
    classes, probs = np.array(["A", "B", "C"]), np.array([0.5, 0.3, 0.2])
    types = np.array([f"w{i}" for i in range(500)])
    a = control_labels(types, classes, probs, seed=3)
    perm = np.random.default_rng(0).permutation(types.size)
    b = control_labels(types[perm], classes, probs, seed=3)           # another order, another "split"
    assert np.array_equal(a[perm], b)
    rep = control_labels(np.repeat(types[:10], 7), classes, probs, seed=3)   # every token of a type alike
    assert np.array_equal(rep, np.repeat(a[:10], 7))
    other = control_labels(types, classes, probs, seed=4)
    assert 0.3 < np.mean(other != a) < 0.9                           # a new seed is a new labelling


def test_control_labels_follow_the_label_distribution():
    from scipy.stats import chisquare

    from ftgeo.analysis.controls import control_labels, empirical_distribution
    rng = np.random.default_rng(1)
    y = rng.choice(np.array(["ADJ", "NOUN", "PUNCT", "VERB", "X"]), 5000, p=[0.15, 0.4, 0.2, 0.24, 0.01])
    classes, probs = empirical_distribution(y)
    types = [f"type{i}" for i in range(20000)]
    c = control_labels(types, classes, probs, seed=0)
    counts = np.array([(c == k).sum() for k in classes])
    assert chisquare(counts, probs * len(types)).pvalue > 1e-3
    # the test can fail: a labelling drawn from another distribution is rejected
    wrong = control_labels(types, classes, np.array([0.2, 0.2, 0.2, 0.2, 0.2]), seed=0)
    counts_w = np.array([(wrong == k).sum() for k in classes])
    assert chisquare(counts_w, probs * len(types)).pvalue < 1e-10


def _word_sets(seed=0, n_types=60, n_train=3000, n_eval=1500, d=16, encode="label"):
    """Train and eval word sets: each type has a fixed task label (a function of the type, as for POS);
    ``encode="label"``: X = the label's centroid + noise (the representation holds the task, not the type);
    ``encode="type"``: X = the type's random vector + noise (holds the type; the task only through it)."""
    rng = np.random.default_rng(seed)
    type_label = rng.integers(0, 4, n_types)
    type_vec = rng.standard_normal((n_types, d)) * 3
    lab_vec = rng.standard_normal((4, d)) * 3

    def make(n, split):
        t = rng.integers(0, n_types, n)
        y = type_label[t]
        base = lab_vec[y] if encode == "label" else type_vec[t]
        X = base + rng.standard_normal((n, d))
        ids = [f"{split}-s{i // 10}:{i % 10}" for i in range(n)]
        r = InMemoryRepresentations([X, X + 0.1 * rng.standard_normal((n, d))], labels=y,
                                    label_names=["a", "b", "c", "d"], ids=ids,
                                    manifest={"model": encode, "task": "toy", "split": split, "pooling": "word"})
        r.types = np.array([f"t{k}" for k in t])
        return r
    return make(n_train, "train"), make(n_eval, "dev")


def test_control_labels_identical_across_splits():
    from ftgeo.analyses._controls import control_views, label_strings
    tr, ev = _word_sets()
    ctr, cev = control_views(tr, [ev], seed=5)
    a = dict(zip(tr.types, label_strings(ctr)))
    b = dict(zip(ev.types, label_strings(cev)))
    common = set(a) & set(b)
    assert len(common) > 30
    assert all(a[t] == b[t] for t in common)
    for t in set(tr.types):                      # and every token of a type alike within a split
        assert len(set(label_strings(ctr)[tr.types == t])) == 1
    assert ctr.label_names == tr.label_names and np.array_equal(ctr.layer(1), tr.layer(1))


def test_types_are_read_from_the_dataset_for_stores_without_them(tmp_path):
    from ftgeo.analyses._controls import types_of
    from ftgeo.data import load_task
    from ftgeo.testing.reps import write_store
    task = load_task("ud_pos", data_root=_data_root_or_skip())
    exs = task.examples("dev")[:3]
    ids = [f"{ex.id}:{j}" for ex in exs for j in range(len(ex.targets))]
    words = [ex.words[tg.word_indices[0]] for ex in exs for tg in ex.targets]
    n = len(ids)
    path = write_store(tmp_path / "s", [np.zeros((n, 2), np.float32)], [0] * n, task="ud_pos", split="dev",
                       pooling="word", ids=ids, label_names=("a", "b"))
    from ftgeo.extract.store import open_reps
    assert list(types_of(open_reps(path), _data_root_or_skip())) == words


def _data_root_or_skip():
    from pathlib import Path
    import os
    root = Path(os.environ.get("FTGEO_DATA_ROOT", "/work/shared/data"))
    if not (root / "ud_english_ewt").is_dir():
        pytest.skip("UD English EWT not available")
    return root


def test_control_analysis_selectivity_separates_task_from_type_memory(tmp_path):
    from ftgeo.analyses.control import run_control
    lab_tr, lab_ev = _word_sets(encode="label", n_train=800, n_eval=400, d=64)
    typ_tr, typ_ev = _word_sets(encode="type", n_train=800, n_eval=400, d=64)   # 60 types: separable in 64-d
    res = run_control([lab_tr, typ_tr], [lab_ev, typ_ev], names=["label", "type"], layers=[1], kinds=("linear",),
                      n_seeds=2, n_resamples=200, run=tmp_path, progress=False)
    t = res.table("layers").set_index("set")
    # a representation of the label: the task is easy, the control task (random labels per type) is not
    assert t.loc["label", "accuracy"] > 0.95
    assert t.loc["label", "control_accuracy"] < 0.6
    # a representation of the type: the probe memorises types, so the control task is easy too
    assert t.loc["type", "control_accuracy"] > 0.8
    assert t.loc["label", "selectivity"] > t.loc["type", "selectivity"] + 0.3
    for s in ("label", "type"):
        assert t.loc[s, "selectivity_low"] <= t.loc[s, "selectivity"] <= t.loc[s, "selectivity_high"]
    assert (tmp_path / "figures" / "control_selectivity.png").is_file()
    assert set(res.table("scores")["labels"]) == {"task", "control"}


def test_paired_difference_interval_matches_a_literal_bootstrap():
    from ftgeo.analysis.controls import paired_difference_interval
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 40)) < 0.8, rng.random((2, 40)) < 0.5
    g = np.repeat(np.arange(10), 4)
    r = paired_difference_interval(a, b, g, 0.9, n_resamples=300, random_state=7)
    # literal: draw the same group indices, pool the rows of the drawn groups, take the mean difference
    gen = np.random.default_rng(7)
    d = a.mean(0) - b.mean(0)
    boots = []
    idx = gen.integers(0, 10, (300, 10))
    for row in idx:
        rows = np.concatenate([np.flatnonzero(g == k) for k in row])
        boots.append(d[rows].mean())
    assert r["difference"] == pytest.approx(d.mean())
    assert r["low"] == pytest.approx(np.quantile(boots, 0.05))
    assert r["high"] == pytest.approx(np.quantile(boots, 0.95))


# ----------------------------------------------------------------------------- online code
def _planted(n=600, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, d)) * 4
    return centres[y] + rng.standard_normal((n, d)), y


def test_online_code_of_a_learnable_task_is_far_below_uniform_and_of_permuted_labels_close_to_it():
    from ftgeo.analysis.controls import online_codelength
    X, y = _planted()
    learn = online_codelength(X, y, seed=0)
    assert learn["uniform"] == pytest.approx(600 * math.log2(3))
    assert learn["codelength"] < 0.25 * learn["uniform"]
    assert learn["compression"] > 4
    perm = online_codelength(X, np.random.default_rng(1).permutation(y), seed=0)
    assert 0.9 < perm["codelength"] / perm["uniform"] < 1.25
    assert perm["block_bits"][0] == pytest.approx(learn["block_ends"][0] * math.log2(3))


def test_block_ends_follow_the_fractions():
    from ftgeo.analysis.controls import DEFAULT_FRACTIONS, block_ends
    assert list(block_ends(1000, DEFAULT_FRACTIONS)) == [1, 2, 4, 8, 16, 32, 62, 125, 250, 500, 1000]
    assert list(block_ends(10, (10, 50))) == [1, 5, 10]
    with pytest.raises(ValidationError):
        block_ends(10, (0, 50))


def test_online_codelength_matches_a_literal_block_by_block_reference():
    """The code, block by block, with the public one-probe estimator and per-row log2 of its probabilities."""
    from ftgeo.analysis.controls import online_codelength
    from ftgeo.analysis.probes import ProbeClassifier
    X, y = _planted(n=60, d=4, seed=3)
    fractions = (20, 50, 100)
    r = online_codelength(X, y, fractions=fractions, kind="linear", l2=1e-3, max_epochs=60, patience=5, seed=2)
    order = np.random.default_rng(2).permutation(60)
    Xo, yo = X[order], y[order]
    ends = [12, 30, 60]
    total = 12 * math.log2(3)
    for i in range(2):
        ti, tj = ends[i], ends[i + 1]
        n_val = max(1, round(0.1 * ti))
        tr, va = slice(0, ti - n_val), slice(ti - n_val, ti)
        assert set(yo[tr]) == {0, 1, 2}                       # the reference's classes are the code's
        p = ProbeClassifier(kind="linear", l2=1e-3, max_epochs=60, patience=5, random_state=2 + i)
        p.fit(Xo[tr], yo[tr], Xo[va], yo[va])
        proba = p.predict_proba(Xo[ti:tj])
        for row, label in zip(proba, yo[ti:tj]):
            total -= math.log2(float(row[list(p.classes_).index(label)]))
    assert list(r["block_ends"]) == ends
    assert r["codelength"] == pytest.approx(total, rel=1e-4)


def test_mdl_analysis_task_codes_shorter_than_control(tmp_path):
    from ftgeo.analyses.mdl import run_mdl
    tr, _ = _word_sets(encode="label", n_train=1500)
    res = run_mdl(tr, layers=[1], run=tmp_path, progress=False)
    t = res.table("codelength").set_index("labels")
    assert t.loc["task", "codelength"] < 0.3 * t.loc["task", "uniform"]
    assert t.loc["control", "codelength"] > 2 * t.loc["task", "codelength"]
    assert (tmp_path / "figures" / "mdl_codelength.png").is_file()
    with pytest.raises(ValidationError):
        run_mdl(tr, fractions=(0, 50), progress=False)


# ----------------------------------------------------------------------------- DirectProbe on controls
def test_directprobe_on_the_control_labelling_needs_more_clusters():
    from ftgeo.analyses.directprobe import run_directprobe
    tr, ev = _word_sets(encode="label", n_train=200, n_eval=100, d=6)
    kw = dict(layers=[1], intervals=False, n_permutations=0, progress=False, max_points=None, max_eval_points=None)
    task = run_directprobe(tr, ev, **kw).table("layers").iloc[0]
    ctrl = run_directprobe(tr, ev, labels="control", control_seed=1, **kw)
    c = ctrl.table("layers").iloc[0]
    assert task["n_clusters"] == task["n_labels"]              # the task's labels are separable clusters
    assert c["n_clusters"] > c["n_labels"]                      # random labels per type are not
    assert ctrl.meta["labels"].startswith("control")


# ----------------------------------------------------------------------------- random-init baseline
def test_random_init_model_spec():
    from ftgeo.extract.identity import model_identity
    from ftgeo.extract.spec import ExtractSpec
    from ftgeo.models import random_init_name, split_random_init
    assert split_random_init("minilm-l6[random_init=3]") == ("minilm-l6", 3)
    assert split_random_init("minilm-l6[random_init=true]") == ("minilm-l6", 0)
    assert split_random_init("minilm-l6") == ("minilm-l6", None)
    with pytest.raises(ValidationError):
        split_random_init("minilm-l6[random_init=x]")
    assert random_init_name("minilm-l6", 2) == "minilm-l6[random_init=2]"
    assert model_identity("minilm-l6[random_init=2]").name == "minilm-l6[random_init=2]"
    spec = ExtractSpec(model="minilm-l6", task="ud_pos", out="x", random_init=4)
    assert spec.model_name() == "minilm-l6[random_init=4]"


def test_random_init_reinitialises_seeded(tmp_path):
    import torch

    from ftgeo.models import load_model
    from ftgeo.testing.models import save_tiny
    folder = save_tiny(tmp_path / "tiny", seed=5)
    trained = load_model(folder)
    a, b = load_model(f"{folder}[random_init=0]"), load_model(f"{folder}[random_init=0]")
    c = load_model(f"{folder}[random_init=1]")
    pa, pb, pc, pt = (dict(m.model.named_parameters()) for m in (a, b, c, trained))
    assert a.name.endswith("[random_init=0]") and a.n_layers == trained.n_layers
    assert all(torch.equal(pa[k], pb[k]) for k in pa)           # seeded: the same weights twice
    weights = [k for k in pa if k.endswith("weight") and pa[k].dim() == 2]
    assert all(not torch.equal(pa[k], pc[k]) for k in weights)
    assert all(not torch.equal(pa[k], pt[k]) for k in weights)


@pytest.mark.slow
def test_random_init_probe_accuracy_is_below_the_trained_models(tmp_path, data_root):
    """TREC-6 question types from MiniLM-L6 and from the same architecture re-initialised."""
    from ftgeo.analyses.probe import run_probe
    from ftgeo.extract import extract
    kw = dict(pooling="mean", dtype="float32", progress=False, data_root=data_root)
    sets = {}
    for m in ("minilm-l6", "minilm-l6[random_init=0]"):
        sets[m] = [extract(m, "trec6", sp, out=tmp_path / f"{m}-{sp}", max_examples=k, **kw)
                   for sp, k in (("train", 300), ("test", 150))]
    assert sets["minilm-l6[random_init=0]"][0].manifest["model"] == "minilm-l6[random_init=0]"
    res = run_probe([sets[m][0] for m in sets], [sets[m][1] for m in sets], names=["trained", "random"], layers=[6],
                    kinds=("linear",), l2_grid=(1e-3,), n_seeds=2, n_label_permutations=0, intervals=False,
                    progress=False)
    b = res.table("best").set_index("set")["mean"]
    assert b["trained"] > b["random"] + 0.1
