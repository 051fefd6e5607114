"""``ftgeo list tasks|models|analyses|recipes|studies|claims|reps``."""
from __future__ import annotations

import argparse
import importlib

_WHAT = {
    "tasks": "ftgeo.data:TASKS",
    "models": "ftgeo.models:MODELS",
    "recipes": "ftgeo.finetune:RECIPES",
    "studies": "ftgeo.studies:STUDIES",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=[*_WHAT, "analyses", "claims", "reps"], help="what to list")
    p.add_argument("--run", default=None, help="with 'reps': the run folder to look in")


def run(args: argparse.Namespace) -> int:
    if args.what == "reps":
        from ftgeo.extract import list_reps
        for line in list_reps(args.run or "."):
            print(line)
        return 0
    if args.what == "analyses":
        from ftgeo.cli.analyze_cmd import analyses_listing
        print(analyses_listing(), end="")
        return 0
    if args.what == "claims":
        print(claims_listing(), end="")
        return 0
    module, attr = _WHAT[args.what].split(":")
    registry = getattr(importlib.import_module(module), attr)
    width = max((len(n) for n in registry.names()), default=0)
    for name in registry.names():
        print(f"{name:<{width}}  {registry.help(name)}")
    return 0


def claims_listing() -> str:
    """Every registered claim, one line each: ``study/id  statement (direction threshold)``."""
    from ftgeo.studies.claims import CLAIMS, CLAIMS_LOADED
    CLAIMS_LOADED.load()
    claims = {n: CLAIMS.get(n) for n in CLAIMS.names()}
    width = max((len(n) for n in claims), default=0)
    return "".join(f"{n:<{width}}  {c.statement} ({c.direction} {c.threshold:g})\n" for n, c in claims.items())
