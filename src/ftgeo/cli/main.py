"""Entry point of the ``ftgeo`` command.

Every verb is a module with ``add_arguments(parser)`` and ``run(args) -> int``; it imports
only argparse-level code at the top, so ``ftgeo --help`` is instant, and calls one public
Python function. ``ftgeo analyze NAME`` dispatches through the analysis registry
(:data:`ftgeo.analyses.ANALYSES`).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from ftgeo import __version__
from ftgeo.errors import FtgeoError

# verb -> (module, one-line help)
VERBS = {
    "list": ("ftgeo.cli.list_cmd", "list registered tasks, models, analyses, recipes or stored representations"),
    "extract": ("ftgeo.cli.extract_cmd", "extract every layer's pooled representations of a task split"),
    "finetune": ("ftgeo.cli.finetune_cmd", "fine-tune a model on a task with a named recipe"),
    "analyze": ("ftgeo.cli.analyze_cmd", "run one analysis on extracted representations"),
    "study": ("ftgeo.cli.study_cmd", "run one paper's whole study (fine-tune, extract, analyse, report)"),
    "report": ("ftgeo.cli.report_cmd", "write the HTML report of a run folder from its saved results"),
    "demo": ("ftgeo.cli.demo_cmd", "the main job: a small end-to-end study on the packaged models and local data"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftgeo", description="ftgeo: how fine-tuning reshapes the geometry of transformer representations.")
    parser.add_argument("--version", action="version", version=f"ftgeo {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module, help_) in VERBS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue  # verb not built yet
        p = sub.add_parser(verb, help=help_, description=help_)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        with _progress_env(bool(getattr(args, "no_progress", False))):
            return int(args._run(args) or 0)
    except FtgeoError as exc:
        print(f"ftgeo {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ftgeo {args.verb}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _progress_env(off: bool):
    """``--no-progress`` silences every bar of the command, transformers' own (weight loading, shard
    writing) included, by setting ``FTGEO_NO_PROGRESS=1`` while the verb runs; restored afterwards."""
    before = os.environ.get("FTGEO_NO_PROGRESS")
    if off:
        os.environ["FTGEO_NO_PROGRESS"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FTGEO_NO_PROGRESS", None)
        else:
            os.environ["FTGEO_NO_PROGRESS"] = before


if __name__ == "__main__":
    sys.exit(main())
