"""Arguments and helpers shared by the CLI verbs (argparse-level only: no heavy imports at the top)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftgeo.errors import ValidationError


@dataclass(frozen=True)
class AnalysisCommand:
    """One ``ftgeo analyze NAME`` verb: its help line, its arguments and the function it calls."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_reps_arguments(p: argparse.ArgumentParser, *, nargs: str = "+", flag: str = "--reps",
                       help: str | None = None) -> None:
    p.add_argument(flag, nargs=nargs, required=True, metavar="DIR",
                   help=help or "representation folder(s) written by `ftgeo extract`")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=None, metavar="DIR",
                   help="run folder that receives results/ and figures/ (default: the run holding the first --reps)")
    p.add_argument("--name", default=None, help="name of the result folder (default: the analysis name)")
    p.add_argument("--no-figures", action="store_true", help="save results only")


def add_layers_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", default=None, metavar="SPEC",
                   help="layers to analyse: 'all' (default), 'last', a list '0,3,6' or a range '0-6'")


def parse_layers(spec: str | None, n_layers: int) -> list[int]:
    """Parse ``all``/``last``/``0,3,-1``/``2-5`` into sorted stored layer indices."""
    from ftgeo.reps import resolve_layer
    if spec is None or spec == "all":
        return list(range(n_layers))
    if spec == "last":
        return [n_layers - 1]
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, sep, b = part[1:].partition("-")  # a leading '-' is a negative index, not a range
        bounds = (part[0] + a, b) if sep else (part,)
        try:
            ints = [int(x) for x in bounds]
        except ValueError:
            raise ValidationError(f"--layers {spec!r}: {part!r} is not a layer index or range like 2-5") from None
        idx = [resolve_layer(i, n_layers) for i in ints]
        out.update(range(idx[0], idx[-1] + 1))
    if not out:
        raise ValidationError(f"--layers {spec!r} selects no layer")
    return sorted(out)


def open_reps(paths: list[str]) -> list:
    from ftgeo.extract import open_reps as _open
    return [_open(p) for p in paths]


def run_dir(args: argparse.Namespace, first_reps: str | Path | None = None):
    """The run folder: ``--run`` if given, else the run that holds ``first_reps`` (``<run>/reps/<set>``)."""
    from ftgeo.run import RunDir
    if getattr(args, "run", None):
        return RunDir(args.run).ensure()
    if first_reps is not None:
        p = Path(first_reps).resolve()
        if p.parent.name == "reps":
            return RunDir(p.parent.parent).ensure()
    raise ValidationError("say where to write results with --run DIR")


def number_list(spec: str | None, kind: type = int, example: str = "1,2,4,8") -> list | None:
    """Parse ``"1,2,4"`` into ``[1, 2, 4]`` (``kind`` int or float); ``None`` stays ``None``."""
    if spec is None:
        return None
    try:
        return [kind(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ValidationError(f"{spec!r} must be a comma-separated list of {what} like {example}") from None


def print_written(result, run, name: str, *, max_rows: int = 30) -> int:
    """Tell the user where an analysis wrote its result and figures, then print its summary table."""
    print(f"{result.kind}: wrote {run.result_dir(name)}")
    for f in result.meta.get("figures", []):
        print(f"  figure {run.figures / f}.png (+ .svg)")
    try:
        import pandas as pd
        with pd.option_context("display.max_rows", max_rows, "display.width", 140):
            print(result.summary().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    except Exception:  # a summary print must never fail the command
        pass
    return 0
