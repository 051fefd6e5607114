"""``ftgeo analyze NAME ...``: one registered analysis on extracted representations.

Every verb is generated from the registry (:data:`ftgeo.analyses.ANALYSES`): its input flags from
the analysis' :class:`~ftgeo.analyses.Input` declarations, its parameter flags from its spec, plus
the flags every verb shares (``--config``, ``--run``, ``--name``, ``--no-figures``, ``--no-progress``).
The analyses are imported only when this verb runs, so ``ftgeo --help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


class _ListingFormatter(argparse.HelpFormatter):
    """``ftgeo analyze --help`` ends with the registered analyses (imported only when help is asked for)."""

    def format_help(self) -> str:
        return super().format_help() + "\n" + analyses_listing()


def analyses_listing() -> str:
    from ftgeo.analyses import ANALYSES, FAMILIES
    lines, family = ["analyses (ftgeo analyze NAME --help for its flags):"], None
    for a in ANALYSES.in_order():
        if a.family != family:
            family = a.family
            lines.append(f"  {FAMILIES[family].title}")
        lines.append(f"    {a.name:<14}{a.help}")
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = _ListingFormatter
    p.add_argument("analysis", nargs="?", metavar="NAME", help="the analysis to run (listed below)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def build_analysis_parser(analysis) -> argparse.ArgumentParser:
    """The parser of ``ftgeo analyze NAME``: inputs, parameters and the shared flags."""
    from ftgeo.cli._specargs import add_spec_arguments
    from ftgeo.cli._usage import one_line_usage_error
    ap = argparse.ArgumentParser(prog=f"ftgeo analyze {analysis.name}", description=analysis.help)
    ap.error = one_line_usage_error(ap)  # type: ignore[method-assign]
    if analysis.cli is not None:
        analysis.cli.add_arguments(ap)
    else:
        for inp in analysis.inputs:
            least, most = inp.n
            ap.add_argument(inp.flag, dest=f"input_{inp.name}", required=inp.required and least > 0,
                            nargs=None if most == 1 else "+", metavar="DIR",
                            help=(inp.help or "representation folder(s) written by `ftgeo extract`")
                            + f" ({inp.describe_count()})")
    add_spec_arguments(ap, analysis.spec, group_title="parameters")
    add_common_arguments(ap, analysis.default_name)
    return ap


def add_common_arguments(ap: argparse.ArgumentParser, default_name: str) -> None:
    g = ap.add_argument_group("output")
    g.add_argument("--config", default=None, metavar="FILE",
                   help="YAML/TOML/JSON with parameter values (top level, or a section named after the analysis); "
                        "flags beat the file, the file beats the defaults")
    g.add_argument("--run", default=None, metavar="DIR",
                   help="run folder that receives results/ and figures/ (default: the run holding the first input)")
    g.add_argument("--name", default=None, help=f"name of the result folder (default: {default_name})")
    g.add_argument("--no-figures", action="store_true", help="save results only")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ftgeo.analyses import ANALYSES
    if not args.analysis or args.analysis in ("-h", "--help"):
        print(analyses_listing(), end="")
        return 0 if args.analysis else 2
    analysis = ANALYSES.get(args.analysis)        # unknown name: did-you-mean, exit 2
    ns = build_analysis_parser(analysis).parse_args(args.rest)
    return run_analysis(analysis, ns)


def run_analysis(analysis, ns: argparse.Namespace) -> int:
    from ftgeo.cli._specargs import flags_from_args
    from ftgeo.extract import open_reps
    if analysis.cli is not None:
        given, extra, first = analysis.cli.resolve(ns)
    else:
        given, extra, first = {}, {}, None
        for inp in analysis.inputs:
            paths = getattr(ns, f"input_{inp.name}")
            paths = [] if paths is None else ([paths] if isinstance(paths, str) else list(paths))
            _check_count(analysis, inp, paths)
            given[inp.name] = [open_reps(p) for p in paths]
            if paths and (first is None or inp.run_from):
                first = paths[0]
    spec = analysis.spec.resolve_for(ns.config, analysis.name, flags_from_args(ns, analysis.spec))
    run = run_folder(ns, first)
    name = ns.name or analysis.default_name
    result = analysis.call_from_inputs(given, spec=spec, run=run, name=name, figures=not ns.no_figures,
                                       progress=not ns.no_progress, **extra)
    return print_written(result, run, name)


def _check_count(analysis, inp, paths) -> None:
    least, most = inp.n
    if (paths or inp.required) and (len(paths) < least or (most is not None and len(paths) > most)):
        from ftgeo.errors import ValidationError
        raise ValidationError(f"analyze {analysis.name}: {inp.flag} takes {inp.describe_count()}; "
                              f"got {len(paths)}")


def run_folder(ns: argparse.Namespace, first_input: str | Path | None):
    """``--run`` if given, else the run that holds the first input (``<run>/reps/<set>``)."""
    from ftgeo.errors import ValidationError
    from ftgeo.run import RunDir
    if getattr(ns, "run", None):
        return RunDir(ns.run).ensure()
    if first_input is not None:
        p = Path(first_input).resolve()
        if p.parent.name == "reps":
            return RunDir(p.parent.parent).ensure()
    raise ValidationError("say where to write results with --run DIR")


def print_written(result, run, name: str, *, max_rows: int = 30) -> int:
    """Tell the user where the analysis wrote its result and figures, then print its summary table."""
    print(f"{result.kind}: wrote {run.result_dir(name)}")
    for f in result.meta.get("figures", []):
        print(f"  figure {run.figures / f}.png (+ .svg)")
    try:
        import pandas as pd
        with pd.option_context("display.max_rows", max_rows, "display.width", 140):
            print(result.summary().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    except Exception as exc:  # noqa: BLE001 - a summary print must never fail the command
        print(f"(no summary table: {exc})", file=sys.stderr)
    return 0
