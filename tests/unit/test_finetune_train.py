"""Training on tiny models: resume after an interruption, early stopping, caching, errors."""
from __future__ import annotations

import json

import pytest

from ftgeo.data.base import Example
from ftgeo.errors import ManifestMismatchError, UnknownNameError, ValidationError
from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task
from ftgeo.finetune import finetune, list_checkpoints
from ftgeo.testing.faults import FailAfter
from ftgeo.testing.models import save_tiny


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "bert", "bert")


def _task(n_train=12, n_dev=6, pair=False):
    ex = sentence_task(n_train + n_dev, pair=pair).examples("dev")
    return ListTask("toy", "pair" if pair else "sentence", ["neg", "pos"],
                    {"train": ex[:n_train], "dev": ex[n_train:]})


def _weights(folder):
    from safetensors.torch import load_file
    return load_file(str(folder / "model.safetensors"))


def test_resume_continues_from_the_last_checkpoint(bert, tmp_path):
    task = _task()
    kw = dict(recipe="closer-look", epochs=2, batch_size=4, learning_rate=1e-3, checkpoint_every=2, seed=5)
    ref = finetune(bert, task, out=tmp_path / "ref", **kw)
    assert ref.meta["global_step"] == 6 and [c.step for c in ref.checkpoints] == [2, 4, 6]
    with pytest.raises(KeyboardInterrupt, match="after step 2"):
        finetune(bert, task, out=tmp_path / "cut", callbacks=[FailAfter(2)], **kw)
    assert [c.step for c in list_checkpoints(tmp_path / "cut")] == [2]
    assert (tmp_path / "cut" / "checkpoints" / "checkpoint-2" / "optimizer.pt").is_file()   # resuming needs it
    assert not json.loads((tmp_path / "cut" / "ftgeo_finetune.json").read_text())["complete"]
    res = finetune(bert, task, out=tmp_path / "cut", **kw)
    meta = json.loads((res.model_dir / "ftgeo_finetune.json").read_text())
    assert meta["resumed_from"] == "checkpoint-2" and meta["complete"]
    assert res.meta["global_step"] == 6 and [c.step for c in res.checkpoints] == [2, 4, 6]
    a, b = _weights(ref.model_dir), _weights(res.model_dir)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0  # same data order, RNG and optimizer state
    # complete: the checkpoints keep their weights and trainer state, not the optimizer/scheduler/RNG state
    for c in res.checkpoints:
        left = {p.name for p in c.path.iterdir()}
        assert "model.safetensors" in left and "trainer_state.json" in left, left
        assert not left & {"optimizer.pt", "scheduler.pt"} and not any(n.startswith("rng_state") for n in left), left
    w = _weights(res.checkpoints[0].path)
    assert w and all(v.numel() for v in w.values())
    # checkpoints record epoch and eval metrics; metrics.csv is tidy
    assert [c.epoch for c in res.checkpoints] == pytest.approx([2 / 3, 4 / 3, 2.0])
    assert all({"eval_accuracy", "eval_macro_f1", "eval_loss"} <= set(c.metrics) for c in res.checkpoints)
    m = res.metrics
    assert list(m.columns) == ["step", "epoch", "split", "metric", "value"]
    assert set(m.split) == {"train", "dev"} and {"loss", "learning_rate"} <= set(m[m.split == "train"].metric)
    dev_steps = sorted(set(m[(m.split == "dev") & (m.metric == "accuracy")].step))
    assert dev_steps == [2, 3, 4, 6]  # every checkpoint plus every epoch end


def test_complete_run_is_returned_and_other_settings_refused(bert, tmp_path):
    task = _task()
    kw = dict(recipe="gptology", epochs=1, batch_size=4, gradient_accumulation_steps=1)
    first = finetune(bert, task, out=tmp_path / "m", **kw)
    stamp = json.loads((first.model_dir / "ftgeo_finetune.json").read_text())["finished"]
    again = finetune(bert, task, out=tmp_path / "m", **kw)
    assert json.loads((again.model_dir / "ftgeo_finetune.json").read_text())["finished"] == stamp
    assert again.final_metrics == first.final_metrics
    with pytest.raises(ManifestMismatchError, match="differs in recipe"):
        finetune(bert, task, out=tmp_path / "m", **dict(kw, learning_rate=1e-4))


def test_clear_errors(bert, tmp_path):
    task = _task()
    with pytest.raises(UnknownNameError, match="did you mean 'emergent'"):
        finetune(bert, task, recipe="emergnt", out=tmp_path / "x")
    with pytest.raises(ValidationError, match="has no eval split 'validation'"):
        finetune(bert, task, out=tmp_path / "x", eval_split="validation")
    only_train = ListTask("t", "sentence", ["a", "b"], {"train": task.examples("train")})
    with pytest.raises(ValidationError, match="has no evaluation split"):
        finetune(bert, only_train, out=tmp_path / "x")
    unl = ListTask("corpus", "unlabelled", [], {"train": [Example("a", text="hello")], "dev": [Example("b", text="x")]})
    with pytest.raises(ValidationError, match="is unlabelled"):
        finetune(bert, unl, out=tmp_path / "x")
    one = ListTask("one", "sentence", ["only"], {"train": [Example("a", text="hi", label=0)],
                                                  "dev": [Example("b", text="yo", label=0)]})
    with pytest.raises(ValidationError, match="needs at least 2"):
        finetune(bert, one, out=tmp_path / "x")
    bad = ListTask("bad", "sentence", ["a", "b"], {"train": [Example("a", text="hi", label=5)],
                                                  "dev": [Example("b", text="yo", label=0)]})
    with pytest.raises(ValidationError, match="label index 5 but the task has 2 label names"):
        finetune(bert, bad, out=tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "junk.txt").write_text("x")
    with pytest.raises(ValidationError, match="is not empty"):
        finetune(bert, task, out=tmp_path / "full")
    assert not (tmp_path / "x").exists()


def test_a_run_killed_while_it_tidied_up_is_tidied_by_the_next_call(bert, tmp_path):
    """Complete, but killed between marking itself complete and releasing its lock (while deleting the
    checkpoints' optimizer state): the next call takes the lock over, finishes the tidy-up and leaves no lock."""
    import socket
    import warnings
    task = _task()
    kw = dict(recipe="closer-look", epochs=1, batch_size=4, learning_rate=1e-3, checkpoint_every=2, seed=1)
    res = finetune(bert, task, out=tmp_path / "m", **kw)
    ck = res.checkpoints[0].path
    (ck / "optimizer.pt").write_bytes(b"left by the killed tidy-up")
    (tmp_path / "m" / ".ftgeo.lock").write_text(json.dumps({"pid": 2 ** 22 + 7, "host": socket.gethostname(),
                                                            "purpose": "finetune", "since": "then"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = finetune(bert, task, out=tmp_path / "m", **kw)
    assert again.final_metrics == res.final_metrics
    assert not (ck / "optimizer.pt").exists() and not (tmp_path / "m" / ".ftgeo.lock").exists()
