"""Parameters and inputs of a registered analysis.

An analysis declares its parameters once, as a frozen :class:`AnalysisSpec` dataclass whose
fields carry their defaults and help (:func:`param`). Everything else is derived from it: the
keyword arguments of the Python function, the flags of ``ftgeo analyze NAME``, the keys a config
file may hold, and the ``params`` recorded in the saved result. Its inputs (representation sets)
are declared as :class:`Input` objects.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

from ftgeo.config import Spec, param  # noqa: F401 - param is part of this module's API

#: A layer selection: ``None`` (the analysis' default), an index (negative from the end), a list of
#: indices, or a string ``all`` / ``last`` / ``0,3,-1`` / ``2-5``. Resolved against a set's layers
#: by :func:`ftgeo.analyses._inputs.select_layers`.
Layers = Union[int, list[int], str, None]


@dataclass(frozen=True)
class AnalysisSpec(Spec):
    """Base class of every analysis' parameters (a frozen, validated dataclass)."""

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
    and a list else. ``required=False``: the input may be left out. ``run_from``: on the command line,
    without ``--run`` the result goes to the run folder holding this input's first set (default: the
    first input's).
    """

    name: str
    n: tuple[int, int | None] = (1, 1)
    help: str = ""
    param: str | None = None
    spread: bool = False
    required: bool = True
    run_from: bool = False

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
