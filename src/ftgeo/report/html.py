"""Write ``run/report.html`` from ``run/results/*`` and ``run/figures/*``.

The report reads only what analyses saved: each result's ``findings()`` sentences, its notes, its
``summary()`` table and its figures (``meta["figures"]``; a figure a result's displays can draw but
that is missing is drawn from the saved tables, never recomputed). It opens with the findings per
paper (each sentence linking to its figure or section) and the claims' verdicts, then one section per
family in the registry's order. PNG figures are embedded as base64 so the file works offline and can
be mailed around; nothing is fetched from a CDN.

Every figure goes through :func:`figure_html` (the one place a section's figure is emitted, so an
interactive version can be put next to or instead of the PNG); a figure with nothing to draw (its
display's ``empty_reason()``) is replaced by one line saying why.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ftgeo import _atomic
from ftgeo.report import interactive
from ftgeo.run import RunDir

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.45}
h1{border-bottom:2px solid #345;padding-bottom:.3rem} h2{margin-top:2.2rem;color:#234} h3{margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem} th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
th{background:#f0f3f6} td:first-child,th:first-child{text-align:left}
figure{margin:.5rem 0 1.5rem} figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:.8rem;color:#555}
.meta{font-size:.8rem;color:#555} .warn{background:#fff4e5;border-left:4px solid #e69500;padding:.2rem .8rem} nav a{margin-right:1rem} code{background:#f4f4f4;padding:0 .2rem}
.findings{background:#f3f7fb;border-left:4px solid #345;padding:.3rem 1rem .6rem} .findings h3{margin-top:.8rem}
ul.notes{font-size:.85rem;color:#6a4a00;margin:.2rem 0 .6rem} .nofig{font-size:.85rem;color:#555;font-style:italic}
td.holds{background:#e6f4ea} td.does-not-hold{background:#fde8e8} td.inconclusive{background:#fff4e5}
"""
_NA = "\u2014"          # what a NaN cell shows; the layer-0 note explains it where it comes from a constant layer
_HIDDEN_META = {"figures", "notes", "figures_not_drawn"}


# ---------------------------------------------------------------------------------------------- the page
def write_report(run: str | Path | RunDir, *, title: str | None = None, redraw: bool = False) -> Path:
    """Render every readable result of ``run`` into ``run/report.html`` and return its path; results
    that cannot be read (incomplete, changed after writing, broken) are listed with the reason.
    ``redraw=True`` draws every figure again from the saved tables (after a change of the plots)."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    if not run.root.is_dir():
        from ftgeo.errors import DataNotFoundError
        raise DataNotFoundError(f"{run.root} is not a run folder (it does not exist); pass the --run of an analysis")
    results, unreadable = read_results(run)
    claims = [(n, r) for n, r in results if getattr(r, "kind", "") == "claims"]
    others = [(n, r) for n, r in results if getattr(r, "kind", "") != "claims"]
    grouped = group_results(others)
    body = [f"<h1>{html.escape(title or 'ftgeo report: ' + run.root.name)}</h1>",
            f"<p class=meta>Generated {_dt.datetime.now().isoformat(timespec='seconds')} from "
            f"<code>{html.escape(str(run.root))}</code>; {len(results)} result(s).</p>"]
    body += _model_note(run)
    body += findings_section(grouped)
    body += claims_section(claims)
    body += _config_section(run)
    body += _unreadable_section(unreadable)
    body.append("<nav>" + "".join(f"<a href='#s{i}'>{html.escape(s)}</a>" for i, (s, _) in enumerate(grouped)) + "</nav>")
    for i, (section, items) in enumerate(grouped):
        body.append(f"<h2 id='s{i}'>{html.escape(section)}</h2>")
        for name, res in items:
            body.append(result_block(run, name, res, redraw=redraw))
    if not results:
        body.append("<p>No results yet: run <code>ftgeo analyze ...</code> with <code>--run</code> pointing here.</p>")
    page = interactive.with_bundle(render_page(run.root.name, body))  # plotly.js inlined once (or one note)
    _atomic.write_text(run.report, page)
    return run.report


def render_page(title: str, body: list[str]) -> str:
    """One self-contained HTML page (inline CSS, no external resource)."""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)} - ftgeo</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


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


def group_results(results):
    """Results grouped by report section (their analysis' family, in family order), each section's
    results in the registry's order (the paper's narrative), then by name."""
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


_group = group_results          # the old private name


# ---------------------------------------------------------------------------------------------- findings
def findings_section(grouped) -> list[str]:
    """The report's opening: per section (paper), the findings sentences, each linking to its figure."""
    from ftgeo.results.findings import collect
    blocks = collect(grouped)
    if not blocks:
        return []
    out = ["<section class=findings id=findings><h2>Findings</h2>"]
    for title, found, problems in blocks:
        out.append(f"<h3>{html.escape(title)}</h3><ul>")
        out += [f"<li>{html.escape(f.text)} <a href='#{html.escape(f.anchor)}'>&rarr;</a></li>" for f in found]
        out += [f"<li class=meta>{html.escape(p)}</li>" for p in problems]
        out.append("</ul>")
    out.append("</section>")
    return out


