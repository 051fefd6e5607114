"""Fine-tuning seeds as an axis: every result of the per-seed runs, side by side and aggregated.

Closer Look notes that fine-tuning is unstable across seeds, and the three papers each ran one seed.
A study run with ``seeds=[0, 1, 2]`` runs its analyses once per seed (``RUN/seeds/s<seed>/``);
:func:`aggregate_seeds` then writes, for each result the seeds share, a :class:`SeedsResult` into
``RUN/results/seeds__<name>``:

* ``per_seed``: the result's summary table of every seed, with a ``seed`` column;
* ``aggregate``: per row of that table (its text and integer columns are the keys: set, layer, method,
  ...), for every measured (float) column ``v``: ``v_mean``, ``v_sd`` (between-seed standard deviation,
  ddof 1), ``v_min``, ``v_max``, ``n_seeds``, and, where the seeds report an interval for ``v``,
  ``v_within`` = the mean half-width of the seeds' intervals (within-seed resampling uncertainty, kept
  apart from the between-seed spread).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ftgeo.plot.base import Display
from ftgeo.results.base import Result

_INTERVAL_SUFFIXES = ("_low", "_high", "_p", "_null_q05", "_null_q50", "_null_q95")


class SeedsResult(Result):
    """One result over fine-tuning seeds: tables ``per_seed`` and ``aggregate`` (see the module doc);
    meta ``of`` (the result's name), ``of_kind`` (its kind), ``seeds``."""

    kind = "seeds"

    def summary(self):
        return self.table("aggregate")

    def displays(self):
        agg = self.table("aggregate")
        x = next((c for c in ("layer", "step", "k", "component") if c in agg.columns), None)
        if x is None or not value_columns(self.table("per_seed")):
            return []
        return [("spread", SeedSpreadDisplay.from_result(self, x=x))]


def _varies(df, c: str) -> bool:
    """Whether column ``c`` differs between seeds at the same row position (a measurement, not a key)."""
    parts = [g[c].reset_index(drop=True) for _, g in df.groupby("seed", sort=False)]
    if len({len(p) for p in parts}) != 1:
        return False
    return any(not p.equals(parts[0]) for p in parts[1:])


def value_columns(df) -> list[str]:
    """The measured columns of a per-seed summary table: floats that are not an interval bound, p-value or
    null quantile, and integer columns that differ between seeds (cluster counts, chosen dimensions)."""
    return [c for c in df.columns if c != "seed" and not c.endswith(_INTERVAL_SUFFIXES)
            and (df[c].dtype.kind == "f" or (df[c].dtype.kind in "iub" and _varies(df, c)))]


def key_columns(df) -> list[str]:
    """The columns that name a row (set, layer, method, ...): the same in every seed and not measured
    (a text column that differs between seeds, such as a list of dimensions, is neither and is left out)."""
    values = set(value_columns(df))
    return [c for c in df.columns if c != "seed" and c not in values and not c.endswith(_INTERVAL_SUFFIXES)
            and not _varies(df, c)]


def aggregate_table(per_seed):
    """The ``aggregate`` table of a ``per_seed`` table (see the module doc)."""
    import pandas as pd
    values, keys = value_columns(per_seed), key_columns(per_seed)
    groups = per_seed.groupby(keys, sort=False, dropna=False) if keys else [((), per_seed)]
    rows = []
    for key, g in groups:
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n_seeds"] = int(g["seed"].nunique())
        for v in values:
            x = g[v].to_numpy(float)
            row[f"{v}_mean"] = float(np.nanmean(x)) if np.isfinite(x).any() else np.nan
            row[f"{v}_sd"] = float(np.nanstd(x, ddof=1)) if np.isfinite(x).sum() > 1 else np.nan
            row[f"{v}_min"] = float(np.nanmin(x)) if np.isfinite(x).any() else np.nan
            row[f"{v}_max"] = float(np.nanmax(x)) if np.isfinite(x).any() else np.nan
            if f"{v}_low" in g.columns and f"{v}_high" in g.columns:
                half = (g[f"{v}_high"].to_numpy(float) - g[f"{v}_low"].to_numpy(float)) / 2
                row[f"{v}_within"] = float(np.nanmean(half)) if np.isfinite(half).any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def seed_name(name: str) -> str:
    """The name a result has across seeds: a fine-tuning result's folder name carries its seed."""
    return "finetune" if name.startswith("finetune__") else name


def aggregate_seeds(runs: Mapping[int, "Path | str"], top) -> list[str]:
    """Write a :class:`SeedsResult` into ``top`` for every result all ``runs`` (``{seed: run folder}``) have;
    returns the names written. Results that cannot be read in some seed are left out of that aggregate."""
    import pandas as pd

    from ftgeo.results import load_result, save_result
    from ftgeo.run import RunDir

    top = top if isinstance(top, RunDir) else RunDir(top)
    folders = {s: {seed_name(p.name): p for p in (r if isinstance(r, RunDir) else RunDir(r)).results.iterdir()
                   if p.is_dir()} for s, r in runs.items()}
    shared = set.intersection(*(set(f) for f in folders.values())) - {"study_steps", "claims"}
    written = []
    for name in sorted(shared):
        per_seed, kind = [], None
        for s, f in folders.items():
            try:
                res = load_result(f[name])
            except Exception:  # noqa: BLE001 - an unreadable result is left out of the aggregate
                continue
            kind = res.kind
            t = res.summary().copy()
            t.insert(0, "seed", s)
            per_seed.append(t)
        if len(per_seed) < 2:
            continue
        table = pd.concat(per_seed, ignore_index=True)
        out = SeedsResult(tables={"per_seed": table, "aggregate": aggregate_table(table)},
                          meta={"of": name, "of_kind": kind, "seeds": sorted(runs)})
        save_result(out, top, f"seeds__{name}")
        written.append(f"seeds__{name}")
    return written


class SeedSpreadDisplay(Display):
    """Each measured column of a result by layer (or step, k): the mean over seeds with the min-max band."""

    def __init__(self, agg, x: str, values: list[str], keys: list[str], of: str):
        self.agg, self.x, self.values, self.keys, self.of = agg, x, values, keys, of

    @classmethod
    def from_result(cls, result: SeedsResult, x: str = "layer", max_panels: int = 4) -> "SeedSpreadDisplay":
        per = result.table("per_seed")
        values = [v for v in value_columns(per) if v != x][:max_panels]
        keys = [k for k in key_columns(per) if k != x]
        return cls(result.table("aggregate").copy(), x, values, keys, result.meta.get("of", ""))

    def plot(self, ax=None) -> "SeedSpreadDisplay":
        from matplotlib.ticker import MaxNLocator

        from ftgeo.plot.helpers import axes_grid
        fig, axes = axes_grid(self, ax, len(self.values), size=(3.6, 2.8))
        groups = self.agg.groupby(self.keys, sort=False) if self.keys else [("", self.agg)]
        for a, v in zip(axes, self.values):
            for key, g in groups:
                g = g.sort_values(self.x)
                label = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
                line, = a.plot(g[self.x], g[f"{v}_mean"], marker="o", ms=3, label=label or None)
                if g[self.x].nunique() > 1:
                    a.fill_between(g[self.x], g[f"{v}_min"], g[f"{v}_max"], color=line.get_color(), alpha=0.2, lw=0)
                else:                               # one layer (or step): a band has no width, draw the range
                    a.errorbar(g[self.x], g[f"{v}_mean"], yerr=[g[f"{v}_mean"] - g[f"{v}_min"],
                                                                g[f"{v}_max"] - g[f"{v}_mean"]],
                               color=line.get_color(), capsize=3, lw=1, fmt="none")
            xs = sorted(self.agg[self.x].unique())
            if len(xs) <= 12:
                a.set_xticks(xs)
            else:
                a.xaxis.set_major_locator(MaxNLocator(integer=True))
            a.set_xlabel(self.x)
            a.set_ylabel(v, fontsize=7)
            if self.keys:
                a.legend(fontsize=6)
        fig.suptitle(f"{self.of}: mean over fine-tuning seeds (band or bar: min-max)", fontsize=9)
        self.figure_, self.ax_ = fig, axes
        return self
