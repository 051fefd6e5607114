"""Intervals, resampling plans and permutation p-values: the statistics behind every interval ftgeo reports.

The resampling unit is the **example**: a sentence. Word-level rows (``word`` / ``pair`` pooling, row
ids ``<sentence id>:<target>``) of one sentence move together (:func:`row_groups`), because words of
a sentence are not independent draws. Every plan is seeded.

Estimators (which statistic uses which, and why, is in ``docs/uncertainty.md``):

* **Wilson score interval** for a proportion k/n (Wilson 1927; Brown, Cai & DasGupta 2001, Eq. 4):
  ``(p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = k/n``, ``z = Φ^-1(1-α/2)``.
  Near-nominal coverage down to small n, unlike the Wald interval.
* **Clopper-Pearson** (exact binomial; Clopper & Pearson 1934): ``Beta(α/2; k, n-k+1)`` to
  ``Beta(1-α/2; k+1, n-k)`` quantiles. Conservative (coverage >= nominal).
* **Percentile bootstrap** (Efron & Tibshirani 1993, Sec. 13.3): the α/2 and 1-α/2 quantiles of the
  statistic over resamples of the groups drawn with replacement.
* **BCa bootstrap** (Efron 1987; Efron & Tibshirani 1993, Eq. 14.9-14.15): percentile levels
  ``Φ(z0 + (z0 + z_α)/(1 - a(z0 + z_α)))`` with bias correction ``z0 = Φ^-1(#{θ* < θ̂}/B)`` and
  acceleration ``a = Σ(θ̄ - θ_(i))^3 / (6 [Σ(θ̄ - θ_(i))^2]^{3/2})`` from the jackknife values ``θ_(i)``.
* **Delete-a-group jackknife** (Efron & Stein 1981; Wolter 2007, Sec. 4.5): the groups are split
  into ``G`` random blocks; ``θ_(b)`` is the statistic without block ``b``; pseudo-values
  ``p_b = G θ̂ - (G-1) θ_(b)``; the bias-corrected estimate ``p̄`` and standard error
  ``sqrt(Σ(p_b - p̄)^2 / (G(G-1)))``; interval ``p̄ ± t_{G-1, 1-α/2} se``. Used where a bootstrap
  resample is biased: duplicated rows inflate kernel statistics such as CKA (a duplicated row is
  perfectly similar to itself), while deleting rows does not create duplicates.
* **Permutation p-value** (Phipson & Smyth 2010, Eq. 2): ``(1 + #{T_b >= T_obs}) / (B + 1)``, never 0,
  exact (valid at any B) under exchangeability.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ftgeo._checks import check_random_state
from ftgeo.errors import ValidationError

__all__ = ["row_groups", "bootstrap_plan", "jackknife_blocks", "percentile_interval", "bca_interval",
           "jackknife_interval", "wilson_interval", "clopper_pearson_interval", "permutation_pvalue",
           "proportion_interval", "check_level"]


def check_level(level: float) -> float:
    """A confidence level in (0, 1)."""
    if not 0 < float(level) < 1:
        raise ValidationError(f"confidence level must be in (0, 1), e.g. 0.9; got {level!r}")
    return float(level)


def _z(level: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(0.5 + check_level(level) / 2))


# ----------------------------------------------------------------------------- resampling units
def row_groups(ids: Sequence[str], pooling: str | None = None) -> np.ndarray:
    """Group index (0..G-1) of each row: the example a row comes from.

    Sentence-level sets (pooling ``cls`` / ``last`` / ``mean``): every row is its own example.
    Word-level sets (``word`` / ``pair``): row ids are ``<example id>:<target index>`` and rows of one
    example share a group. Groups are numbered in order of first appearance."""
    ids = np.asarray(ids).astype(str)
    if pooling in ("word", "pair"):
        keys = np.array([i.rsplit(":", 1)[0] for i in ids])
    else:
        keys = ids
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))       # renumber groups by first appearance
    return order[inverse].astype(np.int64)


def _members(groups: np.ndarray) -> list[np.ndarray]:
    groups = np.asarray(groups, dtype=np.int64)
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    return np.split(order, bounds)


def bootstrap_plan(groups: Sequence[int] | int, n_resamples: int, random_state=0) -> list[np.ndarray]:
    """Row indices of ``n_resamples`` bootstrap resamples: the groups drawn with replacement (as many as
    there are), each bringing all its rows. ``groups`` may be an int n (n independent rows)."""
    if n_resamples < 1:
        raise ValidationError(f"n_resamples must be >= 1; got {n_resamples}")
    rng = check_random_state(random_state)
    if isinstance(groups, (int, np.integer)):
        n = int(groups)
        return [rng.integers(0, n, n) for _ in range(n_resamples)]
    members = _members(np.asarray(groups))
    G = len(members)
    if all(m.size == 1 for m in members):
        flat = np.concatenate(members)
        return [flat[rng.integers(0, G, G)] for _ in range(n_resamples)]
    return [np.concatenate([members[g] for g in rng.integers(0, G, G)]) for _ in range(n_resamples)]


def jackknife_blocks(groups: Sequence[int] | int, n_blocks: int = 20, random_state=0) -> np.ndarray:
    """Block (0..G-1) of each row for a delete-a-group jackknife: the groups dealt at random into
    ``min(n_blocks, n_groups)`` blocks of near-equal size; rows of one group share its block."""
    g = np.arange(int(groups)) if isinstance(groups, (int, np.integer)) else np.asarray(groups, dtype=np.int64)
    n_groups = int(g.max()) + 1 if g.size else 0
    if n_groups < 2:
        raise ValidationError(f"a jackknife needs at least 2 examples; got {n_groups}")
    B = max(2, min(int(n_blocks), n_groups))
    rng = check_random_state(random_state)
    block_of_group = np.empty(n_groups, dtype=np.int64)
    block_of_group[rng.permutation(n_groups)] = np.arange(n_groups) % B
    return block_of_group[g]


# ----------------------------------------------------------------------------- intervals
def percentile_interval(boot: Sequence[float], level: float = 0.9) -> tuple[float, float]:
    """The (1-level)/2 and (1+level)/2 quantiles of the bootstrap values (NaNs dropped; NaN if none)."""
    b = np.asarray(boot, dtype=np.float64)
    b = b[np.isfinite(b)]
    if b.size == 0:
        return float("nan"), float("nan")
    a = (1 - check_level(level)) / 2
    lo, hi = np.quantile(b, [a, 1 - a])
    return float(lo), float(hi)


def bca_interval(estimate: float, boot: Sequence[float], jack: Sequence[float], level: float = 0.9) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron & Tibshirani 1993, Eq. 14.9-14.15).

    ``jack``: the statistic with each group (or block) left out, for the acceleration. Falls back to
    the percentile interval when the bias correction is undefined (all resamples on one side)."""
    from scipy.stats import norm
    b = np.asarray(boot, dtype=np.float64)
    b = b[np.isfinite(b)]
    j = np.asarray(jack, dtype=np.float64)
    j = j[np.isfinite(j)]
    if b.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    frac = (np.sum(b < estimate) + 0.5 * np.sum(b == estimate)) / b.size
    if not 0 < frac < 1:
        return percentile_interval(b, level)
    z0 = norm.ppf(frac)
    d = j.mean() - j if j.size else np.zeros(1)
    den = 6.0 * (np.sum(d ** 2) ** 1.5)
    acc = float(np.sum(d ** 3) / den) if den > 0 else 0.0
    za = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    adj = norm.cdf(z0 + (z0 + za) / (1 - acc * (z0 + za)))
    lo, hi = np.quantile(b, np.clip(adj, 0, 1))
    return float(lo), float(hi)


