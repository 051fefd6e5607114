"""``ftgeo analyze cka|rogue|threshold|ablation|projection|isotropy``: the layer-geometry verbs.

Only argparse-level code at import time; each ``run`` imports the runner it calls.
"""
from __future__ import annotations

import argparse
from functools import partial

from ftgeo.cli._common import (
    AnalysisCommand, add_layers_argument, add_reps_arguments, add_run_arguments, open_reps, parse_layers, run_dir,
)
from ftgeo.cli._common import number_list, print_written
from ftgeo.errors import ValidationError

_int_list = partial(number_list, kind=int, example="0,1,2,4")
_done = print_written


# ----------------------------------------------------------------------------- cka
def _cka_args(p: argparse.ArgumentParser) -> None:
    add_reps_arguments(p, help="one representation folder (within-model CKA) or two (e.g. pretrained and "
                               "fine-tuned, same task split)")
    add_layers_argument(p)
    p.add_argument("--kernel", choices=["linear", "rbf"], default="linear")
    p.add_argument("--debiased", action="store_true", help="unbiased HSIC estimator (Song et al. 2012)")
    p.add_argument("--standardize", action="store_true", help="z-score every dimension first (tames rogue dimensions)")
    p.add_argument("--threshold", type=float, default=1.0, help="RBF bandwidth as a fraction of the median distance")
    p.add_argument("--batch-size", type=int, default=None, help="minibatch CKA (Nguyen et al. 2021) with this batch size")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or numpy")
    p.add_argument("--pairs", choices=["bowtie", "cross"], default="bowtie",
                   help="with two sets: a x a, b x b and a x b (bowtie) or only a x b (cross)")
    add_run_arguments(p)


def _cka_run(args) -> int:
    from ftgeo.runners.geometry import run_cka
    if len(args.reps) > 2:
        raise ValidationError("cka takes one or two --reps folders")
    reps = open_reps(args.reps)
    run = run_dir(args, args.reps[0])
    name = args.name or "cka"
    res = run_cka(reps[0], reps[1] if len(reps) > 1 else None, run=run,
                  layers=parse_layers(args.layers, reps[0].n_layers), kernel=args.kernel, debiased=args.debiased,
                  standardize=args.standardize, threshold=args.threshold, batch_size=args.batch_size,
                  device=args.device, pairs=args.pairs, name=name, figures=not args.no_figures)
    return _done(res, run, name)


CKA = AnalysisCommand("layer x layer CKA within and between models (the bow-tie)", _cka_args, _cka_run)


# ----------------------------------------------------------------------------- rogue
def _rogue_args(p):
    add_reps_arguments(p, help="one or more representation folders (overlaps are computed between every two)")
    add_layers_argument(p)
    p.add_argument("--k", type=int, default=10, help="top-k dimensions by variance")
    add_run_arguments(p)


def _rogue_run(args) -> int:
    from ftgeo.runners.geometry import run_rogue
    reps = open_reps(args.reps)
    run = run_dir(args, args.reps[0])
    name = args.name or "rogue"
    res = run_rogue(*reps, run=run, layers=parse_layers(args.layers, reps[0].n_layers), k=args.k, name=name,
                    figures=not args.no_figures)
    return _done(res, run, name)


ROGUE = AnalysisCommand("rogue dimensions: per-dimension variance spikes, top-k, overlap", _rogue_args, _rogue_run)


# ----------------------------------------------------------------------------- threshold
def _split_args(p):
    add_reps_arguments(p, flag="--train-reps", nargs=None, help="representations of the training split")
    add_reps_arguments(p, flag="--eval-reps", nargs=None, help="representations of the evaluation split")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="fine-tuned model folder for the classification head (default: from the manifest)")


def _threshold_args(p):
    _split_args(p)
    p.add_argument("--layers", default="last", metavar="SPEC", help="layers (default: last)")
    p.add_argument("--method", choices=["svm", "best", "both"], default="both")
    p.add_argument("--C", type=float, default=1.0, help="LinearSVC regularisation")
    p.add_argument("--full-accuracy", type=float, default=None,
                   help="the full model's eval accuracy (default: computed through the classification head)")
    add_run_arguments(p)


