"""``ftgeo compare RUN RUN [RUN ...]``: the same results of several runs side by side, as ``compare.html``."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (two or more) written by `ftgeo study`/`demo`/`analyze --run`")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="the HTML file to write (default: compare.html next to the first run)")
    p.add_argument("--names", default=None, metavar="A,B,...", help="one name per run, comma-separated (default: the folders' names)")
    p.add_argument("--title", default=None)


def run(args: argparse.Namespace) -> int:
    from ftgeo.report import compare_runs
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    path = compare_runs(args.runs, out=args.out, names=names, title=args.title)
    print(f"comparison written to {path}")
    return 0
