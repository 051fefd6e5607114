"""Typed analysis results that save to and load from a folder (tidy CSV tables, .npz arrays, JSON metadata)."""
from ftgeo.results.base import IncompleteResultError, Result, load_result, result_class, save_result

__all__ = ["IncompleteResultError", "Result", "load_result", "result_class", "save_result"]
