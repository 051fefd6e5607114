"""Progress bars for long work (tqdm), silenced with ``progress=False`` or ``FTGEO_NO_PROGRESS=1``.

A quiet console by default: one bar at a time -- a bar opened while another is running (the inner
loops of an analysis) is hidden, and inside a study step (:func:`step`) the step's own bar is the one
shown, named after the step. Python warnings raised meanwhile print as one line each
(``note: <message>``, once per message, no source line; :func:`quiet_warnings`). ``FTGEO_VERBOSE=1``
(``ftgeo --verbose``) shows every bar and every warning as Python prints them.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_live = [0]                      # visible bars now open
_step: list[str | None] = [None]


def verbose() -> bool:
    """True when everything should be shown (``ftgeo --verbose`` or ``FTGEO_VERBOSE=1``)."""
    return os.environ.get("FTGEO_VERBOSE", "").strip().lower() not in ("", "0", "false", "no")


def bars_off() -> bool:
    """True when progress bars are switched off altogether (``--no-progress``, ``FTGEO_NO_PROGRESS=1``)."""
    return os.environ.get("FTGEO_NO_PROGRESS", "") not in ("", "0")


def bar_open() -> bool:
    """True while one of ftgeo's bars is visible (e.g. a study step's): other bars should stay hidden."""
    return _live[0] > 0


def _bar_class():
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        """A tqdm bar that counts itself among the visible bars while open."""

        def __init__(self, *args, **kwargs):
            self._counted = False
            super().__init__(*args, **kwargs)
            if not self.disable:
                _live[0] += 1
                self._counted = True

        def close(self):
            if getattr(self, "_counted", False):
                self._counted = False
                _live[0] = max(0, _live[0] - 1)
            super().close()

    return _Bar


def progress(iterable: Iterable[T] | None = None, *, enabled: bool = True, **kwargs):
    """Wrap ``iterable`` in a tqdm bar unless disabled; with no iterable, return a manual bar.

    Unless verbose, a bar opened while another is visible is hidden (one bar at a time)."""
    disable = (not enabled) or bars_off() or (not verbose() and _live[0] > 0)
    kwargs.setdefault("dynamic_ncols", True)
    return _bar_class()(iterable, disable=disable, **kwargs)


@contextlib.contextmanager
def step(name: str, *, enabled: bool = True) -> Iterator[object]:
    """One bar for a whole step of a study, named after it (elapsed time; ``done`` at the end). Unless
    verbose, the bars of the work inside are hidden behind it and its warnings become one-line notes."""
    bar = progress(total=1, desc=name, enabled=enabled, leave=True,
                   bar_format="{desc}: {elapsed} {postfix}")
    before = _step[0]
    _step[0] = name
    ok = False
    try:
        with quiet_warnings(write=(lambda m: bar.write(m, file=sys.stderr)) if not bar.disable else None):
            yield bar
        ok = True
    finally:
        _step[0] = before
        if not bar.disable:
            bar.set_postfix_str("done" if ok else "failed", refresh=False)
            bar.update(1)
        bar.close()


@contextlib.contextmanager
def quiet_warnings(write=None) -> Iterator[None]:
    """Unless verbose, print each Python warning as one line ``note: <message>`` (first line of the
    message, once per message, no file and source line) -- through ``write`` (e.g. a bar's) or stderr."""
    if verbose():
        yield
        return
    seen: set[str] = set()
    old = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        if text in seen:
            return
        seen.add(text)
        line_ = f"note: {text}"
        if write is not None:
            write(line_)
        else:
            print(line_, file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old
