"""The estimator contract shared by every estimator class in :mod:`ftgeo.analysis`.

Every estimator (probes, DirectProbe, SalientNeurons, PrincipalDimensionClassifier,
CompressionCurve, LayerCKA, RogueDimensions, SoftmaxClassifier) follows scikit-learn's:

* it subclasses :class:`FtgeoEstimator` (a :class:`sklearn.base.BaseEstimator`), so
  ``get_params`` / ``set_params`` / ``clone`` / ``repr`` work; classifiers also mix in
  :class:`sklearn.base.ClassifierMixin` (their own ``score`` is kept);
* ``__init__`` stores its arguments untouched, nothing else;
* ``_parameter_constraints`` declares every parameter with scikit-learn's constraint objects
  (``Interval``, ``StrOptions``, ``"boolean"``, ``"array-like"``, :data:`RANDOM_STATE`, ...);
  ``fit`` is wrapped in :func:`fit_context`, which checks them before any work, so an invalid
  value fails at ``fit`` (never at construction) with :class:`InvalidParameterError`;
  constraints that depend on the data (``ks`` up to the dimension, ``dimension`` in range, ...)
  are checked inside ``fit`` and raise :class:`~ftgeo.errors.ValidationError`;
* the arrays go through :func:`ftgeo._checks.check_X_y` (or ``check_features``) at ``fit``:
  2-D, finite, float64; labels 1-D, no NaN/None, integer or string classes, one per row;
* every method that needs a fitted model calls :func:`check_fitted` first, which raises
  :class:`NotFittedError`; fitted attributes end in ``_`` and private state starts with ``_``.

Errors. :class:`InvalidParameterError` and :class:`NotFittedError` subclass both
:class:`ftgeo.errors.ValidationError` (so the CLI, which prints any ``FtgeoError`` as one line,
reports them like every other bad input, and ``except ValueError`` keeps working) and
scikit-learn's own exception of the same name (so scikit-learn tooling recognises them). They are
defined here, not in :mod:`ftgeo.errors`, because that module must not import scikit-learn
(``ftgeo --help`` stays instant); ``from ftgeo.errors import NotFittedError`` still works (lazily).
Their messages are one line in ftgeo's style, ``"SoftmaxClassifier: C=0 must be > 0."``, rather
than scikit-learn's, so existing ``check_in``-style messages (``kind='cnn' is not one of [...]``)
keep their wording.

The common test ``tests/unit/test_estimator_contract.py`` discovers every ``FtgeoEstimator``
subclass defined in an ``ftgeo.analysis`` module and runs it through the same battery.
"""
from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import NotFittedError as _SkNotFittedError
from sklearn.utils._param_validation import (HasMethods, Interval, InvalidParameterError as _SkInvalidParameterError,
                                             Options, StrOptions, make_constraint)
from sklearn.utils.validation import check_is_fitted

from ftgeo.errors import ValidationError

__all__ = ["FtgeoEstimator", "InvalidParameterError", "NotFittedError", "check_fitted", "fit_context",
           "RANDOM_STATE", "Interval", "StrOptions", "Options", "HasMethods", "Integral", "Real"]


class InvalidParameterError(ValidationError, _SkInvalidParameterError):
    """An estimator parameter has a value outside its declared constraints (raised at ``fit``)."""


class NotFittedError(ValidationError, _SkNotFittedError):
    """A method that needs a fitted model was called before ``fit``."""


#: ``random_state`` as ftgeo takes it everywhere: None (fresh entropy), a non-negative int seed or a
#: ``numpy.random.Generator`` (used as is, and advanced). See :func:`ftgeo._checks.check_random_state`.
RANDOM_STATE = [None, Interval(Integral, 0, None, closed="left"), np.random.Generator]


def fit_context(fit):
    """Decorator for ``fit``: validate the parameters (scikit-learn's ``_fit_context``: nested
    estimators fitted inside skip re-validating what was checked here), then run ``fit``."""
    return _fit_context(prefer_skip_nested_validation=True)(fit)


def check_fitted(estimator) -> None:
    """Raise :class:`NotFittedError` (one line: what to call) unless ``estimator`` is fitted
    (scikit-learn's rule: it has an attribute ending in ``_``)."""
    try:
        check_is_fitted(estimator)
    except _SkNotFittedError:
        name = type(estimator).__name__
        raise NotFittedError(f"this {name} is not fitted yet; call {name}(...).fit({_fit_args(estimator)}) "
                             "first.") from None


def _fit_args(estimator) -> str:
    params = list(inspect.signature(type(estimator).fit).parameters.values())[1:]
    return ", ".join(p.name for p in params if p.default is inspect.Parameter.empty
                     and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


class FtgeoEstimator(BaseEstimator):
    """Base class of ftgeo's estimators (see the module docstring for the contract)."""

    _parameter_constraints: dict = {}

    def _validate_params(self):
        """Check every parameter against ``_parameter_constraints``; the first violation raises
        :class:`InvalidParameterError` naming the parameter, its value and what is allowed."""
        params = self.get_params(deep=False)
        for name, value in params.items():
            spec = self._parameter_constraints.get(name)
            if spec is None or spec == "no_validation":
                continue
            constraints = [make_constraint(c) for c in spec]
            if any(c.is_satisfied_by(value) for c in constraints):
                continue
            raise InvalidParameterError(f"{type(self).__name__}: {_describe_violation(name, value, constraints)}.")


# ---------------------------------------------------------------------------- messages
def _describe_violation(name: str, value, constraints) -> str:
    shown = [c for c in constraints if not getattr(c, "hidden", False)]
    options = [c for c in shown if isinstance(c, Options)]
    if options and len(options) == len([c for c in shown if type(c).__name__ != "_NoneConstraint"]):
        allowed = sorted({o for c in options for o in c.options}, key=str)
        none = " (or None)" if len(options) < len(shown) else ""
        return f"{name}={value!r} is not one of {allowed}{none}"
    parts = [_describe(c) for c in shown]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    intervals = [c for c in shown if isinstance(c, Interval)]
    if intervals and not any(isinstance(value, c.type) for c in intervals) and value is not None:
        text += f" (got a {type(value).__name__})"      # the wrong type, not an out-of-range number
    return f"{name}={value!r} must be {text}"


def _describe(c) -> str:
    kind = type(c).__name__
    if isinstance(c, Interval):
        return _describe_interval(c)
    if isinstance(c, Options):
        vals = sorted(c.options, key=str)
        return repr(vals[0]) if len(vals) == 1 else f"one of {vals}"
    if kind == "_NoneConstraint":
        return "None"
    if kind == "_Booleans":
        return "True or False"
    if kind == "_ArrayLikes":
        return "a list or array"
    if kind == "_InstancesOf":
        return _TYPE_NAMES.get(c.type, f"a {c.type.__name__}")
    return str(c)


_TYPE_NAMES = {Integral: "an int", Real: "a number", np.random.Generator: "a numpy Generator"}


def _describe_interval(c: Interval) -> str:
    lo_in = c.closed in ("left", "both")
    hi_in = c.closed in ("right", "both")
    if c.left is not None and c.right is not None:
        cond = f"in {'[' if lo_in else '('}{c.left}, {c.right}{']' if hi_in else ')'}"
    elif c.left is not None:
        cond = f"{'>=' if lo_in else '>'} {c.left}"
    elif c.right is not None:
        cond = f"{'<=' if hi_in else '<'} {c.right}"
    else:
        cond = "a finite number"
    return f"an int {cond}" if c.type is Integral else cond
