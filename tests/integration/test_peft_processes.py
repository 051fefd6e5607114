"""A LoRA fine-tune under ``accelerate launch`` with two CPU processes (torch.distributed, gloo): the adapter
is saved once, by rank 0, and its checkpoints extract as the merged model, not as the base."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftgeo.data.memory import ListTask
from ftgeo.extract import extract
from ftgeo.finetune import classification_head, list_checkpoints
from ftgeo.testing.models import save_tiny
from ftgeo.testing.tasks import sentence_task

pytest.importorskip("peft")

SCRIPT = textwrap.dedent("""
    import os, sys, warnings
    warnings.filterwarnings("ignore")
    from ftgeo.data.memory import ListTask
    from ftgeo.testing.tasks import sentence_task
    from ftgeo.finetune import finetune
    ex = sentence_task(22).examples("dev")
    task = ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:16], "dev": ex[16:]})
    res = finetune(sys.argv[1], task, recipe="closer-look", out=sys.argv[2], epochs=2, batch_size=2,
                   learning_rate=2e-2, peft="lora", lora_rank=4, progress=False)
    sys.stdout.write(f"RANK {os.environ.get('RANK', '0')} STEPS {res.meta['global_step']} "
                     f"CKPTS {[c.step for c in res.checkpoints]} N {int(res.final_metrics['eval_n'])}\\n")
    sys.stdout.flush()
""")


@pytest.mark.slow  # two interpreters start, train and save; about a minute on two busy cores
def test_lora_with_two_processes_under_accelerate_launch(tmp_path):
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    if accelerate is None:
        pytest.skip("the accelerate command is not installed")
    folder = save_tiny(tmp_path / "llama", "llama")
    (tmp_path / "run.py").write_text(SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, FTGEO_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    p = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
                        str(tmp_path / "run.py"), folder, str(tmp_path / "out")],
                       env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    for rank in (0, 1):
        assert f"RANK {rank} STEPS 8 CKPTS [4, 8] N 6" in p.stdout
    out = tmp_path / "out"
    meta = json.loads((out / "ftgeo_finetune.json").read_text())
    assert meta["world_size"] == 2 and meta["complete"] and meta["identity"]["peft"]["rank"] == 4
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    ex = sentence_task(22).examples("dev")
    task = ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:16], "dev": ex[16:]})
    base = extract(folder, task, "dev", pooling="last", out=tmp_path / "base", dtype="float32", progress=False)
    for c in list_checkpoints(out):
        store = extract(c.path, task, "dev", pooling="last", out=tmp_path / c.name, dtype="float32", progress=False)
        assert np.abs(store.layer(-1) - base.layer(-1)).max() > 1e-4  # the adapter is applied
        acc = (classification_head(c.path)(store.layer(-1)).argmax(1) == store.labels).mean()
        assert acc == pytest.approx(c.metrics["eval_accuracy"]) and c.metrics["eval_n"] == 6
