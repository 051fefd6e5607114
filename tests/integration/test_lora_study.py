"""The LoRA-vs-full study end to end on a tiny random Llama and real SST-2 rows (seconds), and its config."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.results import load_result
from ftgeo.testing.models import save_tiny

pytest.importorskip("peft")
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing")


def test_lora_vs_full_on_a_tiny_llama(tmp_path, data_root):
    from ftgeo.studies import run_study
    from ftgeo.studies.lora import LoraStudySpec
    model = save_tiny(tmp_path / "tiny-llama", "llama", n_layers=4, hidden=32)
    spec = LoraStudySpec.from_mapping(dict(
        model=model, task="sst2", data_root=str(data_root), max_train_examples=96, max_eval_examples=48,
        epochs=1.0, checkpoint_every="none", max_length=32, batch_size=16, learning_rate=1e-3,
        lora_ranks=[2, 8], lora_learning_rate=1e-2, max_train_reps=64, probe_layers="0,2,4",
        directprobe_points=48))
    ctx = run_study("lora-vs-full", spec, tmp_path / "run", progress=False)
    assert [s.step for s in ctx.failed] == []
    res = load_result(ctx.run.result_dir("lora_vs_full"))
    assert res.kind == "lora_comparison"
    summary = res.table("summary").set_index("method")
    assert list(summary.index) == ["full", "lora-r2", "lora-r8"]
    assert summary.loc["full", "trainable_share"] == 1.0
    assert 0 < summary.loc["lora-r2", "trainable_share"] < summary.loc["lora-r8", "trainable_share"] < 1
    curves = res.table("same_layer_cka")
    assert set(curves.method) == {"full", "lora-r2", "lora-r8"} and sorted(set(curves.layer)) == [0, 1, 2, 3, 4]
    # layer 0 (embeddings) is untouched by LoRA: CKA 1 there; full fine-tuning moves it
    lora0 = curves[(curves.method == "lora-r2") & (curves.layer == 0)].cka.iloc[0]
    assert lora0 == pytest.approx(1.0, abs=1e-9)
    claims = res.table("claims")
    assert set(claims.method) == {"full", "lora-r2", "lora-r8"} and len(claims) == 8 * 3
    assert set(claims.verdict) <= {"holds", "does not hold", "inconclusive", "not run"}
    closer = claims[claims.claim == "lora-stays-closer"].set_index("method")
    assert closer.loc["full", "verdict"] == "not run" and closer.loc["lora-r2", "verdict"] != "not run"
    for name in ("cka__full", "cka__lora-r2", "threshold__lora-r8", "rogue", "probe", "directprobe"):
        assert (ctx.run.result_dir(name) / "result.json").is_file()
    assert (ctx.run.figures / "lora_vs_full_cka_to_pretrained.png").is_file()
    assert "lora_vs_full" in ctx.run.report.read_text()
