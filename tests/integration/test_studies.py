"""End-to-end studies: fine-tune -> extract -> analyses -> report, on real SST-2 rows.

The default run uses a tiny random BERT/GPT-2 saved in code (seconds); the slow test runs all three
studies and the decoder showcase on the packaged MiniLM and SmolLM2 at a small size.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ftgeo.testing.models import save_tiny
from ftgeo.results import load_result
from ftgeo.studies import StudySpec, run_study


def _spec(model, data_root, **kw):
    base = dict(model=str(model), task="sst2", data_root=str(data_root), max_train_examples=96,
                max_eval_examples=48, epochs=1.0, checkpoint_every=0.5, max_length=32,
                batch_size=16, learning_rate=1e-3, max_general_examples=64, probe_layers="0,2",
                directprobe_points=48)
    base.update(kw)
    return StudySpec.from_mapping(base)


@pytest.mark.parametrize("arch", ["bert", pytest.param("gpt2", marks=pytest.mark.slow)])
def test_gptology_study_on_tiny_model_writes_results_and_report(tmp_path, data_root, arch):
    model = save_tiny(tmp_path / f"tiny-{arch}", arch, n_layers=2, hidden=32)
    ctx = run_study("gptology", _spec(model, data_root), tmp_path / "run", progress=False)
    assert [s.step for s in ctx.failed] == []
    run = ctx.run
    cka = load_result(run.result_dir("cka"))
    pre = cka.matrix("pretrained", "pretrained")
    # CKA(X, X) = 1 on the diagonal of the within-model matrix (layer 0 of a [CLS] pooling can be constant)
    diag = np.diag(pre)[1:]
    np.testing.assert_allclose(diag, 1.0, atol=1e-6)
    assert pre.shape == (3, 3)
    rogue = load_result(run.result_dir("rogue"))
    assert rogue.kind == "rogue" and not rogue.summary().empty
    steps = load_result(run.result_dir("study_steps")).table("steps")
    assert set(steps.step) >= {"fine-tune", "cka", "rogue", "threshold", "ablation", "projection", "isotropy"}
    page = run.report.read_text()
    assert "Layer geometry (GPTology)" in page and "data:image/png;base64," in page
    proj = load_result(run.result_dir("projection"))           # hover labels: the eval split's sentences
    texts = {ex.id: ex.text for ex in ctx.task.examples(ctx.spec.eval_split)}
    coords = proj.table("coords")
    assert proj.meta["set"] == "fine-tuned" and (coords["text"] == coords["id"].astype(str).map(texts)).all()
    # the same study again is a cache hit for fine-tuning and extraction (resume), not a retrain
    ctx2 = run_study("gptology", _spec(model, data_root), run.root, progress=False)
    first, again = ctx.finetuned(), ctx2.finetuned()
    assert again.model_dir == first.model_dir and again.meta["complete"]
    assert again.meta["train_seconds"] == first.meta["train_seconds"]  # read back from disk, not retrained
    assert len(list(run.reps.iterdir())) == len({p.name for p in run.reps.iterdir()})


def test_only_names_runs_of_the_config(tmp_path, data_root, capsys):
    import yaml

    from ftgeo.cli.main import main
    cfg = {"studies": ["gptology"], "run": str(tmp_path / "rep"), "defaults": {"data_root": str(data_root)},
           "runs": [{"name": "sst2", "task": "sst2"}]}
    (tmp_path / "rep.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["study", "--config", str(tmp_path / "rep.yaml"), "--only", "sst-2"]) != 0
    assert "the config's runs are sst2" in capsys.readouterr().err
    assert main(["study", "gptology", "--task", "sst2", "--only", "sst2", "--run", str(tmp_path / "one")]) != 0
    assert "--only needs a replication config" in capsys.readouterr().err
    assert not (tmp_path / "rep" / "runs").exists()


def test_unknown_study_fails_before_any_work(tmp_path, data_root):
    from ftgeo.errors import UnknownNameError
    with pytest.raises(UnknownNameError, match="did you mean 'gptology'"):
        run_study("gptolgy", _spec("minilm-l6", data_root), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_demo_all_studies_on_packaged_models(tmp_path, data_root):
    from ftgeo.studies.demo import run_demo
    spec = _spec("minilm-l6", data_root, max_train_examples=400, max_eval_examples=200, epochs=2.0,
                 learning_rate=1e-4, probe_layers="6", directprobe_points=120, max_general_examples=200)
    ctx = run_demo(spec, tmp_path / "demo", progress=False)
    assert [f"{s.study}/{s.step}: {s.error}" for s in ctx.failed] == []
    run = ctx.run
    for name in ("cka", "rogue", "threshold", "ablation", "projection", "isotropy", "compression", "variance",
                 "neurons", "probe", "directprobe", "dynamics", "centroids", "rogue_decoder", "control", "mdl",
                 "directprobe_control"):
        assert (run.result_dir(name) / "result.json").is_file(), name
    # SmolLM2's famous rogue dimension: one dimension carries a large share of the last layer's variance
    dec = load_result(run.result_dir("rogue_decoder"))
    assert isinstance(dec.summary(), pd.DataFrame)
    assert "ftgeo demo" in run.report.read_text()


def test_seeds_are_an_axis_with_aggregates_and_claims(tmp_path, data_root):
    """`seeds=[0, 1]`: one run per seed (its own fine-tuning), the pretrained sets extracted once, aggregates
    whose rows are the means of the seeds' rows, the claims checked on every seed; the same seeds again give
    identical per-seed rows."""
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=2, hidden=32)
    spec = _spec(model, data_root, seeds=[0, 1], checkpoint_every=None)
    ctx = run_study("gptology", spec, tmp_path / "a", progress=False)
    assert [s.step for s in ctx.failed] == []
    root = ctx.run.root
    assert (root / "seeds" / "s0" / "report.html").is_file() and (root / "seeds" / "s1" / "report.html").is_file()
    pre_sets = [p for p in ctx.run.reps.iterdir() if p.is_dir()]
    assert pre_sets and all("final" not in p.name for p in pre_sets)          # only the pretrained sets up here
    seeds_rogue = load_result(ctx.run.result_dir("seeds__rogue"))
    per, agg = seeds_rogue.table("per_seed"), seeds_rogue.table("aggregate")
    assert sorted(per["seed"].unique()) == [0, 1]
    for (st, layer), g in per.groupby(["set", "layer"]):
        a = agg[(agg["set"] == st) & (agg["layer"] == layer)].iloc[0]
        assert a["principal_var_share_mean"] == pytest.approx(g["principal_var_share"].mean(), nan_ok=True)
    fts = load_result(ctx.run.result_dir("seeds__finetune")).table("per_seed")
    assert len(fts) == 2 and fts["accuracy"].notna().all()
    claims = load_result(ctx.run.result_dir("claims"))
    assert set(claims.table("claims")["seed"]) == {0, 1}
    assert "late-layers-change-most" in set(claims.table("overall")["claim"])
    again = run_study("gptology", spec, tmp_path / "b", progress=False)
    per_b = load_result(again.run.result_dir("seeds__rogue")).table("per_seed")
    pd.testing.assert_frame_equal(per, per_b)


@pytest.mark.slow
def test_a_replication_config_runs_every_run_and_the_steps_across_them(tmp_path, data_root):
    """A config with 'runs:' and 'across:': each run is a study run in RUN/runs/<name>, the rogue dimensions of
    the two fine-tuned models are compared across tasks, and one table holds every run's verdicts."""
    import yaml

    from ftgeo.cli.main import main
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=2, hidden=32)
    cfg = {"studies": ["gptology"], "run": str(tmp_path / "rep"),
           "defaults": {"model": str(model), "data_root": str(data_root), "max_train_examples": 96,
                        "max_eval_examples": 48, "epochs": 1.0, "checkpoint_every": None, "max_length": 32,
                        "batch_size": 16, "learning_rate": 1e-3},
           "runs": [{"name": "sst2", "task": "sst2"}, {"name": "trec", "task": "trec6", "eval_split": "test"}],
           "across": [{"step": "rogue-across-tasks", "runs": ["sst2", "trec"], "k": 4}]}
    (tmp_path / "rep.yaml").write_text(yaml.safe_dump(cfg))
    rep = tmp_path / "rep"
    assert main(["study", "--config", str(tmp_path / "rep.yaml"), "--no-progress", "--only", "trec"]) == 0
    assert (rep / "runs" / "trec" / "report.html").is_file() and not (rep / "runs" / "sst2").exists()
    assert not (rep / "results" / "replication").exists()          # the verdicts wait for a call without --only
    assert main(["study", "--config", str(tmp_path / "rep.yaml"), "--no-progress"]) == 0
    assert (rep / "runs" / "sst2" / "report.html").is_file() and (rep / "runs" / "trec" / "report.html").is_file()
    ov = load_result(rep / "results" / "rogue_tasks").table("overlap")
    assert list(ov[["set_a", "set_b", "k"]].iloc[0]) == ["sst2", "trec", 4]
    table = load_result(rep / "results" / "replication").table("overall")
    assert set(table["run"]) == {"sst2", "trec", "across"}
    assert "rogue-dimensions-shared-across-tasks" in set(table[table["run"] == "across"]["claim"])
    assert "Layer geometry (GPTology)" in (rep / "report.html").read_text()
    steps = load_result(rep / "runs" / "trec" / "results" / "study_steps").table("steps")
    assert steps.set_index("step").loc["threshold", "status"] == "skipped"      # binary classifier, 6 labels


