"""Checkpoints of one run feed straight into extraction; run folders; the CLI verb."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ftgeo.extract import extract
from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task, word_task
from ftgeo.finetune import classification_head, finetune, list_checkpoints
from ftgeo.models import load_model
from ftgeo.testing.models import save_tiny
from ftgeo.run import RunDir


def test_every_checkpoint_extracts_and_its_head_reproduces_its_eval_accuracy(tmp_path):
    folder = save_tiny(tmp_path / "gpt2", "gpt2", seed=4)
    ex = sentence_task(20).examples("dev")
    task = ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:12], "dev": ex[12:]})
    run = RunDir(tmp_path / "run").ensure()
    res = finetune(folder, task, recipe="closer-look", out=run, epochs=2, batch_size=4, learning_rate=3e-3,
                   checkpoint_every=0.5, seed=2)
    assert res.model_dir == (run.models / "gpt2__toy__closer-look__s2").resolve()
    cks = list_checkpoints(res.model_dir)
    assert [c.step for c in cks] == [2, 3, 5, 6] and [c.epoch for c in cks] == pytest.approx([2 / 3, 1, 5 / 3, 2])
    last_layers = []
    for c in cks:
        store = extract(c.path, task, "dev", pooling="last", out=run, checkpoint=c.name, dtype="float32",
                        progress=False)
        assert store.manifest["model_source"] == str(c.path) and store.manifest["checkpoint"] == c.name
        assert load_model(c.path).n_layers == store.n_layers - 1
        logits = classification_head(c.path)(store.layer(-1))
        assert (logits.argmax(1) == store.labels).mean() == pytest.approx(c.metrics["eval_accuracy"])
        last_layers.append(store.layer(-1))
    assert not np.allclose(last_layers[0], last_layers[-1])  # training moved the representations
    # the final model is the last checkpoint's weights (no early stopping)
    final = extract(res.model_dir, task, "dev", pooling="last", out=tmp_path / "final", dtype="float32",
                    progress=False)
    np.testing.assert_array_equal(final.layer(-1), last_layers[-1])
    assert list_checkpoints(res.model_dir, include_final=True)[-1].path == res.model_dir
    # the run keeps a result for the report
    from ftgeo.results import load_result
    saved = load_result(run.result_dir("finetune__gpt2__toy__closer-look__s2"))
    assert saved.kind == "finetune" and saved.meta["global_step"] == 6
    assert set(saved.summary().columns) >= {"model", "task", "recipe", "accuracy", "macro_f1"}


def test_pair_head_checkpoints_extract_with_pair_pooling(tmp_path):
    folder = save_tiny(tmp_path / "bert", "bert", seed=1)
    w = word_task(10, relations=True).examples("dev")
    task = ListTask("deps", "token", ["A", "B", "C"], {"train": w[:6], "dev": w[6:]})
    res = finetune(folder, task, recipe="gptology", out=tmp_path / "m", epochs=1, batch_size=2,
                   gradient_accumulation_steps=1, checkpoint_every=1)
    head = json.loads((res.model_dir / "ftgeo_head.json").read_text())
    assert head["kind"] == "pair" and head["pooling"] == "pair" and head["num_labels"] == 3
    for c in list_checkpoints(res.model_dir):
        store = extract(c.path, task, "dev", pooling="pair", out=tmp_path / c.name, dtype="float32", progress=False)
        assert store.layer(-1).shape[1] == 2 * 32
        acc = (classification_head(c.path)(store.layer(-1)).argmax(1) == store.labels).mean()
        assert acc == pytest.approx(c.metrics["eval_accuracy"])


def test_cli_finetune_with_config_file(tmp_path, data_root, capsys):
    folder = save_tiny(tmp_path / "bert", "bert")
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(f"finetune:\n  model: {folder}\n  task: sst2\n  recipe: closer-look\n  epochs: 3\n"
                   "  max_train_samples: 16\n  max_eval_samples: 8\n  batch_size: 8\n  max_length: 32\n")
    from ftgeo.cli.main import main
    rc = main(["finetune", "--config", str(cfg), "--data-root", str(data_root), "--epochs", "1",
               "--run", str(tmp_path / "run"), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    model_dir = tmp_path / "run" / "models" / "bert__sst2__closer-look__s0__n16"
    assert str(model_dir) in out and "dev accuracy" in out
    meta = json.loads((model_dir / "ftgeo_finetune.json").read_text())
    assert meta["epochs"] == 1.0 and meta["global_step"] == 2 and meta["n_train_examples"] == 16  # flag beat file
    assert meta["identity"]["recipe"]["max_length"] == 32 and meta["n_eval_examples"] == 8
    rc = main(["finetune", "--config", str(cfg), "--data-root", str(data_root), "--recipe", "closr-look",
               "--run", str(tmp_path / "run")])
    assert rc == 2 and "did you mean 'closer-look'" in capsys.readouterr().err