def claims_section(claims) -> list[str]:
    """The claims' verdicts (``ftgeo claims``), after the findings, when the run has them."""
    out = []
    for name, res in claims:
        t = res.tables.get("overall")
        if t is None or t.empty:
            t = res.tables.get("claims")
        if t is None or t.empty:
            continue
        rows = []
        for _, r in t.iterrows():
            from ftgeo.results.findings import with_ci
            verdict = str(r.get("verdict", ""))
            cls = verdict.replace(" ", "-")
            val = with_ci(r.get("value"), r.get("low"), r.get("high"), None)
            rows.append("<tr>" + "".join([
                f"<td>{html.escape(str(r.get('run', '')) + ('/' if 'run' in r else '') + str(r.get('study', '')))}</td>",
                f"<td>{html.escape(str(r.get('statement', r.get('claim', ''))))}</td>",
                f"<td class='{html.escape(cls)}'>{html.escape(verdict)}</td>",
                f"<td>{html.escape(str(r.get('statistic', '')))} = {html.escape(val)} "
                f"(claim: {html.escape(str(r.get('direction', '')))} {html.escape(_fmt(r.get('threshold')))})</td>",
                f"<td>{html.escape(str(r.get('paper', '') if _present(r.get('paper')) else ''))}</td>",
                f"<td style='text-align:left'>{html.escape(str(r.get('evidence', '') if _present(r.get('evidence')) else ''))}</td>",
            ]) + "</tr>")
        rule = res.meta.get("rule", "")
        out.append(f"<section id='r-{html.escape(name)}'><h2>The papers' claims: verdicts</h2>"
                   f"<p class=meta>{html.escape(rule)}</p><table><tr><th>study</th><th>claim</th><th>verdict</th>"
                   "<th>statistic [interval]</th><th>paper</th><th>evidence</th></tr>" + "".join(rows) + "</table></section>")
    return out


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v) != ""


