"""One self-contained HTML report of a run folder, built from its saved results (no recomputation, no CDN),
and the comparison of several runs (``compare.html``)."""
from ftgeo.report.compare import compare_runs
from ftgeo.report.html import write_report

__all__ = ["compare_runs", "write_report"]
