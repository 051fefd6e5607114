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
    else:
        ctx.step(STUDY, "cka", lambda: ctx.analyze("cka", pre_ev))
        ctx.step(STUDY, "rogue", lambda: ctx.analyze("rogue", pre_ev, names=["pretrained"]))
        ctx.step(STUDY, "isotropy", lambda: ctx.analyze("isotropy", pre_ev, names=["pretrained"]))
    if ft_tr is not None and ft_ev is not None:
        model_dir = ctx.finetuned().model_dir
        ctx.step(STUDY, "threshold", lambda: ctx.analyze("threshold", ft_tr, ft_ev, model=model_dir))
        ctx.step(STUDY, "ablation", lambda: ctx.analyze("ablation", ft_tr, ft_ev, model=model_dir))
    target = ft_ev if ft_ev is not None else pre_ev
    last = target.n_layers - 1
    proj_layers = sorted({min(1, last), last // 2, last})  # layer 0 of [CLS] pooling is one constant vector
    ctx.step(STUDY, "projection", lambda: ctx.analyze("projection", target, layers=proj_layers,
                                                      method=["pca", "tsne"], max_points=1000))
    return ctx
