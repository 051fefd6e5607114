"""The "A Closer Look at How Fine-tuning Changes BERT" study (Zhou & Srikumar 2022).

For one model and task: linear and MLP probes (grid search, 5 seeds) on the pretrained and the
fine-tuned representations of selected layers; DirectProbe (Zhou & Srikumar 2021) on every layer
of both (cluster counts, label distances, train/test divergence, pretrained vs fine-tuned spatial
similarity); training dynamics over every saved checkpoint (per-label minimum distances, centroid
paths, similarity to the pretrained space); and the PCA of label-centroid movement per layer.
"""
from __future__ import annotations

from ftgeo.studies.base import StudyContext

STUDY = "closer-look"


def run_closer_look(ctx: StudyContext) -> StudyContext:
    spec = ctx.spec
    pre_tr = ctx.step(STUDY, "extract pretrained train", lambda: ctx.reps("pretrained", spec.train_split))
    pre_ev = ctx.step(STUDY, "extract pretrained eval", lambda: ctx.reps("pretrained", spec.eval_split))
    if pre_tr is None or pre_ev is None:
        return ctx
    sets_tr, sets_ev, names = [pre_tr], [pre_ev], ["pretrained"]
    if not spec.skip_finetune:
        ft_tr = ctx.step(STUDY, "extract fine-tuned train", lambda: ctx.reps("finetuned", spec.train_split))
        ft_ev = ctx.step(STUDY, "extract fine-tuned eval", lambda: ctx.reps("finetuned", spec.eval_split))
        if ft_tr is not None and ft_ev is not None:
            sets_tr, sets_ev, names = [pre_tr, ft_tr], [pre_ev, ft_ev], ["pretrained", "fine-tuned"]
    probe_layers = [int(x) for x in spec.probe_layers.split(",") if x.strip()]
    probe_layers = [l for l in probe_layers if l < pre_tr.n_layers] or [pre_tr.n_layers - 1]
    ctx.step(STUDY, "probe", lambda: ctx.analyze("probe", sets_tr, sets_ev, layers=probe_layers, names=names,
                                                 seed=spec.seed, max_train_points=spec.probe_points))
    # with [CLS] pooling layer 0 is one constant vector: DirectProbe can merge nothing there
    dp_layers = list(range(1 if ctx.pooling == "cls" else 0, pre_tr.n_layers))
    ctx.step(STUDY, "directprobe", lambda: ctx.analyze(
        "directprobe", sets_tr, sets_ev, names=names, layers=dp_layers, max_points=spec.directprobe_points,
        max_eval_points=max(100, spec.directprobe_points // 2), seed=spec.seed))
    if len(sets_tr) == 2:
        ctx.step(STUDY, "centroids", lambda: ctx.analyze("centroids", pre_ev, sets_ev[1]))
        ctx.step(STUDY, "dynamics", lambda: _dynamics(ctx))
    return ctx


def _dynamics(ctx: StudyContext):
    """Extract the eval split from every checkpoint (in training order) and track the geometry."""
    spec = ctx.spec
    ft = ctx.finetuned()
    sets = [ctx.reps("pretrained", spec.eval_split)]
    for ck in ft.checkpoints:
        sets.append(ctx.reps("checkpoint", spec.eval_split, model=str(ck.path), checkpoint=ck.name))
    steps = [0] + [ck.step for ck in ft.checkpoints]
    # DirectProbe at every checkpoint x layer is the costly part (overlapping pretrained sets need many
    # LPs): the study tracks the last layer; `ftgeo analyze dynamics --layers` does any others
    layers = [sets[0].n_layers - 1]
    return ctx.analyze("dynamics", sets, steps=steps, layers=layers, max_points=spec.directprobe_points,
                       seed=spec.seed)
