"""Early stopping on the held-out part of train (the ``emergent`` recipe) and layer-wise learning rates."""
from __future__ import annotations

import json

import pytest

from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task
from ftgeo.finetune import finetune
from ftgeo.testing.models import save_tiny


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "bert", "bert")


def _task(n_train=12, n_dev=6):
    ex = sentence_task(n_train + n_dev).examples("dev")
    return ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:n_train], "dev": ex[n_train:]})


def test_early_stopping_keeps_the_best_heldout_checkpoint(bert, tmp_path):
    # a learning rate of ~0 never improves the held-out accuracy: the run stops after
    # `patience` evaluations without improvement and keeps the first evaluation's weights
    task = _task(n_train=20)
    res = finetune(bert, task, recipe="emergent", out=tmp_path / "e", epochs=5, batch_size=4,
                   learning_rate=1e-12, heldout_fraction=0.2, early_stopping_patience=1, seed=1)
    meta = json.loads((res.model_dir / "ftgeo_finetune.json").read_text())
    spe = meta["steps_per_epoch"]
    assert spe == 4 and meta["n_heldout_examples"] == 4
    assert res.meta["global_step"] == 2 * spe and meta["final"]["stopped_early"]
    assert meta["final"]["best_checkpoint"]["step"] == spe
    assert {"heldout_accuracy", "eval_accuracy"} <= set(res.final_metrics)
    assert set(res.metrics.split) == {"train", "dev", "heldout"}
    # layer-wise decay: one learning rate per depth, 0.95 apart
    lrs = sorted({g["depth"]: g["lr"] for g in meta["param_groups"]}.items())
    assert [d for d, _ in lrs] == [0, 1, 2]
    assert [lr for _, lr in lrs] == pytest.approx([1e-12 * 0.95 ** 2, 1e-12 * 0.95, 1e-12])
