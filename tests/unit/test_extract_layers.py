"""Selective extraction (--layers), several poolings in one pass, the model dtype, and the disk estimate."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ftgeo._atomic import StorageError
from ftgeo.errors import ManifestMismatchError, ValidationError
from ftgeo.extract import extract, open_reps
from ftgeo.reps import InMemoryRepresentations, parse_layer_spec, resolve_layer
from ftgeo.run import RunDir
from ftgeo.testing.models import save_tiny
from ftgeo.testing.tasks import sentence_task


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "llama", "llama", n_layers=4)


def _kw(**kw):
    return dict(dict(pooling="last", dtype="float32", batch_size=4, chunk_size=4, progress=False), **kw)


# ----------------------------------------------------------------------------- the layer vocabulary
def test_layer_specs_resolve_in_the_model_numbering():
    assert parse_layer_spec("0,8,16,24,32", 33) == [0, 8, 16, 24, 32]
    assert parse_layer_spec("every:4", 33) == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    assert parse_layer_spec("every:4", 31) == [0, 4, 8, 12, 16, 20, 24, 28, 30]  # the last layer always comes along
    assert parse_layer_spec("last", 31) == [30] and parse_layer_spec("-1,0", 31) == [0, 30]
    assert parse_layer_spec("2-4", 31) == [2, 3, 4] and parse_layer_spec(None, 3) == [0, 1, 2]
    assert parse_layer_spec("1-last", 7) == [1, 2, 3, 4, 5, 6] and parse_layer_spec("4-last", [0, 4, 8]) == [4, 8]
    stored = [0, 8, 16]
    assert resolve_layer(8, stored) == 8 and resolve_layer(-1, stored) == 16 and resolve_layer(-3, stored) == 0
    assert parse_layer_spec("last", stored) == [16] and parse_layer_spec("all", stored) == stored
    assert parse_layer_spec("0-10", stored) == [0, 8] and parse_layer_spec("every:16", stored) == [0, 16]
    with pytest.raises(ValidationError, match=r"layer 5 is not in this set: it holds layers 0, 8, 16 only"):
        resolve_layer(5, stored)
    with pytest.raises(ValidationError, match=r"layer 40 does not exist; this set has layers 0\.\.30"):
        parse_layer_spec("0,40", 31)
    with pytest.raises(ValidationError, match="every:K needs a whole number"):
        parse_layer_spec("every:x", 31)
    with pytest.raises(ValidationError, match="no stored layer lies in 1-7"):
        parse_layer_spec("1-7", stored)


def test_in_memory_sets_with_some_layers_keep_the_numbering():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(20, 3)) for _ in range(3)]
    r = InMemoryRepresentations(arrays, labels=np.arange(20) % 2, layer_numbers=[0, 8, 16])
    assert r.layers == [0, 8, 16] and r.n_layers == 3
    np.testing.assert_array_equal(r.layer(8), arrays[1].astype(np.float32))
    np.testing.assert_array_equal(r.layer(-1), arrays[2].astype(np.float32))
    with pytest.raises(ValidationError, match="not in this set"):
        r.layer(1)
    with pytest.raises(ValidationError, match="layer_numbers must be 3 increasing"):
        InMemoryRepresentations(arrays, labels=np.arange(20) % 2, layer_numbers=[0, 0, 1])


# ----------------------------------------------------------------------------- stores holding some layers
def test_layers_store_only_those_and_keep_the_model_numbering(llama, tmp_path):
    task = sentence_task(10)
    full = extract(llama, task, "dev", out=tmp_path / "full", **_kw())
    part = extract(llama, task, "dev", out=tmp_path / "part", layers="0,2,4", **_kw())
    assert full.layers == [0, 1, 2, 3, 4] and part.layers == [0, 2, 4] and part.n_layers == 3
    assert sorted(p.name for p in (tmp_path / "part" / "layers").iterdir()) == \
        ["layer_00.npy", "layer_02.npy", "layer_04.npy"]
    m = part.manifest
    assert m.layers == [0, 2, 4] and m.n_blocks == 4 and m.layer_names == ["embeddings", "blocks.1", "blocks.3"]
    assert not m.all_layers and full.manifest.all_layers
    for l in (0, 2, 4):  # the same forward passes: identical values
        np.testing.assert_array_equal(part.layer(l), full.layer(l))
    np.testing.assert_array_equal(part.layer(-1), full.layer(4))
    with pytest.raises(ValidationError, match="layer 3 is not in this set: it holds layers 0, 2, 4 only"):
        part.layer(3)
    part.verify()
    assert "layers=3 [0,2,4]" in repr(part)
    # every:K, and the same request again is a cache hit; another selection is refused with the difference
    ev = extract(llama, task, "dev", out=tmp_path / "every", layers="every:3", **_kw())
    assert ev.layers == [0, 3, 4]
    again = extract(llama, task, "dev", out=tmp_path / "part", layers=[4, 2, 0], **_kw())
    assert again.manifest.created == m.created
    with pytest.raises(ManifestMismatchError, match=r"layers: \[0, 2, 4\] \(stored\) != 'all' \(requested\)"):
        extract(llama, task, "dev", out=tmp_path / "part", **_kw())
    # asking for every layer by number is the same store as asking for all
    assert extract(llama, task, "dev", out=tmp_path / "full", layers="0-4", **_kw()).manifest.created == \
        full.manifest.created
    with pytest.raises(ValidationError, match=r"layer 9 does not exist.*the model has layers 0\.\.4"):
        extract(llama, task, "dev", out=tmp_path / "bad", layers="0,9", **_kw())


def test_run_folder_keys_name_the_layers_and_analyses_read_them(llama, tmp_path):
    from ftgeo.analyses import ANALYSES
    from ftgeo.analyses._inputs import require_all_layers, select_layers
    task = sentence_task(24)
    run = RunDir(tmp_path / "run").ensure()
    part = extract(llama, task, "dev", out=run, layers="0,2,4", **_kw())
    full = extract(llama, task, "dev", out=run, **_kw())
    assert part.path.name.endswith("__L0-2-4") and part.path != full.path
    assert select_layers(part, "last") == [4] and select_layers(part, 2) == [2] and select_layers(part) == [0, 2, 4]
    cka_part = ANALYSES.get("cka")(part, progress=False)
    cka_full = ANALYSES.get("cka")(full, progress=False, layers="0,2,4")
    np.testing.assert_allclose(cka_part.matrix(), cka_full.matrix(), atol=1e-12)
    rogue = ANALYSES.get("rogue")(part, layers="last", progress=False)
    assert set(rogue.table("layers").layer) == {4}
    with pytest.raises(ValidationError, match="layer 1 is not in this set"):
        ANALYSES.get("rogue")(part, layers="1", progress=False)
    require_all_layers(full, "the test")
    with pytest.raises(ValidationError, match="needs every layer of the model.*holds layers 0, 2, 4 only"):
        require_all_layers(part, "the test")


def test_old_stores_without_layers_still_open_and_hit_the_cache(llama, tmp_path):
    task = sentence_task(8)
    store = extract(llama, task, "dev", out=tmp_path / "s", **_kw())
    f = tmp_path / "s" / "manifest.json"
    m = json.loads(f.read_text())
    for k in ("layers", "model_dtype"):  # written before selective extraction existed
        del m[k]
    f.write_text(json.dumps(m))
    old = open_reps(tmp_path / "s").verify()
    assert old.layers == [0, 1, 2, 3, 4] and old.manifest.all_layers
    np.testing.assert_array_equal(old.layer(3), store.layer(3))
    hit = extract(llama, task, "dev", out=tmp_path / "s", **_kw())
    assert hit.manifest.created == store.manifest.created and hit.manifest.layers is None


# ----------------------------------------------------------------------------- poolings in one pass
def test_several_poolings_share_one_pass_and_equal_separate_runs(llama, tmp_path, monkeypatch):
    from ftgeo.extract import core
    task = sentence_task(10)
    calls = []
    real = core._forward_chunk
    monkeypatch.setattr(core, "_forward_chunk", lambda *a, **k: calls.append(1) or real(*a, **k))
    both = extract(llama, task, "dev", out=RunDir(tmp_path / "r"), **_kw(pooling=["last", "mean"], layers="0,4"))
    assert sorted(both) == ["last", "mean"] and len(calls) == 3  # 3 chunks, one forward pass each
    for p, store in both.items():
        alone = extract(llama, task, "dev", out=tmp_path / p, **_kw(pooling=p, layers="0,4"))
        assert store.manifest.pooling == p and store.layers == [0, 4]
        for l in (0, 4):
            np.testing.assert_array_equal(store.layer(l), alone.layer(l))
    with pytest.raises(ValidationError, match="several poolings .* pass a run folder"):
        extract(llama, task, "dev", out=tmp_path / "one", **_kw(pooling="last,mean"))
    with pytest.raises(ValidationError, match="word and pair pooling cannot share a pass"):
        extract(llama, task, "dev", out=RunDir(tmp_path / "r"), **_kw(pooling="word,last"))


# ----------------------------------------------------------------------------- disk and memory
def test_the_estimate_is_printed_and_a_too_small_disk_is_refused_before_writing(llama, tmp_path, monkeypatch, capsys):
    import shutil
    task = sentence_task(10)
    extract(llama, task, "dev", out=tmp_path / "ok", **_kw(progress=True, layers="0,4"))
    err = capsys.readouterr().err
    assert "2 of 5 layers x 10 rows x 32 dims x float32 x 1 store(s)" in err and "on disk at the peak" in err
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(StorageError) as e:
        extract(llama, task, "dev", out=tmp_path / "full", **_kw())
    msg = str(e.value)
    assert "not enough disk space for extract llama toy_sentences/dev last" in msg and "\n" not in msg
    assert "keep fewer layers (--layers)" in msg
    assert not (tmp_path / "full" / "manifest.json").exists()  # nothing was written


# ----------------------------------------------------------------------------- model dtype
def test_bfloat16_extraction_agrees_with_float32_within_the_stated_tolerance(llama, tmp_path):
    """bfloat16 keeps 8 bits of mantissa (relative rounding 2^-9 = 0.2% per operation): on the tiny Llama the
    pooled vectors stay within 3% (relative Frobenius error per layer), and the layer x layer linear CKA grid
    within 0.01 of float32's."""
    from ftgeo.analysis.similarity import cka
    task = sentence_task(40)
    f32 = extract(llama, task, "dev", out=tmp_path / "f32", **_kw())
    b16 = extract(llama, task, "dev", out=tmp_path / "b16", **_kw(model_dtype="bfloat16"))
    assert b16.manifest.model_dtype == "bfloat16" and f32.manifest.model_dtype == "float32"
    for l in f32.layers:
        a, b = f32.layer(l, dtype=np.float64), b16.layer(l, dtype=np.float64)
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.03
        assert cka(a, b) > 0.999
    grid = lambda s: np.array([[cka(s.layer(i, dtype=np.float64), s.layer(j, dtype=np.float64))
                                for j in s.layers] for i in s.layers])
    assert np.abs(grid(f32) - grid(b16)).max() < 0.01
    with pytest.raises(ManifestMismatchError, match="model_dtype: 'float32' \\(stored\\) != 'bfloat16'"):
        extract(llama, task, "dev", out=tmp_path / "f32", **_kw(model_dtype="bfloat16"))
    from ftgeo.models import load_model
    with pytest.raises(ValidationError, match="the model is already loaded in float32; model_dtype='bfloat16'"):
        extract(load_model(llama), task, "dev", out=tmp_path / "x", **_kw(model_dtype="bfloat16"))
