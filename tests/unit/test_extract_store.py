"""The on-disk store: manifest, cache hits, mismatches, resume, per-layer reads, validation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ftgeo
from ftgeo.errors import DataNotFoundError, ManifestMismatchError, ValidationError
from ftgeo.extract import core, extract, list_reps, open_reps, store_key
from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task, word_task
from ftgeo.data.base import Example, Target
from ftgeo.testing.models import tiny_model
from ftgeo.reps import Representations
from ftgeo.run import RunDir


@pytest.fixture(scope="module")
def bert():
    return tiny_model("bert", seed=2)


@pytest.fixture(scope="module")
def gpt2():
    return tiny_model("gpt2", seed=2)


def test_manifest_records_everything(bert, tmp_path):
    task = sentence_task(7)
    store = extract(bert, task, "dev", pooling="cls", out=tmp_path / "s", max_length=64, dtype="float16",
                    checkpoint="step-10", progress=False)
    m = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert m["complete"] is True
    assert (m["model"], m["model_source"], m["checkpoint"]) == ("tiny-bert", "tiny:bert", "step-10")
    assert (m["task"], m["split"], m["pooling"], m["max_length"], m["dtype"]) == ("toy_sentences", "dev", "cls", 64,
                                                                               "float16")
    assert (m["n"], m["dim"], m["n_layers"], m["n_blocks"]) == (7, 32, 3, 2)
    assert m["layer_names"] == ["embeddings", "blocks.0", "blocks.1"]
    assert m["fingerprint"] == task.fingerprint("dev")
    assert m["ftgeo_version"] == ftgeo.__version__
    assert m["label_names"] == ["neg", "pos"] == store.label_names
    assert isinstance(store, Representations)
    assert store.layers == [0, 1, 2] and store.manifest["n"] == 7
    assert store.ids.dtype.kind == "U" and store.labels.dtype == np.int64
    assert not (tmp_path / "s" / "chunks").exists()  # consolidated and cleaned
    assert sorted(p.name for p in (tmp_path / "s" / "layers").iterdir()) == [f"layer_0{i}.npy" for i in range(3)]


def test_mismatch_is_refused_and_names_fields(bert, tmp_path):
    task = sentence_task(6)
    extract(bert, task, "dev", pooling="cls", out=tmp_path / "s", dtype="float32", progress=False)
    before = (tmp_path / "s" / "layers" / "layer_02.npy").read_bytes()
    with pytest.raises(ManifestMismatchError) as e:
        extract(bert, task, "dev", pooling="mean", out=tmp_path / "s", max_length=32, dtype="float32", progress=False)
    msg = str(e.value)
    assert "pooling: 'cls' (stored) != 'mean' (requested)" in msg
    assert "max_length: 128 (stored) != 32 (requested)" in msg
    assert "dtype" not in msg and "overwrite=True" in msg
    assert (tmp_path / "s" / "layers" / "layer_02.npy").read_bytes() == before  # untouched
    # different data (fingerprint) is a mismatch too
    with pytest.raises(ManifestMismatchError, match="fingerprint"):
        extract(bert, sentence_task(6, name="toy_sentences", pair=True), "dev", pooling="cls", out=tmp_path / "s",
                dtype="float32", progress=False)
    store = extract(bert, task, "dev", pooling="mean", out=tmp_path / "s", dtype="float32", overwrite=True,
                    progress=False)
    assert store.manifest["pooling"] == "mean"


def test_cache_hit_returns_without_loading_the_model(bert, tmp_path, monkeypatch):
    folder = bert.save(tmp_path / "model")
    task = sentence_task(5)
    first = extract(str(folder), task, "dev", pooling="mean", out=tmp_path / "s", progress=False)
    import ftgeo.models
    monkeypatch.setattr(ftgeo.models, "load_model", lambda *a, **k: pytest.fail("model loaded on a cache hit"))
    again = extract(str(folder), task, "dev", pooling="mean", out=tmp_path / "s", progress=False)
    np.testing.assert_array_equal(first.layer(1), again.layer(1))
    assert again.manifest["model"] == "model" and again.manifest["model_id"] == str(folder.resolve())


class _Crash(RuntimeError):
    pass


def test_resume_after_crash_gives_identical_bytes(gpt2, tmp_path, monkeypatch):
    task = sentence_task(12)
    kw = dict(pooling="mean", batch_size=3, chunk_size=4, dtype="float16", progress=False)
    ref = extract(gpt2, task, "dev", out=tmp_path / "ref", **kw)

    done = []

    def crash(k):
        done.append(k)
        if len(done) == 2:
            raise _Crash("killed")

    monkeypatch.setattr(core, "_after_chunk", crash)
    with pytest.raises(_Crash):
        extract(gpt2, task, "dev", out=tmp_path / "r", **kw)
    assert sorted(p.name for p in (tmp_path / "r" / "chunks").glob("*.npz")) == ["00000.npz", "00001.npz"]
    with pytest.raises(ValidationError, match=r"incomplete \(2 of 3 chunks\)"):
        open_reps(tmp_path / "r")
    assert "incomplete 2/3 chunks" in list_reps(tmp_path / "r")[0]

    redone = []
    monkeypatch.setattr(core, "_after_chunk", redone.append)
    store = extract(gpt2, task, "dev", out=tmp_path / "r", **kw)
    assert redone == [2]  # only the missing chunk was computed
    for i in range(ref.n_layers):
        a = (tmp_path / "ref" / "layers" / f"layer_{i:02d}.npy").read_bytes()
        b = (tmp_path / "r" / "layers" / f"layer_{i:02d}.npy").read_bytes()
        assert a == b
    assert (tmp_path / "ref" / "ids.npy").read_bytes() == (tmp_path / "r" / "ids.npy").read_bytes()
    assert list(store.ids) == list(ref.ids)


def test_layer_reads_only_its_file(bert, tmp_path, monkeypatch):
    store = extract(bert, sentence_task(5), "dev", pooling="cls", out=tmp_path / "s", progress=False)
    opened = []
    real_load = np.load

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_load(file, *a, **k)

    monkeypatch.setattr(np, "load", spy)
    x = store.layer(1, dtype=None)
    assert isinstance(x, np.memmap) and x.shape == (5, 32)
    assert [p.split("/")[-1] for p in opened] == ["layer_01.npy"]
    y = store.layer(-1)
    assert opened[-1].endswith("layer_02.npy") and y.dtype == np.float32 and len(opened) == 2
    with pytest.raises(ValidationError, match="layer 3 does not exist"):
        store.layer(3)


def test_run_folder_key_and_list_reps(bert, tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    store = extract(bert, sentence_task(4), "dev", pooling="cls", out=run, checkpoint="ck1", max_examples=3,
                    progress=False)
    key = "tiny-bert@ck1__toy_sentences__dev__cls__n3"
    assert key == store_key("tiny-bert", "toy_sentences", "dev", "cls", checkpoint="ck1", max_examples=3)
    assert store.path == run.reps / key and store.n == 3
    # a plain path to an existing run folder is recognised too
    other = extract(bert, sentence_task(4), "dev", pooling="mean", out=str(run.root), progress=False)
    assert other.path == run.reps / "tiny-bert__toy_sentences__dev__mean"
    lines = list_reps(run.root)
    assert len(lines) == 2 and lines[0].startswith(str(run.reps / key)) and "n=3 dim=32 layers=3" in lines[0]
    assert "complete" in lines[1]


def test_pooling_validation(bert, gpt2, tmp_path):
    with pytest.raises(ValidationError, match="pooling='word' needs a token-level task"):
        extract(bert, sentence_task(3), "dev", pooling="word", out=tmp_path / "a", progress=False)
    with pytest.raises(ValidationError, match="word-level targets; use pooling='word'"):
        extract(bert, word_task(3), "dev", pooling="mean", out=tmp_path / "b", progress=False)
    with pytest.raises(ValidationError, match="pooling='cls' on the decoder 'tiny-gpt2'"):
        extract(gpt2, sentence_task(3), "dev", pooling="cls", out=tmp_path / "c", progress=False)
    with pytest.raises(ValidationError, match=r"names 1 word\(s\) \(0,\); pooling='pair' needs 2"):
        extract(bert, word_task(3), "dev", pooling="pair", out=tmp_path / "d", progress=False)
    bad = ListTask("bad", "token", ["A"], {"dev": [Example("x", words=("a", "b"), targets=(Target((5,), 0),))]})
    with pytest.raises(ValidationError, match=r"word index 5 is outside 0..1"):
        extract(bert, bad, "dev", pooling="word", out=tmp_path / "e", progress=False)
    with pytest.raises(ValidationError, match="pooling='max' is not one of"):
        extract(bert, sentence_task(3), "dev", pooling="max", out=tmp_path / "f", progress=False)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "notes.txt").write_text("mine")
    with pytest.raises(ValidationError, match="holds no manifest.json; refusing"):
        extract(bert, sentence_task(3), "dev", pooling="cls", out=tmp_path / "g", progress=False)
    with pytest.raises(DataNotFoundError, match="no manifest.json"):
        open_reps(tmp_path / "g")


def test_words_cut_by_max_length_are_dropped_and_counted(bert, tmp_path):
    task = word_task(4)
    full = extract(bert, task, "dev", pooling="word", out=tmp_path / "full", dtype="float32", progress=False)
    cut = extract(bert, task, "dev", pooling="word", out=tmp_path / "cut", max_length=12, dtype="float32",
                  progress=False)
    # expected: with [CLS] .. [SEP] in 12 tokens, 10 word-piece slots; a word survives only if all its pieces fit
    tok = bert.tokenizer
    kept = []
    for ex in task.examples("dev"):
        used = 0
        for j, w in enumerate(ex.words):
            used += len(tok(w, add_special_tokens=False)["input_ids"])
            if used <= 10:
                kept.append(f"{ex.id}:{j}")
    assert list(cut.ids) == kept
    assert cut.manifest["dropped_targets"] == full.n - len(kept) > 0
    # a kept word's vector differs from the untruncated one only through attention to fewer words; ids line up
    assert set(cut.ids) < set(full.ids)


def test_extract_runs_in_eval_mode_and_restores_training(tmp_path):
    lm = tiny_model("bert", seed=7)
    ref = extract(lm, sentence_task(6), "dev", pooling="mean", out=tmp_path / "a", dtype="float32", progress=False)
    for m in lm.model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.5
    lm.model.train()  # as a fine-tuning loop might leave it
    again = extract(lm, sentence_task(6), "dev", pooling="mean", out=tmp_path / "b", dtype="float32", progress=False)
    np.testing.assert_array_equal(again.layer(-1), ref.layer(-1))  # dropout was off
    assert lm.model.training


@pytest.mark.parametrize("progress,verbose", [(False, False), (True, False), (True, True)])
def test_progress_false_also_hides_transformers_bars(tmp_path, capfd, monkeypatch, progress, verbose):
    """``extract(progress=False)`` prints no bar at all, transformers' weight-loading bar included; with
    progress on, that bar shows only with ``--verbose`` (FTGEO_VERBOSE=1): a quiet console by default."""
    from ftgeo.testing.models import tiny_model
    monkeypatch.delenv("FTGEO_NO_PROGRESS", raising=False)
    monkeypatch.setenv("FTGEO_VERBOSE", "1" if verbose else "")
    monkeypatch.setenv("TQDM_DISABLE", "")
    folder = tiny_model("bert", seed=0).save(tmp_path / "m")
    capfd.readouterr()
    extract(str(folder), sentence_task(4), "dev", pooling="cls", out=tmp_path / "s", progress=progress)
    err = capfd.readouterr().err
    assert ("Loading weights" in err) is (progress and verbose)
    assert ("extract m" in err) is progress               # ftgeo's own bar follows progress=
