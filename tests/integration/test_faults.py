"""Fault injection (slow; run in CI): kill -9 at seeded random points of extraction and fine-tuning, two
concurrent writers, a full disk, a read-only run folder, kill -9 while analyses save their results. Nothing may be lost, no store may be silently
wrong, and the next run must complete (byte-identical to an undisturbed run).

The driver (fault_driver.py) runs every job in a forked child of one process with one torch thread
(tiny models: about 1 s per extraction, 2-4 s per fine-tuning run). With ``unshare`` (a user and mount
namespace) the full disk is a real small tmpfs and the read-only folder a read-only bind mount;
without it ENOSPC and EROFS are injected. The table is printed (``pytest -s``) and the counts asserted.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("fault_driver.py")
TRIALS = {"extract-kill": 40, "finetune-kill": 20, "analyze-kill": 20, "concurrent": 14, "full-disk": 12,
          "read-only": 2}


def _unshare() -> list[str]:
    cmd = ["unshare", "--user", "--map-root-user", "--mount"]
    if shutil.which("unshare") is None:
        return []
    try:
        ok = subprocess.run(cmd + ["true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return cmd if ok else []


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    trials = ",".join(f"{k}={v}" for k, v in TRIALS.items())
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", FTGEO_NO_PROGRESS="1")
    env.pop("WORLD_SIZE", None)
    p = subprocess.run(_unshare() + [sys.executable, str(DRIVER), "--work", str(work), "--trials", trials,
                                     "--seed", "0"], capture_output=True, text=True, env=env, timeout=1500)
    assert p.returncode == 0, p.stderr[-4000:]
    rep = json.loads(p.stdout.strip().splitlines()[-1])
    lines = [f"fault injection (seed 0, disk: {rep['disk_mode']}, read-only: {rep['ro_mode']}):",
             f"{'fault':<15}{'trials':>7}{'resumed-identical':>19}{'clean-error':>13}{'corrupted':>11}{'s':>7}"]
    for name, f in rep["faults"].items():
        lines.append(f"{name:<15}{f['trials']:>7}{f['resumed_identical']:>19}{f['clean_error']:>13}"
                     f"{f['corrupted']:>11}{f['seconds']:>7}")
    print("\n".join(lines))
    return rep


@pytest.mark.parametrize("fault", list(TRIALS))
def test_nothing_lost_nothing_silently_wrong(report, fault):
    f = report["faults"][fault]
    assert f["corrupted"] == 0, "\n".join(f["failures"])
    assert f["trials"] >= TRIALS[fault] and f["resumed_identical"] + f["clean_error"] == f["trials"]
    if fault.endswith("-kill"):
        assert f["clean_error"] == 0  # a killed run leaves nothing that needs a human: the rerun finishes
        assert sum(v for k, v in f["modes"].items() if not k.endswith("-missed")) >= f["trials"] // 2
    if fault == "full-disk":
        assert f["clean_error"] >= f["trials"] // 2  # most disks were too small: each said so in one line
    if fault == "read-only":
        assert f["clean_error"] == 3 * TRIALS[fault] and f["resumed_identical"] == 2 * TRIALS[fault]
