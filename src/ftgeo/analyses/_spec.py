"""Parameters and inputs of a registered analysis.

An analysis declares its parameters once, as a frozen :class:`AnalysisSpec` dataclass whose
fields carry their defaults and help (:func:`param`). Everything else is derived from it: the
keyword arguments of the Python function, the flags of ``ftgeo analyze NAME``, the keys a config
file may hold, and the ``params`` recorded in the saved result. Its inputs (representation sets)
are declared as :class:`Input` objects.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Union

from ftgeo.config import Spec

#: A layer selection: ``None`` (the analysis' default), an index (negative from the end), a list of
#: indices, or a string ``all`` / ``last`` / ``0,3,-1`` / ``2-5``. Resolved against a set's layers
#: by :func:`ftgeo.analyses._inputs.select_layers`.
Layers = Union[int, list[int], str, None]


def param(default: Any = None, help: str = "", *, aliases: tuple[str, ...] = (), none: tuple[str, ...] = (),
          cli: bool = True, metavar: str | None = None) -> Any:
    """A spec field: its ``default``, one ``help`` line, deprecated ``aliases`` (old names that still
    work for one release, with a warning), and ``none`` words that mean ``None`` on the command line
    or in a config file (``--max-points all``). ``cli=False`` keeps a field out of the command line;
    ``metavar`` names the flag's value in ``--help`` (default: from the type)."""
    meta = {"help": help, "aliases": tuple(aliases), "none": tuple(w.lower() for w in none), "cli": cli,
            "metavar": metavar}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple (or None) as a spec default, not a mutable container")
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class AnalysisSpec(Spec):
    """Base class of every analysis' parameters (a frozen, validated dataclass)."""

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """Deprecated name -> current field name."""
        return {a: f.name for f in dataclasses.fields(cls) for a in f.metadata.get("aliases", ())}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> "AnalysisSpec":
        """As :meth:`Spec.from_mapping`, after renaming deprecated keys (with a warning) and mapping the
        fields' ``none`` words (e.g. ``"all"``) to ``None``."""
        data = dict(data)
        for old, new in cls.aliases().items():
            if old in data:
                warnings.warn(f"{source}: {old!r} is deprecated; use {new!r}", FutureWarning, stacklevel=4)
                value = data.pop(old)
                data.setdefault(new, value)
        for f in dataclasses.fields(cls):
            v = data.get(f.name)
            if v is not None and not isinstance(v, bool) and str(v).strip().lower() in f.metadata.get("none", ()):
                data[f.name] = None
        return super().from_mapping(data, source=source)

    @classmethod
    def build(cls, spec: "AnalysisSpec | Mapping[str, Any] | None" = None, params: Mapping[str, Any] | None = None,
              *, source: str = "arguments") -> "AnalysisSpec":
        """``params`` over ``spec`` (a spec or a mapping) over the defaults, validated."""
        base = spec.to_dict() if isinstance(spec, Spec) else dict(spec or {})
        base.update(params or {})
        return cls.from_mapping(base, source=source)

    @classmethod
    def resolve_for(cls, file: str | None, section: str, flags: Mapping[str, Any]) -> "AnalysisSpec":
        """Defaults, then ``file`` (its ``section`` mapping if it has one, else its top level), then
        ``flags`` -- the command line's order of precedence."""
        data: dict[str, Any] = {}
        if file is not None:
            from ftgeo.config import load_config_file
            loaded = load_config_file(file)
            data.update(loaded[section] if isinstance(loaded.get(section), dict) else loaded)
        data.update(flags)
        return cls.from_mapping(data, source=str(file) if file else "arguments")


@dataclass(frozen=True)
class Input:
    """One input of an analysis: representation sets given on the command line as ``--<name> DIR ...``.

    ``n``: (least, most) number of sets; ``most=None`` for any number. ``param``: the Python argument
    that receives them (default ``name``). ``spread``: pass the sets as consecutive positional
    arguments starting at ``param`` (``run_cka(pre, post)``); otherwise a single set when ``most == 1``
    and a list else. ``required=False``: the input may be left out.
    """

    name: str
    n: tuple[int, int | None] = (1, 1)
    help: str = ""
    param: str | None = None
    spread: bool = False
    required: bool = True

    @property
    def arg(self) -> str:
        return self.param or self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe_count(self) -> str:
        """``1 set``, ``2 sets``, ``1 or 2 sets``, ``1 or more sets``."""
        least, most = self.n
        if most == least:
            return f"{least} set" + ("s" if least != 1 else "")
        if most is None:
            return f"{least} or more sets"
        return f"{least} or {most} sets" if most == least + 1 else f"{least} to {most} sets"
