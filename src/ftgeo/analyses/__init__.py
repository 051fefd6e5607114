"""Every analysis of ftgeo, one module each, registered with :func:`register_analysis`.

A module ``ftgeo/analyses/<name>.py`` holds one analysis whole: its parameters (an
:class:`AnalysisSpec`), its Result class, its Display(s) and its runner, registered with a
decorator. The pure numeric core it calls lives in :mod:`ftgeo.analysis` (arrays in, arrays out).
``ftgeo analyze``, ``ftgeo list analyses``, the report's sections and the studies are derived from
:data:`ANALYSES`; see ``docs/adding-an-analysis.md``.

    >>> from ftgeo.analyses import analyze
    >>> res = analyze("cka", pre, post, run="runs/x", kernel="rbf")     # doctest: +SKIP
"""
from __future__ import annotations

from ftgeo.analyses._registry import ANALYSES, FAMILIES, Analysis, Family, analyze, register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param



def discover_result_kinds() -> None:
    """Import every analysis module (their Result classes register their kinds): the hook
    :func:`ftgeo.results.result_class` calls to load a saved result in a fresh process."""
    ANALYSES.discover()


__all__ = ["ANALYSES", "FAMILIES", "Analysis", "AnalysisSpec", "Family", "Input", "Layers", "analyze", "param",
           "register_analysis"]
