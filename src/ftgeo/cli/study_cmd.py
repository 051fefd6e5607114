"""``ftgeo study NAME [NAME ...]``: run whole papers' studies in one run folder."""
from __future__ import annotations

import argparse


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per :class:`~ftgeo.studies.base.StudySpec` field (flags beat --config beat defaults)."""
    from ftgeo.cli._specargs import add_spec_arguments
    from ftgeo.studies.base import StudySpec
    p.add_argument("--run", default=None, metavar="DIR", help="run folder (default runs/<model>-<task>)")
    p.add_argument("--config", default=None, metavar="FILE", help="YAML/TOML/JSON with StudySpec fields")
    add_spec_arguments(p, StudySpec)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def spec_from_args(args: argparse.Namespace, **defaults):
    from ftgeo.cli._specargs import flags_from_args
    from ftgeo.studies.base import StudySpec
    flags = flags_from_args(args, StudySpec)
    for k, v in defaults.items():
        flags.setdefault(k, v)
    return StudySpec.resolve(args.config, **flags)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("studies", nargs="*", metavar="STUDY",
                   help="gptology, emergent and/or closer-look (default: the config's 'studies:')")
    add_study_arguments(p)
    p.add_argument("--only", default=None, metavar="RUNS",
                   help="a replication config's runs to run now, comma-separated (e.g. one process per run); a "
                        "later call without --only adds the steps across runs and the verdicts")


def run(args: argparse.Namespace) -> int:
    """One study run, or a replication (a config with 'runs:', see ftgeo.studies.replication)."""
    from ftgeo.cli._specargs import flags_from_args
    from ftgeo.errors import ValidationError
    from ftgeo.studies.base import StudySpec
    from ftgeo.studies.replication import read_plan, run_plan
    plan = read_plan(args.config, flags_from_args(args, StudySpec), args.studies or None, args.run)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only is not None else None
    if plan.is_replication:
        return _finish(run_plan(plan, progress=not args.no_progress, only=only))
    if only is not None:
        raise ValidationError("--only needs a replication config (one with 'runs:'); this study has a single run")
    from ftgeo.studies import run_study
    spec = plan.specs[""]
    run_folder = plan.run or f"runs/{spec.model}-{spec.task}".replace("/", "_")
    ctx = run_study(plan.studies, spec, run_folder, progress=not args.no_progress)
    return _finish(ctx)


def _finish(ctx) -> int:
    print(f"report: {ctx.run.report}")
    if ctx.failed:
        print(f"{len(ctx.failed)} step(s) failed: " + "; ".join(f"{s.study}/{s.step}: {s.error}" for s in ctx.failed))
        return 1
    return 0
