"""The store/fine-tuning safety errors as the CLI shows them: one line, exit status 2, nothing touched."""
from __future__ import annotations

import pytest

from ftgeo.cli.main import main
from ftgeo.run import RunDir


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("task", ["sst2", "imdb"])
def test_max_length_beyond_minilm_is_one_line(tmp_path, data_root, capsys, task):
    rc = main(["extract", "--model", "minilm-l6", "--task", task, "--split", "dev" if task == "sst2" else "test",
               "--pooling", "cls", "--out", str(tmp_path / "s"), "--max-length", "1024", "--max-examples", "4",
               "--data-root", str(data_root), "--no-progress"])
    line = _one_error_line(capsys)
    assert rc == 2 and "max_length=1024 is more than minilm-l6 takes (512 token positions" in line
    assert not (tmp_path / "s").exists()


def test_finetune_name_dotdot_overwrite_is_refused(tmp_path, capsys):
    run = RunDir(tmp_path / "run").ensure()
    (run.reps / "store.txt").write_text("reps")
    (run.results / "r.txt").write_text("results")
    rc = main(["finetune", "--model", "minilm-l6", "--task", "sst2", "--run", str(run.root), "--name", "..",
               "--overwrite", "--no-progress"])
    line = _one_error_line(capsys)
    assert rc == 2 and "'..' is '..': it must be a plain name" in line
    assert (run.reps / "store.txt").read_text() == "reps" and (run.results / "r.txt").read_text() == "results"


def test_lock_timeout_flag_reaches_extract(tmp_path, data_root, capsys):
    from ftgeo._lock import FolderLock
    from ftgeo.cli import extract_cmd
    p = __import__("argparse").ArgumentParser()
    extract_cmd.add_arguments(p)
    spec = extract_cmd.spec_from_args(p.parse_args(["--model", "m", "--task", "t", "--out", "x",
                                                    "--lock-timeout", "2.5"]))
    assert spec.extract_kwargs()["lock_timeout"] == 2.5
    with FolderLock(tmp_path / "s", purpose="extract other"):
        rc = main(["extract", "--model", "minilm-l6", "--task", "sst2", "--pooling", "cls", "--out",
                   str(tmp_path / "s"), "--lock-timeout", "0.2", "--max-examples", "4", "--data-root", str(data_root), "--no-progress"])
    line = _one_error_line(capsys)
    assert rc == 2 and "is locked by pid" in line and "(extract other)" in line and "waited 0.2 s" in line


def test_demo_without_its_data_folder_is_one_line_before_any_step(tmp_path, capsys):
    rc = main(["demo", "--data-root", str(tmp_path / "no-data"), "--run", str(tmp_path / "run"), "--no-progress"])
    line = _one_error_line(capsys)
    assert rc == 2 and "does not exist" in line and "--data-root" in line
    assert not (tmp_path / "run" / "results").exists()   # nothing started
