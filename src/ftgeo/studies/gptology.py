"""The GPTology study: how fine-tuning reshapes the layer geometry of a decoder or encoder.

Chains, for one model and one classification task: fine-tuning; every layer's pooled
representations of the train and eval splits from the pretrained and the fine-tuned model;
then layer x layer CKA within and between them (the "bow-tie"), rogue dimensions and their
overlap, the 1-D threshold on the principal rogue dimension, ablation of the highest/lowest
variance dimensions through the fine-tuned head, 2-D projections and isotropy.
"""
from __future__ import annotations

import numpy as np

from ftgeo.studies._claimstats import cka_stat, cols, difference, fmt, minimum, paired_accuracy_gap, ratio, row
from ftgeo.studies._measures import decoder_massive_activations, measures_panel
from ftgeo.studies.base import StudyContext
from ftgeo.studies.claims import Measurement, claim

STUDY = "gptology"


def run_gptology(ctx: StudyContext) -> StudyContext:
    spec = ctx.spec
    pre_ev = ctx.step(STUDY, "extract pretrained eval", lambda: ctx.reps("pretrained", spec.eval_split))
    ft_ev = ft_tr = None
    if not spec.skip_finetune:
        ft_ev = ctx.step(STUDY, "extract fine-tuned eval", lambda: ctx.reps("finetuned", spec.eval_split))
        ft_tr = ctx.step(STUDY, "extract fine-tuned train", lambda: ctx.reps("finetuned", spec.train_split))
    if pre_ev is None:
        return ctx
    names = ["pretrained", "fine-tuned"]
    if ft_ev is not None:
        ctx.step(STUDY, "cka", lambda: ctx.analyze("cka", pre_ev, ft_ev, names=names))
        ctx.step(STUDY, "cka standardized", lambda: ctx.analyze("cka", pre_ev, ft_ev, names=names, standardize=True,
                                                                save_as="cka_standardized"))
        ctx.step(STUDY, "rogue", lambda: ctx.analyze("rogue", pre_ev, ft_ev, names=names))
        ctx.step(STUDY, "isotropy", lambda: ctx.analyze("isotropy", pre_ev, ft_ev, names=names))
        measures_panel(ctx, pre_ev, ft_ev, names=names, mode=spec.measures)
    else:
        ctx.step(STUDY, "cka", lambda: ctx.analyze("cka", pre_ev))
        ctx.step(STUDY, "rogue", lambda: ctx.analyze("rogue", pre_ev, names=["pretrained"]))
        ctx.step(STUDY, "isotropy", lambda: ctx.analyze("isotropy", pre_ev, names=["pretrained"]))
    if ft_tr is not None and ft_ev is not None:
        model_dir = ctx.finetuned().model_dir
        if len(ft_tr.label_names) == 2:
            ctx.step(STUDY, "threshold", lambda: ctx.analyze("threshold", ft_tr, ft_ev, model=model_dir))
        else:
            ctx.skip(STUDY, "threshold", f"the 1-D threshold classifier is binary; {spec.task} has "
                                         f"{len(ft_tr.label_names)} labels")
        ctx.step(STUDY, "ablation", lambda: ctx.analyze("ablation", ft_tr, ft_ev, model=model_dir))
    target = ft_ev if ft_ev is not None else pre_ev
    last = target.n_layers - 1
    proj_layers = sorted({min(1, last), last // 2, last})  # layer 0 of [CLS] pooling is one constant vector
    ctx.step(STUDY, "projection", lambda: ctx.analyze("projection", target, layers=proj_layers,
                                                      method=["pca", "tsne"], max_points=1000,
                                                      set_name=names[1] if ft_ev is not None else names[0],
                                                      texts=_texts(ctx, spec.eval_split)))
    if spec.massive_activations:
        decoder_massive_activations(ctx)
    return ctx


def _texts(ctx: StudyContext, split: str) -> dict[str, str] | None:
    """The split's sentences by example id, for the report's hover labels (None if the task cannot say)."""
    from ftgeo.analyses.projection import example_texts
    try:
        return example_texts(ctx.task, split)
    except Exception:  # noqa: BLE001 - hover texts are a nicety; the projection runs without them
        return None


# ----------------------------------------------------------------------------- the paper's claims
# Rudman, Chen & Eickhoff (2023), "Outlier Dimensions Encode Task-Specific Knowledge" (GPTology): fine-tuned
# GPT-2 changes its last layers far more than its first, shows a bow-tie of layer similarity, and a single
# high-variance ("rogue") dimension carries the task.

PRE, FT = "pretrained", "fine-tuned"


def _blocks(res, set_name: str = PRE) -> list[int]:
    """Positions of the transformer blocks (layer >= 1) among the set's stored layers."""
    return [i for i, l in enumerate(res.meta["layers"][set_name]) if l >= 1]


def _halves(res) -> tuple[list[int], list[int]]:
    b = _blocks(res)
    h = len(b) // 2
    return b[:h], b[h:]


@claim("late-layers-change-most", study=STUDY, statistic="mean same-layer CKA(pretrained, fine-tuned), "
       "first half of the blocks minus the last half", threshold=0.1, direction=">",
       statement="fine-tuning changes the last half of the network far more than the first",
       paper="GPT-2 on SST-2/QNLI: CKA near 1 in the early blocks, far lower in the last (Fig. 1)")
def _late_layers(results):
    res = results.get("cka")
    first, last = _halves(res)
    v, lo, hi = cka_stat(res, lambda M: float(np.mean([M[i, i] for i in first]) - np.mean([M[i, i] for i in last])),
                         PRE, FT)
    return Measurement(v, lo, hi, f"same-layer CKA first half minus last half = {fmt(v, lo, hi)}")


@claim("early-blocks-unchanged", study=STUDY, statistic="min same-layer CKA(pretrained, fine-tuned) over blocks 1-3 (interval: [min of the cells' lows, "
       "min of their highs])",
       threshold=0.9, direction=">", statement="the first three blocks keep CKA near 1",
       paper="GPT-2: same-layer CKA about 1 for the first blocks")
def _early_blocks(results):
    res = results.get("cka")
    cells = [cka_stat(res, lambda M, i=i: float(M[i, i]), PRE, FT) for i in _blocks(res)[:3]]
    v, lo, hi = minimum(cells)
    return Measurement(v, lo, hi, "same-layer CKA of blocks 1-3: " + ", ".join(fmt(*c) for c in cells))


def _bowtie(M: np.ndarray, first: list[int], last: list[int]) -> float:
    """Mean CKA within the first half and within the last half of the blocks, minus between the halves."""
    within = np.mean([M[np.ix_(first, first)].mean(), M[np.ix_(last, last)].mean()])
    return float(within - M[np.ix_(first, last)].mean())


@claim("bow-tie", study=STUDY, statistic="bow-tie contrast of the fine-tuned model's layer x layer CKA (within the "
       "first and the last half of the blocks minus between them), fine-tuned minus pretrained", threshold=0.0,
       direction=">", statement="the fine-tuned model shows the bow-tie: two blocks of mutually similar layers",
       paper="fine-tuned GPT-2: two blocks of mutually similar layers (Fig. 1)")
def _bow_tie(results):
    res = results.get("cka")
    first, last = _halves(res)
    ft = cka_stat(res, lambda M: _bowtie(M, first, last), FT, FT)
    pre = cka_stat(res, lambda M: _bowtie(M, first, last), PRE, PRE)
    v, lo, hi = difference(*ft, *pre)
    return Measurement(v, lo, hi, f"bow-tie contrast fine-tuned {fmt(*ft)} vs pretrained {fmt(*pre)}")


@claim("rogue-dimension-classifies", study=STUDY, statistic="full model's eval accuracy minus the 1-D threshold's "
       "on the principal rogue dimension (last layer)", threshold=0.05, direction="<",
       statement="the principal rogue dimension alone classifies within a few points of the full model",
       paper="GPT-2: 91.3 vs 92.8 (SST-2), 86.6 vs 88.2 (QNLI); BERT: 76.0 vs 92.2")
def _rogue_classifies(results):
    res = results.get("threshold")
    t = res.table("threshold")
    layer = int(t["layer"].max())
    r = row(t, layer=layer, method="svm")
    a, f = f"correct_svm_{layer}", "correct_full"
    if a in res.arrays and f in res.arrays:
        v, lo, hi = paired_accuracy_gap(res.arrays[f], res.arrays[a])
    else:
        v, lo, hi = difference(*cols(r, "full_accuracy"), *cols(r, "eval_accuracy"))
    return Measurement(v, lo, hi, f"full {r['full_accuracy']:.3f} vs principal dimension {r['eval_accuracy']:.3f}: "
                                  f"gap {fmt(v, lo, hi)}")


@claim("principal-variance-rises", study=STUDY, statistic="principal dimension's share of the variance, fine-tuned "
       "over pretrained (last layer)", threshold=1.0, direction=">",
       statement="fine-tuning raises the variance of the principal (rogue) dimension",
       paper="fine-tuned GPT-2: a few dimensions hold most of the variance")
def _variance_rises(results):
    t = results.get("rogue").table("layers")
    layer = int(t["layer"].max())
    ft, pre = row(t, set=FT, layer=layer), row(t, set=PRE, layer=layer)
    v, lo, hi = ratio(*cols(ft, "principal_var_share"), *cols(pre, "principal_var_share"))
    return Measurement(v, lo, hi, f"principal variance share {pre['principal_var_share']:.3f} -> "
                                  f"{ft['principal_var_share']:.3f} (ratio {fmt(v, lo, hi)})")


@claim("rogue-dimensions-shared-across-tasks", study=STUDY, statistic="top-10 rogue dimensions shared by the models "
       "fine-tuned on two tasks (last layer; result 'rogue_tasks')", threshold=4.5, direction=">",
       statement="the top-10 rogue dimensions of fine-tuned models largely overlap across tasks",
       paper="GPT-2 SST-2 vs QNLI: 8 of 10")
def _shared_across_tasks(results):
    ov = results.get("rogue_tasks").table("overlap")
    r = ov[ov["layer"] == ov["layer"].max()].iloc[0]
    v, lo, hi = cols(r, "overlap")
    return Measurement(v, lo, hi, f"{r['set_a']} vs {r['set_b']}: {fmt(v, lo, hi)} of {int(r['k'])} shared")
