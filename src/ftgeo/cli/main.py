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
import io
import os
import sys
import traceback

from ftgeo import __version__
from ftgeo.cli._usage import one_line_usage_error
from ftgeo.errors import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, explain

# verb -> (module, one-line help)
VERBS = {
    "list": ("ftgeo.cli.list_cmd", "list registered tasks, models, analyses, recipes or stored representations"),
    "extract": ("ftgeo.cli.extract_cmd", "extract every layer's pooled representations of a task split"),
    "finetune": ("ftgeo.cli.finetune_cmd", "fine-tune a model on a task with a named recipe"),
    "analyze": ("ftgeo.cli.analyze_cmd", "run one analysis on extracted representations"),
    "study": ("ftgeo.cli.study_cmd", "run one paper's whole study (fine-tune, extract, analyse, report)"),
    "claims": ("ftgeo.cli.claims_cmd", "check each paper's claims on a run's saved results and list the verdicts"),
    "report": ("ftgeo.cli.report_cmd", "write the HTML report of a run folder from its saved results"),
    "compare": ("ftgeo.cli.compare_cmd", "put the same results of several runs side by side in compare.html"),
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
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("FTGEO_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    verbose = "--verbose" in argv
    argv = [a for a in argv if a not in ("--debug", "--verbose")]  # accepted anywhere on the line
    parser = build_parser()
    _add_error_handling(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    return _run_guarded(args, debug=debug, verbose=verbose)


# ---------------------------------------------------------------------------------------------- errors
# The error boundary of the command. Rules (docs: README "Errors"):
# * every failure ends in ONE line on stderr, "ftgeo VERB: error: <what>; <how to fix>", and an exit code:
#   0 ok, 1 failure (disk full, I/O, out of memory, a bug), 2 bad input (arguments, names, files,
#   configs, paths; fix it and rerun), 130 interrupted (Ctrl-C; rerun to resume), 141 stdout closed;
# * ftgeo's own errors (FtgeoError) print their message; OS, decoding and parse errors are worded by
#   ftgeo.errors.explain (errno -> "disk full: free space under X", "permission denied: X", ...);
# * anything else is a bug (or an input nobody checks yet): "internal error (Type: message)" plus the
#   request to rerun with --debug and report it;
# * --debug (anywhere on the line, or FTGEO_DEBUG=1) prints the full traceback before that line.

def _run_guarded(args: argparse.Namespace, *, debug: bool = False, verbose: bool = False) -> int:
    """Run the verb; turn every exception into one line on stderr and an exit code (see the rules above)."""
    from ftgeo.progress import quiet_warnings
    verb = getattr(args, "verb", None) or "ftgeo"
    try:
        with _progress_env(bool(getattr(args, "no_progress", False))), _verbose_env(verbose), quiet_warnings():
            return int(args._run(args) or 0)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"ftgeo {verb}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the boundary: everything becomes one line
        message, code, expected = explain(exc)
        if debug:
            traceback.print_exc()
        if not expected:
            message += ("; the traceback is above: please report it" if debug else
                        "; rerun with --debug to see the traceback and please report it")
        print(f"ftgeo {verb}: error: {message}", file=sys.stderr)
        return code


def _stdout_to_devnull() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def _add_error_handling(parser: argparse.ArgumentParser) -> None:
    """``--debug`` in ``ftgeo --help``, and one-line usage errors (with a "did you mean") for every (sub)parser."""
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback too (accepted anywhere on the line)")
    parser.add_argument("--verbose", action="store_true",
                        help="show everything: every progress bar (transformers' weight loading and GGUF conversion "
                             "too) and Python warnings as Python prints them (default: one bar per step, warnings "
                             "as one-line notes; accepted anywhere on the line)")
    seen: set[int] = set()

    def patch(p: argparse.ArgumentParser) -> None:
        if id(p) in seen:
            return
        seen.add(id(p))
        p.error = one_line_usage_error(p)  # type: ignore[method-assign]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    patch(sub)
    patch(parser)




@contextlib.contextmanager
def _verbose_env(on: bool):
    """``--verbose`` sets ``FTGEO_VERBOSE=1`` while the verb runs (read by :mod:`ftgeo.progress`); restored afterwards."""
    before = os.environ.get("FTGEO_VERBOSE")
    if on:
        os.environ["FTGEO_VERBOSE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FTGEO_VERBOSE", None)
        else:
            os.environ["FTGEO_VERBOSE"] = before


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
