"""``ftgeo report --run DIR``: the HTML report of a run from its saved results."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="DIR", help="run folder holding results/ and figures/")
    p.add_argument("--title", default=None)
    p.add_argument("--redraw", action="store_true",
                   help="draw every figure again from the saved tables (figures missing from the run are always drawn)")


def run(args: argparse.Namespace) -> int:
    from ftgeo.report import write_report
    path = write_report(args.run, title=args.title, redraw=args.redraw)
    print(f"report written to {path}")
    return 0
