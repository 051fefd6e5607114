"""Geometry analyses on a real packaged model (MiniLM-L6) over a handful of sentences (slow)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_stores(tmp_path_factory):
    from ftgeo.extract import extract
    from ftgeo.testing.tasks import sentence_task
    run = tmp_path_factory.mktemp("run")
    task = sentence_task(24)
    out = {p: extract("minilm-l6", task, "dev", pooling=p, out=run / "reps" / p, dtype="float32", progress=False)
           for p in ("cls", "mean")}
    return run, out


def test_cls_embedding_layer_is_constant_and_gets_nan(minilm_stores):
    from ftgeo.analyses.cka import run_cka
    from ftgeo.analyses.isotropy import run_isotropy
    from ftgeo.analyses.rogue import run_rogue
    run, st = minilm_stores
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_cka(st["cls"], device="cpu", progress=False)
    M = res.matrix()
    assert M.shape == (7, 7)                              # embeddings + 6 blocks
    # BERT's [CLS] embedding-layer output (token + position 0 + segment 0, LayerNorm) is input-independent
    assert np.isnan(M[0]).all() and any("constant layer" in str(w.message) for w in caught)
    np.testing.assert_allclose(np.diag(M)[1:], 1.0, atol=1e-9)
    mean = run_cka(st["mean"], run=run, progress=False, debiased=True).matrix()
    assert np.isfinite(mean).all() and np.all(mean <= 1 + 1e-9)
    assert mean[1, 2] > mean[1, 6]                       # neighbouring layers are more alike than distant ones
    iso = run_isotropy(st["mean"], n_pairs=None).table("isotropy")
    assert iso.isoscore.between(0, 1).all() and (iso.avg_cosine > 0).all()
    rg = run_rogue(st["mean"], k=5).table("layers")
    assert (rg.topk_var_share > 5 / 384).all()           # top-5 dimensions carry more than their share
