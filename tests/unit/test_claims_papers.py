"""Every claim of the three papers on planted results: one case where it holds, one where it does not, one
where the interval straddles the threshold (inconclusive)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ftgeo.analyses.compression import CompressionResult
from ftgeo.analyses.cross_task import CrossTaskResult
from ftgeo.analyses.cka import CKAResult
from ftgeo.analyses.directprobe import DirectProbeLayersResult
from ftgeo.analyses.dynamics import DynamicsResult
from ftgeo.analyses.general_size import GeneralSizeResult
from ftgeo.analyses.neurons import NeuronsResult
from ftgeo.analyses.rogue import RogueResult
from ftgeo.analyses.threshold import ThresholdResult
from ftgeo.analyses.variance import VarianceResult
from ftgeo.studies.claims import CLAIMS, CLAIMS_LOADED, RunResults

PRE, FT = "pretrained", "fine-tuned"
L = 7                                 # layers 0..6 (embeddings + 6 blocks)
CASES = ("holds", "does not hold", "inconclusive")


def _cka(cross_diag, *, within_ft=None, within_pre=None, spread=0.0, G=10, seed=0) -> CKAResult:
    """A bow-tie CKA result whose leave-block-out matrices scatter by ``spread`` around the full ones."""
    rng = np.random.default_rng(seed)
    base = np.fromfunction(lambda i, j: np.exp(-abs(i - j) / 3), (L, L))
    within_pre = base if within_pre is None else within_pre
    within_ft = base if within_ft is None else within_ft
    cross = base.copy()
    np.fill_diagonal(cross, cross_diag)
    mats = {(PRE, PRE): within_pre, (FT, FT): within_ft, (PRE, FT): cross}
    res = CKAResult.from_matrices(mats, {PRE: list(range(L)), FT: list(range(L))}, {})
    for i, M in enumerate(mats.values()):
        res.arrays[f"jack_{i}"] = M[None] + spread * rng.standard_normal((G, L, L))
    return res


def _diag(first, last):
    d = np.ones(L)
    d[1:4], d[4:] = first, last
    return d


def _blocks(strength):
    M = np.fromfunction(lambda i, j: np.exp(-abs(i - j) / 3), (L, L))
    early, late = np.arange(1, 4), np.arange(4, L)
    M[np.ix_(early, early)] += strength
    M[np.ix_(late, late)] += strength
    return np.minimum(M, 1.0)


def _general_size(diff, lo, hi):
    """A Brown curve at k = 5: 32,000 sentences vs all 57,340 (diff_all = all - 32k)."""
    rows = [{"corpus": "brown", "layer": 6, "k": 5, "n_sentences": n, "n_available": 57340, "accuracy": acc,
             "accuracy_low": acc - 0.02, "accuracy_high": acc + 0.02, "diff_all": d, "diff_all_low": a,
             "diff_all_high": b}
            for n, acc, d, a, b in [(32000, 0.85 - diff, diff, lo, hi), (57340, 0.85, 0.0, 0.0, 0.0)]]
    ref = pd.DataFrame([{"layer": 6, "k": 5, "in_domain": 0.86, "in_domain_low": 0.84, "in_domain_high": 0.88}])
    return GeneralSizeResult(tables={"curve": pd.DataFrame(rows), "reference": ref}, meta={"layers": [6]})


def _threshold(full_acc, thr_acc, n):
    rng = np.random.default_rng(1)
    full = rng.random(n) < full_acc
    thr = full.copy()
    flip = rng.choice(n, int(round(abs(full_acc - thr_acc) * n)), replace=False)
    thr[flip] = False if thr_acc < full_acc else True
    t = pd.DataFrame({"layer": [6], "method": ["svm"], "eval_accuracy": [thr.mean()], "full_accuracy": [full.mean()]})
    return ThresholdResult(tables={"threshold": t}, arrays={"correct_svm_6": thr, "correct_full": full})


def _rogue(pre, ft, half):
    t = pd.DataFrame({"set": [PRE, FT], "layer": [6, 6], "principal_var_share": [pre, ft],
                      "principal_var_share_low": [pre - half, ft - half],
                      "principal_var_share_high": [pre + half, ft + half]})
    return RogueResult(tables={"layers": t})


def _overlap(v, lo, hi):
    t = pd.DataFrame({"set_a": ["sst2"], "set_b": ["qnli"], "layer": [6], "k": [10], "overlap": [v],
                      "overlap_low": [lo], "overlap_high": [hi]})
    return RogueResult(tables={"overlap": t})


def _compression(full, k4, half):
    curve = pd.DataFrame({"model": [FT] * 3, "layer": [6] * 3, "source": ["in_domain"] * 3, "k": [1, 2, 4],
                          "accuracy": [0.5, 0.6, k4], "accuracy_low": [0.4, 0.5, k4 - half],
                          "accuracy_high": [0.6, 0.7, k4 + half]})
    fulls = pd.DataFrame({"model": [FT], "layer": [6], "accuracy": [full], "accuracy_low": [full - half],
                          "accuracy_high": [full + half]})
    return CompressionResult(tables={"curve": curve, "full": fulls})


def _variance(n_above, lo, hi, classes=3):
    d = pd.DataFrame({"layer": [6], "n_above_before_drop": [n_above], "n_above_before_drop_low": [lo],
                      "n_above_before_drop_high": [hi], "n_classes": [classes]})
    return VarianceResult(tables={"drop": d})


def _neurons(pre_best, ft_best, ft_all, ft_natural, half):
    rows = []
    for model, best, alld, nat in ((PRE, pre_best, 0.8, 0.5), (FT, ft_best, ft_all, ft_natural)):
        for method, v, n in (("best_1", best, 1), ("all_dims", alld, 384), ("natural", nat, 2)):
            rows.append({"model": model, "layer": 6, "method": method, "n_dims": n, "eval_accuracy": v,
                         "eval_accuracy_low": v - half, "eval_accuracy_high": v + half})
    return NeuronsResult(tables={"paper": pd.DataFrame(rows)})


def _directprobe(ft_clusters, lo, hi, sim_pre, sim_ft, half, set_sims=None):
    layers = pd.DataFrame({"set": [PRE, FT], "layer": [6, 6], "n_clusters": [9, ft_clusters],
                           "n_clusters_low": [9, lo], "n_clusters_high": [9, hi], "n_labels": [5, 5],
                           "train_eval_similarity": [sim_pre, sim_ft],
                           "train_eval_similarity_low": [sim_pre - half, sim_ft - half],
                           "train_eval_similarity_high": [sim_pre + half, sim_ft + half]})
    sims = set_sims if set_sims is not None else [0.9] * 6
    ss = pd.DataFrame({"set_a": PRE, "set_b": FT, "layer": range(1, 7), "similarity": sims,
                       "similarity_low": np.array(sims) - half, "similarity_high": np.array(sims) + half})
    return DirectProbeLayersResult(tables={"layers": layers, "set_similarity": ss})


def _dynamics(change, half):
    md = pd.DataFrame({"checkpoint": [0, 0, 1, 1], "step": [0, 0, 10, 10], "layer": 6, "label": ["a", "b"] * 2,
                       "min_distance": [1.0, 2.0, 1.0 + change, 2.0 + change]})
    cs = pd.DataFrame({"layer": [6], "mean_min_distance_change": [change],
                       "mean_min_distance_change_low": [change - half], "mean_min_distance_change_high": [change + half]})
    return DynamicsResult(tables={"min_distance": md, "layer_summary": cs})


def _cross(change, half):
    s = pd.DataFrame({"layer": [6], "n_grew": [3], "n_shrank": [1], "mean_change": [change],
                      "mean_change_low": [change - half], "mean_change_high": [change + half]})
    return CrossTaskResult(tables={"layer_summary": s})


# claim -> {case: {result name: Result}}
PLANTED = {
    "gptology/late-layers-change-most": {
        "holds": {"cka": _cka(_diag(0.95, 0.4))},
        "does not hold": {"cka": _cka(_diag(0.9, 0.9))},
        "inconclusive": {"cka": _cka(_diag(0.9, 0.8), spread=0.02)}},
    "gptology/early-blocks-unchanged": {
        "holds": {"cka": _cka(_diag(0.98, 0.4))},
        "does not hold": {"cka": _cka(_diag(0.7, 0.4))},
        "inconclusive": {"cka": _cka(_diag(0.91, 0.4), spread=0.01)}},
    "gptology/bow-tie": {
        "holds": {"cka": _cka(_diag(0.9, 0.5), within_ft=_blocks(0.5))},
        "does not hold": {"cka": _cka(_diag(0.9, 0.5), within_pre=_blocks(0.5))},
        "inconclusive": {"cka": _cka(_diag(0.9, 0.5), within_ft=_blocks(0.02), spread=0.02)}},
    "gptology/rogue-dimension-classifies": {
        "holds": {"threshold": _threshold(0.92, 0.91, 2000)},
        "does not hold": {"threshold": _threshold(0.92, 0.70, 2000)},
        "inconclusive": {"threshold": _threshold(0.92, 0.87, 300)}},
    "gptology/principal-variance-rises": {
        "holds": {"rogue": _rogue(0.05, 0.4, 0.01)},
        "does not hold": {"rogue": _rogue(0.4, 0.1, 0.01)},
        "inconclusive": {"rogue": _rogue(0.2, 0.21, 0.02)}},
    "gptology/rogue-dimensions-shared-across-tasks": {
        "holds": {"rogue_tasks": _overlap(8, 7, 9)},
        "does not hold": {"rogue_tasks": _overlap(2, 1, 3)},
        "inconclusive": {"rogue_tasks": _overlap(5, 3, 6)}},
    "emergent/few-components-suffice": {
        "holds": {"compression": _compression(0.90, 0.899, 0.0)},
        "does not hold": {"compression": _compression(0.90, 0.70, 0.01)},
        "inconclusive": {"compression": _compression(0.90, 0.89, 0.01)}},
    "emergent/general-pca-32k-suffices": {
        "holds": {"general_size": _general_size(0.002, -0.004, 0.008)},
        "does not hold": {"general_size": _general_size(0.05, 0.03, 0.07)},
        "inconclusive": {"general_size": _general_size(0.005, -0.004, 0.014)}},
    "emergent/variance-above-one-for-classes-minus-one": {
        "holds": {"variance": _variance(2, 2, 2)},
        "does not hold": {"variance": _variance(7, 6, 8)},
        "inconclusive": {"variance": _variance(3, 2, 4)}},
    "emergent/best-neuron-improves": {
        "holds": {"neurons": _neurons(0.5, 0.85, 0.9, 0.89, 0.02)},
        "does not hold": {"neurons": _neurons(0.5, 0.52, 0.9, 0.89, 0.02)},
        "inconclusive": {"neurons": _neurons(0.5, 0.6, 0.9, 0.89, 0.02)}},
    "emergent/natural-neurons-match": {
        "holds": {"neurons": _neurons(0.5, 0.85, 0.90, 0.90, 0.005)},
        "does not hold": {"neurons": _neurons(0.5, 0.85, 0.90, 0.80, 0.01)},
        "inconclusive": {"neurons": _neurons(0.5, 0.85, 0.90, 0.88, 0.01)}},
    "closer-look/clusters-shrink-to-labels": {
        "holds": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.01)},
        "does not hold": {"directprobe": _directprobe(9, 8, 10, 0.6, 0.5, 0.01)},
        "inconclusive": {"directprobe": _directprobe(5, 5, 6, 0.6, 0.5, 0.01)}},
    "closer-look/train-test-divergence": {
        "holds": {"directprobe": _directprobe(5, 5, 5, 0.8, 0.5, 0.05)},
        "does not hold": {"directprobe": _directprobe(5, 5, 5, 0.5, 0.8, 0.05)},
        "inconclusive": {"directprobe": _directprobe(5, 5, 5, 0.59, 0.64, 0.05)}},
    "closer-look/higher-layers-stay-similar": {
        "holds": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.05, [0.99, .98, .95, .9, .8, .7])},
        "does not hold": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.05, [0.99, .98, .95, .9, .4, .3])},
        "inconclusive": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.05, [0.99, .98, .95, .9, .8, .52])}},
    "closer-look/lower-layers-move-less": {
        "holds": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.02, [0.99, .98, .95, .7, .6, .5])},
        "does not hold": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.02, [0.5, .6, .7, .95, .98, .99])},
        "inconclusive": {"directprobe": _directprobe(5, 5, 5, 0.6, 0.5, 0.05, [0.8, .8, .8, .8, .8, .79])}},
    "closer-look/labels-move-apart": {
        "holds": {"dynamics": _dynamics(1.0, 0.2)},
        "does not hold": {"dynamics": _dynamics(-1.0, 0.2)},
        "inconclusive": {"dynamics": _dynamics(0.1, 0.2)}},
    "closer-look/similar-task-grows-distances": {
        "holds": {"cross_task_similar": _cross(2.0, 0.5)},
        "does not hold": {"cross_task_similar": _cross(-2.0, 0.5)},
        "inconclusive": {"cross_task_similar": _cross(0.2, 0.5)}},
    "closer-look/opposing-task-shrinks-distances": {
        "holds": {"cross_task_opposing": _cross(-2.0, 0.5)},
        "does not hold": {"cross_task_opposing": _cross(2.0, 0.5)},
        "inconclusive": {"cross_task_opposing": _cross(-0.2, 0.5)}},
}


def test_every_registered_claim_has_planted_cases():
    CLAIMS_LOADED.load()
    assert sorted(CLAIMS.names()) == sorted(PLANTED)


@pytest.mark.parametrize("claim_id, case", [(c, k) for c in PLANTED for k in CASES])
def test_claim_on_planted_results(claim_id, case, tmp_path):
    CLAIMS_LOADED.load()
    for name, res in PLANTED[claim_id][case].items():
        res.save(tmp_path / "results" / name)
    verdict = CLAIMS.get(claim_id).check(RunResults(tmp_path))
    assert verdict.verdict == case, (verdict.value, verdict.low, verdict.high, verdict.evidence)


def _compression_paired(diff, lo, hi):
    res = _compression(0.9, 0.9 + diff, 0.0)
    res.tables["paired"] = pd.DataFrame({"model": [FT], "layer": [6], "k": [5], "accuracy": [0.9 + diff],
                                         "accuracy_low": [0.88], "accuracy_high": [0.92], "diff": [diff],
                                         "diff_low": [lo], "diff_high": [hi]})
    return res


def _neurons_paired(nat_minus_all, best_gain, half):
    res = _neurons(0.5, 0.5 + best_gain, 0.9, 0.9 + nat_minus_all, 0.03)
    res.tables["paired"] = pd.DataFrame([
        {"layer": 6, "model_a": FT, "method_a": "natural", "model_b": FT, "method_b": "all_dims",
         "diff": nat_minus_all, "diff_low": nat_minus_all - half, "diff_high": nat_minus_all + half},
        {"layer": 6, "model_a": FT, "method_a": "best_1", "model_b": PRE, "method_b": "best_1",
         "diff": best_gain, "diff_low": best_gain - half, "diff_high": best_gain + half}])
    return res


PAIRED = {   # the same claims through the paired (same eval rows) tables the analyses write
    "emergent/few-components-suffice": {
        "holds": {"compression": _compression_paired(0.03, 0.01, 0.05)},
        "does not hold": {"compression": _compression_paired(-0.2, -0.22, -0.18)},
        "inconclusive": {"compression": _compression_paired(-0.005, -0.02, 0.01)}},
    "emergent/natural-neurons-match": {
        "holds": {"neurons": _neurons_paired(0.0, 0.3, 0.01)},
        "does not hold": {"neurons": _neurons_paired(-0.1, 0.3, 0.01)},
        "inconclusive": {"neurons": _neurons_paired(-0.02, 0.3, 0.01)}},
    "emergent/best-neuron-improves": {
        "holds": {"neurons": _neurons_paired(0.0, 0.3, 0.02)},
        "does not hold": {"neurons": _neurons_paired(0.0, 0.02, 0.02)},
        "inconclusive": {"neurons": _neurons_paired(0.0, 0.11, 0.02)}},
}


@pytest.mark.parametrize("claim_id, case", [(c, k) for c in PAIRED for k in CASES])
def test_claim_on_planted_paired_results(claim_id, case, tmp_path):
    CLAIMS_LOADED.load()
    for name, res in PAIRED[claim_id][case].items():
        res.save(tmp_path / "results" / name)
    verdict = CLAIMS.get(claim_id).check(RunResults(tmp_path))
    assert verdict.verdict == case, (verdict.value, verdict.low, verdict.high, verdict.evidence)


def _directprobe_change(change, half):
    res = _directprobe(5, 5, 5, 0.6, 0.6 + change, 0.2)
    res.tables["set_change"] = pd.DataFrame([{"set_a": PRE, "set_b": FT, "layer": 6,
                                              "statistic": "train_eval_similarity", "value_a": 0.6,
                                              "value_b": 0.6 + change, "change": change, "change_low": change - half,
                                              "change_high": change + half}])
    return res


@pytest.mark.parametrize("case, change, half", [("holds", -0.2, 0.05), ("does not hold", 0.2, 0.05),
                                               ("inconclusive", 0.05, 0.1)])
def test_divergence_reads_the_paired_subsample_change(case, change, half, tmp_path):
    CLAIMS_LOADED.load()
    _directprobe_change(change, half).save(tmp_path / "results" / "directprobe")
    assert CLAIMS.get("closer-look/train-test-divergence").check(RunResults(tmp_path)).verdict == case
