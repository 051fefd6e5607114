"""Command-line flags generated from a spec dataclass: one flag per field, one vocabulary everywhere.

A field ``max_points`` becomes ``--max-points``; its help line and default come from the field
(:func:`ftgeo.analyses.param`), so no default is written twice. Every flag defaults to ``None``
("not given"): the spec resolves flags over ``--config FILE`` over its own defaults, and does the
type checks itself (one clear line per bad value). Booleans become switches (``--debiased``, or
``--no-predict`` for a field that is on by default). Deprecated spellings (a field's ``aliases``)
keep working and print one line naming the new flag.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any, Literal

#: fields every verb handles itself (not generated)
RESERVED = ("config", "no_figures", "no_progress", "debug", "verbose")


class _Deprecated(argparse.Action):
    """Store the value under the new name and say once that the old flag is deprecated."""

    def __init__(self, option_strings, dest, new_flag: str = "", const=None, nargs=None, **kw):
        self.new_flag = new_flag
        super().__init__(option_strings, dest, nargs=nargs, const=const, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"ftgeo: {option_string} is deprecated and will be removed; use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_spec_arguments(p: argparse.ArgumentParser, spec_cls: type, *, skip: tuple[str, ...] = (),
                       group_title: str | None = None) -> None:
    """Add one flag per field of ``spec_cls`` (except ``skip`` and fields with ``cli=False``)."""
    target = p.add_argument_group(group_title) if group_title else p
    hints = typing.get_type_hints(spec_cls)
    for f in dataclasses.fields(spec_cls):
        if f.name in skip or f.name in RESERVED or not f.metadata.get("cli", True):
            continue
        _add_field(target, f, hints[f.name])


def _add_field(p, f: dataclasses.Field, hint: Any) -> None:
    help_ = f.metadata.get("help", "")
    default = f.default if f.default is not dataclasses.MISSING else None
    aliases = [a for a in f.metadata.get("aliases", ()) if a]
    if hint is bool:
        flag = flag_of(f.name) if not default else "--no-" + f.name.replace("_", "-")
        value = not default
        p.add_argument(flag, dest=f.name, action="store_const", const=value, default=None,
                       help=help_ or f"set {f.name} to {value}")
        for a in aliases:
            old = flag_of(a) if not default else "--no-" + a.replace("_", "-")
            p.add_argument(old, dest=f.name, action=_Deprecated, nargs=0, const=value, new_flag=flag,
                           default=None, help=argparse.SUPPRESS)
        return
    kw: dict[str, Any] = {"dest": f.name, "default": None, "metavar": f.metadata.get("metavar") or _metavar(f.name, hint)}
    scalar = _scalar_type(hint)
    if scalar is not None and not f.metadata.get("none"):
        kw["type"] = scalar  # argparse names the flag in its one-line error
    choices = _choices(hint)
    if choices:
        kw["choices"] = choices
        kw.pop("metavar")
    parts = ([] if default is None and "default" in help_ else ["required"] if default == ""
             else [f"default {_show(default)}"])
    if f.metadata.get("none"):
        parts.append(f"{' / '.join(f.metadata['none'])} = none")
    shown = "; ".join(parts)
    p.add_argument(flag_of(f.name), help=" ".join(x for x in (help_, f"({shown})" if shown else "") if x), **kw)
    for a in aliases:
        p.add_argument(flag_of(a), action=_Deprecated, new_flag=flag_of(f.name), help=argparse.SUPPRESS,
                       **{k: v for k, v in kw.items() if k != "metavar"})


def _scalar_type(hint: Any):
    """``int`` / ``float`` for a field typed so (or Optional of it), else None (strings, lists, unions)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) in (
        typing.Union, __import__("types").UnionType) else [hint]
    return args[0] if len(args) == 1 and args[0] in (int, float) else None


def _choices(hint: Any) -> list | None:
    args = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) in (
        typing.Union, __import__("types").UnionType) else [hint]
    if len(args) == 1 and typing.get_origin(args[0]) is Literal:
        return list(typing.get_args(args[0]))
    return None


def _metavar(name: str, hint: Any) -> str:
    if name == "layers" or name.endswith("_layers"):
        return "SPEC"
    text = str(hint)
    if "list" in text or "tuple" in text:
        return "A,B,..."
    if "int" in text:
        return "N"
    if "float" in text:
        return "X"
    return "TEXT"


def _show(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return ",".join(_show(x) for x in v) or "none"
    if isinstance(v, float):
        return f"{v:g}"
    return "none" if v is None else str(v)


def flags_from_args(args: argparse.Namespace, spec_cls: type) -> dict[str, Any]:
    """The spec fields given on the command line (flags left out are absent, not None)."""
    names = {f.name for f in dataclasses.fields(spec_cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def spec_from_args(args: argparse.Namespace, spec_cls: type, *, section: str,
                   exclusive: tuple[str, ...] = ("run", "out")):
    """Defaults, then ``--config FILE`` (its ``section`` mapping if it has one, else its top level), then
    the flags given. A flag among ``exclusive`` (``--run`` / ``--out``) replaces the file's value of every
    one of them, so a flag's output folder never collides with the file's."""
    from ftgeo.config import load_config_file
    data: dict[str, Any] = {}
    config = getattr(args, "config", None)
    if config is not None:
        loaded = load_config_file(config)
        data = dict(loaded[section] if isinstance(loaded.get(section), dict) else loaded)
    flags = flags_from_args(args, spec_cls)
    if any(k in flags for k in exclusive):
        for k in exclusive:
            data.pop(k, None)
    data.update(flags)
    return spec_cls.from_mapping(data, source=str(config) if config else "arguments")


def add_verb_arguments(p: argparse.ArgumentParser, spec_cls: type, *, section: str, skip: tuple[str, ...] = ()) -> None:
    """``--config FILE``, one flag per field of ``spec_cls`` and ``--no-progress``: a verb's whole vocabulary."""
    p.add_argument("--config", default=None, metavar="FILE",
                   help=f"YAML/TOML/JSON file with {spec_cls.__name__} fields (top level or a '{section}:' section); "
                        "flags beat the file, the file beats the defaults")
    add_spec_arguments(p, spec_cls, skip=skip)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
