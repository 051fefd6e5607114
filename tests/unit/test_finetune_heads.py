"""Heads: the head as a NumPy function equals the model's own logits; word heads round-trip; metrics."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ftgeo.errors import ValidationError
from ftgeo.extract import extract
from ftgeo.testing.tasks import sentence_task, word_task
from ftgeo.finetune import classification_head, load_finetuned
from ftgeo.finetune.data import Collator, encode, split_heldout, subsample
from ftgeo.finetune.heads import build_word_classifier, head_arity, write_head_meta
from ftgeo.finetune.metrics import confusion, scores, tidy_log
from ftgeo.models import load_model
from ftgeo.testing.models import tiny_model


def _model_logits(lm, task, split="dev"):
    import torch
    feats, _ = encode(lm, task, task.examples(split), kind="sequence", max_length=128)
    batch = Collator(lm.tokenizer.pad_token_id, "sequence")(feats)
    batch.pop("labels")
    lm.model.eval()
    with torch.no_grad():
        return lm.model(**batch).logits.double().numpy()


@pytest.mark.parametrize("arch,pooling", [("bert", "cls"), ("gpt2", "last"), ("llama", "last")])
def test_head_on_extracted_last_layer_equals_forward_logits(tmp_path, arch, pooling):
    lm = tiny_model(arch, head="sequence", num_labels=3, seed=1)
    folder = lm.save(tmp_path / arch)
    write_head_meta(folder, {"kind": "sequence", "num_labels": 3, "label_names": ["a", "b", "c"]})
    task = sentence_task(12, pair=(arch == "bert"))
    store = extract(folder, task, "dev", pooling=pooling, out=tmp_path / "reps", dtype="float32", progress=False)
    head = classification_head(folder)
    got = head(store.layer(-1))
    want = _model_logits(load_model(folder, head="sequence"), task)
    assert got.shape == (12, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(got[:, 0], got[:, 1])  # a real, non-degenerate head


@pytest.mark.parametrize("relations", [False, True])
def test_word_head_round_trip_and_base_loads_for_extraction(tmp_path, relations):
    import torch
    lm = tiny_model("bert", seed=2)
    net = build_word_classifier(lm.model, num_labels=3, arity=2 if relations else 1, dropout=0.1)
    torch.nn.init.normal_(net.classifier.weight, std=0.5)
    folder = tmp_path / "m"
    net.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    write_head_meta(folder, {"kind": "pair" if relations else "word", "num_labels": 3,
                             "label_names": ["A", "B", "C"], "dropout": 0.1})
    task = word_task(6, relations=relations)
    # the saved folder is the base model: load_model / extract read it directly
    base = load_model(folder)
    sd, ref = base.model.state_dict(), lm.model.state_dict()
    assert max(float((sd[k] - ref[k]).abs().max()) for k in ref) == 0.0
    store = extract(folder, task, "dev", pooling="pair" if relations else "word", out=tmp_path / "r",
                    dtype="float32", progress=False)
    # the head through NumPy equals the model's own forward logits on the same targets
    fm = load_finetuned(folder)
    assert fm.kind == ("pair" if relations else "word") and fm.label_names == ["A", "B", "C"]
    feats, dropped = encode(base, task, task.examples("dev"), kind=fm.kind, max_length=128)
    assert dropped == 0
    batch = Collator(base.tokenizer.pad_token_id, fm.kind)(feats)
    labels = batch.pop("labels").numpy()
    with torch.no_grad():
        want = fm.model(**batch).logits.double().numpy()
    got = classification_head(folder)(store.layer(-1))
    assert got.shape == (store.labels.shape[0], 3)
    np.testing.assert_array_equal(store.labels, labels)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_head_errors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    with pytest.raises(FileNotFoundError, match="not a fine-tuned model folder"):
        classification_head(tmp_path)
    head = classification_head(tiny_model("gpt2", head="sequence").model)
    with pytest.raises(ValidationError, match="must be 2-D"):
        head(np.zeros(32))
    with pytest.raises(ValidationError, match="not a mix"):
        head_arity(word_task(2).examples("dev") + word_task(2, relations=True).examples("dev"))


def test_confusion_scores_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    p[:5] = 4
    y[y == 3] = 2  # a class absent from gold but predicted
    C = confusion(y, p, 6)
    s = scores(C)
    assert s["n"] == 300 and C.sum() == 300
    assert s["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    # additive over shards, as summed across processes
    assert scores(confusion(y[:100], p[:100], 6) + confusion(y[100:], p[100:], 6)) == s


def test_tidy_log():
    log = [{"loss": 0.7, "learning_rate": 1e-3, "grad_norm": 2.0, "epoch": 0.5, "step": 2},
           {"eval_accuracy": 0.5, "eval_loss": 0.69, "heldout_accuracy": 0.75, "epoch": 1.0, "step": 4},
           {"train_runtime": 3.0, "train_loss": 0.6, "epoch": 1.0, "step": 4}]
    df = tidy_log(log, {"eval": "dev", "heldout": "heldout"})
    assert list(df.columns) == ["step", "epoch", "split", "metric", "value"]
    got = {(r.step, r.split, r.metric): r.value for r in df.itertuples()}
    assert got == {(2, "train", "loss"): 0.7, (2, "train", "learning_rate"): 1e-3, (2, "train", "grad_norm"): 2.0,
                   (4, "dev", "accuracy"): 0.5, (4, "dev", "loss"): 0.69, (4, "heldout", "accuracy"): 0.75}


def test_subsample_and_heldout_are_seeded_and_ordered():
    xs = list(range(100))
    a, b = subsample(xs, 30, seed=3), subsample(xs, 30, seed=3)
    assert a == b and a == sorted(a) and len(set(a)) == 30 and subsample(xs, 30, seed=4) != a
    assert subsample(xs, None, 0) == xs and subsample(xs, 500, 0) == xs
    tr, ho = split_heldout(xs, 0.1, seed=0)
    assert len(ho) == 10 and sorted(tr + ho) == xs and tr == sorted(tr) and split_heldout(xs, 0.1, 0) == (tr, ho)
    with pytest.raises(ValidationError, match="leaves none to train on"):
        split_heldout([1], 0.4, 0)
