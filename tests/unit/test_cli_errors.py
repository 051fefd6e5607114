"""The CLI's error boundary: every bad input is one line on stderr and a documented exit code; --debug adds the traceback."""
from __future__ import annotations

import errno
import json

import pytest

from ftgeo.cli.main import main
from ftgeo.errors import ValidationError


def run(capsys, *argv):
    """(exit code, stderr lines) of ``ftgeo ARGV`` run in-process."""
    rc = main(list(argv))
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return rc, err


@pytest.fixture
def task(tmp_path):
    """A small valid task, so that a command gets as far as loading its model."""
    f = tmp_path / "toy.csv"
    f.write_text("text,label\ngood,1\nbad,0\n")
    return f"file:{f}"


def one_line(capsys, *argv, code=2):
    rc, err = run(capsys, *argv)
    assert rc == code, err
    assert len(err) == 1, err
    return err[0]


# --------------------------------------------------------------------------------------- arguments
def test_bad_argument_values_are_one_line(capsys):
    line = one_line(capsys, "extract", "--model", "minilm-l6", "--max-length", "abc")
    assert line == ("ftgeo extract: error: argument --max-length: invalid int value: 'abc' "
                    "(`ftgeo extract --help` lists the options)")
    line = one_line(capsys, "finetune", "--epochs", "abc")
    assert line.startswith("ftgeo finetune: error: argument --epochs: invalid float value: 'abc'")
    line = one_line(capsys, "extrct")
    assert "invalid choice: 'extrct'" in line and line.endswith("did you mean 'extract'? (`ftgeo --help` lists the options)")


def test_help_and_version_return_zero(capsys):
    assert main(["--help"]) == 0 and "--debug" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_debug_is_accepted_anywhere(capsys):
    assert main(["list", "models", "--debug"]) == 0
    assert main(["--debug", "list", "models"]) == 0
    assert capsys.readouterr().out.startswith("minilm-l6")


# --------------------------------------------------------------------------------------- models
def test_mistyped_packaged_model_gets_did_you_mean_without_network(capsys, monkeypatch, tmp_path, task):
    import ftgeo._hub as hub
    monkeypatch.setattr(hub, "unreachable_reason", lambda *a, **k: pytest.fail("asked the network"))
    line = one_line(capsys, "extract", "--model", "minilm-l7", "--task", task, "--split", "train", "--run", str(tmp_path))
    assert line.startswith("ftgeo extract: error: unknown model 'minilm-l7'; did you mean 'minilm-l6'?")


def test_unreachable_hub_fails_at_the_first_attempt(capsys, monkeypatch, tmp_path, task):
    """No offline flag and no network: one quick request, then the local cache only (no retries, no sleeps)."""
    import huggingface_hub.utils
    import huggingface_hub.utils._http as http

    import ftgeo._hub as hub
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_answers", {})
    calls = []

    class Down:
        def head(self, url, timeout):
            calls.append((url, timeout))
            raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: Down())
    monkeypatch.setattr(http.time, "sleep", lambda s: pytest.fail("huggingface_hub retried"))
    line = one_line(capsys, "extract", "--model", "nobody/bert-base-uncasd", "--task", task, "--split", "train", "--run", str(tmp_path))
    assert line.startswith("ftgeo extract: error: cannot load model 'nobody/bert-base-uncasd' from the Hugging Face "
                           "hub (https://huggingface.co is not reachable ([Errno -2] Name or service not known)) and it "
                           "is not in the local cache; use a local folder or a packaged name")
    assert calls == [("https://huggingface.co", 3.0)]


def test_offline_hub_id_and_bad_model_folders(capsys, tmp_path, task):
    line = one_line(capsys, "extract", "--model", "bert-base-uncasd", "--task", task, "--split", "train", "--run", str(tmp_path))
    assert "(HF_HUB_OFFLINE is set) and it is not in the local cache" in line
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (folder / "vocab.txt").write_text("[PAD]\n")
    line = one_line(capsys, "extract", "--model", str(folder), "--task", task, "--split", "train", "--run", str(tmp_path))
    assert line == (f"ftgeo extract: error: {folder}/config.json has no \"model_type\" (e.g. \"bert\", \"llama\"), so "
                    "transformers cannot tell the architecture; was the folder written by save_pretrained?")


def test_debug_shows_the_traceback(capsys, tmp_path, task):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{\n  \"model_type\": \n")
    rc, err = run(capsys, "extract", "--model", str(folder), "--task", task, "--split", "train", "--run", str(tmp_path), "--debug")
    assert rc == 2 and err[0] == "Traceback (most recent call last):"
    assert err[-1] == (f"ftgeo extract: error: {folder}/config.json:3:1: not valid JSON (Expecting value); a model "
                       "folder's config.json is written by save_pretrained")


