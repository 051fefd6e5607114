"""``ftgeo analyze NAME ...``: one analysis on extracted representations."""
from __future__ import annotations

import argparse

from ftgeo.cli.analyses import ANALYSES


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="analysis", metavar="ANALYSIS")
    for name in ANALYSES.names():
        try:
            cmd = ANALYSES.get(name)
        except (ModuleNotFoundError, AttributeError):
            continue  # not built yet
        ap = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(ap)
        ap.set_defaults(_analysis_run=cmd.run)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "_analysis_run", None):
        print("ftgeo analyze: name an analysis: " + ", ".join(ANALYSES.names()))
        return 2
    return int(args._analysis_run(args) or 0)
