"""The "A Closer Look at How Fine-tuning Changes BERT" study (Zhou & Srikumar 2022).

For one model and task: linear and MLP probes (grid search, 5 seeds) on the pretrained and the
fine-tuned representations of selected layers; DirectProbe (Zhou & Srikumar 2021) on every layer
of both (cluster counts, label distances, train/test divergence, pretrained vs fine-tuned spatial
similarity); training dynamics over every saved checkpoint (per-label minimum distances, centroid
paths, similarity to the pretrained space); and the PCA of label-centroid movement per layer.
"""
from __future__ import annotations

from ftgeo.errors import ValidationError
from ftgeo.studies._claimstats import NAN, cols, difference, fmt, minimum, row
from ftgeo.studies.base import StudyContext
from ftgeo.studies.claims import Measurement, claim

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
    from ftgeo.analyses._inputs import parse_layers
    wanted = spec.probe_layers if spec.probe_layers.strip() in ("all", "last") else ",".join(
        x for x in spec.probe_layers.split(",") if x.strip() and int(x) < pre_tr.n_layers)   # "0,2,4,6" on a smaller model
    probe_layers = parse_layers(wanted or "last", pre_tr.n_layers)
    ctx.step(STUDY, "probe", lambda: ctx.analyze("probe", sets_tr, sets_ev, layers=probe_layers, names=names,
                                                 seed=spec.seed, max_train_points=spec.probe_points))
    ctx.step(STUDY, "directprobe", lambda: ctx.analyze(
        "directprobe", sets_tr, sets_ev, names=names, layers=_directprobe_layers(ctx, pre_tr.n_layers),
        max_points=spec.directprobe_points, max_eval_points=max(100, spec.directprobe_points // 2), seed=spec.seed))
    if spec.controls:
        _controls(ctx, sets_tr, sets_ev, names, probe_layers)
    if len(sets_tr) == 2:
        ctx.step(STUDY, "centroids", lambda: ctx.analyze("centroids", pre_ev, sets_ev[1]))
        ctx.step(STUDY, "dynamics", lambda: _dynamics(ctx))
    return ctx


def _directprobe_layers(ctx: StudyContext, n_layers: int) -> list[int]:
    """The layers of ``directprobe_layers``, without layer 0 under [CLS] pooling (one constant vector there:
    DirectProbe can merge nothing)."""
    from ftgeo.analyses._inputs import parse_layers
    text = ctx.spec.directprobe_layers
    layers = [x for x in parse_layers(text, n_layers) if x > 0 or ctx.pooling != "cls"]
    if not layers:
        raise ValidationError(f"directprobe_layers {text!r} selects only layer 0, one constant vector with [CLS] "
                              "pooling; choose layers such as 1-last")
    return layers


def _controls(ctx: StudyContext, sets_tr, sets_ev, names, probe_layers):
    """Probing controls (docs/probing.md, "Controls"): the same architecture re-initialised (seeded) as a third
    set, control tasks and selectivity, MDL codelengths (task and control), DirectProbe on the control labels."""
    from ftgeo.models import random_init_name
    spec = ctx.spec
    rnd = random_init_name(spec.model, spec.seed)
    r_tr = ctx.step(STUDY, "extract random-init train", lambda: ctx.reps("random-init", spec.train_split, model=rnd))
    r_ev = ctx.step(STUDY, "extract random-init eval", lambda: ctx.reps("random-init", spec.eval_split, model=rnd))
    if r_tr is not None and r_ev is not None:
        sets_tr, sets_ev, names = [*sets_tr, r_tr], [*sets_ev, r_ev], [*names, "random-init"]
    common = dict(names=names, layers=probe_layers, seed=spec.seed, max_train_points=spec.probe_points,
                  data_root=spec.data_root)
    ctx.step(STUDY, "control", lambda: ctx.analyze("control", sets_tr, sets_ev, **common))
    ctx.step(STUDY, "mdl", lambda: ctx.analyze("mdl", sets_tr, kinds=("linear",), **common))
    last = [sets_tr[0].n_layers - 1]
    ctx.step(STUDY, "directprobe on controls", lambda: ctx.analyze(
        "directprobe", sets_tr, sets_ev, names=names, layers=last, labels="control", data_root=spec.data_root,
        max_points=spec.directprobe_points, max_eval_points=max(100, spec.directprobe_points // 2), seed=spec.seed,
        save_as="directprobe_control"))


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


# ----------------------------------------------------------------------------- the paper's claims
# Zhou & Srikumar (2022), "A Closer Look at How Fine-tuning Changes BERT" (with DirectProbe, 2021): fine-tuning
# pushes the labels' clusters apart and merges them to one per label, it diverges train from test, moves the
# higher layers more, and a task that resembles the fine-tuning task gains while an opposing one loses.

PRE, FT = "pretrained", "fine-tuned"


def _top(df) -> int:
    return int(df["layer"].max())


@claim("clusters-shrink-to-labels", study=STUDY, statistic="DirectProbe clusters minus labels, fine-tuned, last layer",
       threshold=0.5, direction="<", statement="after fine-tuning the clusters shrink to one per label",
       paper="fine-tuned BERT: #clusters = #labels in the top layers (Table 2)")
def _clusters(results):
    t = results.get("directprobe").table("layers")
    r = row(t, set=FT, layer=_top(t))
    v, lo, hi = cols(r, "n_clusters") if "n_clusters_low" in r else (float(r["n_clusters"]), NAN, NAN)
    excess = (v - r["n_labels"], lo - r["n_labels"], hi - r["n_labels"])
    pre = row(t, set=PRE, layer=_top(t))
    return Measurement(*excess, f"{int(pre['n_clusters'])} -> {int(r['n_clusters'])} clusters for "
                                f"{int(r['n_labels'])} labels")


@claim("train-test-divergence", study=STUDY, statistic="train/eval spatial similarity, fine-tuned minus pretrained "
       "(last layer)", threshold=0.0, direction="<",
       statement="fine-tuning makes the train and test spaces diverge (their spatial similarity falls)",
       paper="the train/test spatial similarity decreases after fine-tuning (Sec. 4); ftgeo measured 0.588 -> 0.640 "
             "on PS-role with one seed")
def _divergence(results):
    res = results.get("directprobe")
    t = res.table("layers")
    layer = _top(t)
    ft, pre = row(t, set=FT, layer=layer), row(t, set=PRE, layer=layer)
    change = _set_change(res, layer, "train_eval_similarity")
    v, lo, hi = change if change is not None else difference(*cols(ft, "train_eval_similarity"),
                                                             *cols(pre, "train_eval_similarity"))
    return Measurement(v, lo, hi, f"train/eval similarity {pre['train_eval_similarity']:.3f} -> "
                                  f"{ft['train_eval_similarity']:.3f} (change {fmt(v, lo, hi)})")


def _set_change(res, layer: int, statistic: str):
    """The paired change pretrained -> fine-tuned over the same subsamples (table ``set_change``), or None."""
    t = res.tables.get("set_change")
    if t is None or t.empty:
        return None
    r = row(t, set_a=PRE, set_b=FT, layer=layer, statistic=statistic)
    return float(r["change"]), float(r["change_low"]), float(r["change_high"])


@claim("higher-layers-stay-similar", study=STUDY, statistic="min spatial similarity(pretrained, fine-tuned) over the "
       "upper half of the layers (interval: [min of the lows, min of the highs])", threshold=0.5, direction=">",
       statement="the higher layers keep a spatial similarity above 0.5 to the pretrained space",
       paper="spatial similarity to the pretrained model stays > 0.5 in the higher layers (Fig. 4)")
def _higher_similar(results):
    s = results.get("directprobe").table("set_similarity").dropna(subset=["similarity"]).sort_values("layer")
    upper = s[s["layer"] > s["layer"].max() / 2]
    if upper.empty:
        return None          # e.g. a 2-label task: spatial similarity needs >= 3 labels
    v, lo, hi = minimum([cols(r, "similarity") for _, r in upper.iterrows()])
    return Measurement(v, lo, hi, f"layers {int(upper['layer'].min())}-{int(upper['layer'].max())}: "
                       + ", ".join(f"{int(r['layer'])}: {fmt(*cols(r, 'similarity'))}" for _, r in upper.iterrows()))


@claim("lower-layers-move-less", study=STUDY, statistic="spatial similarity(pretrained, fine-tuned): mean over the "
       "lower half of the layers minus the upper half", threshold=0.0, direction=">",
       statement="the lower layers move less than the higher ones", paper="Fig. 4: similarity falls with depth")
def _lower_move_less(results):
    s = results.get("directprobe").table("set_similarity").dropna(subset=["similarity"])
    mid = s["layer"].max() / 2
    lo_half, hi_half = s[s["layer"] <= mid], s[s["layer"] > mid]
    if lo_half.empty or hi_half.empty:
        return None
    a = _mean_with_bounds(lo_half, "similarity")
    b = _mean_with_bounds(hi_half, "similarity")
    v, lo, hi = difference(*a, *b)
    return Measurement(v, lo, hi, f"lower half {fmt(*a)} vs upper half {fmt(*b)}")


def _mean_with_bounds(df, c):
    lo = df[f"{c}_low"].mean() if f"{c}_low" in df else NAN
    hi = df[f"{c}_high"].mean() if f"{c}_high" in df else NAN
    return float(df[c].mean()), float(lo), float(hi)


@claim("labels-move-apart", study=STUDY, statistic="mean over labels of the minimum distance at the last checkpoint "
       "minus the pretrained one (last layer)", threshold=0.0, direction=">",
       statement="each label's minimum distance to the others grows over fine-tuning",
       paper="Fig. 5: per-label minimum distances grow over the checkpoints")
def _move_apart(results):
    res = results.get("dynamics")
    md = res.table("min_distance")
    layer = _top(md)
    md = md[md["layer"] == layer]
    first, last = md["checkpoint"].min(), md["checkpoint"].max()
    a = md[md["checkpoint"] == last].set_index("label")
    b = md[md["checkpoint"] == first].set_index("label")
    change = (a["min_distance"] - b["min_distance"]).dropna()
    if "layer_summary" in res.tables:       # the dynamics analysis' own subsampling interval of this statistic
        r = row(res.table("layer_summary"), layer=layer)
        c = cols(r, "mean_min_distance_change")
        return Measurement(*c, f"mean min-distance change {fmt(*c)} over {change.size} labels "
                               f"({int((change > 0).sum())} grew)")
    return Measurement(float(change.mean()), evidence=f"{int((change > 0).sum())} of {change.size} labels grew; "
                                                      f"mean change {change.mean():.3g}")


def _cross_task(results, name: str):
    t = results.get(name).table("layer_summary")
    r = row(t, layer=_top(t))
    v, lo, hi = cols(r, "mean_change") if "mean_change_low" in r else (float(r["mean_change"]), NAN, NAN)
    return Measurement(v, lo, hi, f"{int(r['n_grew'])} grew, {int(r['n_shrank'])} shrank; mean change "
                                  f"{fmt(v, lo, hi)}")


@claim("similar-task-grows-distances", study=STUDY, statistic="mean change of task B's label minimum distances "
       "after fine-tuning on a similar task A (last layer; result 'cross_task_similar')", threshold=0.0,
       direction=">", statement="fine-tuning on a similar task pushes the other task's labels apart",
       paper="PS-fxn after PS-role fine-tuning: distances grow (Sec. 6)")
def _similar(results):
    return _cross_task(results, "cross_task_similar")


@claim("opposing-task-shrinks-distances", study=STUDY, statistic="mean change of task B's label minimum distances "
       "after fine-tuning on an opposing task A (last layer; result 'cross_task_opposing')", threshold=0.0,
       direction="<", statement="fine-tuning on an opposing task pulls the other task's labels together",
       paper="PS-fxn after POS fine-tuning: distances shrink (Sec. 6)")
def _opposing(results):
    return _cross_task(results, "cross_task_opposing")
