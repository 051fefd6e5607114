"""The "Emergent Properties of Finetuned Language Representation Models" study (Matton & de Oliveira).

For one model and classification task, on the last layer's sentence embedding: the frozen linear
probe next to the fine-tuned model's accuracy, PCA compression curves with PCA fitted in-domain,
on a general-domain corpus (``brown`` by default) and on random dimensions, the explained-variance
ratios fine-tuned / pretrained against the number of classes, and the salient-neuron table.
"""
from __future__ import annotations

from ftgeo.studies._claimstats import NAN, cols, difference, finite, fmt, row
from ftgeo.studies.base import StudyContext
from ftgeo.studies.claims import Measurement, claim

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
    if spec.general_sizes:
        _general_size(ctx, tr[-1], ev[-1], "finetuned" if len(tr) == 2 else "pretrained")
    return ctx


def _general_size(ctx: StudyContext, tr, ev, which: str) -> None:
    """The "32k sentences suffice" curve on every sentence of each general corpus, last layer."""
    from ftgeo.data import load_task

    spec = ctx.spec
    sets = []
    for name in spec.general_corpora or [spec.general_corpus]:
        corpus = load_task(name, data_root=spec.data_root)
        split = corpus.splits()[0]
        n = len(corpus.examples(split))
        g = ctx.step(STUDY, f"extract {which} {name} (all {n:,} sentences)",
                     lambda: ctx.reps(which, split, task=corpus, max_examples=n))
        if g is not None:
            sets.append(g)
    if sets:
        ctx.step(STUDY, "general-size", lambda: ctx.analyze("general-size", tr, ev, sets, layers="last",
                                                            sizes=tuple(spec.general_sizes), seed=spec.seed))


# ----------------------------------------------------------------------------- the paper's claims
# Matton & de Oliveira (2020), "Emergent Properties of Finetuned Language Representation Models": after
# fine-tuning, the sentence embedding's task information sits in a handful of directions and neurons.

PRE, FT = "pretrained", "fine-tuned"


def _last(df):
    return int(df["layer"].max())


@claim("few-components-suffice", study=STUDY, statistic="fine-tuned eval accuracy with all dimensions minus with "
       "the first 5 in-domain PCA components (last layer; paired on the eval rows)", threshold=0.01, direction="<",
       statement="after fine-tuning, a handful of PCA components (k = 5) come within a point of all components",
       paper="fine-tuned BERT: a few components keep the full accuracy (Fig. 2)")
def _few_components(results):
    res = results.get("compression")
    full = res.table("full")
    layer = _last(full)
    f = row(full, model=FT, layer=layer)
    if "paired" in res.tables and not res.table("paired").empty:       # k - all dims on the same rows
        pr = res.table("paired")
        pr = pr[(pr["model"] == FT) & (pr["layer"] == layer)]
        r = pr[pr["k"] == (5 if (pr["k"] == 5).any() else pr["k"].max())].iloc[0]
        k, acc = int(r["k"]), float(r["accuracy"])
        v, lo, hi = -float(r["diff"]), -float(r["diff_high"]), -float(r["diff_low"])
    else:
        curve = res.table("curve")
        ks = curve[(curve["model"] == FT) & (curve["layer"] == layer) & (curve["source"] == "in_domain")]["k"]
        k = int(ks[ks <= 5].max())                   # 5, or 4 on the default grid 1, 2, 4, 8, ...
        c = row(curve, model=FT, layer=layer, source="in_domain", k=k)
        acc = float(c["accuracy"])
        v, lo, hi = difference(*cols(f, "accuracy"), *cols(c, "accuracy"))
    return Measurement(v, lo, hi, f"all dimensions {f['accuracy']:.3f} vs {k} components {acc:.3f}: "
                                  f"gap {fmt(v, lo, hi)}")


@claim("general-pca-32k-suffices", study=STUDY, statistic="eval accuracy with k = 5 components of the general "
       "PCA fitted on every sentence of the first general corpus minus on 32,000 of them (last layer; paired on the "
       "eval rows; mean over 3 subsamples)", threshold=0.01, direction="<",
       statement="a general-domain PCA fitted on 32k sentences is as good as one fitted on more",
       paper="~32k general-domain sentences suffice for the out-of-domain PCA (Sec. 'Compression')")
