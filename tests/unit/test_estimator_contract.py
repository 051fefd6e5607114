"""The estimator contract, checked the same way for every estimator in ``ftgeo.analysis``.

Estimators are *discovered*: every ``FtgeoEstimator`` subclass defined in an ``ftgeo.analysis``
module joins the battery automatically, and the battery fails until the new estimator has a
fixture in ``CASES`` below (small planted data, a fraction of a second per fit).

The battery (see ``ftgeo.analysis._base`` for the contract itself):
* ``clone`` gives equal parameters and an unfitted copy; ``__init__`` stores its arguments as given;
* ``get_params`` / ``set_params`` round trip, and every parameter has a declared constraint;
* every public method that needs a fitted model raises ``NotFittedError`` (one line) before ``fit``,
  and works after it with the same arguments;
* ``fit`` returns self, and every attribute it sets ends in ``_`` (or is private, ``_x``);
* two fits with the same seed give identical fitted attributes (arrays exactly);
* NaN in X, NaN labels and None labels are rejected with a one-line ValidationError;
* an invalid value of each parameter is accepted by ``set_params`` and rejected by ``fit`` with
  ``InvalidParameterError`` naming the parameter, in one line.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import generate_invalid_param_val, make_constraint

import ftgeo.analysis
from ftgeo.analysis._base import FtgeoEstimator, InvalidParameterError, NotFittedError, check_fitted
from ftgeo.errors import FtgeoError, ValidationError


# ---------------------------------------------------------------------------- discovery
def discover() -> dict[str, type]:
    found = {}
    for info in pkgutil.iter_modules(ftgeo.analysis.__path__):
        mod = importlib.import_module(f"ftgeo.analysis.{info.name}")
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and issubclass(obj, FtgeoEstimator) and obj is not FtgeoEstimator
                    and obj.__module__ == mod.__name__):
                found[name] = obj
    return found


ESTIMATORS = discover()


# ---------------------------------------------------------------------------- fixtures
def planted(n: int = 72, d: int = 6, n_classes: int = 3, seed: int = 0):
    """Well-separated classes: class c shifts dimensions c and c+1; dimension 0 has the largest variance."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, d))
    for c in range(n_classes):
        X[y == c, c % d] += 4.0
        X[y == c, (c + 1) % d] -= 2.0
    X[:, 0] *= 3.0
    return X, y


def _xy(X, y):
    return (X, y), {}


@dataclass
class Case:
    make: Callable[[], FtgeoEstimator]
    fit_args: Callable = _xy              # (X, y) -> (args, kwargs) of fit
    n_classes: int = 3
    supervised: bool = True
    volatile: tuple = ()                  # fitted attributes that may differ between identical fits
    method_args: Callable = field(default=lambda X, y: (X, y))   # positional args offered to methods


def _compression_args(X, y):
    return (X[:48], y[:48], X[48:], y[48:]), {}


def _cka_args(X, y):
    return ([X, 2.0 * X + 1.0, X[:, ::-1] ** 3],), {}


def _make(name):
    from ftgeo.analysis.compression import CompressionCurve
    from ftgeo.analysis.directprobe import DirectProbe
    from ftgeo.analysis.linear import SoftmaxClassifier
    from ftgeo.analysis.neurons import SalientNeurons
    from ftgeo.analysis.probes import ProbeClassifier, ProbeGridSearch
    from ftgeo.analysis.rogue import RogueDimensions
    from ftgeo.analysis.similarity import LayerCKA
    from ftgeo.analysis.threshold import PrincipalDimensionClassifier
    return {
        "SoftmaxClassifier": lambda: SoftmaxClassifier(C=0.5),
        "ProbeClassifier": lambda: ProbeClassifier(kind="mlp", hidden=8, max_epochs=6, patience=3),
        "ProbeGridSearch": lambda: ProbeGridSearch(kind="mlp", hidden_sizes=(4, 8), l2_grid=(1e-4, 1e-2), n_seeds=2,
                                                   max_epochs=6, patience=3),
        "DirectProbe": lambda: DirectProbe(progress=False),
        "SalientNeurons": lambda: SalientNeurons(cv=3, n_select=2),
        "PrincipalDimensionClassifier": lambda: PrincipalDimensionClassifier(),
        "CompressionCurve": lambda: CompressionCurve(ks=[1, 2], n_random=2),
        "LayerCKA": lambda: LayerCKA(progress=False),
        "RogueDimensions": lambda: RogueDimensions(k=3),
    }[name]


CASES = {
    "SoftmaxClassifier": Case(_make("SoftmaxClassifier")),
    "ProbeClassifier": Case(_make("ProbeClassifier")),
    "ProbeGridSearch": Case(_make("ProbeGridSearch")),
    "DirectProbe": Case(_make("DirectProbe"), volatile=("timings_",)),   # wall-clock seconds
    "SalientNeurons": Case(_make("SalientNeurons")),
    "PrincipalDimensionClassifier": Case(_make("PrincipalDimensionClassifier"), n_classes=2),
    "CompressionCurve": Case(_make("CompressionCurve"), fit_args=_compression_args),
    "LayerCKA": Case(_make("LayerCKA"), fit_args=_cka_args, supervised=False),
    "RogueDimensions": Case(_make("RogueDimensions"), fit_args=lambda X, y: ((X,), {}), supervised=False),
}

