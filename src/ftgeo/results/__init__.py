"""Typed analysis results that save to and load from a folder (tidy CSV tables, .npz arrays, JSON metadata)."""
from ftgeo.results.base import Result, load_result, result_class

__all__ = ["Result", "load_result", "result_class"]