# ---------------------------------------------------------------------------------------------- one result
def result_block(run: RunDir | None, name: str, res, *, redraw: bool = False,
                 figure: Callable[..., str] | None = None) -> str:
    """One result's section: heading, notes (all of them, in full), parameters, summary table, figures."""
    parts = [f"<h3 id='r-{html.escape(name)}'>{html.escape(name)} <span class=meta>({html.escape(res.kind)})</span></h3>"]
    try:
        table = res.summary()
    except Exception as exc:  # a broken summary must not break the whole report
        table = pd.DataFrame({"error": [f"summary() failed: {exc}"]})
    figs, not_drawn = ([], {}) if run is None else figure_stems(run, name, res, redraw=redraw)
    notes = notes_of(res)
    layer0 = layer0_note(res, table)
    if layer0:
        notes.append(layer0)
    if notes:
        parts.append("<ul class=notes>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts += params_html(res.meta)
    if isinstance(table, pd.DataFrame) and not table.empty:
        parts.append(table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep=_NA))
    emit = figure or figure_html
    for stem, png in figs:
        parts.append(emit(res, stem, png))
    for stem, why in not_drawn.items():
        parts.append(f"<p class=nofig id='f-{html.escape(stem)}'>No figure {html.escape(stem)}: {html.escape(why)}</p>")
    if run is not None:
        parts.append(interactive.block(run, name, res))   # the Plotly figure after the PNGs ("" for other kinds)
    return "".join(parts)


def notes_of(res) -> list[str]:
    """Every note of a result, in full: ``meta["notes"]`` (a list or a string) and the intervals' caveats."""
    raw = res.meta.get("notes")
    if isinstance(raw, str):
        raw = [raw]
    out = [str(n) for n in (raw or []) if str(n).strip()]
    return out


def layer0_note(res, table) -> str | None:
    """One line explaining blank (NaN) cells at layer 0 -- with [CLS] pooling, the embedding layer is the
    same vector for every input (a constant), so statistics that need variation are undefined there."""
    if not isinstance(table, pd.DataFrame) or table.empty:
        return None
    lcols = [c for c in table.columns if str(c) in ("layer", "layer_a", "layer_b")]
    if not lcols:
        return None
    vals = [c for c in table.columns if c not in lcols and pd.api.types.is_float_dtype(table[c])
            and not str(c).endswith(("_low", "_high", "_p", "_q05", "_q50", "_q95", "_std", "std"))
            and "null" not in str(c)]
    if not vals:
        return None
    at0 = np.zeros(len(table), bool)
    for c in lcols:
        at0 |= table[c].to_numpy() == 0
    if not at0.any() or not table.loc[at0, vals].isna().to_numpy().any():
        return None
    pooling = {str((m or {}).get("pooling")) for m in (res.meta.get("manifests") or {}).values()} - {"None"}
    why = ("layer 0 is the embedding layer: with [CLS] pooling it is the [CLS] token's embedding, the same "
           "vector for every input (a constant), so statistics that need variation across inputs (CKA, "
           "IsoScore, variance shares, similarities) are undefined there")
    if pooling and "cls" not in pooling:
        why = "layer 0 is constant or degenerate in this set, so statistics that need variation are undefined there"
    return f"Cells shown as {_NA} at layer 0: {why}."


def params_html(meta: dict) -> list[str]:
    """The result's parameters: short values on one line, long ones (lists, manifests, interval
    methods) in full under a fold; empty values (``[]``, ``{}``, None) left out."""
    short, long_ = [], []
    for k, v in sorted(meta.items()):
        if k in _HIDDEN_META or v is None or (isinstance(v, (list, tuple, dict, str)) and len(v) == 0):
            continue
        text = _fmt(v)
        (short if len(text) < 120 and not isinstance(v, dict) else long_).append((k, v, text))
    out = []
    if short:
        out.append("<p class=meta>" + "; ".join(f"{html.escape(str(k))}: {html.escape(t)}" for k, _, t in short) + "</p>")
    if long_:
        out.append("<details class=meta><summary>more parameters (" + ", ".join(html.escape(str(k)) for k, _, _ in long_)
                   + ")</summary><pre style='white-space:pre-wrap'>" + html.escape("\n".join(f"{k}: {json.dumps(v, default=str)}"
                                                               for k, v, _ in long_)) + "</pre></details>")
    return out


