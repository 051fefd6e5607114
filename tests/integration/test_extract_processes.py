"""Extraction across processes: a SIGKILLed run resumes to identical bytes; two ranks build one store."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftgeo.extract import extract, open_reps
from ftgeo.testing.tasks import sentence_task
from ftgeo.testing.models import tiny_model

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from ftgeo.extract import core, extract
    from ftgeo.testing.tasks import sentence_task
    model, out, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    done = []
    def hook(k):
        done.append(k)
        if kill_after and len(done) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    core._after_chunk = hook
    store = extract(model, sentence_task(20), "dev", pooling="mean", out=out, chunk_size=3, batch_size=2,
                    dtype="float32", progress=False)
    # one write per line: print() with several arguments issues several writes, which two ranks sharing
    # the launcher's unbuffered pipe can interleave ("RANKRANK 1 ...")
    sys.stdout.write(f"RANK {os.environ.get('RANK', '0')} CHUNKS {done} N {store.n}\\n")
    sys.stdout.flush()
""")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("proc")
    folder = tiny_model("gpt2", seed=3).save(root / "model")
    (root / "run.py").write_text(SCRIPT)
    # the reference runs in a subprocess too: same thread count (OMP_NUM_THREADS=1), so bitwise comparable
    p = subprocess.run([sys.executable, str(root / "run.py"), str(folder), str(root / "ref"), "0"], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    ref = open_reps(root / "ref")
    inproc = extract(str(folder), sentence_task(20), "dev", pooling="mean", out=root / "inproc", chunk_size=3,
                     batch_size=2, dtype="float32", progress=False)
    np.testing.assert_allclose(inproc.layer(-1), ref.layer(-1), atol=1e-6, rtol=0)
    return root, folder, ref


def _env():
    env = dict(os.environ, FTGEO_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _same_store(a, b):
    for i in range(a.n_layers):
        assert (a.path / "layers" / f"layer_{i:02d}.npy").read_bytes() == \
            (b.path / "layers" / f"layer_{i:02d}.npy").read_bytes()
    assert list(a.ids) == list(b.ids) and a.labels.tolist() == b.labels.tolist()


def test_sigkill_then_rerun_is_identical(setup):
    root, folder, ref = setup
    out = root / "killed"
    p = subprocess.run([sys.executable, str(root / "run.py"), str(folder), str(out), "3"], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL
    assert sorted(x.name for x in (out / "chunks").glob("*.npz")) == ["00000.npz", "00001.npz", "00002.npz"]
    p = subprocess.run([sys.executable, str(root / "run.py"), str(folder), str(out), "0"], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "CHUNKS [3, 4, 5, 6] N 20" in p.stdout  # 7 chunks of 3 examples; the first three were kept
    _same_store(ref, open_reps(out))


@pytest.mark.slow  # two torch.distributed processes: ~15-60 s on 2 busy cores
def test_two_ranks_write_the_same_store(setup):
    root, folder, ref = setup
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = root / "sharded"
    # `accelerate launch --cpu` starts one process unless MPI is set up; `--multi_gpu` starts N processes
    # through torch.distributed.run, also on a CPU-only machine (ftgeo then forms a gloo group itself)
    p = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                        "--main_process_port", str(port), str(root / "run.py"), str(folder), str(out), "0"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    # rank r computed the chunks k with k % 2 == r, and both returned the consolidated store
    assert "RANK 0 CHUNKS [0, 2, 4, 6] N 20" in p.stdout and "RANK 1 CHUNKS [1, 3, 5] N 20" in p.stdout
    _same_store(ref, open_reps(out))
    np.testing.assert_array_equal(open_reps(out).layer(-1), ref.layer(-1))