def jackknife_interval(estimate: float, leave_out: Sequence[float], level: float = 0.9) -> tuple[float, float, float]:
    """Delete-a-group jackknife: ``(centre, low, high)`` with the bias-corrected centre (mean of the
    pseudo-values) and a Student-t interval on G-1 degrees of freedom (see the module doc)."""
    from scipy.stats import t as student_t
    theta = np.asarray(leave_out, dtype=np.float64)
    G = theta.size
    if G < 2 or not np.isfinite(estimate) or not np.isfinite(theta).all():
        return float("nan"), float("nan"), float("nan")
    pseudo = G * estimate - (G - 1) * theta
    centre = float(pseudo.mean())
    se = float(np.sqrt(np.sum((pseudo - centre) ** 2) / (G * (G - 1))))
    q = float(student_t.ppf(0.5 + check_level(level) / 2, G - 1))
    return centre, centre - q * se, centre + q * se


def wilson_interval(k: int, n: int, level: float = 0.9) -> tuple[float, float]:
    """Wilson score interval for the proportion k/n (see the module doc); (nan, nan) for n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValidationError(f"k must be in 0..n; got k={k}, n={n}")
    z = _z(level)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def clopper_pearson_interval(k: int, n: int, level: float = 0.9) -> tuple[float, float]:
    """Exact (Clopper-Pearson) binomial interval for k/n; (nan, nan) for n = 0."""
    from scipy.stats import beta
    if n <= 0:
        return float("nan"), float("nan")
    a = 1 - check_level(level)
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def proportion_interval(correct: Sequence[bool], groups: Sequence[int] | None = None, level: float = 0.9, *,
                        n_resamples: int = 1000, random_state=0) -> tuple[float, float, str]:
    """Interval of an accuracy from per-row correctness: Wilson when rows are independent examples;
    a percentile bootstrap over the groups (sentences) when several rows share one. Returns
    ``(low, high, method)``."""
    c = np.asarray(correct, dtype=np.float64)
    if groups is None or np.unique(groups).size == c.size:
        lo, hi = wilson_interval(int(c.sum()), int(c.size), level)
        return lo, hi, "wilson"
    boot = [c[idx].mean() for idx in bootstrap_plan(np.asarray(groups), n_resamples, random_state)]
    lo, hi = percentile_interval(boot, level)
    return lo, hi, "cluster bootstrap (percentile)"


# ----------------------------------------------------------------------------- permutation tests
def permutation_pvalue(observed: float, null: Sequence[float], alternative: str = "greater") -> float:
    """``(1 + #{null at least as extreme}) / (B + 1)`` (Phipson & Smyth 2010); ``alternative``:
    ``greater`` (large statistics are evidence), ``less``, or ``two-sided`` (by |T|)."""
    t = np.asarray(null, dtype=np.float64)
    t = t[np.isfinite(t)]
    if t.size == 0 or not np.isfinite(observed):
        return float("nan")
    if alternative == "greater":
        hits = np.sum(t >= observed - 1e-12 * abs(observed))
    elif alternative == "less":
        hits = np.sum(t <= observed + 1e-12 * abs(observed))
    elif alternative == "two-sided":
        hits = np.sum(np.abs(t) >= abs(observed) - 1e-12 * abs(observed))
    else:
        raise ValidationError(f"alternative must be 'greater', 'less' or 'two-sided'; got {alternative!r}")
    return float((1 + hits) / (t.size + 1))


def permutation_null(stat: Callable[[np.ndarray], float], n: int, n_permutations: int = 1000,
                     random_state=0, groups: Sequence[int] | None = None) -> np.ndarray:
    """The statistic under ``n_permutations`` seeded permutations of the rows (whole groups permuted
    when ``groups`` is given: a group's rows keep their order). ``stat(perm)`` gets the row order."""
    rng = check_random_state(random_state)
    if groups is None:
        return np.array([stat(rng.permutation(n)) for _ in range(n_permutations)], dtype=np.float64)
    members = _members(np.asarray(groups))
    return np.array([stat(np.concatenate([members[g] for g in rng.permutation(len(members))]))
                     for _ in range(n_permutations)], dtype=np.float64)