NAMES = sorted(ESTIMATORS)


def case_of(name: str) -> Case:
    if name not in CASES:
        pytest.fail(f"estimator {name} ({ESTIMATORS[name].__module__}) has no fixture: add a Case to CASES in "
                    f"{__file__} (small planted data, fast settings)")
    return CASES[name]


def data_of(case: Case):
    return planted(n_classes=case.n_classes)


def fit(est, case: Case, X=None, y=None):
    X0, y0 = data_of(case)
    args, kwargs = case.fit_args(X0 if X is None else X, y0 if y is None else y)
    return est.fit(*args, **kwargs)


def public_methods(cls) -> list[str]:
    """Public methods ftgeo defines on the class (sklearn's own API excluded), except fit."""
    return sorted(name for name, fn in inspect.getmembers(cls, inspect.isfunction)
                  if not name.startswith("_") and name != "fit" and fn.__module__.startswith("ftgeo."))


def required_positional(fn) -> int:
    params = list(inspect.signature(fn).parameters.values())[1:]
    return sum(1 for p in params if p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def same(a, b) -> bool:
    """Exact equality of fitted values: arrays bit for bit (NaN == NaN), frames, containers."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        if a.dtype.kind == "O":
            return all(same(x, z) for x, z in zip(a.ravel(), b.ravel()))
        return bool(np.array_equal(a, b))
    if isinstance(a, (pd.DataFrame, pd.Series)):
        try:
            (pd.testing.assert_frame_equal if isinstance(a, pd.DataFrame) else pd.testing.assert_series_equal)(
                a, b, check_exact=True)
        except AssertionError:
            return False
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, z) for x, z in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def fitted_attributes(est) -> dict:
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


def assert_one_line(exc, *must_contain):
    msg = str(exc.value)
    assert msg and "\n" not in msg, f"error message is not one line: {msg!r}"
    for part in must_contain:
        assert part in msg, f"{part!r} not in {msg!r}"


# ---------------------------------------------------------------------------- the battery
def test_discovery_finds_every_estimator_and_each_has_a_fixture():
    assert {"SoftmaxClassifier", "ProbeClassifier", "ProbeGridSearch", "DirectProbe", "SalientNeurons",
            "PrincipalDimensionClassifier", "CompressionCurve", "LayerCKA", "RogueDimensions"} <= set(ESTIMATORS)
    missing = sorted(set(ESTIMATORS) - set(CASES))
    assert not missing, f"estimators without a fixture in CASES: {missing}"
    stale = sorted(set(CASES) - set(ESTIMATORS))
    assert not stale, f"fixtures for classes that are not discovered estimators: {stale}"


def test_errors_are_ftgeo_and_sklearn_errors():
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils._param_validation import InvalidParameterError as SkInvalid

    import ftgeo.errors
    assert ftgeo.errors.NotFittedError is NotFittedError and ftgeo.errors.InvalidParameterError is InvalidParameterError
    for err, sk in ((NotFittedError, SkNotFitted), (InvalidParameterError, SkInvalid)):
        assert issubclass(err, ValidationError) and issubclass(err, FtgeoError) and issubclass(err, sk)


@pytest.mark.parametrize("name", NAMES)
def test_params_constraints_clone_and_round_trip(name):
    case = case_of(name)
    est = case.make()
    params = est.get_params()
    # every parameter is declared, and nothing else is
    assert set(est._parameter_constraints) == set(params), \
        f"{name}._parameter_constraints must declare exactly its parameters {sorted(params)}"
    # get_params / set_params round trip onto a default instance
    other = type(est)()
    assert other.set_params(**params) is other
    assert same(other.get_params(), params)
    with pytest.raises(ValueError):
        other.set_params(no_such_parameter=1)
    repr(est)
    # clone: equal parameters, unfitted (clone also checks that __init__ stores arguments as given)
    fitted = fit(clone(est), case)
    copy = clone(fitted)
    assert same(copy.get_params(), params)
    assert not fitted_attributes(copy)
    with pytest.raises(NotFittedError):
        check_fitted(copy)
    check_fitted(fitted)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_fitted_attributes_end_in_underscore(name):
    case = case_of(name)
    est = case.make()
    before = set(vars(est))
    assert fit(est, case) is est
    added = set(vars(est)) - before
    assert fitted_attributes(est), f"{name}.fit set no attribute ending in '_'"
    bad = sorted(a for a in added if not (a.endswith("_") or a.startswith("_")))
    assert not bad, f"{name}.fit set attributes that neither end in '_' (fitted) nor start with '_' (private): {bad}"


@pytest.mark.parametrize("name", NAMES)
def test_methods_need_fit(name):
    case = case_of(name)
    cls = ESTIMATORS[name]
    X, y = data_of(case)
    offered = case.method_args(X, y)
    methods = public_methods(cls)
    est = case.make()
    for m in methods:
        k = required_positional(getattr(cls, m))
        assert k <= len(offered), f"{name}.{m} needs {k} positional arguments; give the Case a method_args"
        with pytest.raises(NotFittedError) as exc:
            getattr(est, m)(*offered[:k])
        assert_one_line(exc, name, "fit(")
    fit(est, case)
    for m in methods:          # the same calls work once fitted (so the error above was about fitting)
        getattr(est, m)(*offered[:required_positional(getattr(cls, m))])


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_fit(name):
    case = case_of(name)
    a, b = case.make(), case.make()
    if "random_state" in a.get_params():
        a.set_params(random_state=7)
        b.set_params(random_state=7)
    fa, fb = fitted_attributes(fit(a, case)), fitted_attributes(fit(b, case))
    assert fa.keys() == fb.keys()
    differ = sorted(k for k in fa if k not in case.volatile and not same(fa[k], fb[k]))
    assert not differ, f"{name}: two fits with the same seed differ in {differ}"


@pytest.mark.parametrize("name", NAMES)
def test_random_state_takes_a_generator(name):
    case = case_of(name)
    est = case.make()
    if "random_state" not in est.get_params():
        pytest.skip(f"{name} is not seeded")
    for rs in (np.random.default_rng(3), None):
        fit(clone(est).set_params(random_state=rs), case)


@pytest.mark.parametrize("name", NAMES)
def test_rejects_nan_in_X(name):
    case = case_of(name)
    X, y = data_of(case)
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValidationError) as exc:
        fit(case.make(), case, X=X)
    assert not isinstance(exc.value, InvalidParameterError)
    assert_one_line(exc, "NaN")


@pytest.mark.parametrize("name", [n for n in NAMES if CASES.get(n, Case(None)).supervised])
def test_rejects_missing_labels(name):
    case = case_of(name)
    X, y = data_of(case)
    y_nan = y.astype(float)
    y_nan[3] = np.nan
    y_none = y.astype(object)
    y_none[3] = None
    for bad in (y_nan, y_none):
        with pytest.raises(ValidationError) as exc:
            fit(case.make(), case, y=bad)
        assert_one_line(exc, "missing", "row 3")


class _NotAValue:
    def __repr__(self):
        return "<not a value>"


def invalid_values(constraints) -> list:
    """A value of a type no constraint accepts, plus scikit-learn's generated out-of-range value for each
    constraint that has one (kept only if no other constraint of the parameter accepts it)."""
    made = [make_constraint(c) for c in constraints]
    out = [_NotAValue()]
    for c in made:
        try:
            v = generate_invalid_param_val(c)
        except NotImplementedError:
            continue
        if not any(m.is_satisfied_by(v) for m in made):
            out.append(v)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_rejects_invalid_parameters_at_fit(name):
    case = case_of(name)
    base = case.make()
    checked = 0
    for param, constraints in base._parameter_constraints.items():
        for value in invalid_values(constraints):
            est = clone(base).set_params(**{param: value})     # construction / set_params never validates
            with pytest.raises(InvalidParameterError) as exc:
                fit(est, case)
            assert_one_line(exc, name, f"{param}=")
            checked += 1
    assert checked >= len(base._parameter_constraints)


# ---------------------------------------------------------------------------- the shared input checker
def test_check_labels_rejects_what_is_not_a_class_label():
    from ftgeo._checks import check_labels, check_X_y
    for ok in ([0, 1, 1], [0.0, 2.0, 1.0], ["a", "b", "a"], np.array(["a", "b"], dtype=object), [True, False]):
        assert check_labels(ok).shape == (len(ok),)
    cases = [([0.0, np.nan, 1.0], "missing (NaN or infinite) label(s), the first at row 1"),
             ([0.0, np.inf], "missing"),
             (["a", None], "missing label (None) at row 1"),
             (np.array(["a", pd.NA], dtype=object), "missing label"),
             ([0.5, 1.0], "non-integer value 0.5 at row 0"),
             (np.array(["a", 1], dtype=object), "mixes strings and numbers"),
             (np.array([1 + 2j]), "must be integers or strings")]
    for bad, msg in cases:
        with pytest.raises(ValidationError, match=msg.replace("(", r"\(").replace(")", r"\)")) as exc:
            check_labels(bad)
        assert "\n" not in str(exc.value)
    X, y = check_X_y(np.ones((3, 2), dtype=np.float32), [0, 1, 0])
    assert X.dtype == np.float64 and X.flags.c_contiguous
    with pytest.raises(ValidationError, match="y has 2 entries but the features have 3 rows"):
        check_X_y(np.ones((3, 2)), [0, 1])
