"""Output parsers: hand-made cases, the bugs they pin, and never-raise property tests."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hyocr.tasks.parsers import (
    SpotItem,
    extract_json,
    find_html_tables,
    format_spotting,
    norm_to_pixels,
    parse_html_table,
    parse_markdown,
    parse_spotting,
    pixels_to_norm,
)

# ------------------------------------------------------------------ spotting


def test_spotting_tagged_two_entries():
    r = parse_spotting(
        "<ref>Hello</ref><quad>(10,20),(300,40)</quad><ref>World</ref><quad>(10,50),(200,80)</quad>"
    )
    assert [i.text for i in r.items] == ["Hello", "World"]
    assert r.items[0].box == (10, 20, 300, 40)
    assert r.warnings == []


def test_spotting_untagged_release_form():
    r = parse_spotting("Hello(10,20),(300,40)World(10,50),(200,80)")
    assert [(i.text, i.box) for i in r.items] == [("Hello", (10, 20, 300, 40)), ("World", (10, 50, 200, 80))]


def test_spotting_text_with_parentheses_atlanta_ap():
    # regression: "(AP)" inside the text must stay text, not be read as (part of) the coordinates
    r = parse_spotting("ATLANTA (AP)(10,20),(30,40)")
    assert len(r.items) == 1
    assert r.items[0].text == "ATLANTA (AP)"
    assert r.items[0].points == [(10, 20), (30, 40)]
    tagged = parse_spotting("<ref>ATLANTA (AP)</ref><quad>(10,20),(30,40)</quad>")
    assert tagged.items[0].text == "ATLANTA (AP)"


def test_spotting_text_with_a_lone_number_pair_stays_text():
    r = parse_spotting("Point (3,4)(10,20),(30,40)")
    assert r.items[0].text == "Point (3,4)"
    assert r.items[0].box == (10, 20, 30, 40)


def test_spotting_four_point_quad_and_spaces():
    r = parse_spotting("Tilted ( 10 , 20 ), (30,22),(29,40) ,(9,38)\nNext(1,1),(2,2)")
    assert r.items[0].text == "Tilted"
    assert r.items[0].points == [(10, 20), (30, 22), (29, 40), (9, 38)]
    assert r.items[0].box == (9, 20, 30, 40)
    assert r.items[1].text == "Next"


def test_spotting_malformed_entries_warn_and_keep_the_rest():
    r = parse_spotting("<ref>a</ref><quad>(1,2)</quad><ref>b</ref><quad>(1,2),(3,4)</quad><ref>c</ref>")
    assert [i.text for i in r.items] == ["b"]
    assert len(r.warnings) == 2
    r = parse_spotting("x(1,2),(3,4),(5,6)")  # 3 points: the last two are the box
    assert r.items[0].points == [(3, 4), (5, 6)] and r.warnings


def test_spotting_out_of_range_is_flagged_and_roundtrips():
    r = parse_spotting("<ref>a</ref><quad>(0,0),(1200,5)</quad>")
    assert r.items[0].box == (0, 0, 1200, 5) and any("outside" in w for w in r.warnings)
    items = [SpotItem("x (y)", [(1, 2), (3, 4)]), SpotItem("z", [(5, 6), (7, 6), (7, 9), (5, 9)])]
    for tagged in (True, False):
        back = parse_spotting(format_spotting(items, tagged=tagged)).items
        assert [(i.text, i.points) for i in back] == [(i.text, i.points) for i in items]


def test_norm_to_pixels_scales_and_clamps():
    assert norm_to_pixels([(500, 250)], 640, 480) == [(320.0, 120.0)]
    assert norm_to_pixels([(-10, 1100)], 640, 480) == [(0.0, 480.0)]
    assert pixels_to_norm([(320, 120), (700, -3)], 640, 480) == [(500, 250), (1000, 0)]


# ------------------------------------------------------------------ HTML tables


def test_html_table_spans_and_grid():
    t = parse_html_table(
        "<table><thead><tr><th rowspan='2'>A</th><th colspan=\"2\">B</th></tr>"
        "<tr><th>b1</th><th>b2</th></tr></thead><tbody><tr><td>1</td><td>2</td><td>3</td></tr></tbody></table>"
    )
    assert [[c.text for c in r] for r in t.rows] == [["A", "B"], ["b1", "b2"], ["1", "2", "3"]]
    assert (t.rows[0][0].rowspan, t.rows[0][1].colspan) == (2, 2)
    assert t.rows[0][0].header and not t.rows[2][0].header
    assert t.grid() == [["A", "B", "B"], ["A", "b1", "b2"], ["1", "2", "3"]]


def test_html_table_implied_end_tags_entities_and_bad_spans():
    t = parse_html_table("<table><tr><td>a &amp; b<td colspan=oops>c<tr><td><b>d</b> e</table>")
    assert [[c.text for c in r] for r in t.rows] == [["a & b", "c"], ["d e"]]
    assert t.rows[0][1].colspan == 1 and any("colspan" in w for w in t.warnings)


def test_html_without_table_and_several_tables():
    assert parse_html_table("no table here").rows == []
    assert parse_html_table("no table here").warnings
    assert (
        len(find_html_tables("<table><tr><td>1</td></tr></table> x <table><tr><td>2</td></tr></table>")) == 2
    )


# ------------------------------------------------------------------ Markdown


def test_markdown_blocks_of_every_kind():
    md = (
        "# Title\n\nFirst *para*\ncontinues.\n\n- one\n- two\n\n$$\nE = mc^2\n$$\n"
        "<table><tr><td>1</td>\n<td>2</td></tr></table>\n"
        "<pFig>A cat</pFig><quad>(1,2),(300,400)</quad>\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```mermaid\ngraph TD\n```\n\\[x+y\\]\nlast"
    )
    r = parse_markdown(md)
    assert [b.kind for b in r.blocks] == [
        "heading", "paragraph", "list", "formula", "table", "figure", "table", "code", "formula", "paragraph",
    ]  # fmt: skip
    b = r.blocks
    assert (b[0].text, b[0].level) == ("Title", 1)
    assert b[1].text == "First para continues."
    assert b[2].items == ["one", "two"]
    assert b[3].text == "E = mc^2"
    assert b[4].text == "1 2" and b[4].html.startswith("<table>")
    assert b[5].text == "A cat" and b[5].points == [(1, 2), (300, 400)]
    assert parse_html_table(b[6].html).grid() == [["a", "b"], ["1", "2"]]
    assert (b[7].lang, b[7].text) == ("mermaid", "graph TD")
    assert b[8].text == "x+y"
    assert r.warnings == []


def test_markdown_inline_formula_and_unclosed_block():
    r = parse_markdown("$$a+b$$ trailing words\n\n$$ never closed")
    assert [b.kind for b in r.blocks] == ["formula", "paragraph", "formula"]
    assert r.blocks[1].text == "trailing words"
    assert any("unclosed" in w for w in r.warnings)


# ------------------------------------------------------------------ JSON


def test_json_from_fences_prose_and_python_literals():
    assert extract_json('{"a": 1}').value == {"a": 1}
    assert extract_json('Here:\n```json\n{"a": "b"}\n```\nDone.').value == {"a": "b"}
    assert extract_json("{'name': 'Ann', 'ok': True} and then more text").value == {"name": "Ann", "ok": True}
    assert extract_json('{"a": [1, 2,],}').value == {"a": [1, 2]}
    assert extract_json('noise {"t": "a } brace"} noise').value == {"t": "a } brace"}
    bad = extract_json("no json at all {")
    assert not bad.ok and bad.value is None and bad.warnings


# ------------------------------------------------------------------ never raise

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
_tokens = st.lists(
    st.sampled_from(["<ref>", "</ref>", "<quad>", "</quad>", "(1,2)", ",", "(3,4)", "(AP)", "x", " ", "\n",
                     "<table>", "<tr>", "<td>", "</td>", "colspan=", "$$", "```", "<pFig>", "</pFig>",
                     "{", "}", "[", "]", "'", '"', ":", "|", "---", "# ", "- ", "\\["]),
    max_size=60,
).map("".join)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.one_of(_text, _tokens))
def test_parsers_never_raise(s):
    for r in (parse_spotting(s), parse_markdown(s), parse_html_table(s), extract_json(s)):
        assert isinstance(r.warnings, list)
    for it in parse_spotting(s).items:
        assert len(it.points) in (2, 4)
    assert isinstance(find_html_tables(s), list)


def test_parsers_accept_non_strings():
    for bad in (None, 3, b"bytes", ["list"]):
        assert parse_spotting(bad).items == []
        assert parse_markdown(bad).blocks == []
        assert parse_html_table(bad).rows == []
        assert not extract_json(bad).ok


def test_json_with_a_python_escape_parses_without_warning():
    # hypothesis found model text whose single-quoted form made ast.literal_eval warn on stderr
    # ("invalid escape sequence '\['"); under -W error that warning would escape the parser
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = extract_json("{'a': '\\[x'}")
    assert r.ok and r.value == {"a": "\\[x"}
