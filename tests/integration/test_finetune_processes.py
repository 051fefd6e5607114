"""Fine-tuning under ``accelerate launch`` with two CPU processes (torch.distributed, gloo)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

from ftgeo.extract import extract
from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task
from ftgeo.finetune import classification_head, list_checkpoints
from ftgeo.testing.models import save_tiny

SCRIPT = textwrap.dedent("""
    import os, sys
    from ftgeo.data.memory import ListTask
    from ftgeo.testing.tasks import sentence_task
    from ftgeo.finetune import finetune
    ex = sentence_task(22).examples("dev")
    task = ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:16], "dev": ex[16:]})
    res = finetune(sys.argv[1], task, recipe="closer-look", out=sys.argv[2], epochs=2, batch_size=2,
                   learning_rate=1e-3, progress=False)
    # one write per line (print() with several arguments can interleave between ranks on a shared pipe)
    sys.stdout.write(f"RANK {os.environ.get('RANK', '0')} STEPS {res.meta['global_step']} "
                     f"CKPTS {[c.step for c in res.checkpoints]} N {int(res.final_metrics['eval_n'])}\\n")
    sys.stdout.flush()
""")


@pytest.mark.slow  # about 75 s on two busy cores (two interpreters start, train, and extraction checks)
def test_two_processes_with_accelerate_launch(tmp_path):
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    if accelerate is None:
        pytest.skip("the accelerate command is not installed")
    folder = save_tiny(tmp_path / "bert", "bert")
    (tmp_path / "run.py").write_text(SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, FTGEO_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    # on a machine without GPUs, --multi_gpu starts torch.distributed.run and accelerate picks gloo on CPU
    p = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
                        str(tmp_path / "run.py"), str(folder), str(tmp_path / "out")],
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    # 16 examples, batch 2 per process, 2 processes: 4 steps per epoch (8 with one process)
    for rank in (0, 1):
        assert f"RANK {rank} STEPS 8 CKPTS [4, 8] N 6" in p.stdout
    meta = json.loads((tmp_path / "out" / "ftgeo_finetune.json").read_text())
    assert meta["world_size"] == 2 and meta["complete"] and meta["steps_per_epoch"] == 4
    # the accuracy summed over both ranks' shards equals the head's accuracy on the whole dev split
    ex = sentence_task(22).examples("dev")
    task = ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:16], "dev": ex[16:]})
    for c in list_checkpoints(tmp_path / "out"):
        store = extract(c.path, task, "dev", pooling="cls", out=tmp_path / c.name, dtype="float32", progress=False)
        acc = (classification_head(c.path)(store.layer(-1)).argmax(1) == store.labels).mean()
        assert acc == pytest.approx(c.metrics["eval_accuracy"]) and c.metrics["eval_n"] == 6
