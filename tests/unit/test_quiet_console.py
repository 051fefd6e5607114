"""A quiet console: one bar at a time (the step's), warnings as one-line notes, transformers' bars hidden;
``--verbose`` restores everything."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture()
def store(tmp_path):
    from ftgeo.testing.reps import write_store
    rng = np.random.default_rng(0)
    n, d = 60, 5
    layers = [np.tile(np.arange(d, dtype=float), (n, 1))] + [rng.standard_normal((n, d)) for _ in range(2)]
    return write_store(tmp_path / "reps", layers, rng.integers(0, 2, n))


def _cli(args, tmp_path, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTGEO_")}
    env.update({"PYTHONPATH": SRC + os.pathsep + env.get("PYTHONPATH", ""), "PYTHONWARNINGS": "default"},
               **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "ftgeo.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


@pytest.mark.slow
def test_cli_warnings_are_one_line_notes_and_verbose_restores_them(store, tmp_path):
    args = ["analyze", "isotropy", "--reps", str(store), "--run", str(tmp_path / "run"), "--no-intervals",
            "--no-figures"]
    quiet = _cli(args, tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    notes = [l for l in quiet.stderr.splitlines() if l.startswith("note: ")]
    assert len(notes) == 1 and "layer 0: IsoScore undefined" in notes[0], quiet.stderr
    assert "UserWarning" not in quiet.stderr and "warnings.warn" not in quiet.stderr
    loud = _cli(["--verbose", *args], tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "UserWarning" in loud.stderr and "layer 0: IsoScore undefined" in loud.stderr
    assert not any(l.startswith("note: ") for l in loud.stderr.splitlines())
    # accepted after the verb too
    assert "UserWarning" in _cli([*args, "--verbose"], tmp_path).stderr


def test_cli_in_process_quiet_then_verbose(store, tmp_path, capsys, monkeypatch):
    from ftgeo.cli.main import main
    monkeypatch.delenv("FTGEO_VERBOSE", raising=False)
    args = ["analyze", "isotropy", "--reps", str(store), "--run", str(tmp_path / "run"), "--no-intervals",
            "--no-figures"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert [l for l in err.splitlines() if l.startswith("note: ")] == [
        l for l in err.splitlines() if "IsoScore undefined" in l] and "note: " in err
    assert "UserWarning" not in err
    assert "FTGEO_VERBOSE" not in os.environ                # restored after the verb
    with pytest.warns(UserWarning, match="IsoScore undefined"):
        assert main(["--verbose", *args]) == 0


def test_one_bar_at_a_time_unless_verbose(monkeypatch):
    from ftgeo.progress import progress
    monkeypatch.delenv("FTGEO_NO_PROGRESS", raising=False)
    monkeypatch.delenv("FTGEO_VERBOSE", raising=False)
    outer = progress(total=2, desc="outer", file=sys.stderr)
    inner = progress(range(3), desc="inner", file=sys.stderr)
    assert not outer.disable and inner.disable          # the inner loop hides behind the step's bar
    list(inner)
    outer.close()
    again = progress(total=1, file=sys.stderr)          # closed bars no longer count
    assert not again.disable
    again.close()
    monkeypatch.setenv("FTGEO_VERBOSE", "1")
    outer = progress(total=2, file=sys.stderr)
    inner = progress(total=2, file=sys.stderr)
    assert not inner.disable
    inner.close()
    outer.close()


def test_a_study_step_is_one_named_bar_and_its_warnings_notes(monkeypatch, capsys):
    import warnings

    from ftgeo.progress import progress, step
    monkeypatch.delenv("FTGEO_NO_PROGRESS", raising=False)
    monkeypatch.delenv("FTGEO_VERBOSE", raising=False)
    with step("[gptology] cka") as bar:
        assert bar.desc.startswith("[gptology] cka") and not bar.disable
        assert progress(range(2)).disable
        for _ in range(2):
            warnings.warn("layer 0 is constant: CKA undefined there", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err.count("note: layer 0 is constant: CKA undefined there") == 1
    assert "UserWarning" not in err and "[gptology] cka" in err and "done" in err


def test_transformers_bars_hidden_by_default(monkeypatch):
    pytest.importorskip("transformers")
    from transformers.utils import logging as hf_logging

    from ftgeo.models import hf_progress_off
    monkeypatch.delenv("FTGEO_NO_PROGRESS", raising=False)
    monkeypatch.delenv("FTGEO_VERBOSE", raising=False)
    hf_logging.enable_progress_bar()
    with hf_progress_off():
        assert not hf_logging.is_progress_bar_enabled()      # "Loading weights" hidden
    assert hf_logging.is_progress_bar_enabled()
    monkeypatch.setenv("FTGEO_VERBOSE", "1")
    with hf_progress_off():
        assert hf_logging.is_progress_bar_enabled()
