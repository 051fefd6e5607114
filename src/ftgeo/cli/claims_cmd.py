"""``ftgeo claims RUN``: check each paper's claims on the saved results of a run and list the verdicts."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `ftgeo study` (or `ftgeo analyze --run`)")
    p.add_argument("--study", action="append", default=None, metavar="NAME",
                   help="only this study's claims (repeatable; default: every study)")
    p.add_argument("--all", action="store_true", help="also list the claims whose results the run does not have")
    p.add_argument("--no-save", action="store_true", help="do not save the verdicts as RUN/results/claims")


def run(args: argparse.Namespace) -> int:
    from ftgeo.errors import DataNotFoundError
    from ftgeo.run import RunDir
    from ftgeo.studies import STUDIES
    from ftgeo.studies.claims import check_claims, runs_of, verdict_lines
    root = RunDir(args.run)
    if not root.root.is_dir():
        raise DataNotFoundError(f"{root.root} is not a run folder (it does not exist)")
    studies = args.study or STUDIES.names()
    for s in studies:
        STUDIES.get(s)                                   # unknown study: did-you-mean
    res = check_claims(studies, runs_of(root))
    if not args.no_save:
        res.save(root.result_dir("claims"))
    lines = verdict_lines(res, include_not_run=args.all)
    print("\n".join(lines) if lines else f"no claim could be checked: {root.root} has none of the results they read "
                                        "(run `ftgeo study ...` there, or pass --all to list them)")
    return 0
