"""Write ``run/report.html`` from ``run/results/*`` and ``run/figures/*``.

The report reads only what analyses saved: each result's ``summary()`` table and the figures
named in its ``meta["figures"]``. PNG figures are embedded as base64 so the file works offline
and can be mailed around; nothing is fetched from a CDN.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path

import pandas as pd

from ftgeo import _atomic
from ftgeo.report import interactive
from ftgeo.run import RunDir

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.45}
h1{border-bottom:2px solid #345;padding-bottom:.3rem} h2{margin-top:2.2rem;color:#234} h3{margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem} th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
th{background:#f0f3f6} td:first-child,th:first-child{text-align:left}
figure{margin:.5rem 0 1.5rem} figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:.8rem;color:#555}
.meta{font-size:.8rem;color:#555} .warn{background:#fff4e5;border-left:4px solid #e69500;padding:.2rem .8rem} nav a{margin-right:1rem} code{background:#f4f4f4;padding:0 .2rem}
"""


def write_report(run: str | Path | RunDir, *, title: str | None = None) -> Path:
    """Render every readable result of ``run`` into ``run/report.html`` and return its path; results
    that cannot be read (incomplete, changed after writing, broken) are listed with the reason."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    if not run.root.is_dir():
        from ftgeo.errors import DataNotFoundError
        raise DataNotFoundError(f"{run.root} is not a run folder (it does not exist); pass the --run of an analysis")
    results, unreadable = read_results(run)
    body = [f"<h1>{html.escape(title or 'ftgeo report: ' + run.root.name)}</h1>",
            f"<p class=meta>Generated {_dt.datetime.now().isoformat(timespec='seconds')} from "
            f"<code>{html.escape(str(run.root))}</code>; {len(results)} result(s).</p>"]
    body += _config_section(run)
    body += _unreadable_section(unreadable)
    grouped = _group(results)
    body.append("<nav>" + "".join(f"<a href='#s{i}'>{html.escape(s)}</a>" for i, (s, _) in enumerate(grouped)) + "</nav>")
    for i, (section, items) in enumerate(grouped):
        body.append(f"<h2 id='s{i}'>{html.escape(section)}</h2>")
        for name, res in items:
            body.append(_result_block(run, name, res))
    if not results:
        body.append("<p>No results yet: run <code>ftgeo analyze ...</code> with <code>--run</code> pointing here.</p>")
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(run.root.name)} - ftgeo</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
    page = interactive.with_bundle(page)                   # plotly.js inlined once (or a one-line note without it)
    _atomic.write_text(run.report, page)
    return run.report


def read_results(run: RunDir) -> tuple[list, list]:
    """``([(name, result), ...], [(name, reason), ...])``: every result folder of ``run``, loaded, or
    with the one-line reason it could not be."""
    from ftgeo.errors import FtgeoError
    from ftgeo.results import load_result

    ok, bad = [], []
    if not run.results.is_dir():
        return ok, bad
    for folder in sorted(p for p in run.results.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            ok.append((folder.name, load_result(folder)))
        except (FtgeoError, OSError, ValueError, KeyError) as exc:
            bad.append((folder.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return ok, bad


def _group(results):
    """Results grouped by report section (their analysis' family, in family order), each section's
    results in the registry's order, then by name."""
    from ftgeo.analyses import ANALYSES, FAMILIES

    placed = []
    for name, res in results:
        kind = getattr(res, "kind", "result")
        if kind == "seeds":                       # an aggregate over seeds sits with the analysis it aggregates
            kind = res.meta.get("of_kind") or kind
        analysis = ANALYSES.for_kind(kind)
        if analysis is not None:
            family = analysis.family
        else:
            from ftgeo.results import result_class
            family = (getattr(res, "family", None) if kind == res.kind else result_class(kind).family) or "other"
        order = analysis.order if analysis else 0
        placed.append((FAMILIES.get(family, FAMILIES["other"]), order, name, res))
    placed.sort(key=lambda t: (t[0].order, t[1], t[2]))
    out: dict[str, list] = {}
    for fam, _, name, res in placed:
        out.setdefault(fam.title, []).append((name, res))
    return list(out.items())


def _unreadable_section(unreadable) -> list[str]:
    if not unreadable:
        return []
    items = "".join(f"<li><code>{html.escape(n)}</code>: {html.escape(why)}</li>" for n, why in unreadable)
    return [f"<div class=warn><p>{len(unreadable)} result folder(s) could not be read and are left out:</p>"
            f"<ul>{items}</ul></div>"]


def _config_section(run: RunDir) -> list[str]:
    if not run.config.is_file():
        return []
    return ["<details><summary>Configuration</summary><pre>"
            + html.escape(run.config.read_text()) + "</pre></details>"]


def _result_block(run: RunDir, name: str, res) -> str:
    parts = [f"<h3 id='r-{html.escape(name)}'>{html.escape(name)} <span class=meta>({html.escape(res.kind)})</span></h3>"]
    meta = {k: v for k, v in res.meta.items() if k != "figures" and _short(v)}
    if meta:
        parts.append("<p class=meta>" + "; ".join(f"{html.escape(str(k))}: {html.escape(_fmt(v))}"
                                                  for k, v in sorted(meta.items())) + "</p>")
    try:
        table = res.summary()
    except Exception as exc:  # a broken summary must not break the whole report
        table = pd.DataFrame({"error": [f"summary() failed: {exc}"]})
    if isinstance(table, pd.DataFrame) and not table.empty:
        parts.append(table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0))
    for fig in res.meta.get("figures", []):
        parts.append(_figure(run, fig))
    parts.append(interactive.block(run, name, res))       # Plotly figure after the PNGs ("" for other kinds)
    return "".join(parts)


def _figure(run: RunDir, fig: str) -> str:
    path = Path(fig)
    if not path.is_absolute():
        path = run.figures / path
    png = path.with_suffix(".png")
    if not png.is_file():
        return f"<p class=meta>missing figure {html.escape(str(png.name))}</p>"
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    svg = path.with_suffix(".svg")
    link = f" (<a href='figures/{html.escape(svg.name)}'>SVG</a>)" if svg.is_file() else ""
    return (f"<figure><img alt='{html.escape(png.stem)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(png.stem)}{link}</figcaption></figure>")


def _short(v) -> bool:
    return isinstance(v, (str, int, float, bool)) and len(str(v)) < 120 or (
        isinstance(v, (list, tuple)) and len(json.dumps(v, default=str)) < 120)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
