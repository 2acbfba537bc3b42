"""Markdown of a page for line readers: blocks laid out as headings, lists and paragraphs."""

from __future__ import annotations

from PIL import Image, ImageDraw

from hyocr.tasks.layout import page_markdown
from hyocr.tasks.segment import page_segments

LINES = [  # (text, x, y, size)
    ("Annual report", 40, 14, 14),  # running header
    ("Printing costs", 40, 70, 34),  # title
    ("The costs of the year rose by a", 40, 140, 18),
    ("fifth, and the press was run", 40, 164, 18),
    ("twice as often as before.", 40, 188, 18),
    ("- paper and ink from two", 40, 250, 18),
    ("suppliers", 62, 274, 18),  # a list item's second line, hanging
    ("- repairs in March", 40, 298, 18),
    ("Outlook", 40, 360, 26),  # a heading
    ("The next year will be quieter.", 40, 410, 18),
    ("12", 230, 560, 14),  # page number
]
WANT = (
    "# Printing costs\n\n"
    "The costs of the year rose by a fifth, and the press was run twice as often as before.\n\n"
    "- paper and ink from two suppliers\n- repairs in March\n\n"
    "## Outlook\n\n"
    "The next year will be quieter."
)


def page() -> Image.Image:
    im = Image.new("RGB", (480, 600), (250, 250, 247))
    d = ImageDraw.Draw(im)
    for text, x, y, size in LINES:
        d.text((x, y), text, fill=(20, 20, 20), font_size=size)
    return im


def test_blocks_become_headings_lists_and_paragraphs_without_header_and_page_number():
    im = page()
    segs = page_segments(im)
    assert len({s.row for s in segs}) == len(LINES) == len(segs), [s.box for s in segs]
    md, blocks = page_markdown(segs, [t for t, *_ in LINES], im.size)
    assert md == WANT, md
    assert [b["kind"] for b in blocks] == ["heading", "paragraph", "list", "heading", "paragraph"]
    assert blocks[2]["items"] == ["- paper and ink from two suppliers", "- repairs in March"]


def test_a_page_scanned_inside_a_wider_ground_loses_its_header_and_page_number_too():
    # its header lies 17% down the scan and its page number 27% up it: outside the scan's top and
    # bottom 8%, inside its print's (dev Markdown pages kept "termination", "- 19 -" and the like,
    # and the title under the header was written as a second-level heading)
    scan = Image.new("RGB", (680, 1000), (120, 120, 125))
    scan.paste(page(), (100, 160))
    segs = page_segments(scan)
    md, _ = page_markdown(segs, [t for t, *_ in LINES], scan.size)
    assert md == WANT, md


def test_the_shipped_model_writes_a_pages_markdown():
    from hyocr import OCR
    from hyocr.eval.metrics import ned

    res = OCR(max_new_tokens=40).document(page())
    assert res.markdown.startswith("# ") and "\n\n## " in res.markdown, res.markdown
    assert ned(res.markdown, WANT) <= 0.1, res.markdown
    assert any("layout rules" in w for w in res.warnings)


def test_a_table_on_a_page_is_written_as_its_html():
    # rows of two or more segments (column gaps wider than the cutter's segment gap) are a table:
    # cut into cells and written as HTML among the page's Markdown; the paragraph stays text
    from hyocr import OCR
    from hyocr.eval.metrics import ned, teds_s
    from hyocr.tasks.parsers import find_html_tables
    from hyocr.tasks.segment import task_segments

    im = Image.new("RGB", (520, 360), (250, 250, 247))
    d = ImageDraw.Draw(im)
    d.text((40, 30), "Prices rose in the second half of the year.", fill=(20, 20, 20), font_size=18)
    for r, row in enumerate([("Item", "2023", "2024"), ("Paper", "4.10", "5.25"), ("Ink", "12.00", "13.50")]):
        for c, text in enumerate(row):
            d.text((40 + 160 * c, 110 + 40 * r), text, fill=(20, 20, 20), font_size=18)
    segs = task_segments("document", im)
    assert sum(type(s).__name__ == "Cell" for s in segs) == 9
    res = OCR(max_new_tokens=24).document(im)
    # the paragraph comes first, as text (version 11 reads this face's "Prices" as "Pices")
    first = res.markdown.split("\n\n")[0]
    assert ned(first, "Prices rose in the second half of the year.") <= 0.1, res.markdown
    (table,) = find_html_tables(res.markdown)
    want = "<table>" + "".join("<tr>" + "<td>x</td>" * 3 + "</tr>" for _ in range(3)) + "</table>"
    assert teds_s(res.markdown[res.markdown.index("<table>") :], want) == 1.0, res.markdown
    assert [b["kind"] for b in res.blocks] == ["paragraph", "table"]
    assert [c.text for c in table.rows[1]] == ["Paper", "4.10", "5.25"], res.markdown


