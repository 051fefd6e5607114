"""``ftgeo extract``: every layer's (or ``--layers``') pooled representations of one task split.

Flags are generated from :class:`~ftgeo.extract.spec.ExtractSpec` (one per field). Settings come from
``--config FILE`` (top level or an ``extract:`` section); flags given on the command line beat the file.
"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ftgeo.cli._specargs import add_verb_arguments
    from ftgeo.extract.spec import ExtractSpec
    add_verb_arguments(p, ExtractSpec, section="extract")


def spec_from_args(args: argparse.Namespace):
    """Defaults, then the config file (its ``extract:`` section or top level), then the flags."""
    from ftgeo.cli import _specargs
    from ftgeo.extract.spec import ExtractSpec
    return _specargs.spec_from_args(args, ExtractSpec, section="extract")


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    stores = spec.run_extract(progress=not args.no_progress)
    for store in (stores.values() if isinstance(stores, dict) else [stores]):
        m = store.manifest
        extra = f", {m['dropped_targets']} word targets dropped by max_length" if m.get("dropped_targets") else ""
        which = "" if m.all_layers else f" {m.stored_layers}"
        model_dtype = f"model {m.model_dtype}, " if m.model_dtype not in (None, "float32") else ""
        print(f"{store.path}: {m['n']} x {m['dim']} x {m['n_layers']} layers{which} ({m['dtype']}, "
              f"{model_dtype}pooling={m['pooling']}{extra})")
    return 0