@pytest.mark.slow
def test_emergent_study_runs_the_general_size_curve_over_two_corpora(tmp_path, data_root):
    """`general_sizes` + `general_corpora`: every sentence of each corpus extracted from the fine-tuned model, the
    curve saved with one line per corpus, and the 32k claim (not reachable with 300 sentences) reported not run."""
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=2, hidden=32)
    spec = _spec(model, data_root, recipe="emergent", general_sizes=[50, 100],
                 general_corpora=["brown[max_sentences=300]", "wikitext2[max_sentences=200]"])
    ctx = run_study("emergent", spec, tmp_path / "e", progress=False)
    assert [f"{s.step}: {s.error}" for s in ctx.failed] == []
    cur = load_result(ctx.run.result_dir("general_size")).curve
    assert sorted(set(cur["corpus"])) == ["brown", "wikitext2"]
    assert sorted(set(cur["n_available"])) == [200, 300] and cur["n_sentences"].max() == 300
    overall = load_result(ctx.run.result_dir("claims")).table("overall")
    assert overall.set_index("claim").loc["general-pca-32k-suffices", "verdict"] == "not run"


@pytest.mark.slow
def test_a_rerun_reuses_saved_analyses_and_redoes_what_changed(tmp_path, data_root, capsys):
    """A study run again in the same folder reuses every analysis whose stores, parameters and code are
    unchanged (the saved result, untouched); a changed parameter recomputes that analysis."""
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=2, hidden=32)
    spec = _spec(model, data_root, checkpoint_every=None, measures="off", massive_activations=False)
    first = run_study("gptology", spec, tmp_path / "g", progress=False)
    assert [s.step for s in first.failed] == []
    stamp = (first.run.result_dir("rogue") / "result.json").stat().st_mtime_ns
    capsys.readouterr()
    again = run_study("gptology", spec, tmp_path / "g", progress=False)
    out = capsys.readouterr().out
    assert [s.step for s in again.failed] == [] and "[rogue] reused" in out and "[cka] reused" in out
    assert (again.run.result_dir("rogue") / "result.json").stat().st_mtime_ns == stamp
    other = run_study("gptology", StudySpec.from_mapping({**spec.to_dict(), "seed": 3, "checkpoint_every": None}),
                      tmp_path / "g", progress=False)
    assert [s.step for s in other.failed] == []
    assert "[rogue] reused" not in capsys.readouterr().out


