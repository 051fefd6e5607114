"""``ftgeo analyze probe|directprobe|dynamics|cross-task``: the verbs of Zhou & Srikumar (2022),
"A Closer Look at How Fine-tuning Changes BERT".

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

_floats = partial(number_list, kind=float, example="1e-7,1e-4,1")
_ints = partial(number_list, kind=int, example="32,64")
_done = print_written


def _max_points(v: str) -> int | None:
    if v.lower() in ("all", "none", "0"):
        return None
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a positive integer or 'all'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--max-points must be positive (or 'all')")
    return n


def _probe_options(p):
    p.add_argument("--hidden-sizes", default="32,64,128,256", help="MLP hidden sizes of the grid")
    p.add_argument("--l2", default=None, metavar="LIST",
                   help="L2 (weight-decay) grid, comma-separated (default: 1e-7,1e-6,...,1)")
    p.add_argument("--seeds", type=int, default=5, help="retrain the best setting with this many seeds")
    p.add_argument("--validation-fraction", type=float, default=0.2,
                   help="stratified hold-out of train for selection and early stopping (when no --val-reps)")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate")
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    p.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch up to 4096 rows)")
    p.add_argument("--max-train-points", type=_max_points, default=None,
                   help="seeded stratified subsample of the probe's training rows (default: all)")
    p.add_argument("--seed", type=int, default=0)


def _probe_kwargs(args) -> dict:
    from ftgeo.analysis.probes import DEFAULT_L2_GRID
    return {"hidden_sizes": _ints(args.hidden_sizes), "l2_grid": _floats(args.l2) or list(DEFAULT_L2_GRID),
            "n_seeds": args.seeds, "validation_fraction": args.validation_fraction, "lr": args.lr,
            "max_epochs": args.max_epochs, "patience": args.patience, "batch_size": args.batch_size,
            "random_state": args.seed, "max_train_points": args.max_train_points}


# ----------------------------------------------------------------------------- probe
def _probe_args(p):
    add_reps_arguments(p, flag="--train-reps", help="training split representations (several: e.g. pretrained and "
                                                     "fine-tuned, paired with --eval-reps by position)")
    add_reps_arguments(p, flag="--eval-reps", help="evaluation split representations, one per --train-reps")
    p.add_argument("--val-reps", nargs="+", default=None, metavar="DIR",
                   help="development split for model selection (default: stratified hold-out of train)")
    add_layers_argument(p)
    p.add_argument("--kinds", default="linear,mlp", help="probe kinds: linear, mlp or linear,mlp")
    p.add_argument("--names", default=None, help="comma-separated names of the sets (default: from manifests)")
    _probe_options(p)
    add_run_arguments(p)


def _probe_run(args) -> int:
    from ftgeo.runners.probing import run_probe
    tr = open_reps(args.train_reps)
    ev = open_reps(args.eval_reps)
    va = open_reps(args.val_reps) if args.val_reps else None
    run = run_dir(args, args.train_reps[0])
    name = args.name or "probe"
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    res = run_probe(tr, ev, val_reps=va, run=run, layers=parse_layers(args.layers, tr[0].n_layers), kinds=kinds,
                    names=args.names.split(",") if args.names else None, name=name, figures=not args.no_figures,
                    **_probe_kwargs(args))
    return _done(res, run, name)


PROBE = AnalysisCommand("linear and MLP probes with grid search and repeated seeds", _probe_args, _probe_run)


# ----------------------------------------------------------------------------- directprobe
def _dp_args(p):
    add_reps_arguments(p, flag="--train-reps", help="training split representations (several sets are compared "
                                                     "layer by layer with spatial similarity)")
    p.add_argument("--eval-reps", nargs="+", default=None, metavar="DIR",
                   help="evaluation split, one per --train-reps: nearest-hull accuracy and train/eval similarity")
    add_layers_argument(p)
    p.add_argument("--max-points", type=_max_points, default=1000,
                   help="seeded stratified subsample of the training rows ('all' for every row)")
    p.add_argument("--max-eval-points", type=_max_points, default=500, help="same for the eval rows")
    p.add_argument("--no-predict", action="store_true", help="skip nearest-hull prediction of the eval rows")
    p.add_argument("--names", default=None, help="comma-separated names of the sets")
    p.add_argument("--seed", type=int, default=0)
    add_run_arguments(p)


def _dp_run(args) -> int:
    from ftgeo.runners.probing import run_directprobe
    tr = open_reps(args.train_reps)
    ev = open_reps(args.eval_reps) if args.eval_reps else None
    run = run_dir(args, args.train_reps[0])
    name = args.name or "directprobe"
    res = run_directprobe(tr, ev, run=run, layers=parse_layers(args.layers, tr[0].n_layers),
                          max_points=args.max_points, max_eval_points=args.max_eval_points,
                          predict=not args.no_predict, random_state=args.seed,
                          names=args.names.split(",") if args.names else None, name=name,
                          figures=not args.no_figures)
    return _done(res, run, name)


DIRECTPROBE = AnalysisCommand("DirectProbe clusters, inter-cluster distances, spatial similarity", _dp_args, _dp_run)


# ----------------------------------------------------------------------------- dynamics
def _dyn_args(p):
    p.add_argument("--reps", nargs="+", default=None, metavar="DIR",
                   help="representation folders in checkpoint order, the pretrained model first")
    p.add_argument("--from-run", default=None, metavar="DIR",
                   help="instead of --reps: find the stores of --model's checkpoints under DIR/reps")
    p.add_argument("--model", default=None, help="with --from-run: the fine-tuned model's name in the manifests")
    p.add_argument("--model-folder", default=None, metavar="DIR",
                   help="with --from-run: the folder `ftgeo finetune` wrote; checkpoints and steps come from it "
                        "(stores are matched by their manifest's model_id)")
    p.add_argument("--pretrained", default=None,
                   help="with --from-run: the pretrained model's name (default: --model's store without checkpoint)")
    p.add_argument("--task", default=None, help="with --from-run: only stores of this task")
    p.add_argument("--split", default=None, help="with --from-run: only stores of this split")
    p.add_argument("--pooling", default=None, help="with --from-run: only stores with this pooling")
    p.add_argument("--steps", default=None, help="training step of each set, comma-separated (default: from manifests)")
    add_layers_argument(p)
    p.add_argument("--plot-layers", default=None, help="layers drawn in the per-layer figures (default: last)")
    p.add_argument("--max-points", type=_max_points, default=1000,
                   help="seeded stratified subsample, the same rows at every checkpoint ('all' for every row)")
    p.add_argument("--center-movement", action="store_true", help="PCA of centred centroid movements")
    p.add_argument("--seed", type=int, default=0)
    add_run_arguments(p)


def _dyn_run(args) -> int:
    from ftgeo.runners.probing import discover_checkpoint_reps, run_dynamics
    if bool(args.reps) == bool(args.from_run):
        raise ValidationError("give either --reps DIR ... (checkpoint order, pretrained first) or --from-run DIR --model NAME")
    if args.from_run:
        if not (args.model or args.model_folder):
            raise ValidationError("--from-run needs --model NAME (the fine-tuned model's name in the manifests) "
                                  "or --model-folder DIR")
        found = discover_checkpoint_reps(args.from_run, args.model, pretrained=args.pretrained, task=args.task,
                                         split=args.split, pooling=args.pooling, model_folder=args.model_folder,
                                         with_steps=True)
        paths = [str(p) for p, _ in found]
        if args.steps is None and args.model_folder:
            args.steps = ",".join(str(s) for _, s in found)
        if args.run is None:
            args.run = args.from_run
    else:
        paths = args.reps
    reps = open_reps(paths)
    run = run_dir(args, paths[0])
    name = args.name or "dynamics"
    steps = _ints(args.steps)
    plot_layers = None if args.plot_layers is None else parse_layers(args.plot_layers, reps[0].n_layers)
    res = run_dynamics(reps, steps=steps, run=run, layers=parse_layers(args.layers, reps[0].n_layers),
                       max_points=args.max_points, random_state=args.seed, center_movement=args.center_movement,
                       name=name, plot_layers=plot_layers, figures=not args.no_figures)
    return _done(res, run, name)


DYNAMICS = AnalysisCommand("DirectProbe measures over fine-tuning checkpoints and layers", _dyn_args, _dyn_run)


# ----------------------------------------------------------------------------- cross-task
def _ct_args(p):
    add_reps_arguments(p, flag="--pretrained-reps", nargs=None, help="task B (train split) from the pretrained model")
    add_reps_arguments(p, flag="--finetuned-reps", nargs=None,
                       help="task B (train split) from the model fine-tuned on task A")
    p.add_argument("--pretrained-eval", default=None, metavar="DIR",
                   help="task B eval split from the pretrained model (for probe accuracy)")
    p.add_argument("--finetuned-eval", default=None, metavar="DIR",
                   help="task B eval split from the fine-tuned model (for probe accuracy)")
    add_layers_argument(p)
    p.add_argument("--max-points", type=_max_points, default=1000,
                   help="seeded stratified subsample for DirectProbe ('all' for every row)")
    p.add_argument("--kinds", default="linear", help="probe kinds for the accuracy comparison")
    _probe_options(p)
    add_run_arguments(p)


def _ct_run(args) -> int:
    from ftgeo.runners.probing import run_cross_task
    pre, ft = open_reps([args.pretrained_reps, args.finetuned_reps])
    pe = fe = None
    if args.pretrained_eval or args.finetuned_eval:
        if not (args.pretrained_eval and args.finetuned_eval):
            raise ValidationError("give both --pretrained-eval and --finetuned-eval, or neither")
        pe, fe = open_reps([args.pretrained_eval, args.finetuned_eval])
    run = run_dir(args, args.finetuned_reps)
    name = args.name or "cross_task"
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    res = run_cross_task(pre, ft, pretrained_eval=pe, finetuned_eval=fe, run=run,
                         layers=parse_layers(args.layers, pre.n_layers), max_points=args.max_points,
                         random_state=args.seed, probe_kinds=kinds, probe_options=_probe_kwargs(args), name=name,
                         figures=not args.no_figures)
    return _done(res, run, name)


CROSS_TASK = AnalysisCommand("fine-tune on task A, probe task B", _ct_args, _ct_run)
