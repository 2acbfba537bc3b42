"""Regenerate examples/ (inputs made by our own renderer) and docs/data/ contact sheets, deterministically.

$ python scripts/make_examples.py
"""

from __future__ import annotations

import os
import random

from hyocr.data.degrade import DegradeConfig, degrade
from hyocr.data.preview import contact_sheet
from hyocr.data.render.document import render_document
from hyocr.data.render.formula import render_formula
from hyocr.data.render.lines import render_clean_line, render_line
from hyocr.data.render.receipt import render_receipt, render_receipt_line
from hyocr.data.render.table import render_table
from hyocr.data.scenarios import RENDERERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCANNER = DegradeConfig(
    background="scanner",
    margin=(0.03, 0.08),
    max_rotate=2.0,
    p_perspective=0.0,
    p_glare=0.0,
    p_shadow=0.0,
    p_motion=0.0,
    p_jpeg=0.0,
)


def main() -> None:
    ex = os.path.join(ROOT, "examples")
    os.makedirs(ex, exist_ok=True)
    # paper grain makes full-colour PNGs large: examples are stored with a 64-colour palette
    small = {"colors": 64, "method": 2, "dither": 0}
    degrade(render_receipt(random.Random(11), "en"), random.Random(12), SCANNER).image.quantize(**small).save(
        os.path.join(ex, "receipt.png"), optimize=True
    )
    render_document(random.Random(3), "en", width=900).image.quantize(**small).save(
        os.path.join(ex, "page.png"), optimize=True
    )
    render_line(random.Random(4), "en", style="sans").image.save(
        os.path.join(ex, "line_en.png"), optimize=True
    )
    # single lines, what the shipped hyocr-tiny reads (the demo's inputs): the first seed whose
    # line has at least 14 characters
    for name, fn in (("line_print.png", render_clean_line), ("line_receipt.png", render_receipt_line)):
        r = next(r for r in (fn(random.Random(i), "en") for i in range(100)) if len(r.lines[0].text) >= 14)
        r.image.save(os.path.join(ex, name), optimize=True)
    render_table(random.Random(5), "en").image.quantize(**small).save(
        os.path.join(ex, "table.png"), optimize=True
    )
    # a display formula, what the shipped formula reader reads: the first seed whose LaTeX has 20-40
    # characters (the held-out formulas' median is 65), chosen before the reader was tried on it
    r = next(
        r
        for r in (render_formula(random.Random(f"example-formula:{i}")) for i in range(100))
        if 20 <= len(r.latex) <= 40
    )
    r.image.save(os.path.join(ex, "formula.png"), optimize=True)
    docs = os.path.join(ROOT, "docs", "data")
    os.makedirs(docs, exist_ok=True)
    langs = ["en", "zh-Hans", "ar", "ja", "ru", "th"]
    for name, fn in RENDERERS.items():
        rs = []
        for i in range(6):
            lang = "en" if name == "formula" else langs[i]
            rng = random.Random(f"sheet:{name}:{i}")
            r = fn(rng, lang)
            if i % 2 == 1:
                r = degrade(r, rng, DegradeConfig(background="scanner" if name == "receipt" else "any"))
            rs.append(r)
        contact_sheet(rs, cols=3, cell=240).quantize(128).save(
            os.path.join(docs, f"{name}.png"), optimize=True
        )


if __name__ == "__main__":
    main()
