"""The registered analyses of issue 16: runners on planted in-memory sets, saved results that load back, figures,
intervals, the command line, the sensitivity flags on a planted rogue dimension, massive activations."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analyses import ANALYSES
from ftgeo.analysis.cca import svcca
from ftgeo.analysis.massive import TokenStates, is_delimiter, massive_activation_tables
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import load_result
from ftgeo.run import RunDir
from ftgeo.testing import planted_reps

MEASURES = ["procrustes", "shape", "svcca", "pwcca", "rsa", "mutual-knn", "cknna"]


def _pair(n=90, L=3):
    return planted_reps(n, 8, L, seed=0, model="pre"), planted_reps(n, 8, L, seed=1, model="ft")


@pytest.mark.parametrize("name", MEASURES)
def test_measure_runner_bowtie_saves_loads_and_draws(name, tmp_path):
    pre, ft = _pair()
    run = RunDir(tmp_path / "run").ensure()
    res = ANALYSES.get(name)(pre, ft, run=run, n_blocks=4, progress=False)
    v = res.value
    t = res.table(v)
    assert list(t.columns) == ["pair", "set_a", "set_b", "layer_a", "layer_b", v, f"{v}_low", f"{v}_high"]
    assert len(res.pairs) == 3 and len(t) == 3 * 9
    assert np.isfinite(t[[f"{v}_low", f"{v}_high"]].to_numpy()).all()
    assert res.array("jack_2").shape == (4, 3, 3)
    assert res.meta["intervals"][v]["blocks"] == 4
    back = load_result(run.result_dir(ANALYSES.get(name).default_name))
    assert type(back) is type(res) and np.allclose(back.matrix("pre", "ft"), res.matrix("pre", "ft"))
    assert (run.figures / f"{ANALYSES.get(name).default_name}_heatmaps.png").is_file()


def test_runner_values_equal_the_pairwise_function_and_intervals_off_are_nan():
    pre, ft = _pair()
    res = ANALYSES.get("svcca")(pre, ft, intervals=False, pairs="cross", progress=False)
    X, Y = pre.layer(1, dtype=np.float64), ft.layer(2, dtype=np.float64)
    assert res.matrix("pre", "ft")[1, 2] == pytest.approx(svcca(X, Y), abs=1e-12)
    assert res.table("svcca")["svcca_low"].isna().all() and "jack_0" not in res.arrays


def test_jackknife_interval_covers_a_planted_shared_subspace():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((200, 3))
    a = InMemoryRepresentations([np.hstack([Z, rng.standard_normal((200, 3))])], labels=np.zeros(200, int))
    b = InMemoryRepresentations([np.hstack([Z @ rng.standard_normal((3, 3)), rng.standard_normal((200, 3))])],
                                labels=np.zeros(200, int))
    res = ANALYSES.get("svcca")(a, b, names=["a", "b"], pairs="cross", variance=None, progress=False)
    row = res.table("svcca").iloc[0]
    assert row["svcca_low"] <= 0.5 + 0.05 and row["svcca_high"] >= 0.5 - 0.05   # population value: 3 of 6
    assert row["svcca_high"] - row["svcca_low"] < 0.2


def test_pwcca_bowtie_keeps_the_asymmetric_matrix():
    pre, ft = _pair()
    res = ANALYSES.get("pwcca")(pre, ft, intervals=False, progress=False)
    M = res.matrix("pre", "pre")
    assert not np.allclose(M, M.T)
    with pytest.raises(ValidationError, match="no pwcca matrix"):
        res.matrix("ft", "pre")


def test_runner_bad_inputs():
    pre, ft = _pair()
    with pytest.raises(ValidationError, match="different examples"):
        ANALYSES.get("rsa")(pre, planted_reps(50, 8, 3), progress=False)
    with pytest.raises(ValidationError, match="alpha must be in"):
        ANALYSES.get("shape")(pre, alpha=2.0)
    with pytest.raises(ValidationError, match="preprocess"):
        ANALYSES.get("svcca")(pre, preprocess="whiten")


def test_cli_runs_a_measure_on_stores(tmp_path, capsys):
    from ftgeo.cli.main import main
    from ftgeo.testing.reps import write_store
    pre, ft = _pair()
    a = write_store(tmp_path / "run" / "reps" / "pre", [pre.layer(i) for i in range(3)], pre.labels, model="pre")
    b = write_store(tmp_path / "run" / "reps" / "ft", [ft.layer(i) for i in range(3)], ft.labels, model="ft")
    rc = main(["analyze", "mutual-knn", "--reps", str(a), str(b), "--topk", "5", "--no-intervals", "--no-progress",
               "--no-figures"])
    assert rc == 0
    res = load_result(tmp_path / "run" / "results" / "mutual_knn")
    assert res.meta["measure_params"]["topk"] == 5 and res.pairs == [("pre", "pre"), ("ft", "ft"), ("pre", "ft")]


# ----------------------------------------------------------------------------- sensitivity
def _rogue_pair(n=150, L=3, seed=0):
    """Fine-tuned = pretrained + small noise, except layer 1 where a planted rogue dimension (x 300) appears."""
    rng = np.random.default_rng(seed)
    base = [rng.standard_normal((n, 10)) for _ in range(L)]
    ft = [b + 0.1 * rng.standard_normal(b.shape) for b in base]
    ft[1] = ft[1].copy()
    ft[1][:, 4] = 300.0 * rng.standard_normal(n)
    y = rng.integers(0, 2, n)
    return (InMemoryRepresentations(base, labels=y, manifest={"model": "pre"}),
            InMemoryRepresentations(ft, labels=y, manifest={"model": "ft"}))


def test_sensitivity_flags_the_planted_rogue_layer(tmp_path):
    pre, ft = _rogue_pair()
    run = RunDir(tmp_path / "run").ensure()
    res = ANALYSES.get("measure-sensitivity")(pre, ft, measures="cka,svcca,rsa", run=run, progress=False)
    t = res.table("sensitivity").set_index(["measure", "layer"])
    # raw linear CKA collapses on the rogue layer, standardising restores it: the level conclusion flips
    assert t.loc[("cka", 1), "s_raw"] < 0.1 and t.loc[("cka", 1), "s_standardize"] > 0.8
    assert t.loc[("cka", 1), "flip_level"] and t.loc[("cka", 1), "spread"] > 0.7
    assert not t.loc[("cka", 0), "flip"] and t.loc[("cka", 0), "spread"] < 0.05
    # SVCCA's 99% truncation sees the rogue dimension raw (it holds nearly all the variance, so few directions
    # are kept) and not standardized: truncated CCA is not invariant to per-dimension scale
    assert t.loc[("svcca", 1), "s_standardize"] - t.loc[("svcca", 1), "s_raw"] > 0.3
    assert t.loc[("svcca", 0), "spread"] < 0.05
    assert set(res.table("flips")["measure"]) >= {"cka"}
    assert (run.figures / "measure_sensitivity_variants.png").is_file()
    assert (run.figures / "measure_sensitivity_spread.png").is_file()
    assert load_result(run.result_dir("measure_sensitivity")).table("sensitivity").shape == res.table("sensitivity").shape


def test_sensitivity_conclusions_definition():
    from ftgeo.analysis.sensitivity import conclusions
    c = conclusions({"raw": np.array([0.9, 0.2, 0.6]), "standardize": np.array([0.9, 0.7, 0.3])}, level=0.5)
    assert c["k"] == 1
    assert c["flip_level"].tolist() == [False, True, True]
    assert c["flip_rank"].tolist() == [False, True, True]       # most changed: layer 1 raw, layer 2 standardized
    assert c["spread"] == pytest.approx([0.0, 0.5, 0.3])


def test_sensitivity_rejects_unknown_measures():
    pre, ft = _rogue_pair()
    with pytest.raises(ValidationError, match="measures must be among"):
        ANALYSES.get("measure-sensitivity")(pre, ft, measures="cka,ckaa")


# ----------------------------------------------------------------------------- intrinsic dimension
def test_intrinsic_dimension_runner_planted(tmp_path):
    rng = np.random.default_rng(0)
    lay = [rng.uniform(size=(600, 2)) @ rng.standard_normal((2, 12)), rng.standard_normal((600, 12))]
    a = InMemoryRepresentations(lay, labels=np.zeros(600, int), manifest={"model": "m"})
    run = RunDir(tmp_path / "run").ensure()
    res = ANALYSES.get("intrinsic-dimension")(a, run=run, n_blocks=5, progress=False)
    t = res.table("intrinsic_dimension").set_index("layer")
    assert t.loc[0, "twonn"] == pytest.approx(2.0, abs=0.3) and t.loc[0, "pca_dim"] <= 2
    assert t.loc[1, "twonn"] > 6 and t.loc[1, "pca_dim"] > 6
    assert t.loc[0, "twonn_low"] < t.loc[0, "twonn_high"]
    assert (run.figures / "intrinsic_dimension_layers.png").is_file()


# ----------------------------------------------------------------------------- massive activations
def _planted_states(n_sent=6, L1=4, d=16, seed=0):
    rng = np.random.default_rng(seed)
    states, tokens = [], []
    for s in range(n_sent):
        T = 5 + s % 3
        H = rng.standard_normal((L1, T, d)).astype(np.float32)
        H[2:, 0, 3] = 5000.0                            # a massive activation at token 0, dim 3, from layer 2 on
        states.append(H)
        tokens.append(["<s>"] + [f"w{t}" for t in range(T - 2)] + ["."])
    special = [[True] + [False] * (len(t) - 1) for t in tokens]
    return TokenStates(states, tokens, special, "planted")


def test_massive_activation_tables_find_the_planted_dimension():
    tabs = massive_activation_tables(_planted_states(), top_k=3)
    dims = tabs["dims"]
    assert {(r["layer"], r["dim"]) for r in dims} == {(2, 3), (3, 3)}
    assert all(r["share_first_token"] == 1.0 and r["count"] == 6 for r in dims)
    top1 = [r for r in tabs["top"] if r["rank"] == 1]
    assert [r["dim"] for r in top1 if r["layer"] >= 2] == [3, 3] and all(r["first_token"] for r in top1 if r["layer"] >= 2)
    pool = {(r["layer"], r["pooling"]): r for r in tabs["pooling"]}
    assert pool[(2, "mean")]["top_dim"] == 3 and pool[(2, "mean")]["massive_norm_share"] > 0.9
    assert pool[(2, "last")]["massive_norm_share"] < 0.1   # the last token does not carry it
    assert is_delimiter(".") and is_delimiter("Ċ") and is_delimiter("x", special=True) and not is_delimiter("Ġdog")


def test_massive_activations_runner_on_a_tiny_decoder(tmp_path):
    from ftgeo.testing.models import tiny_model
    lm = tiny_model("llama", n_layers=2, hidden=16)
    run = RunDir(tmp_path / "run").ensure()
    res = ANALYSES.get("massive-activations")(lm=lm, texts=["the quick brown fox .", "a great cast"] * 3,
                                              run=run, min_ratio=1.0, min_magnitude=0.0, top_k=2)
    assert set(res.table("top")["layer"]) == {0, 1, 2} and len(res.table("pooling")) == 6
    assert res.meta["headline"]["layer"] in (0, 1, 2) and res.meta["n_sentences"] == 6
    assert (run.figures / "massive_activations_layers.png").is_file()


def test_across_measures_names_the_disagreeing_measures():
    from ftgeo.analysis.sensitivity import across_measures
    rows = across_measures({"cka": np.array([0.9, 0.2]), "svcca": np.array([0.95, 0.8]),
                            "rsa": np.array([np.nan, 0.1])}, [3, 4], level=0.5)
    assert rows[0] == {"layer": 3, "changed": "", "unchanged": "cka,svcca", "disagree": False,
                       "similarity_spread": pytest.approx(0.05)}
    assert rows[1]["changed"] == "cka,rsa" and rows[1]["unchanged"] == "svcca" and rows[1]["disagree"]


# ----------------------------------------------------------------------------- the study hooks
class _Ctx:
    """What measures_panel / decoder_massive_activations use of a StudyContext: step, analyze, spec."""

    def __init__(self, tmp_path):
        from types import SimpleNamespace
        self.run = RunDir(tmp_path / "run").ensure()
        self.spec = SimpleNamespace(model="tiny", task="toy", eval_split="dev", data_root=None, max_length=16)
        self.steps = []

    def step(self, study, name, fn):
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001
            self.steps.append((study, name, f"failed: {exc}"))
            return None
        self.steps.append((study, name, "ok"))
        return out

    def analyze(self, analysis, *inputs, save_as=None, **params):
        params.setdefault("intervals", False)
        params.setdefault("n_blocks", 4)  # what the panel asks for decides; few blocks keep it quick
        return ANALYSES.get(analysis)(*inputs, run=self.run, name=save_as, progress=False, **params)


def test_measures_panel_runs_every_measure_through_ctx(tmp_path):
    from ftgeo.studies._measures import PANEL, measures_panel
    ctx = _Ctx(tmp_path)
    pre, ft = _pair(n=60)
    out = measures_panel(ctx, pre, ft)
    assert [s[1] for s in ctx.steps] == [a for a, _, _ in PANEL] + ["intrinsic-dimension"]
    assert all(s[2] == "ok" for s in ctx.steps), ctx.steps
    assert out["svcca"].pairs == [("pretrained", "fine-tuned")]  # the study compares across models only
    assert np.isfinite(out["svcca"].table("svcca")["svcca_low"]).any()  # a few layers: intervals (measures="auto")
    assert (ctx.run.figures / "measure_sensitivity_spread.png").is_file()


def test_measures_panel_modes(tmp_path):
    from ftgeo.studies._measures import AUTO_INTERVAL_LAYERS, measures_panel, panel_intervals
    assert panel_intervals("auto", AUTO_INTERVAL_LAYERS) and not panel_intervals("auto", AUTO_INTERVAL_LAYERS + 1)
    assert panel_intervals("intervals", 40) and not panel_intervals("points", 3)
    pre, ft = _pair(n=60)
    ctx = _Ctx(tmp_path / "off")
    assert measures_panel(ctx, pre, ft, mode="off") == {} and ctx.steps == []
    out = measures_panel(_Ctx(tmp_path / "points"), pre, ft, mode="points")
    assert out["rsa"].table("rsa")["rsa_low"].isna().all()


def test_decoder_massive_activations_step_records_a_failure_and_goes_on(tmp_path):
    from ftgeo.studies._measures import decoder_massive_activations
    ctx = _Ctx(tmp_path)
    assert decoder_massive_activations(ctx, model="no-such-model-xyz") is None
    assert ctx.steps[-1][1] == "massive activations (no-such-model-xyz)" and ctx.steps[-1][2].startswith("failed")