def _threshold_run(args) -> int:
    from ftgeo.runners.geometry import run_threshold
    tr, ev = open_reps([args.train_reps, args.eval_reps])
    run = run_dir(args, args.eval_reps)
    name = args.name or "threshold"
    methods = ["svm", "best"] if args.method == "both" else [args.method]
    res = run_threshold(tr, ev, run=run, layers=parse_layers(args.layers, tr.n_layers), methods=methods, C=args.C,
                        full_accuracy=args.full_accuracy, model=args.model, name=name, figures=not args.no_figures)
    return _done(res, run, name)


THRESHOLD = AnalysisCommand("1-D linear-SVM threshold on the principal rogue dimension", _threshold_args, _threshold_run)


# ----------------------------------------------------------------------------- ablation
def _ablation_args(p):
    _split_args(p)
    p.add_argument("--layer", type=int, default=-1, help="layer to ablate (default -1 = last)")
    p.add_argument("--ks", default=None, help="comma-separated k grid (default 0,1,2,4,...,d)")
    p.add_argument("--modes", default="highest,lowest,random")
    p.add_argument("--n-random", type=int, default=5, help="random draws per k")
    p.add_argument("--seed", type=int, default=0)
    add_run_arguments(p)


def _ablation_run(args) -> int:
    from ftgeo.runners.geometry import run_ablation
    tr, ev = open_reps([args.train_reps, args.eval_reps])
    run = run_dir(args, args.eval_reps)
    name = args.name or "ablation"
    res = run_ablation(tr, ev, model=args.model, run=run, layer=args.layer, ks=_int_list(args.ks),
                       modes=[m.strip() for m in args.modes.split(",") if m.strip()], n_random=args.n_random,
                       random_state=args.seed, name=name, figures=not args.no_figures)
    return _done(res, run, name)


ABLATION = AnalysisCommand("zero the k highest/lowest-variance dimensions, re-score through the head",
                           _ablation_args, _ablation_run)


# ----------------------------------------------------------------------------- projection
def _projection_args(p):
    add_reps_arguments(p, nargs=None, help="one representation folder")
    add_layers_argument(p)
    p.add_argument("--method", default="tsne", help="tsne, pca or umap (comma-separated for several)")
    p.add_argument("--max-samples", type=int, default=2000, help="stratified subsample size (0 = all)")
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    add_run_arguments(p)


def _projection_run(args) -> int:
    from ftgeo.runners.geometry import run_projection
    (reps,) = open_reps([args.reps])
    run = run_dir(args, args.reps)
    name = args.name or "projection"
    res = run_projection(reps, run=run, layers=parse_layers(args.layers, reps.n_layers),
                         method=[m.strip() for m in args.method.split(",") if m.strip()],
                         max_samples=args.max_samples or None, random_state=args.seed, perplexity=args.perplexity,
                         name=name, figures=not args.no_figures)
    return _done(res, run, name)


PROJECTION = AnalysisCommand("2-D t-SNE / PCA / UMAP per layer, coloured by label", _projection_args, _projection_run)


# ----------------------------------------------------------------------------- isotropy
def _isotropy_args(p):
    add_reps_arguments(p)
    add_layers_argument(p)
    p.add_argument("--n-pairs", type=int, default=10000, help="random pairs for the average cosine (0 = exact, all pairs)")
    p.add_argument("--seed", type=int, default=0)
    add_run_arguments(p)


def _isotropy_run(args) -> int:
    from ftgeo.runners.geometry import run_isotropy
    reps = open_reps(args.reps)
    run = run_dir(args, args.reps[0])
    name = args.name or "isotropy"
    res = run_isotropy(*reps, run=run, layers=parse_layers(args.layers, reps[0].n_layers),
                       n_pairs=args.n_pairs or None, random_state=args.seed, name=name, figures=not args.no_figures)
    return _done(res, run, name)


ISOTROPY = AnalysisCommand("IsoScore and average cosine similarity per layer", _isotropy_args, _isotropy_run)
