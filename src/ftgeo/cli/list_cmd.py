"""``ftgeo list tasks|models|analyses|recipes|reps``."""
from __future__ import annotations

import argparse
import importlib

_WHAT = {
    "tasks": "ftgeo.data:TASKS",
    "models": "ftgeo.models:MODELS",
    "analyses": "ftgeo.cli.analyses:ANALYSES",
    "recipes": "ftgeo.finetune:RECIPES",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=[*_WHAT, "reps"], help="what to list")
    p.add_argument("--run", default=None, help="with 'reps': the run folder to look in")


def run(args: argparse.Namespace) -> int:
    if args.what == "reps":
        from ftgeo.extract import list_reps
        for line in list_reps(args.run or "."):
            print(line)
        return 0
    module, attr = _WHAT[args.what].split(":")
    registry = getattr(importlib.import_module(module), attr)
    width = max((len(n) for n in registry.names()), default=0)
    for name in registry.names():
        print(f"{name:<{width}}  {registry._help.get(name, '')}")
    return 0
