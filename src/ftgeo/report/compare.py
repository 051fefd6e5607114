"""``compare.html``: the same results of several runs side by side (models, seeds, tasks, recipes).

For every result name the runs share (``cka``, ``probe``, ...): its summary tables joined on their key
columns (layer, set, kind, ...) with one column per run for each measure, one figure per measure with a
line per run (over layers, where the table has them), and the findings of each run next to each other,
the sentences that differ marked. What differs in the runs' configurations opens the page. The same
machinery as the report: :func:`ftgeo.report.html.render_page` and :func:`~ftgeo.report.html.figure_html`.
"""
from __future__ import annotations

import datetime as _dt
import html
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo import _atomic
from ftgeo.errors import DataNotFoundError, ValidationError
from ftgeo.run import RunDir

_SKIP_SUFFIX = ("_low", "_high", "_p", "_q05", "_q50", "_q95")
MAX_MEASURES = 4            # figures per result (the first measures of its summary table)


def compare_runs(runs: Sequence[str | Path | RunDir], *, out: str | Path | None = None,
                 names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write the comparison of ``runs`` (two or more run folders) to ``out`` (default ``compare.html``
    next to the first run) and return its path."""
    from ftgeo.report.html import read_results
    dirs = [r if isinstance(r, RunDir) else RunDir(r) for r in runs]
    if len(dirs) < 2:
        raise ValidationError(f"compare needs at least two run folders; got {len(dirs)}")
    for d in dirs:
        if not d.root.is_dir():
            raise DataNotFoundError(f"{d.root} is not a run folder (it does not exist)")
    labels = list(names) if names else _labels(dirs)
    if len(labels) != len(dirs) or len(set(labels)) != len(labels):
        raise ValidationError(f"names must be {len(dirs)} distinct names, one per run; got {labels}")
    loaded = []
    for d in dirs:
        ok, _ = read_results(d)
        loaded.append({n: r for n, r in ok if getattr(r, "kind", "") not in ("study_steps", "claims")})
    common = [n for n in loaded[0] if all(n in l for l in loaded[1:])
              and len({l[n].kind for l in loaded}) == 1]
    out = Path(out) if out is not None else dirs[0].root.parent / "compare.html"

    body = [f"<h1>{html.escape(title or 'ftgeo comparison: ' + ', '.join(labels))}</h1>",
            f"<p class=meta>Generated {_dt.datetime.now().isoformat(timespec='seconds')} from "
            + ", ".join(f"<code>{html.escape(str(d.root))}</code> ({html.escape(l)})" for d, l in zip(dirs, labels))
            + f"; {len(common)} result(s) in common.</p>"]
    body += _config_diff(dirs, labels)
    only = {l: sorted(set(r) - set(common)) for l, r in zip(labels, loaded)}
    if any(only.values()):
        body.append("<p class=meta>Results only some runs have (left out): "
                    + "; ".join(f"{html.escape(l)}: {html.escape(', '.join(v))}" for l, v in only.items() if v) + "</p>")
    from ftgeo.report.html import group_results
    grouped = group_results([(n, loaded[0][n]) for n in common])
    body += _findings_diff(grouped, loaded, labels)
    with tempfile.TemporaryDirectory(prefix="ftgeo-compare-") as tmp:
        for i, (section, items) in enumerate(grouped):
            body.append(f"<h2 id='s{i}'>{html.escape(section)}</h2>")
            for name, _ in items:
                body.append(_result_compare(name, [l[name] for l in loaded], labels, Path(tmp)))
        from ftgeo.report.html import render_page
        _atomic.write_text(out, render_page("compare", body))
    return out


def _labels(dirs: list[RunDir]) -> list[str]:
    names = [d.root.name for d in dirs]
    if len(set(names)) == len(names):
        return names
    return [f"{d.root.parent.name}/{d.root.name}" for d in dirs]


def _config_diff(dirs, labels) -> list[str]:
    import yaml
    cfgs = []
    for d in dirs:
        try:
            cfgs.append(yaml.safe_load(d.config.read_text()) or {} if d.config.is_file() else {})
        except Exception:  # noqa: BLE001 - an unreadable config: nothing to compare
            cfgs.append({})
    keys = sorted({k for c in cfgs for k in c})
    differ = [k for k in keys if len({repr(c.get(k)) for c in cfgs}) > 1]
    if not differ:
        return ["<p class=meta>The runs' configurations do not differ" + (" (none found)." if not keys else ".") + "</p>"]
    rows = "".join("<tr><td>" + html.escape(k) + "</td>" + "".join(f"<td>{html.escape(str(c.get(k)))}</td>" for c in cfgs)
                   + "</tr>" for k in differ)
    return ["<h2>What differs between the runs</h2><table><tr><th>setting</th>"
            + "".join(f"<th>{html.escape(l)}</th>" for l in labels) + "</tr>" + rows + "</table>"]


def _findings_diff(grouped, loaded, labels) -> list[str]:
    """Per result, each run's findings in a column; a row whose sentences differ is marked."""
    from ftgeo.results.findings import findings_of
    rows = []
    for _, items in grouped:
        for name, _ in items:
            per = [[f.text for f in findings_of(name, l[name])[0]] for l in loaded]
            for k in range(max(map(len, per), default=0)):
                texts = [p[k] if k < len(p) else "" for p in per]
                same = len(set(texts)) == 1
                cells = (f"<td colspan={len(texts)} style='text-align:left'>{html.escape(texts[0])} "
                         f"<span class=meta>(all runs)</span></td>" if same else
                         "".join(f"<td style='text-align:left'>{html.escape(t)}</td>" for t in texts))
                rows.append(f"<tr><td><a href='#r-{html.escape(name)}'>{html.escape(name)}</a>"
                            f"{'' if same else ' <b>differs</b>'}</td>{cells}</tr>")
    if not rows:
        return []
    return ["<section class=findings id=findings><h2>Findings, run by run</h2><table><tr><th>result</th>"
            + "".join(f"<th>{html.escape(l)}</th>" for l in labels) + "</tr>" + "".join(rows) + "</table></section>"]


#: integer columns that identify a row (the others, e.g. a chosen hidden size or dimension, are values)
_INT_KEYS = {"layer", "layer_a", "layer_b", "k", "component", "step", "checkpoint", "rank", "n_dims"}
#: settings, sizes and times: in the table, not worth a figure
_NOT_PLOTTED = {"l2", "hidden", "n", "d", "n_train", "n_eval", "n_seeds", "n_points", "time_s", "threshold",
                "n_draws", "principal", "dimension", "polarity"}


def _keys_and_values(t: pd.DataFrame) -> tuple[list[str], list[str]]:
    keys = [c for c in t.columns if not pd.api.types.is_numeric_dtype(t[c]) or pd.api.types.is_bool_dtype(t[c])
            or (pd.api.types.is_integer_dtype(t[c]) and c in _INT_KEYS)]
    vals = [c for c in t.columns if c not in keys and not str(c).endswith(_SKIP_SUFFIX) and "null" not in str(c)]
    return keys, vals


def joined_table(tables: Sequence[pd.DataFrame], labels: Sequence[str]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The runs' tables joined on their key columns (the non-float ones: layer, set, kind, ...), each
    measure as one column per run (``<measure> [<run>]``); returns ``(table, keys, measures)``."""
    keys, vals = _keys_and_values(tables[0])
    for t in tables[1:]:
        k2, _ = _keys_and_values(t)
        keys = [k for k in keys if k in k2]
    vals = [v for v in vals if all(v in t.columns for t in tables)]
    joined = None
    for t, lab in zip(tables, labels):
        part = t[keys + vals].rename(columns={v: f"{v} [{lab}]" for v in vals})
        if keys:
            part = part.drop_duplicates(keys)
            joined = part if joined is None else joined.merge(part, on=keys, how="outer")
        else:
            joined = part.reset_index(drop=True) if joined is None else pd.concat(
                [joined, part.reset_index(drop=True)], axis=1)
    cols = keys + [f"{v} [{lab}]" for v in vals for lab in labels]
    joined = joined[cols]
    if "layer" in keys:
        joined = joined.sort_values([k for k in keys if k == "layer"] + [k for k in keys if k != "layer"], kind="stable")
    return joined.reset_index(drop=True), keys, vals


def _result_compare(name: str, results, labels, tmp: Path) -> str:
    from ftgeo.report.html import figure_html
    parts = [f"<h3 id='r-{html.escape(name)}'>{html.escape(name)} <span class=meta>({html.escape(results[0].kind)})"
             "</span></h3>"]
    try:
        tables = [r.summary() for r in results]
        table, keys, vals = joined_table(tables, labels)
    except Exception as exc:  # noqa: BLE001 - one broken result must not break the page
        return "".join(parts) + f"<p class=nofig>The tables could not be joined ({html.escape(type(exc).__name__)}: " \
                                f"{html.escape(str(exc))}).</p>"
    if table.empty:
        return "".join(parts) + "<p class=nofig>No rows to compare.</p>"
    parts.append(table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep="\u2014"))
    if "layer" not in keys:
        parts.append("<p class=nofig>No figure: the table has no layer column to draw the runs along.</p>")
        return "".join(parts)
    if table["layer"].nunique() < 2:
        parts.append(f"<p class=nofig>No figure: one layer ({html.escape(str(table['layer'].iloc[0]))}); the table "
                     "holds every run's number.</p>")
        return "".join(parts)
    for v in [v for v in vals if v not in _NOT_PLOTTED][:MAX_MEASURES]:
        stem = f"compare_{name}_{v}"
        png = tmp / f"{stem}.png"
        if _measure_figure(table, keys, v, labels, png):
            parts.append(figure_html(results[0], stem, png, caption=f"{name}: {v}, one line per run"))
        else:
            parts.append(f"<p class=nofig id='f-{html.escape(stem)}'>No figure {html.escape(stem)}: "
                         f"{html.escape(v)} is undefined (NaN) in every run.</p>")
    return "".join(parts)


def _measure_figure(table: pd.DataFrame, keys: list[str], measure: str, labels, png: Path) -> bool:
    """One figure of ``measure`` over layers: colour = run, line style = the other keys' group."""
    cols = [f"{measure} [{l}]" for l in labels]
    if not np.isfinite(table[cols].to_numpy(float)).any():
        return False
    from ftgeo.plot.base import _pyplot
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    others = [k for k in keys if k != "layer"]
    groups = list(table.groupby(others, sort=False)) if others else [((), table)]
    styles = ["-", "--", ":", "-."]
    for gi, (gkey, g) in enumerate(groups):
        g = g.sort_values("layer")
        gname = " ".join(str(x) for x in (gkey if isinstance(gkey, tuple) else (gkey,)))
        for ri, (lab, col) in enumerate(zip(labels, cols)):
            ax.plot(g["layer"], g[col].to_numpy(float), ls=styles[gi % 4], marker="o", ms=3, color=f"C{ri}",
                    label=f"{lab}" + (f" {gname}" if gname else ""))
    ax.set_xlabel("layer")
    ax.set_ylabel(measure)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, handlelength=3.5)
    fig.savefig(png, format="png", dpi=110, bbox_inches="tight")     # embedded only: no SVG needed
    plt.close(fig)
    return True
