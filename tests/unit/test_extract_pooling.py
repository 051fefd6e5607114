"""Pooled vectors from batched, length-sorted extraction equal a direct unbatched forward pass."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ftgeo.extract import extract
from ftgeo.testing.tasks import sentence_task, word_task
from ftgeo.testing.models import tiny_model

ARCHS = ["bert", "gpt2", "llama"]


@pytest.fixture(scope="module")
def models():
    return {a: tiny_model(a, n_layers=2, hidden=32, heads=2, seed=1) for a in ARCHS}


def _hidden(lm, ids: list[int]) -> torch.Tensor:
    """Unbatched forward of one sequence: (L+1, T, H)."""
    with torch.no_grad():
        out = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return torch.stack(out.hidden_states)[:, 0]


def _sentence_reference(lm, task, pooling):
    rows = []
    for ex in task.examples("dev"):
        enc = lm.tokenizer(ex.text, ex.text_pair) if ex.text_pair else lm.tokenizer(ex.text)
        if "token_type_ids" in enc and not lm.is_decoder:
            with torch.no_grad():
                out = lm.model(input_ids=torch.tensor([enc["input_ids"]]),
                               token_type_ids=torch.tensor([enc["token_type_ids"]]), output_hidden_states=True)
            h = torch.stack(out.hidden_states)[:, 0]
        else:
            h = _hidden(lm, enc["input_ids"])
        rows.append({"cls": h[:, 0], "last": h[:, -1], "mean": h.mean(dim=1)}[pooling])
    return torch.stack(rows, dim=1).numpy()  # (L+1, n, H)


def _manual_words(lm, words):
    """Token ids and per-word token positions built word by word (independent of offsets)."""
    tok = lm.tokenizer
    ids, spans = [], []
    if lm.name == "tiny-bert":
        ids.append(tok.cls_token_id)
    if lm.name == "tiny-llama":
        ids.append(tok.bos_token_id)
    for j, w in enumerate(words):
        piece = tok(w if (j == 0 or lm.name == "tiny-bert") else " " + w, add_special_tokens=False)["input_ids"]
        spans.append(list(range(len(ids), len(ids) + len(piece))))
        ids.extend(piece)
    if lm.name == "tiny-bert":
        ids.append(tok.sep_token_id)
    return ids, spans


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_sentence_poolings_equal_unbatched(models, arch, batch_size, tmp_path):
    lm = models[arch]
    task = sentence_task(12)
    for pooling in (["cls", "mean", "last"] if arch == "bert" else ["last", "mean"]):
        store = extract(lm, task, "dev", pooling=pooling, out=tmp_path / f"{pooling}", batch_size=batch_size,
                        chunk_size=5, dtype="float32", progress=False)
        ref = _sentence_reference(lm, task, pooling)
        assert store.n_layers == lm.n_layers + 1 == ref.shape[0]
        for i in range(store.n_layers):
            np.testing.assert_allclose(store.layer(i), ref[i], atol=1e-5, rtol=0)
        assert list(store.ids) == [f"ex{i}" for i in range(12)]
        assert store.labels.tolist() == [i % 2 for i in range(12)]


def test_pair_task_uses_both_segments(models, tmp_path):
    lm = models["bert"]
    task = sentence_task(6, pair=True)
    store = extract(lm, task, "dev", pooling="mean", out=tmp_path / "s", batch_size=4, dtype="float32", progress=False)
    ref = _sentence_reference(lm, task, "mean")
    np.testing.assert_allclose(store.layer(-1), ref[-1], atol=1e-5, rtol=0)
    single = extract(lm, sentence_task(6), "dev", pooling="mean", out=tmp_path / "t", dtype="float32", progress=False)
    assert np.abs(single.layer(-1) - store.layer(-1)).max() > 1e-3  # the second text changed the vectors


@pytest.mark.parametrize("arch", ARCHS)
def test_word_pooling_is_mean_of_the_words_subtokens(models, arch, tmp_path):
    lm = models[arch]
    task = word_task(6)
    store = extract(lm, task, "dev", pooling="word", out=tmp_path / "w", batch_size=4, chunk_size=13,
                    dtype="float32", progress=False)
    expected_rows, expected_ids, multi = [], [], 0
    for ex in task.examples("dev"):
        ids, spans = _manual_words(lm, ex.words)
        assert ids == lm.tokenizer(" ".join(ex.words))["input_ids"]  # the word-by-word build is the real input
        h = _hidden(lm, ids)
        for j, t in enumerate(ex.targets):
            pos = spans[t.word_indices[0]]
            multi += len(pos) > 1
            expected_rows.append(h[:, pos].mean(dim=1))
            expected_ids.append(f"{ex.id}:{j}")
    ref = torch.stack(expected_rows, dim=1).numpy()
    assert multi > 5  # the tiny vocabulary really splits words into several sub-tokens
    assert list(store.ids) == expected_ids
    assert store.labels.tolist() == [t.label for ex in task.examples("dev") for t in ex.targets]
    for i in range(store.n_layers):
        np.testing.assert_allclose(store.layer(i), ref[i], atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_pair_pooling_concatenates_head_and_dependent(models, arch, tmp_path):
    lm = models[arch]
    words = extract(lm, word_task(5), "dev", pooling="word", out=tmp_path / "w", dtype="float32", progress=False)
    rel_task = word_task(5, relations=True)
    pairs = extract(lm, rel_task, "dev", pooling="pair", out=tmp_path / "p", dtype="float32", progress=False)
    assert pairs.manifest["dim"] == 2 * lm.hidden_size
    index = {i: k for k, i in enumerate(words.ids)}
    for layer in range(pairs.n_layers):
        W, P = words.layer(layer), pairs.layer(layer)
        r = 0
        for ex in rel_task.examples("dev"):
            for j, t in enumerate(ex.targets):
                h, d = t.word_indices
                assert pairs.ids[r] == f"{ex.id}:{j}"
                np.testing.assert_allclose(P[r, :32], W[index[f"{ex.id}:{h}"]], atol=1e-5, rtol=0)
                np.testing.assert_allclose(P[r, 32:], W[index[f"{ex.id}:{d}"]], atol=1e-5, rtol=0)
                r += 1
        assert r == pairs.n


def test_float16_store_within_half_precision(models, tmp_path):
    lm = models["llama"]
    task = sentence_task(10)
    f32 = extract(lm, task, "dev", pooling="mean", out=tmp_path / "a", dtype="float32", progress=False)
    f16 = extract(lm, task, "dev", pooling="mean", out=tmp_path / "b", dtype="float16", progress=False)
    assert f16.layer(0, dtype=None).dtype == np.float16 and f16.layer(0).dtype == np.float32
    for i in range(f32.n_layers):
        a, b = f32.layer(i), f16.layer(i)
        np.testing.assert_array_equal(b, a.astype(np.float16).astype(np.float32))  # exactly a rounding
        assert np.abs(a - b).max() <= 2 ** -10 * np.abs(a).max()


def test_order_and_batch_size_do_not_matter(models, tmp_path):
    """Same vectors whatever the batch size, the chunking, or the example order of the task."""
    lm = models["gpt2"]
    task = sentence_task(12)
    a = extract(lm, task, "dev", pooling="last", out=tmp_path / "a", batch_size=2, chunk_size=3, dtype="float32",
                progress=False)
    b = extract(lm, task, "dev", pooling="last", out=tmp_path / "b", batch_size=12, chunk_size=100,
                dtype="float32", progress=False)
    from ftgeo.data.memory import ListTask
    rev = ListTask("rev", "sentence", task.label_names, {"dev": task.examples("dev")[::-1]})
    c = extract(lm, rev, "dev", pooling="last", out=tmp_path / "c", batch_size=5, dtype="float32", progress=False)
    np.testing.assert_allclose(a.layer(-1), b.layer(-1), atol=1e-5, rtol=0)
    np.testing.assert_allclose(a.layer(-1), c.layer(-1)[::-1], atol=1e-5, rtol=0)
    assert list(c.ids) == list(a.ids)[::-1]
