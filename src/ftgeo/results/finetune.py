"""``FinetuneResult`` (kind ``finetune``), defined in :mod:`ftgeo.finetune.result`; imported here so
that :func:`ftgeo.results.load_result` finds the class in a fresh process."""
from ftgeo.finetune.result import FinetuneResult

__all__ = ["FinetuneResult"]