def test_closer_look_directprobe_layers_setting(tmp_path, data_root):
    """`directprobe_layers` picks DirectProbe's layers (1-last: all but the embeddings); with [CLS] pooling a
    selection of layer 0 alone is refused with one line (one constant vector)."""
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=3, hidden=32)
    spec = _spec(model, data_root, skip_finetune=True, controls=False, directprobe_layers="2-last")
    ctx = run_study("closer-look", spec, tmp_path / "c", progress=False)
    assert [s.step for s in ctx.failed] == []
    layers = load_result(ctx.run.result_dir("directprobe")).table("layers")
    assert sorted(set(layers["layer"])) == [2, 3]
    bad = run_study("closer-look", StudySpec.from_mapping({**spec.to_dict(), "directprobe_layers": "0"}),
                    tmp_path / "d", progress=False)
    assert [s.step for s in bad.failed] == ["directprobe"]
    assert "selects only layer 0" in str(bad.failed[0].error)


def test_finetune_eval_examples_bounds_the_checkpoint_scoring(tmp_path, data_root):
    """`finetune_eval_examples` scores each checkpoint on the first N eval examples; left unset the fine-tune keeps
    its identity (all of the split), so runs fine-tuned before the setting existed are reused."""
    from ftgeo.studies.base import StudyContext
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=1, hidden=32)
    ft = StudyContext(_spec(model, data_root, finetune_eval_examples=10), tmp_path / "a", progress=False).finetuned()
    assert ft.meta["settings"]["max_eval_samples"] == 10 and ft.meta["final"]["metrics"]["eval_n"] == 10
    assert {c["metrics"]["eval_n"] for c in ft.meta["checkpoints"]} == {10.0}
    full = StudyContext(_spec(model, data_root), tmp_path / "b", progress=False).finetuned()
    assert full.meta["settings"]["max_eval_samples"] is None and full.meta["final"]["metrics"]["eval_n"] == 872  # SST-2 dev
    with pytest.raises(Exception, match="finetune_eval_examples must be >= 1"):
        _spec(model, data_root, finetune_eval_examples=0)


