"""``FinetuneResult`` lives in :mod:`ftgeo.results.finetune` (with the other result types); this
module keeps the old import path working."""
from ftgeo.results.finetune import METRIC_COLUMNS, FinetuneResult

__all__ = ["FinetuneResult", "METRIC_COLUMNS"]
