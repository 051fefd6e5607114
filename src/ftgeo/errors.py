"""Exceptions raised by ftgeo.

Every error says what was wrong and how to fix it. They subclass the built-in
exception a user would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``)
so ``except ValueError`` keeps working.
"""
from __future__ import annotations


class FtgeoError(Exception):
    """Base class of every ftgeo error."""


class ValidationError(FtgeoError, ValueError):
    """Bad input at a boundary: a config value, an array, a file's content."""


class UnknownNameError(FtgeoError, KeyError):
    """A registry lookup failed (unknown task, model, analysis, recipe...)."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(FtgeoError, FileNotFoundError):
    """A data file or split that should exist does not."""


class OfflineError(FtgeoError, OSError):
    """Something needed the network (a hub download) and the network is not there."""


class ManifestMismatchError(FtgeoError, ValueError):
    """An on-disk store was written with different settings than those requested."""


# The estimators' two errors subclass scikit-learn's exceptions as well as ValidationError, so they
# live next to the estimator base class (ftgeo.analysis._base) and are imported from there on first
# use: importing this module must not import scikit-learn (``ftgeo --help`` stays instant).
#   InvalidParameterError(ValidationError, sklearn InvalidParameterError): a parameter outside its
#       constraints, raised by ``fit``.
#   NotFittedError(ValidationError, sklearn NotFittedError): a method that needs ``fit`` first.
_LAZY = {"InvalidParameterError", "NotFittedError"}


def __getattr__(name: str):
    if name in _LAZY:
        from ftgeo.analysis import _base
        return getattr(_base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
