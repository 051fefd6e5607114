"""Runners, results, displays and CLI verbs of the redundancy analyses on in-memory representations."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import load_result
from ftgeo.analyses.compression import CompressionResult
from ftgeo.analyses.neurons import NeuronsResult
from ftgeo.analyses.variance import VarianceResult

pytest.importorskip("sklearn")


def _sets(n, signal, seed, d=12, K=3):
    """Two layers; the class signal sits on dims 2 and 7 of the last one (strength ``signal``)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = rng.normal(size=(n, d))
    X[:, 2] += signal * np.array([-1.0, 0.0, 1.0])[y]
    X[:, 7] += 0.6 * signal * np.array([1.0, -1.0, 0.0])[y]
    return InMemoryRepresentations([rng.normal(size=(n, d)), X], y, label_names=["neg", "neu", "pos"],
                                   manifest={"model": "toy"})


@pytest.fixture(scope="module")
def sets():
    return {"tr_pre": _sets(450, 0.3, 1), "ev_pre": _sets(240, 0.3, 2),
            "tr_ft": _sets(450, 2.5, 3), "ev_ft": _sets(240, 2.5, 4), "gen": _sets(300, 0.0, 5)}


def test_run_neurons_paper_table_and_files(sets, tmp_path):
    from ftgeo.analyses.neurons import run_neurons
    res = run_neurons([sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"], sets["ev_ft"]], run=tmp_path,
                      n_select=3, progress=False)
    sel = res.selection
    ft = sel[sel.model == "finetuned"]
    assert ft.dim.tolist()[:2] == [2, 7]                 # planted dims, strongest first
    t = res.table("paper").set_index(["model", "method"]).eval_accuracy
    assert t[("finetuned", "best_1")] > t[("pretrained", "best_1")] + 0.2
    assert t[("finetuned", "natural")] >= t[("finetuned", "best_1")]
    assert set(res.table("paper").method) == {"random_guess", "all_dims", "best_1", "best_3", "natural"}
    assert res.meta["random_guess"] == "majority"
    assert res.meta["fraction_above"]["finetuned|1"] > res.meta["fraction_above"]["pretrained|1"]
    back = load_result(tmp_path / "results" / "neurons")
    assert isinstance(back, NeuronsResult)
    assert back.summary().shape == res.summary().shape
    for stem in res.meta["figures"]:
        assert (tmp_path / "figures" / f"{stem}.png").is_file() and (tmp_path / "figures" / f"{stem}.svg").is_file()


def test_run_compression_and_variance(sets, tmp_path):
    from ftgeo.analyses.compression import run_compression
    from ftgeo.analyses.variance import run_variance
    res = run_compression([sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"], sets["ev_ft"]], general=sets["gen"],
                          run=tmp_path, ks=[1, 2, 4, 12], n_random=2, progress=False)
    assert set(res.curve.source) == {"in_domain", "general", "random"}
    full = res.full.set_index("model")
    assert full.loc["pretrained", "finetuned_accuracy_source"] == "linear probe"
    assert full.loc["pretrained", "finetuned_accuracy"] == pytest.approx(full.loc["finetuned", "accuracy"])
    res2 = run_compression(sets["tr_pre"], sets["ev_pre"], ks=[2], sources=["in_domain"], finetuned_accuracy=0.91,
                           progress=False)
    assert res2.full.finetuned_accuracy_source.iloc[0] == "given" and res2.full.finetuned_accuracy.iloc[0] == 0.91
    assert isinstance(load_result(tmp_path / "results" / "compression"), CompressionResult)
    v = run_variance(sets["tr_pre"], sets["tr_ft"], run=tmp_path)
    assert isinstance(load_result(tmp_path / "results" / "variance"), VarianceResult)
    drop = v.summary().iloc[0]
    assert drop.n_classes == 3 and drop.n_classes_minus_1 == 2 and drop.first_below_one == 3
    same = run_variance(sets["tr_ft"], sets["tr_ft"])
    assert (same.variance.ratio == 1.0).all()


def test_runner_errors(sets):
    from ftgeo.analyses.compression import run_compression
    from ftgeo.analyses.neurons import run_neurons
    from ftgeo.analyses.variance import run_variance
    with pytest.raises(ValidationError, match="give as many eval sets as train sets"):
        run_neurons([sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"]], progress=False)
    narrow = InMemoryRepresentations([np.zeros((450, 5)), np.random.default_rng(0).normal(size=(450, 5))],
                                     sets["tr_pre"].labels)
    with pytest.raises(ValidationError, match="dimensions and fine-tuned ones 5"):
        run_variance(sets["tr_pre"], narrow)
    with pytest.raises(ValidationError, match="one general-corpus set or one per model"):
        run_compression([sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"], sets["ev_ft"]],
                        general=[sets["gen"]] * 3, progress=False)


def test_cli_verbs_parse_and_run(sets, tmp_path, monkeypatch, capsys):
    import ftgeo.extract
    from ftgeo.cli.main import main
    table = {"pre_tr": sets["tr_pre"], "pre_ev": sets["ev_pre"], "ft_tr": sets["tr_ft"], "ft_ev": sets["ev_ft"]}
    monkeypatch.setattr(ftgeo.extract, "open_reps", lambda path: table[path])
    for argv in [["neurons", "--train-reps", "pre_tr", "ft_tr", "--eval-reps", "pre_ev", "ft_ev",
                  "--n-select", "3", "--no-figures"],
                 ["variance", "--train-reps", "pre_tr", "ft_tr"],
                 ["compression", "--train-reps", "pre_tr", "--eval-reps", "pre_ev", "--ks", "1,4",
                  "--sources", "in_domain,random", "--n-random", "2", "--no-figures"]]:
        assert main(["analyze", *argv, "--run", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "neurons: wrote" in out and "variance: wrote" in out and "compression: wrote" in out
    assert (tmp_path / "results" / "neurons" / "result.json").is_file()
    from ftgeo.analyses import ANALYSES
    from ftgeo.cli.analyze_cmd import build_analysis_parser, run_analysis
    variance = ANALYSES.get("variance")
    # variance compares two sets: one is refused before any work (the count check of the generated verb)
    with pytest.raises(ValidationError, match="variance: --train-reps takes 2 sets"):
        run_analysis(variance, build_analysis_parser(variance).parse_args(["--train-reps", "pre_tr", "--run",
                                                                           str(tmp_path)]))


def test_old_random_state_keyword_still_works(sets):
    from ftgeo.analyses.compression import run_compression
    kw = dict(ks=[2], sources=["in_domain"], progress=False)
    new = run_compression(sets["tr_pre"], sets["ev_pre"], seed=3, **kw)
    with pytest.warns(FutureWarning, match="'random_state' is deprecated; use 'seed'"):
        old = run_compression(sets["tr_pre"], sets["ev_pre"], random_state=3, **kw)
    assert old.meta["random_state"] == new.meta["random_state"] == 3
    assert old.curve.equals(new.curve)
