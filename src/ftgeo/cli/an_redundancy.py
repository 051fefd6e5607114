"""``ftgeo analyze compression|variance|neurons``: the redundancy verbs (Matton & de Oliveira 2019).

Only argparse-level code at import time; each ``run`` imports the runner it calls.
"""
from __future__ import annotations

import argparse
from functools import partial

from ftgeo.cli._common import (
    AnalysisCommand, add_reps_arguments, add_run_arguments, open_reps, parse_layers, run_dir,
)
from ftgeo.cli._common import number_list, print_written
from ftgeo.errors import ValidationError

_int_list = partial(number_list, kind=int, example="1,2,4,8")
_done = print_written


def _pair_args(p: argparse.ArgumentParser) -> None:
    add_reps_arguments(p, flag="--train-reps", nargs="+",
                       help="training-split representations: pretrained [fine-tuned] (folders from `ftgeo extract`)")
    add_reps_arguments(p, flag="--eval-reps", nargs="+",
                       help="evaluation-split representations, in the same order as --train-reps")
    p.add_argument("--layers", default="last", metavar="SPEC",
                   help="layers: 'last' (default), 'all', a list '0,6,-1' or a range '2-5'")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the softmax classifier")
    p.add_argument("--seed", type=int, default=0)


def _open_pair(args):
    if len(args.train_reps) > 2 or len(args.eval_reps) != len(args.train_reps):
        raise ValidationError("pass --train-reps PRE [FT] and --eval-reps PRE [FT] (same count, at most two)")
    tr = open_reps(args.train_reps)
    ev = open_reps(args.eval_reps)
    return tr, ev


# ----------------------------------------------------------------------------- compression
def _compression_args(p):
    _pair_args(p)
    p.add_argument("--general-reps", nargs="+", default=None, metavar="DIR",
                   help="general-domain corpus representations (brown / wikitext2) for out-of-domain PCA: one, or "
                        "one per model, extracted with the same model, layer and pooling")
    p.add_argument("--ks", default=None, help="comma-separated k grid (default 1,2,4,...,d)")
    p.add_argument("--sources", default=None, help="comma-separated: in_domain,general,random (default: available)")
    p.add_argument("--n-random", type=int, default=5, help="random-dimension draws per k")
    p.add_argument("--max-general", type=int, default=32000, help="general-corpus sample size (0 = all)")
    p.add_argument("--finetuned-accuracy", type=float, default=None,
                   help="the fine-tuned model's eval accuracy (default: linear probe on the fine-tuned reps)")
    add_run_arguments(p)


def _compression_run(args) -> int:
    from ftgeo.runners.redundancy import run_compression
    tr, ev = _open_pair(args)
    gen = open_reps(args.general_reps) if args.general_reps else None
    run = run_dir(args, args.train_reps[0])
    name = args.name or "compression"
    res = run_compression(tr, ev, general=gen, run=run, layers=parse_layers(args.layers, tr[0].n_layers),
                          ks=_int_list(args.ks),
                          sources=[s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None,
                          n_random=args.n_random, C=args.C, finetuned_accuracy=args.finetuned_accuracy,
                          max_general=args.max_general or None, random_state=args.seed, name=name,
                          figures=not args.no_figures)
    return _done(res, run, name)


COMPRESSION = AnalysisCommand("accuracy vs number of PCA components (in-domain, general corpus, random)",
                              _compression_args, _compression_run)


# ----------------------------------------------------------------------------- variance
def _variance_args(p):
    add_reps_arguments(p, flag="--train-reps", nargs="+",
                       help="training-split representations: PRETRAINED FINETUNED")
    p.add_argument("--layers", default="last", metavar="SPEC", help="layers (default: last)")
    p.add_argument("--n-components", type=int, default=None, help="keep the first n components (default all)")
    add_run_arguments(p)


def _variance_run(args) -> int:
    from ftgeo.runners.redundancy import run_variance
    if len(args.train_reps) != 2:
        raise ValidationError("variance compares two sets: --train-reps PRETRAINED FINETUNED")
    pre, ft = open_reps(args.train_reps)
    run = run_dir(args, args.train_reps[0])
    name = args.name or "variance"
    res = run_variance(pre, ft, run=run, layers=parse_layers(args.layers, pre.n_layers),
                       n_components=args.n_components, name=name, figures=not args.no_figures)
    return _done(res, run, name)


VARIANCE = AnalysisCommand("explained-variance ratios fine-tuned / pretrained", _variance_args, _variance_run)


# ----------------------------------------------------------------------------- neurons
def _neurons_args(p):
    _pair_args(p)
    p.add_argument("--cv", type=int, default=5, help="stratified CV folds")
    p.add_argument("--n-select", type=int, default=5, help="greedy selection size (at least n_classes is used)")
    p.add_argument("--threshold", type=float, default=None,
                   help="accuracy threshold for the fraction of salient neurons (default majority rate + 0.05)")
    add_run_arguments(p)


def _neurons_run(args) -> int:
    from ftgeo.runners.redundancy import run_neurons
    tr, ev = _open_pair(args)
    run = run_dir(args, args.train_reps[0])
    name = args.name or "neurons"
    res = run_neurons(tr, ev, run=run, layers=parse_layers(args.layers, tr[0].n_layers), cv=args.cv,
                      n_select=args.n_select, C=args.C, threshold=args.threshold, random_state=args.seed,
                      name=name, figures=not args.no_figures)
    return _done(res, run, name)


NEURONS = AnalysisCommand("salient neurons: single-dimension accuracy, greedy selection", _neurons_args, _neurons_run)