# ---------------------------------------------------------------------------------------------- figures
def figure_stems(run: RunDir, name: str, res, *, redraw: bool = False) -> tuple[list[tuple[str, Path]], dict]:
    """``([(stem, png path), ...], {stem: why not drawn})`` of a result: the figures it saved and those its
    displays can draw from the saved tables (drawn now when missing, or all again with ``redraw``); a
    display with nothing to draw gives its reason instead of a figure."""
    saved = list(res.meta.get("figures", []))
    not_drawn = dict(res.meta.get("figures_not_drawn") or {})
    try:
        displays = list(res.displays())
    except Exception as exc:  # noqa: BLE001 - an old result a display cannot read: keep what was saved
        displays = []
        if not saved:
            not_drawn[name] = f"its figures could not be built from the saved tables ({type(exc).__name__}: {exc})"
    order = list(saved)
    for suffix, disp in displays:
        stem = f"{name}_{suffix}"
        try:
            why = disp.empty_reason()
        except Exception:  # noqa: BLE001
            why = None
        if why:
            not_drawn[stem] = why
            if stem in order:
                order.remove(stem)
            continue
        png = _png(run, stem)
        if redraw or not png.is_file():
            try:
                disp.save(run.figure_stem(stem))
            except Exception as exc:  # noqa: BLE001 - a figure that fails says so, the report goes on
                not_drawn[stem] = f"drawing it failed ({type(exc).__name__}: {exc})"
                continue
            finally:
                disp.close()
        if stem not in order:
            order.append(stem)
    return [(s, _png(run, s)) for s in order if s not in not_drawn], not_drawn


def _png(run: RunDir, fig: str) -> Path:
    path = Path(fig)
    if not path.is_absolute():
        path = run.figures / path
    return path.with_suffix(".png")


def figure_html(result: Any, stem: str, png_path: Path, *, caption: str | None = None) -> str:
    """The HTML of one figure of a section: the embedded PNG (with a link to its SVG) under the anchor
    ``f-<stem>`` the findings link to. The one place a figure is emitted: an interactive version of the
    same figure belongs next to (or instead of) this ``<img>``."""
    anchor = f"f-{html.escape(stem)}"
    if not png_path.is_file():
        return f"<p class=nofig id='{anchor}'>missing figure {html.escape(png_path.name)}</p>"
    data = base64.b64encode(png_path.read_bytes()).decode("ascii")
    svg = png_path.with_suffix(".svg")
    link = f" (<a href='figures/{html.escape(svg.name)}'>SVG</a>)" if svg.is_file() else ""
    return (f"<figure id='{anchor}'><img alt='{html.escape(stem)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption or stem)}{link}</figcaption></figure>")


# ---------------------------------------------------------------------------------------------- misc
def _unreadable_section(unreadable) -> list[str]:
    if not unreadable:
        return []
    items = "".join(f"<li><code>{html.escape(n)}</code>: {html.escape(why)}</li>" for n, why in unreadable)
    return [f"<div class=warn><p>{len(unreadable)} result folder(s) could not be read and are left out:</p>"
            f"<ul>{items}</ul></div>"]


def _model_note(run: RunDir) -> list[str]:
    """What a packaged model is (e.g. SmolLM2-135M-Instruct, de-quantised from 4 bits), next to its results: the
    numbers describe that stand-in, not the papers' models."""
    import yaml

    from ftgeo.models import MODELS
    if not run.config.is_file():
        return []
    try:
        model = (yaml.safe_load(run.config.read_text()) or {}).get("model")
    except yaml.YAMLError:
        return []
    if not isinstance(model, str) or model not in MODELS:
        return []
    return [f"<p class=meta>Model <code>{html.escape(model)}</code>: {html.escape(MODELS.help(model))}. The "
            "numbers describe this packaged stand-in, not the model a paper studied.</p>"]


def _config_section(run: RunDir) -> list[str]:
    if not run.config.is_file():
        return []
    return ["<details><summary>Configuration</summary><pre>"
            + html.escape(run.config.read_text()) + "</pre></details>"]


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return str(v)
