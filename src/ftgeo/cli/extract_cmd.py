"""``ftgeo extract``: every layer's pooled representations of one task split.

Settings come from ``--config FILE`` (YAML/TOML/JSON, optionally its ``extract:`` section),
and flags given on the command line override it (``ExtractSpec.resolve``).
"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE",
                   help="YAML/TOML/JSON file with ExtractSpec fields (top level or an 'extract:' section)")
    p.add_argument("--model", default=None, help="packaged name (ftgeo list models), model folder or hub id")
    p.add_argument("--checkpoint", default=None, help="label of the model checkpoint (recorded in the manifest)")
    p.add_argument("--task", default=None, help="task name (ftgeo list tasks)")
    p.add_argument("--split", default=None, help="split (default: dev)")
    p.add_argument("--pooling", default=None, choices=["last", "cls", "mean", "word", "pair"],
                   help="last (decoders), cls (encoders), mean, word (token tasks), pair (head+dependent)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="folder with the local datasets")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--run", default=None, metavar="DIR", help="run folder: the store goes to DIR/reps/<key>")
    where.add_argument("--out", default=None, metavar="DIR", help="store folder")
    p.add_argument("--max-length", type=int, default=None, help="truncate inputs to this many tokens (default 128)")
    p.add_argument("--batch-size", type=int, default=None, help="examples per forward pass (default 32)")
    p.add_argument("--dtype", default=None, choices=["float16", "float32"], help="storage dtype (default float16)")
    p.add_argument("--max-examples", type=int, default=None, help="keep only the first N examples")
    p.add_argument("--chunk-size", type=int, default=None, help="rows per resumable chunk (default 1024)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing store written with other settings")
    p.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                   help="wait up to SECONDS for another ftgeo process writing the same folder (default 0: fail at once)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def spec_from_args(args: argparse.Namespace):
    """Defaults, then the config file, then the flags (a --run/--out flag replaces the file's run/out)."""
    from ftgeo.config import load_config_file
    from ftgeo.extract.spec import ExtractSpec
    data: dict = {}
    if args.config is not None:
        data = load_config_file(args.config)
        if isinstance(data.get("extract"), dict):
            data = data["extract"]
        data = dict(data)
    flags = {k: getattr(args, k) for k in ("model", "checkpoint", "task", "split", "pooling", "data_root", "run",
                                            "out", "max_length", "batch_size", "dtype", "max_examples",
                                            "chunk_size", "overwrite", "lock_timeout")}
    flags = {k: v for k, v in flags.items() if v is not None}
    if "run" in flags or "out" in flags:
        data.pop("run", None)
        data.pop("out", None)
    data.update(flags)
    return ExtractSpec.from_mapping(data, source=str(args.config) if args.config else "arguments")


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    store = spec.run_extract(progress=not args.no_progress)
    m = store.manifest
    extra = f", {m['dropped_targets']} word targets dropped by max_length" if m.get("dropped_targets") else ""
    print(f"{store.path}: {m['n']} x {m['dim']} x {m['n_layers']} layers ({m['dtype']}, pooling={m['pooling']}{extra})")
    return 0