# --------------------------------------------------------------------------------------- configs and data
@pytest.mark.parametrize("name, text, message", [
    ("c.yaml", "model: minilm-l6\ntask: sst2\n  split: dev\n", "c.yaml:3:8: YAML syntax error: mapping values are not allowed here"),
    ("c.toml", 'model = "minilm-l6"\ntask = \n', "c.toml:2:8: TOML syntax error: Invalid value"),
    ("c.json", '{"model": "minilm-l6",\n "task": }\n', "c.json:2:10: JSON syntax error: Expecting value"),
    ("c.yaml", b"model: minilm-l6\ntask: caf\xe9\n", "c.yaml:2:10: byte 0xe9 is not valid UTF-8 (invalid continuation byte); "
                                                      "re-encode the file as UTF-8"),
    ("c.yaml", "- model: minilm-l6\n- task: sst2\n", "must hold a mapping of settings (key: value) at the top level; "
                                                     "it holds a list"),
    ("c.yaml", "1: x\n", "setting names must be text; got 1"),
    ("c.yaml", "", "ExtractSpec.model is required"),
])
def test_config_problems_are_one_line(capsys, tmp_path, name, text, message):
    f = tmp_path / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    line = one_line(capsys, "extract", "--config", str(f))
    assert line.startswith("ftgeo extract: error: ") and message in line


def test_config_that_is_a_folder(capsys, tmp_path):
    (tmp_path / "c.yaml").mkdir()
    line = one_line(capsys, "extract", "--config", str(tmp_path / "c.yaml"))
    assert line.endswith("c.yaml is a folder; pass a .yaml, .yml, .toml or .json file")


def test_non_utf8_data_file_names_file_and_line(capsys, tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(b"text,label\ngood,1\nbad,0\ncaf\xe9 ok,1\n")
    line = one_line(capsys, "extract", "--model", "minilm-l6", "--task", f"file:{f}", "--split", "train",
                    "--run", str(tmp_path / "run"))
    assert line.startswith(f"ftgeo extract: error: {f}:4:4: byte 0xe9 is not valid UTF-8")
    assert "re-encode the file as UTF-8" in line


def test_run_folder_under_a_file(capsys, tmp_path, task):
    (tmp_path / "f").write_text("x")
    line = one_line(capsys, "extract", "--model", "minilm-l6", "--task", task, "--split", "train",
                    "--run", str(tmp_path / "f" / "run"))
    assert line.startswith(f"ftgeo extract: error: {tmp_path / 'f'} is a file, but {tmp_path / 'f' / 'run'}/")
    assert line.endswith("needs it to be a folder; choose another path (e.g. another --run/--out folder)")


def test_data_root_that_is_a_file(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    line = one_line(capsys, "extract", "--model", "minilm-l6", "--task", "sst2", "--data-root", str(tmp_path / "f"),
                    "--run", str(tmp_path / "run"))
    assert "data root" in line and "is a file, not a folder" in line


# --------------------------------------------------------------------------------------- the boundary's rules
def raising(monkeypatch, exc):
    def run_(args):
        raise exc
    monkeypatch.setattr("ftgeo.cli.list_cmd.run", run_)


@pytest.mark.parametrize("exc, code, message", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/run/reps/x.npy"), 1,
     "disk full while writing /data/run/reps/x.npy: free space under /data/run/reps (`df -h /data/run/reps`), or choose "
     "an output folder on another disk (--run/--out)"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/run"), 2,
     "cannot write /ro/run: read-only file system; choose another output folder (--run/--out)"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/run"), 2,
     "permission denied: /root/run; choose another path (e.g. another --run/--out folder) or fix its permissions"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y"), 2, "no such file or folder: /x/y"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/nonexistent/x"), 2,
     "not a folder: /nonexistent/x (a part of this path is a file)"),
    (FileExistsError(errno.EEXIST, "File exists", "/r/x"), 2,
     "/r/x already exists and is in the way; remove it or choose another path"),
    (OSError(errno.EIO, "Input/output error", "/d/x"), 1, "Input/output error: /d/x"),
    (ValidationError("name '../x' must not contain '/' or '..'"), 2, "name '../x' must not contain '/' or '..'"),
    (MemoryError(), 1, "out of memory; use a smaller --batch-size, --max-length or --max-examples"),
    (UnicodeDecodeError("utf-8", b"ab\xff", 2, 3, "invalid start byte"), 2, "a file is not valid utf-8 text (byte 0xff at offset 2: invalid start byte); re-encode it as UTF-8"),
])
def test_expected_failures(capsys, monkeypatch, exc, code, message):
    raising(monkeypatch, exc)
    line = one_line(capsys, "list", "models", code=code)
    assert line.startswith(f"ftgeo list: error: {message}")


def test_a_bug_is_one_line_that_asks_for_debug(capsys, monkeypatch):
    raising(monkeypatch, RuntimeError("boom\nsecond line"))
    line = one_line(capsys, "list", "models", code=1)
    assert line == ("ftgeo list: error: internal error (RuntimeError: boom second line); a bug in ftgeo or an input it "
                    "does not check yet; rerun with --debug to see the traceback and please report it")
    rc, err = run(capsys, "list", "models", "--debug")
    assert rc == 1 and err[0] == "Traceback (most recent call last):" and "RuntimeError: boom" in err
    assert err[-1].endswith("the traceback is above: please report it")


def test_interrupt_and_broken_pipe(capsys, monkeypatch):
    raising(monkeypatch, KeyboardInterrupt())
    assert one_line(capsys, "list", "models", code=130) == "ftgeo list: interrupted; rerun the same command to resume."
    raising(monkeypatch, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    rc, err = run(capsys, "list", "models")
    assert rc == 141 and err == []
