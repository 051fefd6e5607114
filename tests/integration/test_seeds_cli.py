"""`ftgeo finetune --seeds 0,1` fine-tunes once per seed into its own model folder; `ftgeo claims RUN` lists the
verdicts of a study run's saved results."""
from __future__ import annotations

from ftgeo.cli.main import main
from ftgeo.testing import save_tiny


def test_finetune_seeds_give_one_model_folder_each(tmp_path, data_root, capsys):
    model = save_tiny(tmp_path / "tiny", "bert", n_layers=1, hidden=16)
    args = ["finetune", "--model", str(model), "--task", "sst2", "--data-root", str(data_root), "--run",
            str(tmp_path / "run"), "--max-train-examples", "16", "--max-eval-examples", "8", "--epochs", "1",
            "--batch-size", "8", "--seeds", "0,1", "--no-progress"]
    assert main(args) == 0
    folders = sorted(p.name for p in (tmp_path / "run" / "models").iterdir())
    assert len(folders) == 2 and folders[0].endswith("__s0__n16") and folders[1].endswith("__s1__n16")
    capsys.readouterr()
    no_run = [a for i, a in enumerate(args) if a != "--run" and (i == 0 or args[i - 1] != "--run")]
    assert main(no_run + ["--out", str(tmp_path / "x")]) == 2
    assert "several --seeds need --run" in capsys.readouterr().err


def test_claims_verb_on_a_run_without_results(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["claims", str(tmp_path / "run"), "--no-save"]) == 0
    assert "no claim could be checked" in capsys.readouterr().out
    assert main(["claims", str(tmp_path / "nope")]) == 2
    assert main(["claims", str(tmp_path / "run"), "--study", "gptolgy"]) == 2
    assert "did you mean 'gptology'" in capsys.readouterr().err