def formula_page(latex: str = r"r = \frac{p + 12}{h}") -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A paragraph, a display formula centred under it (by default a fraction: three rows of
    print), and another paragraph right under the formula, as the document renderer sets them; the
    formula's box."""
    from hyocr.data.render.formula import render_latex

    im = Image.new("RGB", (520, 330), (250, 250, 247))
    d = ImageDraw.Draw(im)
    for k, line in enumerate(
        ["The rate of the press is given by the", "ratio of pages printed to hours run:"]
    ):
        d.text((40, 30 + 24 * k), line, fill=(20, 20, 20), font_size=18)
    patch = render_latex(latex, 22, (20, 20, 20))
    x, y = 186 - patch.width // 2, 92  # under the middle of the lines (x 38 to 334)
    im.paste(patch, (x, y), patch)
    d.text(
        (40, y + patch.height + 8), "so a faster press gives a larger rate.", fill=(20, 20, 20), font_size=18
    )
    return im, (x, y, x + patch.width, y + patch.height)


def test_a_centred_formula_is_found_and_written_as_its_own_block():
    from hyocr.tasks.layout import formula_rows, within
    from hyocr.tasks.segment import task_segments

    im, box = formula_page()
    segs = task_segments("document", im)
    found = formula_rows(segs)
    assert len(found) == 1, found  # the paragraph lines are not centred with a margin
    (f,) = found
    assert abs(f[0] - box[0]) <= 3 and abs(f[2] - box[2]) <= 3 and f[1] <= box[1] + 8 and f[3] >= box[3] - 8
    inside = [s for s in segs if within(s.box, f)]
    texts = [f"t{s.row}" for s in segs]
    md, blocks = page_markdown(segs, texts, im.size, [(f, r"r = \frac{p + 12}{h}")])
    assert "$$\nr = \\frac{p + 12}{h}\n$$" in md, md
    assert [b["kind"] for b in blocks].count("formula") == 1
    # the formula's rows are gone from the text, and the text after the formula is a paragraph of its own
    assert not any(f"t{s.row}" in md for s in inside) and len(inside) >= 2
    assert md.index("$$") < md.index(texts[-1]) and md.split("\n\n")[-1] == texts[-1]
    # without formulas the rows are read as text
    plain, _ = page_markdown(segs, texts, im.size)
    assert "$$" not in plain and all(t in plain for t in texts)


def test_a_formula_is_found_with_its_limits_and_scripts():
    # limits over and under a big operator at one end of a formula are rows of their own, not
    # centred under the wider line; the candidate takes them in (it was the middle row alone, and
    # its crop cut them off)
    from hyocr.tasks.layout import formula_rows
    from hyocr.tasks.segment import task_segments

    for latex in (r"a + b + c = \sum_{i=1}^{n} x_{i}", r"\int_{0}^{\infty} t = a + b + c + d"):
        im, box = formula_page(latex)
        found = formula_rows(task_segments("document", im))
        assert len(found) == 1, (latex, found, box)
        (f,) = found
        assert f[1] <= box[1] + 2 and f[3] >= box[3] - 2 and f[0] <= box[0] + 3 and f[2] >= box[2] - 3, (
            f,
            box,
        )
        assert f[1] > 30 + 24 + 10 and f[3] < box[3] + 10  # the paragraph lines stay out


def test_assemble_writes_a_formula_only_when_its_reading_is_surer_by_a_margin():
    import math

    from hyocr.tasks.layout import formula_rows, within
    from hyocr.tasks.segment import SegmentAnswer, assemble, task_segments

    im, _ = formula_page()
    segs = task_segments("document", im)
    (f,) = formula_rows(segs)
    answers = [SegmentAnswer(f"t{s.row}", [math.log(0.6 if within(s.box, f) else 0.99)] * 3) for s in segs]
    surer = SegmentAnswer(r"r = \frac{p + 12}{h}", [math.log(0.9)] * 8)
    unsure = SegmentAnswer(r"r = \frac{p}{h}", [math.log(0.3)] * 8)
    doc = assemble("document", im.size, segs, answers, formulas=[(f, surer)])
    assert [b["kind"] for b in doc.blocks].count("formula") == 1 and "\\frac{p + 12}" in doc.markdown
    assert any("1 of 1 centred rows read as formulas" in w for w in doc.warnings)
    # not surer, surer by less than the margin (0.65 against the text's 0.6), or cut at its budget
    slightly = SegmentAnswer(r"r = \frac{p + 12}{h}", [math.log(0.65)] * 8)
    cut = SegmentAnswer(r"r = \frac{p + 12}{h}", [math.log(0.9)] * 8, truncated=True)
    for other in (unsure, slightly, cut):
        doc = assemble("document", im.size, segs, answers, formulas=[(f, other)])
        assert "$$" not in doc.markdown and "formula" not in [b["kind"] for b in doc.blocks]


