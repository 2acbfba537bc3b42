"""Tables for line readers: cells cut by ink, laid out as HTML, read by the shipped model."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from hyocr.eval.metrics import teds, teds_s
from hyocr.tasks.tables import table_cells, table_html

GRID = [
    ["Region", "Sales 2023", "", "Share"],  # "Sales 2023" spans the two number columns
    ["North", "12.40", "13.10", "21%"],
    ["South", "9.75", "", "17%"],  # an empty cell
    ["East coast", "30.05", "28.90", "48%"],
]
WANT = (
    '<table><tr><td>Region</td><td colspan="2">Sales 2023</td><td>Share</td></tr>'
    "<tr><td>North</td><td>12.40</td><td>13.10</td><td>21%</td></tr>"
    "<tr><td>South</td><td>9.75</td><td></td><td>17%</td></tr>"
    "<tr><td>East coast</td><td>30.05</td><td>28.90</td><td>48%</td></tr></table>"
)


def table_image(ruled: bool, angle: float = 0.0, scale: int = 2) -> Image.Image:
    xs = [20, 170, 260, 350, 430]
    im = Image.new("RGB", (450 * scale // 2, 190 * scale // 2), (250, 250, 247))
    big = Image.new("RGB", (450, 190), (250, 250, 247))
    d = ImageDraw.Draw(big)
    for r, row in enumerate(GRID):
        y = 20 + 40 * r
        for c, text in enumerate(row):
            if text:
                x = xs[c] + 8
                if (r, c) == (0, 1):  # centred over the two columns' print
                    x = (
                        xs[1]
                        + xs[2]
                        + 16
                        + d.textlength("28.90", font_size=18)
                        - d.textlength(text, font_size=18)
                    ) / 2
                d.text((x, y + 8), text, fill=(25, 25, 25), font_size=18)
        if ruled:
            d.line((xs[0], y, xs[-1], y), fill=(40, 40, 40), width=1)
    if ruled:
        d.line((xs[0], 180, xs[-1], 180), fill=(40, 40, 40), width=1)
        for x in (xs[0], xs[1], xs[3], xs[4]):
            d.line((x, 20, x, 180), fill=(40, 40, 40), width=1)
    if angle:
        big = big.rotate(angle, Image.BILINEAR, expand=False, fillcolor=(250, 250, 247))
    im = big if scale == 2 else big.resize((big.width * scale // 2, big.height * scale // 2), Image.LANCZOS)
    return im


def test_cells_are_laid_out_on_the_tables_grid_with_spans_and_empty_cells():
    # open and ruled, level and leaning, and small print (cut on a copy twice the size)
    for ruled, angle, scale in ((False, 0, 2), (True, 0, 2), (True, 1.5, 2), (False, 0, 1)):
        im = table_image(ruled, angle, scale)
        cells = table_cells(im)
        texts = [t for row in GRID for t in row if t]
        assert len(cells) == len(texts), (ruled, angle, scale, [(c.row, c.col, c.span) for c in cells])
        html, rows = table_html(cells, texts)
        assert html == WANT, (ruled, angle, scale, html)
        assert rows[2] == ["South", "9.75", "", "17%"]
        for c in cells:  # every cell's box lies on the image
            assert 0 <= c.box[0] < c.box[2] <= im.width and 0 <= c.box[1] < c.box[3] <= im.height
            assert (c.quad is not None) == bool(angle)


def test_the_shipped_model_parses_a_table_cell_by_cell():
    from hyocr import OCR

    im = table_image(ruled=True)
    res = OCR(max_new_tokens=24).table(im)
    assert teds_s(res.html, WANT) == 1.0, res.html
    assert teds(res.html, WANT) >= 0.9, res.html
    assert any("layout rules" in w for w in res.warnings)


def test_a_cell_centred_over_two_rows_spans_them_and_a_wrapped_cell_is_one_cell():
    im = Image.new("RGB", (420, 230), (250, 250, 247))
    d = ImageDraw.Draw(im)
    rows = [("Name", "Q1", "Q2"), (None, "4.10", "5.25"), (None, "3.90", "6.00"), ("Other", "1.75", "2.50")]
    for r, (name, a, b) in enumerate(rows):
        y = 20 + 44 * r
        if name:
            d.text((20, y), name, fill=(25, 25, 25), font_size=18)
        d.text((200, y), a, fill=(25, 25, 25), font_size=18)
        d.text((310, y), b, fill=(25, 25, 25), font_size=18)
    d.text((20, 20 + 44 + 22), "Group A", fill=(25, 25, 25), font_size=18)  # between rows 1 and 2
    d.text((20, 20 + 44 * 3 + 21), "and more", fill=(25, 25, 25), font_size=18)  # "Other" wraps
    cells = table_cells(im)
    names = iter(["Name", "Group A", "Other", "and more"])  # the first column, top to bottom
    reads = [next(names) if c.col == 0 else f"{c.row}.{c.col}" for c in cells]
    # the wrapped line is a cell of its own to read, on the same grid cell as the line above it
    assert [(c.row, c.col) for c in cells if c.col == 0] == [(0, 0), (1, 0), (3, 0), (3, 0)]
    html, grid = table_html(cells, reads)
    assert html.startswith(
        '<table><tr><td>Name</td><td>0.1</td><td>0.2</td></tr><tr><td rowspan="2">Group A</td>'
    )
    assert grid[2] == ["2.1", "2.2"] and grid[3] == ["Other and more", "3.1", "3.2"], grid


def ruled_grid(width: int, right: int = 440) -> Image.Image:
    """A table ruled all over whose print alone misleads: a top-aligned cell spanning two rows (no
    rule between them in its column) and a cell whose words stand far apart."""
    im = Image.new("RGB", (460, 170), (250, 250, 247))
    d = ImageDraw.Draw(im)
    xs, ys = [20, 120, 240, right], [20, 60, 105, 150]
    for y in ys:
        d.line((xs[0], y, xs[-1], y), fill=(30, 30, 30), width=width)
    d.rectangle((xs[0] + width, ys[1] + width, xs[1] - width, ys[2] + width), fill=(250, 250, 247))
    for x in xs:
        d.line((x, ys[0], x, ys[-1]), fill=(30, 30, 30), width=width)
    text = {(0, 0): "Item", (0, 1): "Kind", (0, 2): "Price         (RM)", (1, 0): "Fruit"}
    text |= {(1, 1): "Apple", (1, 2): "1.20", (2, 1): "Pear", (2, 2): "0.90"}
    for (r, c), t in text.items():
        d.text((xs[c] + 10, ys[r] + 10), t, fill=(25, 25, 25), font_size=18)
    return im


def test_a_table_ruled_all_over_is_cut_along_its_rules():
    # the grid's rules say what print cannot: "Fruit" spans two rows though it sits in the first,
    # and "Price (RM)" is one cell though its words stand a column's gap apart
    want = (
        "<table><tr><td>Item</td><td>Kind</td><td>Price (RM)</td></tr>"
        '<tr><td rowspan="2">Fruit</td><td>Apple</td><td>1.20</td></tr>'
        "<tr><td>Pear</td><td>0.90</td></tr></table>"
    )
    for width in (1, 2):
        im = ruled_grid(width)
        cells = table_cells(im)
        assert [(c.row, c.col, c.span, c.rowspan) for c in cells][:4] == [
            (0, 0, 1, 1),
            (0, 1, 1, 1),
            (0, 2, 1, 1),
            (1, 0, 1, 2),
        ], width
        reads = ["Item", "Kind", "Price (RM)", "Fruit", "Apple", "1.20", "Pear", "0.90"]
        assert table_html(cells, reads)[0] == want, width
        for c in cells:  # no crop reaches over a rule
            assert not any(c.box[0] < x < c.box[2] for x in (120, 240)), (c, width)


def test_a_ruled_table_on_a_page_is_cut_along_its_rules():
    # the table's region on a page comes from its print; widened by TABLE_MARGIN it holds the frame
    # (without it the crop held the print alone and "Fruit" was read as a row of its own)
    from hyocr.tasks.segment import page_segments
    from hyocr.tasks.tables import Cell, with_tables

    page = Image.new("RGB", (520, 330), (250, 250, 247))
    d = ImageDraw.Draw(page)
    d.text((30, 20), "Prices of the week, as printed below.", fill=(25, 25, 25), font_size=18)
    page.paste(ruled_grid(1, right=340), (30, 60))
    d.text((30, 280), "All prices include tax.", fill=(25, 25, 25), font_size=18)
    cells = [s for s in with_tables(page_segments(page), page) if isinstance(s, Cell)]
    reads = ["Item", "Kind", "Price (RM)", "Fruit", "Apple", "1.20", "Pear", "0.90"]
    assert [(c.row, c.col, c.rowspan) for c in cells][:4] == [(0, 0, 1), (0, 1, 1), (0, 2, 1), (1, 0, 2)]
    assert table_html(cells, reads)[0].count('rowspan="2"') == 1


def test_a_ruled_grid_whose_rows_the_cutter_does_not_find_is_cut_along_its_rules_on_a_page():
    # a cell spanning two rows sits between them, and the rows beside it hold one segment each:
    # the cutter's rows give no run of two-segment rows over the whole table, its rules do
    from hyocr.tasks.segment import page_segments
    from hyocr.tasks.tables import Cell, with_tables

    page = Image.new("RGB", (560, 380), (250, 250, 247))
    d = ImageDraw.Draw(page)
    d.text((30, 16), "Figures of the season, as printed below.", fill=(25, 25, 25), font_size=18)
    xs, ys = [30, 200, 320], [60, 100, 140, 180, 220, 260]
    for k, y in enumerate(ys):
        x0 = xs[1] if k == 2 else xs[0]  # no rule under the spanning cell
        d.line((x0, y, xs[-1], y), fill=(30, 30, 30), width=1)
    for x in xs:
        d.line((x, ys[0], x, ys[-1]), fill=(30, 30, 30), width=1)
    text = {(0, 0): "Region", (0, 1): "Value", (1, 1): "783.75", (2, 1): "37.74"}
    text |= {(3, 0): "Suffolk", (3, 1): "Button", (4, 0): "Pernambuco", (4, 1): "35.0%"}
    for (r, c), t in text.items():
        d.text((xs[c] + 12, ys[r] + 10), t, fill=(25, 25, 25), font_size=18)
    d.text((xs[0] + 12, ys[1] + 30), "Dong, Northern", fill=(25, 25, 25), font_size=18)
    d.text((30, 300), "All figures are rounded.", fill=(25, 25, 25), font_size=18)
    segs = page_segments(page)
    in_table = [s for s in segs if ys[0] < s.box[1] < ys[-1]]
    rows = [sum(s.row == r for s in in_table) for r in sorted({s.row for s in in_table})]
    assert rows[:4] == [2, 1, 1, 1], rows  # the case: no run of rows of two segments until row 3
    cells = [s for s in with_tables(segs, page) if isinstance(s, Cell)]
    assert [(c.row, c.col, c.rowspan) for c in cells] == [
        (0, 0, 1),
        (0, 1, 1),
        (1, 0, 2),
        (1, 1, 1),
        (2, 1, 1),
        (3, 0, 1),
        (3, 1, 1),
        (4, 0, 1),
        (4, 1, 1),
    ]
    reads = [
        "Region",
        "Value",
        "Dong, Northern",
        "783.75",
        "37.74",
        "Suffolk",
        "Button",
        "Pernambuco",
        "35.0%",
    ]
    assert table_html(cells, reads)[0].count('rowspan="2"') == 1
    for c in cells:  # within the frame; the lines above and below the table are no cells
        assert xs[0] <= c.box[0] and c.box[2] <= xs[-1] and ys[0] <= c.box[1] and c.box[3] <= ys[-1], c


def test_a_table_ruled_by_rows_stays_one_table_across_a_cell_spanning_two_rows():
    # the spanning cell's row holds one segment, in a gap of the rows around it: the run of rows
    # of two segments goes on through it (it broke there, making two tables of one)
    from hyocr.tasks.segment import page_segments
    from hyocr.tasks.tables import Cell, with_tables

    page = Image.new("RGB", (600, 420), (250, 250, 247))
    d = ImageDraw.Draw(page)
    d.text((30, 16), "Figures of the season, as printed below.", fill=(25, 25, 25), font_size=18)
    xs, top, step = [40, 240, 400], 70, 44
    rows = [["Query", "Damar", "West"], ["Varsinais", "1528", "51.61"], ["Volscian", "Southern", "Ahead"]]
    rows += [["Kwer", "", "Walgreens"], ["Tb", "", "98.6%"], ["Peru", "Zaparo", "Maryland"]]
    for r, row in enumerate(rows):
        y = top + r * step
        d.line((30, y, 560, y), fill=(30, 30, 30), width=1)
        for x, t in zip(xs, row, strict=True):
            d.text((x, y + 12), t, fill=(25, 25, 25), font_size=18)
    d.line((30, top + len(rows) * step, 560, top + len(rows) * step), fill=(30, 30, 30), width=1)
    d.text((xs[1], top + 3 * step + 12 + step // 2), "424.31", fill=(25, 25, 25), font_size=18)
    d.text((30, 370), "All figures are rounded.", fill=(25, 25, 25), font_size=18)
    cells = [s for s in with_tables(page_segments(page), page) if isinstance(s, Cell)]
    assert len({c.block for c in cells}) == 1, [(c.row, c.block) for c in cells]
    assert len(cells) == 17, [(c.row, c.col, c.box) for c in cells]  # 16 texts and "424.31"
    assert [c.rowspan for c in cells].count(2) == 1


def test_a_decimal_point_the_grain_filter_drops_does_not_split_a_number_into_two_columns():
    # small monospaced print whose points scanned as single pixels: "11.79" is "11" and "79" a
    # character apart, as far apart as two words, with a speck between them
    rows = [["Item", "Price", "Qty", "Total"], ["Tea", "11.79", "2", "23.58"]]
    rows += [["Rice bag", "4.05", "10", "40.50"], ["Soap", "0.99", "3", "2.97"]]
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 15)
    im = Image.new("RGB", (360, 30 + 24 * len(rows)), (252, 252, 250))
    d = ImageDraw.Draw(im)
    advance, ascent = font.getlength("0"), font.getmetrics()[0]
    for r, row in enumerate(rows):
        for x, text in zip((12, 110, 190, 260), row, strict=True):
            d.text((x, 12 + 24 * r), text.replace(".", " "), fill=(30, 30, 30), font=font)
            if "." in text:
                d.point(
                    (int(x + advance * (text.index(".") + 0.5)), 12 + 24 * r + ascent - 2), fill=(30, 30, 30)
                )
    cells = table_cells(im)
    assert [(c.row, c.col, c.span) for c in cells] == [(r, c, 1) for r in range(4) for c in range(4)]
    texts = [t for row in rows for t in row]
    assert table_html(cells, texts)[1] == rows


def test_close_rows_with_an_empty_cell_are_rows_not_a_wrapped_cell():
    # rows 26 px apart in 18-px print (about half a line between them) with one cell empty: a
    # wrapped cell's next line holds at most half the cells of the row above
    rows = [["Region", "North", "South", "East"], ["Tea", "4.10", "", "2.20"]]
    rows += [["Rice", "3.90", "6.00", ""], ["Soap", "1.75", "2.50", "0.80"]]
    im = Image.new("RGB", (420, 150), (250, 250, 247))
    d = ImageDraw.Draw(im)
    for r, row in enumerate(rows):
        for x, text in zip((20, 140, 240, 330), row, strict=True):
            d.text((x, 20 + 26 * r), text, fill=(25, 25, 25), font_size=18)
    cells = table_cells(im)
    assert [c.row for c in cells] == [r for r, row in enumerate(rows) for t in row if t]
    assert table_html(cells, [t for row in rows for t in row if t])[1] == rows


def test_spotting_boxes_a_framed_tables_cells_and_leaves_unframed_rows_alone():
    # two columns closer than the cutter's segment gap are one segment a row; framed by rules (top,
    # under the header, bottom) they are a table, and spotting gives each cell a box of its own, as
    # the data engine's pages do. Without the rules (a receipt's rows) the segments stay as they are.
    from hyocr.tasks.segment import page_segments, task_segments

    rows = [["Station", "Rain", "mm/day"], ["Aberdeen", "12.4", "0.41"], ["Bergen", "31.0", "1.02"]]

    def page(framed: bool) -> Image.Image:
        im = Image.new("RGB", (560, 280), (250, 250, 247))
        d = ImageDraw.Draw(im)
        d.text((30, 20), "Rainfall in the last month, by station.", fill=(25, 25, 25), font_size=18)
        for r, (name, rain, rate) in enumerate(rows):
            y = 80 + 36 * r
            d.text((40, y), name, fill=(25, 25, 25), font_size=18)
            d.text((230, y), rain, fill=(25, 25, 25), font_size=18)
            d.text((230 + d.textlength("31.0 ", font_size=18) + 6, y), rate, fill=(25, 25, 25), font_size=18)
        if framed:
            for y in (70, 108, 184):
                d.line((30, y, 420, y), fill=(40, 40, 40), width=1)
        d.text((30, 230), "Figures are provisional.", fill=(25, 25, 25), font_size=18)
        return im

    framed, plain = page(True), page(False)
    assert len(page_segments(framed)) == 2 + 2 * len(rows)  # the title, the note, two a row
    spots = task_segments("spotting", framed)
    assert len(spots) == 2 + 3 * len(rows)
    third = sorted(s.box[0] for s in spots if s.box[0] > 260)
    assert len(third) == len(rows) and third[-1] - third[0] < 6  # one column of "mm/day", "0.41", "1.02"
    assert [s.box for s in task_segments("spotting", plain)] == [s.box for s in page_segments(plain)]


def test_a_descender_of_a_cell_spanning_rows_is_not_print_of_the_row_below():
    # "spying" sits between rows 1 and 2 in a column they leave empty; its "y"s and "g" hang into
    # row 2's band, where the bands split: they are its glyphs' tails, not print of row 2
    im = Image.new("RGB", (420, 130), (250, 250, 247))
    d = ImageDraw.Draw(im)
    rows = [("Name", "Mode", "Cost"), ("Anna", None, "4.10"), ("Bert", None, "3.90")]
    for r, row in enumerate(rows):
        for x, text in zip((20, 150, 300), row, strict=True):
            if text:
                d.text((x, 20 + 28 * r), text, fill=(25, 25, 25), font_size=18)
    d.text((150, 20 + 28 + 14), "spying", fill=(25, 25, 25), font_size=18)
    cells = table_cells(im)
    want = [(0, 0, 1), (0, 1, 1), (0, 2, 1), (1, 0, 1), (1, 1, 2), (1, 2, 1), (2, 0, 1), (2, 2, 1)]
    assert [(c.row, c.col, c.rowspan) for c in cells] == want
    html = table_html(cells, ["Name", "Mode", "Cost", "Anna", "spying", "4.10", "Bert", "3.90"])[0]
    assert '<td rowspan="2">spying</td>' in html


def test_a_parenthesis_in_a_tight_ruled_row_is_not_a_rule_between_columns():
    # a dev table's "Wali (Sudan)" was cut into two columns: in a row barely taller than the print,
    # "(" runs almost from rule to rule. A rule between columns runs down two rows or more.
    text = [["Country", "Code", "Share"], ["Wali (Sudan)", "WS", "12.5%"], ["Tonga (Pacific)", "TO", "3.1%"]]
    for face, row in (("DejaVuSansMono.ttf", 26), ("DejaVuSansMono.ttf", 28), ("DejaVuSans.ttf", 28)):
        font = ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{face}", 22)
        im = Image.new("RGB", (460, 40 + 3 * row), (250, 250, 247))
        d = ImageDraw.Draw(im)
        xs, ys = [20, 230, 330, 440], [20 + k * row for k in range(4)]
        for y in ys:
            d.line((xs[0], y, xs[-1], y), fill=(30, 30, 30), width=1)
        for x in xs:
            d.line((x, ys[0], x, ys[-1]), fill=(30, 30, 30), width=1)
        top, bottom = d.textbbox((0, 0), "(", font=font)[1::2]
        assert bottom - top >= 0.7 * row  # the parenthesis nearly fills its row
        for r, cells in enumerate(text):
            for c, t in enumerate(cells):
                d.text((xs[c] + 8, ys[r] + (row - bottom - top) / 2), t, fill=(25, 25, 25), font=font)
        cells = table_cells(im)
        got = [(c.row, c.col, c.span, c.rowspan) for c in cells]
        assert got == [(r, c, 1, 1) for r in range(3) for c in range(3)], (face, row, got)
        assert table_html(cells, [t for ts in text for t in ts])[0].count("<td>") == 9