def _general_32k(results):
    cur = results.get("general_size").table("curve")
    corpus = cur["corpus"].iloc[0]
    g = cur[(cur["corpus"] == corpus) & (cur["layer"] == _last(cur))]
    k = 5 if (g["k"] == 5).any() else int(g["k"].min())
    r = row(g, k=k, n_sentences=32000)
    full = g[(g["k"] == k) & (g["n_sentences"] == g["n_available"])].iloc[0]
    return Measurement(float(r["diff_all"]), float(r["diff_all_low"]), float(r["diff_all_high"]),
                       f"{corpus}, k = {k}: 32,000 sentences {float(r['accuracy']):.3f} vs all "
                       f"{int(full['n_available']):,} {float(full['accuracy']):.3f}")


@claim("variance-above-one-for-classes-minus-one", study=STUDY, statistic="|components with variance ratio "
       "(fine-tuned / pretrained) above 1 before the first drop - (#classes - 1)|", threshold=1.5, direction="<",
       statement="the explained-variance ratio stays above 1 for about (#classes - 1) components",
       paper="the ratio drops below 1 after #classes - 1 components (Fig. 3)")
def _variance_above_one(results):
    d = results.get("variance").table("drop")
    r = row(d, layer=_last(d))
    target = float(r["n_classes"]) - 1
    v = abs(float(r["n_above_before_drop"]) - target)
    lo_n, hi_n = float(r.get("n_above_before_drop_low", NAN)), float(r.get("n_above_before_drop_high", NAN))
    if finite(lo_n, hi_n):
        lo = 0.0 if lo_n <= target <= hi_n else min(abs(lo_n - target), abs(hi_n - target))
        hi = max(abs(lo_n - target), abs(hi_n - target))
    else:
        lo = hi = NAN
    return Measurement(v, lo, hi, f"{int(r['n_above_before_drop'])} component(s) above 1 before the drop; "
                                  f"{int(r['n_classes'])} classes")


@claim("best-neuron-improves", study=STUDY, statistic="eval accuracy of the best single neuron, fine-tuned minus "
       "pretrained (last layer)", threshold=0.1, direction=">",
       statement="the best single neuron is far better after fine-tuning",
       paper="AG News (ftgeo, MiniLM): 0.361 -> 0.858; the paper's salient neurons (Table 2)")
def _best_neuron(results):
    res = results.get("neurons")
    p = res.table("paper")
    layer = _last(p)
    ft, pre = row(p, model=FT, layer=layer, method="best_1"), row(p, model=PRE, layer=layer, method="best_1")
    paired = res.tables.get("paired")
    if paired is not None and ((paired["model_a"] == FT) & (paired["model_b"] == PRE)).any():
        r = row(paired, layer=layer, model_a=FT, method_a="best_1", model_b=PRE, method_b="best_1")
        v, lo, hi = float(r["diff"]), float(r["diff_low"]), float(r["diff_high"])
    else:
        v, lo, hi = difference(*cols(ft, "eval_accuracy"), *cols(pre, "eval_accuracy"))
    return Measurement(v, lo, hi, f"best neuron {pre['eval_accuracy']:.3f} -> {ft['eval_accuracy']:.3f} "
                                  f"(+{fmt(v, lo, hi)})")


@claim("natural-neurons-match", study=STUDY, statistic="fine-tuned eval accuracy with all dimensions minus with "
       "the #classes best neurons (last layer; paired on the eval rows)", threshold=0.02, direction="<",
       statement="#classes selected neurons match all dimensions after fine-tuning",
       paper="the 'natural' number of neurons (= #classes) matches the full embedding (Table 2)")
def _natural_neurons(results):
    res = results.get("neurons")
    p = res.table("paper")
    layer = _last(p)
    allr, nat = row(p, model=FT, layer=layer, method="all_dims"), row(p, model=FT, layer=layer, method="natural")
    if "paired" in res.tables and not res.table("paired").empty:        # natural - all dims on the same rows
        r = row(res.table("paired"), layer=layer, model_a=FT, method_a="natural", model_b=FT, method_b="all_dims")
        v, lo, hi = -float(r["diff"]), -float(r["diff_high"]), -float(r["diff_low"])
    else:
        v, lo, hi = difference(*cols(allr, "eval_accuracy"), *cols(nat, "eval_accuracy"))
    return Measurement(v, lo, hi, f"all dimensions {allr['eval_accuracy']:.3f} vs {int(nat['n_dims'])} neurons "
                                  f"{nat['eval_accuracy']:.3f}: gap {fmt(v, lo, hi)}")
