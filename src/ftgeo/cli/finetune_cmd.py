"""``ftgeo finetune``: fine-tune a model on a task with a named recipe.

Settings come from ``--config FILE`` (YAML/TOML/JSON, top level or a ``finetune:`` section);
flags given on the command line beat the file, which beats the recipe, which beats defaults
(``FinetuneSpec``). Rerunning the same command resumes an interrupted run from its last
checkpoint; a finished one is returned at once.
"""
from __future__ import annotations

import argparse

# flag attribute -> FinetuneSpec field
_FLAGS = {"model": "model", "task": "task", "recipe": "recipe", "run": "run", "out": "out", "name": "name",
          "data_root": "data_root", "train_split": "train_split", "eval_split": "eval_split",
          "max_train_samples": "max_train_samples", "max_eval_samples": "max_eval_samples", "epochs": "epochs",
          "seed": "seed", "lr": "learning_rate", "batch_size": "batch_size",
          "grad_accum": "gradient_accumulation_steps", "max_length": "max_length",
          "checkpoint_every": "checkpoint_every", "warmup_ratio": "warmup_ratio", "weight_decay": "weight_decay",
          "layer_decay": "layer_decay", "head_dropout": "head_dropout", "scheduler": "scheduler",
          "lock_timeout": "lock_timeout"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE",
                   help="YAML/TOML/JSON file with FinetuneSpec fields (top level or a 'finetune:' section)")
    p.add_argument("--model", default=None, help="packaged name (ftgeo list models), model folder or hub id")
    p.add_argument("--task", default=None, help="task name (ftgeo list tasks)")
    p.add_argument("--recipe", default=None, help="gptology, emergent or closer-look (default; ftgeo list recipes)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--run", default=None, metavar="DIR", help="run folder: the model goes to DIR/models/<name>")
    where.add_argument("--out", default=None, metavar="DIR", help="the model folder itself")
    p.add_argument("--name", default=None, help="model folder name inside --run (default model__task__recipe__sSEED)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="folder with the local datasets")
    p.add_argument("--train-split", default=None, help="training split (default train)")
    p.add_argument("--eval-split", default=None, help="evaluation split (default dev, validation or test)")
    p.add_argument("--max-train-samples", type=int, default=None, help="seeded subsample of the training split")
    p.add_argument("--max-eval-samples", type=int, default=None, help="first N examples of the eval split")
    p.add_argument("--epochs", type=float, default=None, help="epochs (default: the recipe's)")
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size per process (default: the recipe's)")
    p.add_argument("--grad-accum", type=int, default=None, help="gradient accumulation steps")
    p.add_argument("--max-length", type=int, default=None, help="truncate inputs to this many tokens")
    p.add_argument("--checkpoint-every", type=float, default=None, metavar="N|F",
                   help="save a checkpoint every N steps (N >= 1) or every fraction F of an epoch (F < 1); "
                        "default once per epoch")
    p.add_argument("--scheduler", default=None, choices=["linear", "slanted_triangular", "constant"],
                   help="learning-rate schedule (default: the recipe's)")
    p.add_argument("--warmup-ratio", type=float, default=None, help="fraction of steps warming up")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay")
    p.add_argument("--layer-decay", type=float, default=None, help="layer-wise learning-rate decay factor")
    p.add_argument("--head-dropout", type=float, default=None, help="dropout on the pooled vector")
    p.add_argument("--overwrite", action="store_true", help="replace a model folder written with other settings")
    p.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                   help="wait up to SECONDS for another ftgeo process writing the same folder (default 0: fail at once)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def spec_from_args(args: argparse.Namespace):
    """Defaults, then the config file, then the flags (a --run/--out flag replaces the file's run/out)."""
    from ftgeo.config import load_config_file
    from ftgeo.finetune.spec import FinetuneSpec
    data: dict = {}
    if getattr(args, "config", None) is not None:
        data = load_config_file(args.config)
        if isinstance(data.get("finetune"), dict):
            data = data["finetune"]
        data = dict(data)
    flags = {field: getattr(args, attr, None) for attr, field in _FLAGS.items()}
    flags = {k: v for k, v in flags.items() if v is not None}
    if "run" in flags or "out" in flags:
        data.pop("run", None)
        data.pop("out", None)
    data.update(flags)
    return FinetuneSpec.from_mapping(data, source=str(args.config) if getattr(args, "config", None) else "arguments")


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    from ftgeo.finetune.core import finetune
    res = finetune(spec.model, spec.task, progress=not args.no_progress, overwrite=bool(args.overwrite),
                   **spec.finetune_kwargs())
    fin = res.final_metrics
    print(f"{res.model_dir}: {len(res.checkpoints)} checkpoint(s), {res.meta.get('global_step')} steps; "
          f"{res.meta.get('eval_split')} accuracy {fin.get('eval_accuracy', float('nan')):.4f}, "
          f"macro-F1 {fin.get('eval_macro_f1', float('nan')):.4f}")
    return 0