@pytest.mark.slow
def test_cross_task_step_of_a_closer_look_config(tmp_path, data_root):
    """The 'cross-task' step reads task B's space from two runs' fine-tuned models (similar / opposing task A) on
    the layers the step names, and its two claims join the verdict table."""
    import yaml

    from ftgeo.cli.main import main
    model = save_tiny(tmp_path / "tiny-bert", "bert", n_layers=2, hidden=32)
    cfg = {"studies": ["closer-look"], "run": str(tmp_path / "rep"),
           "defaults": {"model": str(model), "data_root": str(data_root), "max_train_examples": 40,
                        "max_eval_examples": 40, "epochs": 1.0, "checkpoint_every": None, "max_length": 32,
                        "batch_size": 16, "learning_rate": 1e-3, "controls": False, "probe_layers": "last",
                        "directprobe_points": 60, "directprobe_layers": "1-last"},
           "runs": [{"name": "ps-role", "task": "ps_role"}, {"name": "ud-pos", "task": "ud_pos"}],
           "across": [{"step": "cross-task", "task": "ps_fxn", "similar": "ps-role", "opposing": "ud-pos",
                       "max_points": 60, "layers": "2-last"}]}
    (tmp_path / "rep.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["study", "--config", str(tmp_path / "rep.yaml"), "--no-progress"]) == 0
    rep = tmp_path / "rep"
    for role in ("similar", "opposing"):
        assert set(load_result(rep / "results" / f"cross_task_{role}").table("layer_summary")["layer"]) == {2}
    table = load_result(rep / "results" / "replication").table("overall")
    cross = {"similar-task-grows-distances", "opposing-task-shrinks-distances"}
    assert cross <= set(table[table["run"] == "across"]["claim"])
    assert not set(table[table["run"] != "across"]["claim"]) & cross     # no per-run "not run" rows for them
    assert set(load_result(rep / "runs" / "ud-pos" / "results" / "directprobe").table("layers")["layer"]) == {1, 2}
