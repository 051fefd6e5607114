"""``ftgeo finetune``: fine-tune a model on a task with a named recipe.

Flags are generated from :class:`~ftgeo.finetune.spec.FinetuneSpec` (one per field; deprecated spellings
such as ``--lr`` and ``--max-train-samples`` still work with a warning). Settings come from ``--config
FILE`` (top level or a ``finetune:`` section); flags given on the command line beat the file, which beats
the recipe, which beats the defaults. Rerunning the same command resumes an interrupted run from its
last checkpoint; a finished one is returned at once.
"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ftgeo.cli._specargs import add_verb_arguments
    from ftgeo.finetune.spec import FinetuneSpec
    add_verb_arguments(p, FinetuneSpec, section="finetune")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model folder written with other settings (only the files ftgeo wrote)")


def spec_from_args(args: argparse.Namespace):
    """Defaults, then the config file (its ``finetune:`` section or top level), then the flags."""
    from ftgeo.cli import _specargs
    from ftgeo.finetune.spec import FinetuneSpec
    return _specargs.spec_from_args(args, FinetuneSpec, section="finetune")


def run(args: argparse.Namespace) -> int:
    from ftgeo.finetune.core import finetune
    spec = spec_from_args(args)
    if len(spec.seed_list()) > 1 and (spec.out is not None or spec.name is not None):
        from ftgeo.errors import ValidationError
        raise ValidationError("several --seeds need --run (each seed gets its own model folder there), "
                              "not --out or --name")
    for seed in spec.seed_list():
        kwargs = {**spec.finetune_kwargs(), "seed": seed}
        res = finetune(spec.model, spec.task, progress=not args.no_progress, overwrite=bool(args.overwrite), **kwargs)
        fin = res.final_metrics
        print(f"{res.model_dir}: {len(res.checkpoints)} checkpoint(s), {res.meta.get('global_step')} steps; "
              f"{res.meta.get('eval_split')} accuracy {fin.get('eval_accuracy', float('nan')):.4f}, "
              f"macro-F1 {fin.get('eval_macro_f1', float('nan')):.4f}")
    return 0
