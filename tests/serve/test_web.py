"""The web page in a real browser: Debian's headless Chromium driven by Playwright.

A person's path: open the page, drop in an image (and a PDF), pick a task, press Run, see the
image on a canvas, the preview and the JSON. The overlay drawing is also checked on a hand-made
spotting result (random weights never emit boxes): the canvas must show red where the box is.
Every request the page makes must go to the server itself (no CDN, works offline).
Set HYOCR_DOCS_SCREENSHOT=path to also write the screenshot there (docs/serve-page.png).
"""

from __future__ import annotations

import base64
import io
import os
import shutil

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

from tests.serve.conftest import LiveServer, make_app
from tests.serve.test_endpoints import pdf_bytes

CHROMIUM = (
    "/usr/bin/chromium"  # Debian's package (requirements/apt.txt); Playwright never downloads a browser
)


def receipt_png() -> bytes:
    img = Image.new("RGB", (320, 200), "white")
    d = ImageDraw.Draw(img)
    for k, line in enumerate(["CORNER SHOP", "MILK      1.20", "BREAD     2.30", "TOTAL     3.50"]):
        d.text((24, 24 + 38 * k), line, fill="black", font_size=22)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def browser_page(serve_engine):
    assert shutil.which(CHROMIUM), (
        "Debian's chromium is required (scripts/dev.sh setup installs requirements/apt.txt)"
    )
    with LiveServer(make_app(serve_engine, max_new_tokens=48)) as server, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        requested: list[str] = []
        page.on("request", lambda req: requested.append(req.url))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/")
        # (no wait_for_function: its string predicates need eval, which the page's CSP forbids)
        page.wait_for_selector("#task option[value=vqa]", state="attached")
        yield page, server, requested, errors
        browser.close()


def test_upload_an_image_and_see_the_result(browser_page, tmp_path):
    page, server, requested, errors = browser_page
    src = tmp_path / "receipt.png"
    src.write_bytes(receipt_png())
    page.set_input_files("#file", str(src))
    page.select_option("#task", "text")
    page.fill("#max-tokens", "24")
    page.click("#run")
    page.wait_for_selector("#status[data-state=done]", timeout=30_000)
    assert page.inner_text("#status").startswith("done in")
    data = page.evaluate("JSON.parse(document.getElementById('json').textContent)")
    assert (
        data["task"] == "text"
        and data["results"][0]["width"] == 320
        and data["results"][0]["source"] == "receipt.png"
    )
    size = page.evaluate(
        "(() => { const c = document.querySelector('#pages canvas'); return [c.width, c.height]; })()"
    )
    assert size == [320, 200]
    # the uploaded image is drawn: the canvas centre region is not blank
    dark = page.evaluate(
        "(() => { const c = document.querySelector('#pages canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 100) n++; return n; })()"
    )
    assert dark > 200, "the uploaded receipt should be drawn on the canvas"
    assert page.inner_text("#preview").strip() != ""
    shot = tmp_path / "serve-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("HYOCR_DOCS_SCREENSHOT"):
        shutil.copy(shot, os.environ["HYOCR_DOCS_SCREENSHOT"])
    assert all(u.startswith(server.url) or u.startswith(("blob:", "data:")) for u in requested), requested
    assert not errors, errors


def test_a_pdf_gives_a_canvas_per_page(browser_page, tmp_path):
    page, server, requested, errors = browser_page
    src = tmp_path / "two.pdf"
    src.write_bytes(pdf_bytes(2))
    page.evaluate("document.getElementById('status').dataset.state = ''")
    page.set_input_files("#file", str(src))
    page.select_option("#task", "document")
    page.fill("#max-tokens", "6")
    page.click("#run")
    page.wait_for_selector("#status[data-state=done]", timeout=30_000)
    assert page.locator("#pages canvas").count() == 2
    assert page.locator("#preview h3").all_inner_texts() == ["Page 1", "Page 2"]
    assert not errors, errors


def test_errors_are_shown_not_thrown(browser_page, tmp_path):
    page, _server, _requested, errors = browser_page
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    page.set_input_files("#file", str(bad))
    page.select_option("#task", "text")
    page.click("#run")
    page.wait_for_selector("#status[data-state=error]", timeout=30_000)
    assert "notes.png: not an image file" in page.inner_text("#status")
    assert not errors, errors


def test_overlay_draws_spotting_boxes_and_html_is_whitelisted(browser_page):
    page, _server, _requested, errors = browser_page
    white = Image.new("RGB", (200, 100), "white")
    buf = io.BytesIO()
    white.save(buf, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    result = {
        "task": "spotting",
        "results": [
            {
                "task": "spotting",
                "width": 200,
                "height": 100,
                "warnings": [],
                "lines": [
                    {"text": "TOTAL", "polygon": [[20, 20], [120, 20], [120, 60], [20, 60]]},
                    {
                        "text": "<img src=x onerror=alert(1)>",
                        "polygon": [[130, 70], [190, 70], [190, 90], [130, 90]],
                    },
                ],
            }
        ],
    }
    page.evaluate("([data, uri]) => render(data, [uri])", [result, uri])
    page.wait_for_selector("#pages canvas")
    boxes = page.evaluate("document.querySelector('#pages canvas').dataset.boxes")
    assert boxes == "2"
    # a pixel on the first box's left edge is red; one far from both boxes stays white
    edge, outside = page.evaluate(
        "(() => { const g = document.querySelector('#pages canvas').getContext('2d');"
        " return [Array.from(g.getImageData(20, 40, 1, 1).data), Array.from(g.getImageData(160, 30, 1, 1).data)]; })()"
    )
    assert edge[0] > 150 and edge[1] < 120 and edge[2] < 120, edge
    assert outside[:3] == [255, 255, 255], outside
    assert page.locator("#preview img").count() == 0, "model text must never become HTML"
    assert "<img src=x" in page.inner_text("#preview")
    html = {
        "task": "table",
        "results": [
            {
                "task": "table",
                "width": 0,
                "height": 0,
                "warnings": [],
                "html": "<table><tr><td colspan='2' onclick='x()'>a</td></tr><script>bad()</script></table>",
            }
        ],
    }
    page.evaluate("(data) => render(data, [])", html)
    assert page.locator("#preview td[colspan='2']").count() == 1
    assert page.locator("#preview [onclick]").count() == 0 and page.locator("#preview script").count() == 0
    assert not errors, errors
