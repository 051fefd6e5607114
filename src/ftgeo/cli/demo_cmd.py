"""``ftgeo demo``: the main job (all three studies on the packaged models and local SST-2)."""
from __future__ import annotations

import argparse

from ftgeo.cli.study_cmd import _finish, add_study_arguments, spec_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_study_arguments(p)
    p.add_argument("--no-decoder", action="store_true", help="skip the SmolLM2 decoder showcase")


def run(args: argparse.Namespace) -> int:
    from ftgeo.studies.demo import DEMO_DEFAULTS, run_demo
    spec = spec_from_args(args, **DEMO_DEFAULTS)
    ctx = run_demo(spec, args.run or "runs/demo", decoder=not args.no_decoder, progress=not args.no_progress)
    return _finish(ctx)
