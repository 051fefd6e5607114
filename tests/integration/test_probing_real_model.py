"""Probes and DirectProbe on a real packaged model (MiniLM-L6) over TREC-6 questions (slow)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trec_stores(tmp_path_factory, data_root):
    from ftgeo.extract import extract
    run = tmp_path_factory.mktemp("run")
    kw = dict(pooling="cls", dtype="float32", progress=False, data_root=data_root)
    tr = extract("minilm-l6", "trec6", "train", out=run / "reps" / "train", max_examples=240, **kw)
    te = extract("minilm-l6", "trec6", "test", out=run / "reps" / "test", max_examples=120, **kw)
    return run, tr, te


def test_probes_constant_cls_layer_predicts_the_prior(trec_stores):
    from ftgeo.analyses.probe import run_probe
    run, tr, te = trec_stores
    res = run_probe(tr, te, run=run, layers=[0, 3], kinds=("linear",), l2_grid=(1e-4, 1e-2), n_seeds=3,
                    progress=False)
    best = res.table("best").set_index("layer")
    # BERT's [CLS] embedding-layer output does not depend on the input: every probe predicts the
    # majority training label, so its accuracy is that label's share of the eval set, for every seed
    ytr, yte = tr.labels[tr.labels >= 0], te.labels[te.labels >= 0]
    majority = np.bincount(ytr).argmax()
    assert best.loc[0, "mean"] == pytest.approx(np.mean(yte == majority))
    assert best.loc[0, "std"] == 0.0
    assert best.loc[3, "mean"] > best.loc[0, "mean"] + 0.2       # a contextual layer carries the question type
    assert (run / "figures" / "probe_accuracy.png").is_file()


def test_directprobe_layer_is_consistent(trec_stores):
    from ftgeo.analyses.directprobe import run_directprobe
    run, tr, te = trec_stores
    res = run_directprobe(tr, te, run=run, layers=[3], max_points=120, max_eval_points=60, progress=False)
    row = res.table("layers").iloc[0]
    assert row["n_clusters"] >= row["n_labels"]                   # at least one cluster per label
    assert 0.0 <= row["eval_accuracy"] <= 1.0
    md = res.table("label_min_distance")
    assert (md["min_distance"] >= 0).all()
