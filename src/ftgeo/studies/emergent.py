"""The "Emergent Properties of Finetuned Language Representation Models" study (Matton & de Oliveira).

For one model and classification task, on the last layer's sentence embedding: the frozen linear
probe next to the fine-tuned model's accuracy, PCA compression curves with PCA fitted in-domain,
on a general-domain corpus (``brown`` by default) and on random dimensions, the explained-variance
ratios fine-tuned / pretrained against the number of classes, and the salient-neuron table.
"""
from __future__ import annotations

from ftgeo.studies.base import StudyContext

STUDY = "emergent"


def run_emergent(ctx: StudyContext) -> StudyContext:
    from ftgeo.data import load_task

    spec = ctx.spec
    pre_tr = ctx.step(STUDY, "extract pretrained train", lambda: ctx.reps("pretrained", spec.train_split))
    pre_ev = ctx.step(STUDY, "extract pretrained eval", lambda: ctx.reps("pretrained", spec.eval_split))
    if pre_tr is None or pre_ev is None:
        return ctx
    tr, ev, names, gen = [pre_tr], [pre_ev], ["pretrained"], []
    ft_acc = None
    corpus = load_task(spec.general_corpus, data_root=spec.data_root)
    split = corpus.splits()[0]
    g = ctx.step(STUDY, f"extract pretrained {spec.general_corpus}", lambda: ctx.reps(
        "pretrained", split, task=corpus, max_examples=spec.max_general_examples))
    if g is not None:
        gen.append(g)
    if not spec.skip_finetune:
        ft_tr = ctx.step(STUDY, "extract fine-tuned train", lambda: ctx.reps("finetuned", spec.train_split))
        ft_ev = ctx.step(STUDY, "extract fine-tuned eval", lambda: ctx.reps("finetuned", spec.eval_split))
        if ft_tr is not None and ft_ev is not None:
            tr, ev, names = [pre_tr, ft_tr], [pre_ev, ft_ev], ["pretrained", "fine-tuned"]
            ft_acc = ctx.finetuned().accuracy
            g2 = ctx.step(STUDY, f"extract fine-tuned {spec.general_corpus}", lambda: ctx.reps(
                "finetuned", split, task=corpus, max_examples=spec.max_general_examples))
            gen = gen + [g2] if (g2 is not None and gen) else []
    last = "last"  # the sentence embedding of the paper
    ctx.step(STUDY, "compression", lambda: ctx.analyze(
        "compression", tr, ev, general=gen or None, layers=last, names=names, seed=spec.seed,
        finetuned_accuracy=ft_acc if ft_acc == ft_acc else None))
    if len(tr) == 2:
        ctx.step(STUDY, "variance", lambda: ctx.analyze("variance", tr[0], tr[1], layers=last))
    ctx.step(STUDY, "neurons", lambda: ctx.analyze("neurons", tr, ev, layers=last, names=names, seed=spec.seed))
    return ctx
