"""Real packaged models on real data (slow): MiniLM and SmolLM2 on SST-2 dev and UD English EWT words."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ftgeo.extract import extract
from ftgeo.data.memory import ListTask
from ftgeo.models import load_model

pytestmark = pytest.mark.slow


def _sst2(data_root):
    from ftgeo.data import load_task
    return load_task("sst2", data_root=data_root)


def _ud(data_root, n_sent=20, relations=False):
    """The first ``n_sent`` dev sentences of UD English EWT as ud_pos / ud_dep."""
    from ftgeo.data import load_task
    task = load_task("ud_dep" if relations else "ud_pos", data_root=data_root)
    return ListTask(task.name, "token", task.label_names, {"dev": task.examples("dev")[:n_sent]})


def _unbatched(lm, text):
    enc = lm.tokenizer(text, return_tensors="pt")
    inputs = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        return torch.stack(lm.model(**inputs, output_hidden_states=True).hidden_states)[:, 0], enc


@pytest.fixture(scope="module")
def minilm():
    return load_model("minilm-l6")


@pytest.fixture(scope="module")
def smollm():
    return load_model("smollm2-135m")


def test_minilm_sst2_cls_and_ud_words(minilm, data_root, tmp_path):
    task = _sst2(data_root)
    store = extract(minilm, task, "dev", pooling="cls", out=tmp_path / "sst2", max_examples=48, dtype="float32",
                    progress=False)
    assert (store.n, store.dim, store.n_layers) == (48, 384, 7)
    assert store.labels.tolist() == [ex.label for ex in task.examples("dev")[:48]]
    for i in (0, 17, 47):
        h, _ = _unbatched(minilm, task.examples("dev")[i].text)
        np.testing.assert_allclose(store.layer(-1)[i], h[-1, 0].numpy(), atol=1e-4, rtol=0)

    pos = _ud(data_root)
    words = extract(minilm, pos, "dev", pooling="word", out=tmp_path / "pos", dtype="float32", progress=False)
    total = sum(len(ex.targets) for ex in pos.examples("dev"))
    assert words.n + words.manifest["dropped_targets"] == total and words.n > 200
    ex = pos.examples("dev")[1]
    h, _ = _unbatched(minilm, " ".join(ex.words))
    enc = minilm.tokenizer(list(ex.words), is_split_into_words=True)  # BERT: same pieces as the joined text
    wid = enc.word_ids()
    row = list(words.ids).index(f"{ex.id}:4")
    w4 = ex.targets[4].word_indices[0]
    ref = h[:, [t for t, w in enumerate(wid) if w == w4]].mean(dim=1)
    assert words.labels[row] == ex.targets[4].label
    np.testing.assert_allclose(words.layer(3)[row], ref[3].numpy(), atol=1e-4, rtol=0)

    deps = _ud(data_root, n_sent=10, relations=True)
    pairs = extract(minilm, deps, "dev", pooling="pair", out=tmp_path / "deps", dtype="float32", progress=False)
    assert pairs.dim == 768 and pairs.n == sum(len(e.targets) for e in deps.examples("dev"))


def test_smollm2_gguf_cache_is_faithful_and_extracts(smollm, data_root, tmp_path):
    from ftgeo.models import _smollm2_gguf
    from transformers import AutoModel
    gguf = _smollm2_gguf()
    direct = AutoModel.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = smollm.tokenizer("it 's a charming and often affecting journey .", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = direct(input_ids=ids, output_hidden_states=True).hidden_states
        b = smollm.model(input_ids=ids, output_hidden_states=True).hidden_states
    assert len(b) == 31 and all(torch.equal(x, y) for x, y in zip(a, b))
    assert smollm.is_decoder and smollm.tokenizer.pad_token == smollm.tokenizer.eos_token

    task = _sst2(data_root)
    store = extract(smollm, task, "dev", pooling="last", out=tmp_path / "sst2", max_examples=24, dtype="float32",
                    batch_size=8, progress=False)
    assert (store.n, store.dim, store.n_layers) == (24, 576, 31)
    for i in (0, 23):
        h, _ = _unbatched(smollm, task.examples("dev")[i].text)
        np.testing.assert_allclose(store.layer(-1)[i], h[-1, -1].numpy(), atol=1e-3, rtol=1e-4)
    pos = _ud(data_root, n_sent=8)
    words = extract(smollm, pos, "dev", pooling="word", out=tmp_path / "pos", dtype="float16", progress=False)
    assert words.n + words.manifest["dropped_targets"] == sum(len(e.targets) for e in pos.examples("dev"))
    assert words.layer(0, dtype=None).dtype == np.float16 and np.isfinite(words.layer(-1)).all()


def test_smollm2_bf16_selected_layers_agree_with_float32(data_root, tmp_path):
    """SmolLM2 in bfloat16 with --layers every:6 on the first 128 SST-2 dev sentences: the store holds
    exactly layers 0, 6, ..., 30; its linear-CKA grid agrees with float32's within 0.01, and each layer's
    CKA with its float32 self is above 0.99 (measured on all 872 sentences: docs/extraction.md)."""
    from ftgeo.analysis.streaming import linear_cka_grid
    task = ListTask("sst2", "sentence", ["negative", "positive"], {"dev": _sst2(data_root).examples("dev")[:128]})
    kw = dict(pooling="last", layers="every:6", max_length=64, batch_size=32, dtype="float32", progress=False)
    f32 = extract("smollm2-135m", task, "dev", out=tmp_path / "f32", model_dtype="float32", **kw)
    b16 = extract("smollm2-135m", task, "dev", out=tmp_path / "b16", model_dtype="bfloat16", **kw)
    assert f32.layers == b16.layers == [0, 6, 12, 18, 24, 30]
    assert sorted(p.name for p in (tmp_path / "b16" / "layers").iterdir()) == \
        [f"layer_{l:02d}.npy" for l in (0, 6, 12, 18, 24, 30)]
    g32 = linear_cka_grid(f32, device="cpu", compute=torch.float64)
    g16 = linear_cka_grid(b16, device="cpu", compute=torch.float64)
    assert np.nanmax(np.abs(g32 - g16)) < 0.01
    for l in f32.layers:
        assert linear_cka_grid([f32.layer(l)], [b16.layer(l)], device="cpu", compute=torch.float64)[0, 0] > 0.99
