"""The GPTology study: how fine-tuning reshapes the layer geometry of a decoder or encoder.

Chains, for one model and one classification task: fine-tuning; every layer's pooled
representations of the train and eval splits from the pretrained and the fine-tuned model;
then layer x layer CKA within and between them (the "bow-tie"), rogue dimensions and their
overlap, the 1-D threshold on the principal rogue dimension, ablation of the highest/lowest
variance dimensions through the fine-tuned head, 2-D projections and isotropy.
"""
from __future__ import annotations

from ftgeo.studies.base import StudyContext

STUDY = "gptology"


def run_gptology(ctx: StudyContext) -> StudyContext:
    from ftgeo.runners import geometry as g

    run, spec = ctx.run, ctx.spec
    pre_ev = ctx.step(STUDY, "extract pretrained eval", lambda: ctx.reps("pretrained", spec.eval_split))
    ft_ev = ft_tr = None
    if not spec.skip_finetune:
        ft_ev = ctx.step(STUDY, "extract fine-tuned eval", lambda: ctx.reps("finetuned", spec.eval_split))
        ft_tr = ctx.step(STUDY, "extract fine-tuned train", lambda: ctx.reps("finetuned", spec.train_split))
    if pre_ev is None:
        return ctx
    names = ["pretrained", "fine-tuned"]
    if ft_ev is not None:
        ctx.step(STUDY, "cka", lambda: g.run_cka(pre_ev, ft_ev, run=run, names=names, progress=ctx.progress))
        ctx.step(STUDY, "cka standardized", lambda: g.run_cka(pre_ev, ft_ev, run=run, names=names, standardize=True,
                                                               name="cka_standardized", progress=ctx.progress))
        ctx.step(STUDY, "rogue", lambda: g.run_rogue(pre_ev, ft_ev, run=run, names=names))
        ctx.step(STUDY, "isotropy", lambda: g.run_isotropy(pre_ev, ft_ev, run=run, names=names))
    else:
        ctx.step(STUDY, "cka", lambda: g.run_cka(pre_ev, run=run, progress=ctx.progress))
        ctx.step(STUDY, "rogue", lambda: g.run_rogue(pre_ev, run=run, names=["pretrained"]))
        ctx.step(STUDY, "isotropy", lambda: g.run_isotropy(pre_ev, run=run, names=["pretrained"]))
    if ft_tr is not None and ft_ev is not None:
        model_dir = ctx.finetuned().model_dir
        ctx.step(STUDY, "threshold", lambda: g.run_threshold(ft_tr, ft_ev, run=run, model=model_dir))
        ctx.step(STUDY, "ablation", lambda: g.run_ablation(ft_tr, ft_ev, run=run, model=model_dir))
    target = ft_ev if ft_ev is not None else pre_ev
    last = target.n_layers - 1
    proj_layers = sorted({min(1, last), last // 2, last})  # layer 0 of [CLS] pooling is one constant vector
    ctx.step(STUDY, "projection", lambda: g.run_projection(target, run=run, layers=proj_layers,
                                                          method=["pca", "tsne"], max_samples=1000,
                                                          progress=ctx.progress))
    return ctx
