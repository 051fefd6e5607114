"""One self-contained HTML report of a run folder, built from its saved results (no recomputation, no CDN)."""
from ftgeo.report.html import write_report

__all__ = ["write_report"]
