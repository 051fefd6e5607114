"""`ftgeo extract` end to end on a tiny model saved to disk (task supplied in code)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import ftgeo.data
from ftgeo.cli.main import main
from ftgeo.extract import extract, open_reps
from ftgeo.testing.tasks import sentence_task
from ftgeo.testing.models import tiny_model


@pytest.fixture
def setup(tmp_path, monkeypatch):
    folder = tiny_model("bert", seed=4).save(tmp_path / "model")
    seen = []

    def fake_load_task(name, data_root=None, **kw):
        seen.append((name, data_root))
        return sentence_task(9, name=name)

    monkeypatch.setattr(ftgeo.data, "load_task", fake_load_task, raising=False)
    return tmp_path, folder, seen


def test_cli_extract_into_run_matches_python(setup, capsys):
    tmp, folder, seen = setup
    rc = main(["extract", "--model", str(folder), "--task", "toy", "--split", "dev", "--pooling", "cls",
               "--run", str(tmp / "run"), "--data-root", str(tmp), "--dtype", "float32", "--batch-size", "4",
               "--no-progress"])
    assert rc == 0
    key = tmp / "run" / "reps" / "model__toy__dev__cls"
    out = capsys.readouterr().out
    assert out.strip() == f"{key}: 9 x 32 x 3 layers (float32, pooling=cls)"
    assert seen == [("toy", str(tmp))]
    py = extract(str(folder), sentence_task(9, name="toy"), "dev", pooling="cls", out=tmp / "py", dtype="float32",
                 progress=False)
    cli = open_reps(key)
    for i in range(3):
        np.testing.assert_allclose(cli.layer(i), py.layer(i), atol=1e-6, rtol=0)  # other batch size
    assert main(["list", "reps", "--run", str(tmp / "run")]) == 0
    assert capsys.readouterr().out.startswith(f"{key}  model=model task=toy split=dev pooling=cls n=9 dim=32")


def test_cli_flags_beat_config_file(setup, capsys):
    tmp, folder, _ = setup
    cfg = tmp / "extract.yaml"
    cfg.write_text(f"extract:\n  model: {folder}\n  task: toy\n  pooling: cls\n  out: {tmp / 'from_file'}\n"
                   "  max_examples: 5\n  dtype: float32\n")
    assert main(["extract", "--config", str(cfg), "--pooling", "mean", "--no-progress"]) == 0
    m = json.loads((tmp / "from_file" / "manifest.json").read_text())
    assert (m["pooling"], m["n"], m["dtype"], m["max_length"]) == ("mean", 5, "float32", 128)
    # --out replaces the file's destination
    assert main(["extract", "--config", str(cfg), "--out", str(tmp / "elsewhere"), "--no-progress"]) == 0
    assert json.loads((tmp / "elsewhere" / "manifest.json").read_text())["pooling"] == "cls"
    capsys.readouterr()
    # a rerun with other settings into the same store fails with exit code 2 and names the field
    assert main(["extract", "--config", str(cfg), "--max-length", "16", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "ftgeo extract: error: the store at" in err and "max_length: 128 (stored) != 16 (requested)" in err
    # bad config keys get a did-you-mean
    cfg.write_text(f"model: {folder}\ntask: toy\npoling: cls\nout: x\n")
    assert main(["extract", "--config", str(cfg)]) == 2
    assert "unknown ExtractSpec field 'poling'; did you mean 'pooling'?" in capsys.readouterr().err


def test_cli_layers_poolings_and_model_dtype(setup, capsys):
    tmp, folder, _ = setup
    rc = main(["extract", "--model", str(folder), "--task", "toy", "--pooling", "cls,mean", "--layers", "0,2",
               "--model-dtype", "bfloat16", "--run", str(tmp / "run"), "--dtype", "float32", "--no-progress"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{tmp / 'run' / 'reps' / f'model__toy__dev__{p}__L0-2__bf16'}: 9 x 32 x 2 layers [0, 2] "
                     f"(float32, model bfloat16, pooling={p})" for p in ("cls", "mean")]
    store = open_reps(tmp / "run" / "reps" / "model__toy__dev__mean__L0-2__bf16")
    assert store.layers == [0, 2]
    rc = main(["analyze", "rogue", "--reps", str(store.path), "--layers", "last", "--run", str(tmp / "run"),
               "--no-figures", "--no-progress"])
    assert rc == 0
    from ftgeo.results import load_result
    assert set(load_result(tmp / "run" / "results" / "rogue").table("layers").layer) == {2}
    rc = main(["analyze", "rogue", "--reps", str(store.path), "--layers", "1", "--run", str(tmp / "run"),
               "--no-figures", "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and "layer 1 is not in this set: it holds layers 0, 2 only" in err
    rc = main(["extract", "--model", str(folder), "--task", "toy", "--layers", "every:x", "--out", str(tmp / "x"),
               "--no-progress"])
    assert rc != 0 and "every:K needs a whole number" in capsys.readouterr().err
