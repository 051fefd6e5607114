"""The report's interactive figures in a real browser (issue 15): headless Chromium from the system's
package manager (Debian ``chromium``, installed by scripts/setup.sh), driven by Playwright pointed at it
(no ``playwright install`` download), with networking off.

One report from a tiny planted run (projection of two sets with sentences and predictions, CKA, rogue,
dynamics; :func:`ftgeo.testing.report.tiny_report_run`) is opened once; the checks: no console error,
no request leaves the file, every Plotly figure drew marks, a hover over a projection point shows that
example's sentence and id, and a click on a CKA cell puts those two layers' projections in the panel.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                     "(pip install 'ftgeo[test]'; scripts/setup.sh does it)")
pytest.importorskip("plotly", reason="plotly is not installed (pip install 'ftgeo[report]')")


def _chromium() -> str | None:
    """The system's Chromium: $FTGEO_CHROMIUM, else the first of chromium / chromium-browser / google-chrome."""
    env = os.environ.get("FTGEO_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine: `apt-get install chromium` (scripts/setup.sh tries it) or set "
                "FTGEO_CHROMIUM to a Chromium/Chrome executable", allow_module_level=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from ftgeo.testing.report import tiny_report_run
    run = tiny_report_run(tmp_path_factory.mktemp("browser_run"))
    return run / "report.html"


@pytest.fixture(scope="module")
def page(report):
    """The report open in offline headless Chromium; console errors, page errors and every request that
    is not the file itself are recorded (and aborted)."""
    seen = {"errors": [], "requests": []}
    t0 = time.perf_counter()
    with playwright_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start is an environment problem
            pytest.skip(f"{CHROMIUM} does not start headless: {str(exc).splitlines()[0]}")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_offline(True)

        def route(r):
            if not r.request.url.startswith("file:"):
                seen["requests"].append(r.request.url)
                return r.abort()
            return r.continue_()

        context.route("**/*", route)
        pg = context.new_page()
        pg.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
        pg.on("pageerror", lambda e: seen["errors"].append(f"page error: {e}"))
        pg.goto(report.as_uri(), wait_until="load")
        pg.wait_for_function("() => document.querySelectorAll('div.ftgeo-ix .js-plotly-plot').length >= 7",
                             timeout=20000)
        pg.seen = seen
        yield pg
        context.close()
        browser.close()
    print(f"browser part: {time.perf_counter() - t0:.1f} s")


def test_report_is_one_offline_file(report):
    text = report.read_text()
    assert text.count("plotly.js v") >= 1 and len(re.findall(r"<script[^>]*\bsrc=", text)) == 0
    assert "cdn." not in text.split("</head>", 1)[1]            # no CDN reference in the body either
    # the bundle is inlined once, however many figures
    assert text.count('class="ftgeo-ix"') == 5 and len(re.findall(r"\(function\(\)\{\s*'use strict';", text)) == 1


def test_no_console_errors_and_no_network(page):
    assert page.seen["errors"] == []
    assert page.seen["requests"] == []
    assert page.evaluate("() => typeof Plotly") == "object"


def test_every_figure_rendered(page):
    """Every interactive block drew at least one Plotly figure, and every figure has marks on it
    (points, lines, bars or the heat map's image) and a non-empty size."""
    per_block = page.evaluate("""() => Array.from(document.querySelectorAll('div.ftgeo-ix')).map(root => ({
        id: root.id,
        figs: Array.from(root.querySelectorAll('.js-plotly-plot')).map(g => {
            const r = g.getBoundingClientRect();
            return {w: r.width, h: r.height, traces: g.data ? g.data.length : 0,
                    marks: g.querySelectorAll('.cartesianlayer .trace .point, .cartesianlayer .trace path.js-line,'
                                              + ' .cartesianlayer .heatmaplayer image').length};
        })}))""")
    assert sorted(b["id"] for b in per_block) == ["ix-cka", "ix-dynamics", "ix-projection_ft", "ix-projection_pre",
                                                  "ix-rogue"]
    for b in per_block:
        assert b["figs"], b
        for f in b["figs"]:
            assert f["w"] > 100 and f["h"] > 100 and f["traces"] > 0 and f["marks"] > 0, (b["id"], f)
    counts = {b["id"]: len(b["figs"]) for b in per_block}
    assert counts["ix-cka"] == 3 and counts["ix-dynamics"] == 2     # three pairs (bow-tie); measures + centroids


def _hover_text(page, root: str) -> str:
    """The hover label's lines in ``root`` (an SVG text: one ``tspan.line`` per line), joined by newlines."""
    page.locator(f"{root} .hoverlayer .hovertext").first.wait_for(timeout=5000)
    return page.evaluate("""(sel) => Array.from(document.querySelectorAll(sel + ' .hoverlayer .hovertext text'))
        .map(t => { const ls = t.querySelectorAll('tspan.line');
                    return ls.length ? Array.from(ls).map(l => l.textContent).join('\\n') : t.textContent; })
        .join('\\n')""", root)


def _point_center(page, handle):
    box = handle.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_hover_shows_the_points_sentence(page, report):
    """Hover one point of the fine-tuned projection: the label names an example id, shows that example's
    sentence (escaped: its literal ``<b>`` is text, not markup) and its gold and predicted labels, and the
    point sits where the saved table puts that example."""
    import pandas as pd

    from ftgeo.testing.report import sentence

    coords = pd.read_csv(report.parent / "results" / "projection_ft" / "coords.csv")
    fig = page.locator("#ix-projection_ft .js-plotly-plot").first
    fig.scroll_into_view_if_needed()
    point = fig.locator(".scatterlayer .trace .point").nth(17)
    x, y = _point_center(page, point)
    page.mouse.move(x, y)
    text = _hover_text(page, "#ix-projection_ft")
    m = re.search(r"id: (ex\d+)", text)
    assert m, text
    ex = m.group(1)
    assert sentence(int(ex[2:])) in text.replace("\n", " ")
    row = coords[(coords["id"] == ex) & (coords["layer"] == coords["layer"].max())].iloc[0]
    assert f"gold: {row['label_name']}" in text and f"predicted: {row['prediction_name']}" in text
    # the hovered pixel maps back to the example's saved coordinates (within a few pixels)
    xy = page.evaluate("""([px, py]) => { const g = document.querySelector('#ix-projection_ft .js-plotly-plot');
        const r = g.getBoundingClientRect(), L = g._fullLayout;
        return [L.xaxis.p2l(px - r.left - L.xaxis._offset), L.yaxis.p2l(py - r.top - L.yaxis._offset),
                L.xaxis.p2l(4) - L.xaxis.p2l(0), L.yaxis.p2l(0) - L.yaxis.p2l(4)]; }""", [x, y])
    assert abs(xy[0] - row["x"]) <= abs(xy[2]) and abs(xy[1] - row["y"]) <= abs(xy[3]), (xy, row[["x", "y"]].tolist())


def test_click_on_a_cka_cell_shows_both_layers(page, report):
    """Click the cell (pretrained layer 1, fine-tuned layer 3) of the cross heat map: the panel names both
    layers and the CKA value saved for them, and draws each layer's projection (both are in the report)."""
    import pandas as pd

    cka = pd.read_csv(report.parent / "results" / "cka" / "cka.csv")
    want = cka[(cka["set_a"] == "pretrained") & (cka["set_b"] == "fine-tuned") & (cka["layer_a"] == 1)
               & (cka["layer_b"] == 3)]["cka"].iloc[0]
    boxes = page.locator("#ix-cka > div")
    idx = [i for i in range(boxes.count()) if "pretrained × fine-tuned" in boxes.nth(i).inner_text()]
    assert len(idx) == 1
    box = boxes.nth(idx[0])
    fig = box.locator(".js-plotly-plot").first
    fig.scroll_into_view_if_needed()
    before = box.locator(".panel-title").inner_text()
    x, y = page.evaluate("""(el) => { const r = el.getBoundingClientRect(), L = el._fullLayout;
        return [r.left + L.xaxis._offset + L.xaxis.l2p(L.xaxis._categories.indexOf('3')),
                r.top + L.yaxis._offset + L.yaxis.l2p(L.yaxis._categories.indexOf('1'))]; }""", fig.element_handle())
    page.mouse.click(x, y)
    page.wait_for_function("(el) => el.getAttribute('data-selected') === '1,3'", arg=box.element_handle(),
                           timeout=5000)
    after = box.locator(".panel-title").inner_text()
    assert after != before
    assert after.startswith("pretrained layer 1 (left) and fine-tuned layer 3 (right)")
    assert f"CKA {want:.3f}" in after
    sides = box.locator(".side .js-plotly-plot")
    assert sides.count() == 2
    titles = [sides.nth(i).locator(".gtitle").text_content() for i in range(2)]
    assert titles == ["pca of pretrained, layer 1", "pca of fine-tuned, layer 3"]
    n_points = [sides.nth(i).locator(".scatterlayer .point").count() for i in range(2)]
    assert n_points == [90, 90]
    assert page.seen["errors"] == []


def test_rogue_hover_names_dimension_mean_and_variance(page, report):
    """Hover the tallest bar of the fine-tuned set: the planted rogue dimension 0, with its saved mean and variance."""
    import pandas as pd

    dims = pd.read_csv(report.parent / "results" / "rogue" / "dims.csv")
    r = dims[(dims["set"] == "fine-tuned") & (dims["layer"] == dims["layer"].max()) & (dims["dim"] == 0)].iloc[0]
    fig = page.locator("#ix-rogue .js-plotly-plot").first
    fig.scroll_into_view_if_needed()
    bars = fig.locator(".barlayer .trace").nth(1).locator(".point")
    heights = [bars.nth(i).bounding_box()["height"] for i in range(bars.count())]
    tallest = int(np.argmax(heights))
    assert tallest == 0
    x, y = _point_center(page, bars.nth(tallest))
    page.mouse.move(x, y)
    text = _hover_text(page, "#ix-rogue").replace("\n", " ").replace("\u2212", "-")
    assert "fine-tuned" in text and "dimension 0" in text, text
    shown = {k: float(re.search(rf"\b{k} (-?[0-9.e+-]+)", text).group(1)) for k in ("mean", "variance")}
    assert shown["mean"] == pytest.approx(r["mean"], rel=1e-3, abs=1e-6)
    assert shown["variance"] == pytest.approx(r["var"], rel=1e-3)


def test_dynamics_slider_moves_through_checkpoints(page, report):
    """The centroid panel's checkpoint slider redraws the paths up to the chosen checkpoint."""
    import pandas as pd

    first = pd.read_csv(report.parent / "results" / "dynamics" / "checkpoints.csv").sort_values("checkpoint").iloc[0]
    root = page.locator("#ix-dynamics")
    slider = root.locator("input[type=range]")
    fig = root.locator(".js-plotly-plot").nth(1)
    n_last = page.evaluate("(g) => g.data[0].x.length", fig.element_handle())
    slider.evaluate("(s) => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    n_first = page.evaluate("(g) => g.data[0].x.length", fig.element_handle())
    assert (n_first, n_last) == (1, 3)
    assert fig.locator(".gtitle").text_content().endswith(f"up to checkpoint {first['name']} (step {first['step']})")
