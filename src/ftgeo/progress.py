"""Progress bars for long work (tqdm), silenced with ``progress=False`` or ``FTGEO_NO_PROGRESS=1``."""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, enabled: bool = True, **kwargs):
    """Wrap ``iterable`` in a tqdm bar unless disabled; with no iterable, return a manual bar."""
    from tqdm.auto import tqdm
    disable = (not enabled) or os.environ.get("FTGEO_NO_PROGRESS", "") not in ("", "0")
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=disable, **kwargs)
