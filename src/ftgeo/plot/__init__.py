"""Display objects: a saved result in, a matplotlib figure out. No computation happens here."""
from ftgeo.plot.base import Display, save_figure

__all__ = ["Display", "save_figure"]