def test_spotting_and_text_write_a_surer_formula_as_one_latex_line_in_its_place():
    import math

    from hyocr.tasks.layout import formula_rows, within
    from hyocr.tasks.segment import (
        SegmentAnswer,
        assemble,
        formulas_worth_reading,
        reads_formulas,
        task_segments,
    )

    im, box = formula_page()
    segs = task_segments("spotting", im)
    (f,) = formula_rows(segs)
    inside = [s for s in segs if within(s.box, f)]
    assert len(inside) >= 2  # the fraction's rows
    answers = [
        SegmentAnswer(f"t{k}", [math.log(0.6 if within(s.box, f) else 0.99)] * 3) for k, s in enumerate(segs)
    ]
    latex = r"r = \frac{p + 12}{h}"
    surer = SegmentAnswer(latex, [math.log(0.93)] * 8)
    spot = assemble("spotting", im.size, segs, answers, formulas=[(f, surer)])
    texts = [ln.text for ln in spot.lines]
    # the paragraph's lines, then the formula with its box where its rows were, then the last line
    want = [f"t{k}" for k, s in enumerate(segs) if not within(s.box, f)]
    assert texts == want[:2] + [latex] + want[2:], texts
    line = spot.lines[2]
    assert line.box == [float(v) for v in f] and line.confidence == round(0.93, 4)
    text = assemble("text", im.size, segs, answers, formulas=[(f, surer)])
    assert text.content.split("\n") == want[:2] + [latex] + want[2:]
    # a formula reading no surer than the text leaves the rows as read, and so does one surer by
    # the margin but under FORMULA_SURE (receipts' centred rows), which the document task still takes
    for unsure in (SegmentAnswer(latex, [math.log(0.62)] * 8), SegmentAnswer(latex, [math.log(0.9)] * 8)):
        plain = assemble("spotting", im.size, segs, answers, formulas=[(f, unsure)])
        assert [ln.text for ln in plain.lines] == [f"t{k}" for k in range(len(segs))]
    doc = assemble(
        "document", im.size, segs, answers, formulas=[(f, SegmentAnswer(latex, [math.log(0.85)] * 8))]
    )
    assert latex in doc.markdown
    # a row inside the box read surely as text (over TEXT_SURE) keeps the rows as text, however sure
    # the formula reading; the document task does not look at it
    first = next(k for k, s in enumerate(segs) if within(s.box, f))
    sure_row = [
        SegmentAnswer(a.text, [math.log(0.99)] * 3) if k == first else a for k, a in enumerate(answers)
    ]
    sure_formula = SegmentAnswer(latex, [math.log(0.97)] * 8)
    kept = assemble("spotting", im.size, segs, sure_row, formulas=[(f, sure_formula)])
    assert [ln.text for ln in kept.lines] == [f"t{k}" for k in range(len(segs))]
    assert latex in assemble("document", im.size, segs, sure_row, formulas=[(f, sure_formula)]).markdown
    # so the formula reader need not read it at all for text and spotting
    assert formulas_worth_reading("spotting", [f], segs, sure_row) == []
    assert formulas_worth_reading("text", [f], segs, answers) == [0]
    assert formulas_worth_reading("document", [f], segs, sure_row) == [0]
    # ... but not a row read as a lone letter or digit (a fraction's denominator, read surely)
    letter = [SegmentAnswer("h", a.logprobs) if k == first else a for k, a in enumerate(sure_row)]
    assert formulas_worth_reading("spotting", [f], segs, letter) == [0]
    assert [
        ln.text for ln in assemble("spotting", im.size, segs, letter, formulas=[(f, sure_formula)]).lines
    ] == (want[:2] + [latex] + want[2:])

    class Cfg:
        formula_height = 96

    assert all(reads_formulas(t, Cfg) for t in ("document", "text", "spotting"))
    assert not any(reads_formulas(t, Cfg) for t in ("fields", "key", "table"))


def test_a_candidate_formula_reading_has_a_budget_by_its_width():
    # 8 tokens a column of merged tokens at the formula height (and 16 more): a row that is not a
    # formula cannot run on to the token limit
    from hyocr.tasks.segment import formula_budget

    short, wide = Image.new("RGB", (120, 40)), Image.new("RGB", (480, 40))
    assert formula_budget(short, 96, 1.5) == 108 + 16  # 120 * 96 / 40 * 1.5 / 32 = 13.5 columns
    assert formula_budget(wide, 96, 1.5) == 8 * 54 + 16
    assert formula_budget(wide, 96) < formula_budget(wide, 96, 1.5)
