"""Findings: sentences with the numbers of the saved results, for the top of the report.

Each Result class may override :meth:`ftgeo.results.Result.findings` (next to its analysis, in
``src/ftgeo/analyses/<name>.py``) and return sentences built from its tables with the helpers here:
:func:`num` formats a number, :func:`with_ci` adds the ``[90% CI low, high]`` where the table has the
``<col>_low`` / ``<col>_high`` columns (older results without them get the bare number). The report
(:func:`collect`) groups the sentences per family (paper) in the registry's order and links each one to
its result's section or figure.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

__all__ = ["num", "pct", "with_ci", "row_ci", "layer_list", "collect", "Finding"]


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x, digits: int = 3) -> str:
    """``0.826`` (3 significant digits), ``n/a`` for NaN/None, integers as integers."""
    if not _finite(x):
        return "n/a"
    x = float(x)
    if x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.{digits}g}"


def pct(x, digits: int = 2) -> str:
    """``0.43%`` for 0.0043 (``n/a`` for NaN)."""
    return f"{100 * float(x):.{digits}g}%" if _finite(x) else "n/a"


def with_ci(value, low=None, high=None, level: float | None = 0.9, digits: int = 3, percent: bool = False) -> str:
    """``0.826 [90% CI 0.81, 0.84]``, or just ``0.826`` when the bounds are missing or NaN;
    ``percent=True`` writes shares as percentages. A jackknife interval is centred on the bias-corrected
    estimate and can leave out the plug-in value; the sentence then says so (``bias-corrected CI``)."""
    f = (lambda x: pct(x, digits)) if percent else (lambda x: num(x, digits))
    s = f(value)
    if _finite(low) and _finite(high):
        lev = f"{100 * level:.0f}% " if level else ""
        outside = _finite(value) and not (float(low) <= float(value) <= float(high))
        s += f" [{lev}{'bias-corrected ' if outside else ''}CI {f(low)}, {f(high)}]"
    return s


def row_ci(row, col: str, level: float | None = 0.9, digits: int = 3, percent: bool = False) -> str:
    """:func:`with_ci` of ``row[col]`` with ``row[col_low]`` / ``row[col_high]`` where the row has them."""
    get = row.get if hasattr(row, "get") else (lambda k, d=None: d)
    return with_ci(get(col), get(f"{col}_low"), get(f"{col}_high"), level, digits, percent)


def level_of(result, default: float = 0.9) -> float:
    """The confidence level recorded in a result (``meta["ci_level"]`` or its params), default 0.9."""
    meta = getattr(result, "meta", {}) or {}
    lev = meta.get("ci_level", (meta.get("params") or {}).get("ci_level"))
    return float(lev) if _finite(lev) else default


def layer_list(layers: Iterable) -> str:
    """``1-3, 5`` for [1, 2, 3, 5]."""
    xs = sorted({int(l) for l in layers})
    if not xs:
        return "none"
    parts, start, prev = [], xs[0], xs[0]
    for x in xs[1:] + [None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(parts)


class Finding:
    """One sentence of a result: its text, the result folder it comes from and the figure it links to."""

    __slots__ = ("text", "name", "figure")

    def __init__(self, text: str, name: str, figure: str | None = None):
        self.text, self.name, self.figure = text, name, figure

    @property
    def anchor(self) -> str:
        return f"f-{self.name}_{self.figure}" if self.figure else f"r-{self.name}"

    def __repr__(self) -> str:
        return f"Finding({self.text!r}, {self.name!r}, {self.figure!r})"


def findings_of(name: str, result: Any) -> tuple[list[Finding], str | None]:
    """The findings of one result, and the one-line reason if its generator failed (never raises)."""
    try:
        raw = result.findings() if hasattr(result, "findings") else []
    except Exception as exc:  # noqa: BLE001 - a broken generator must not break the report
        return [], f"{name}: findings could not be generated ({type(exc).__name__}: {exc})"
    out = []
    for item in raw or []:
        if isinstance(item, tuple):
            out.append(Finding(str(item[0]), name, item[1] if len(item) > 1 else None))
        elif item:
            out.append(Finding(str(item), name))
    return out, None


def collect(grouped: list[tuple[str, list]]) -> list[tuple[str, list[Finding], list[str]]]:
    """``[(section title, findings, problems), ...]`` for the report's sections, in their order."""
    out = []
    for title, items in grouped:
        found, problems = [], []
        for name, res in items:
            f, why = findings_of(name, res)
            found += f
            if why:
                problems.append(why)
        if found or problems:
            out.append((title, found, problems))
    return out


def same_layer(table, value: str = "value", layer: str = "layer"):
    """Rows of a tidy table sorted by layer with finite values (helper for the generators)."""
    t = table[np.isfinite(table[value].to_numpy(float))] if len(table) else table
    return t.sort_values(layer)
