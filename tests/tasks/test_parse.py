"""Task results from model answers: hand-made answers, degenerate ones, and arbitrary strings."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hyocr.tasks.parse import parse_answer, spotting_confidences
from hyocr.tasks.prompts import TASKS, instruction, task_of


def test_spotting_pixels_and_raw_coordinates():
    raw = "<ref>ATLANTA (AP)</ref><quad>(100,200),(500,250)</quad><ref>Total 9.00</ref><quad>(0,900),(1000,1000)</quad>"
    r = parse_answer("spotting", raw, width=400, height=800)
    assert [line.text for line in r.lines] == ["ATLANTA (AP)", "Total 9.00"]
    assert r.lines[0].box_norm == [100, 200, 500, 250]
    assert r.lines[0].box == [40.0, 160.0, 200.0, 200.0]
    assert r.lines[1].polygon == [[0.0, 720.0], [400.0, 720.0], [400.0, 800.0], [0.0, 800.0]]
    assert r.text == "ATLANTA (AP)\nTotal 9.00"
    json.loads(r.to_json())


def test_spotting_release_form_without_markers():
    r = parse_answer(
        "spotting", "ATLANTA (AP)(10,20),(30,40)Next line(50,60),(70,80)", width=1000, height=1000
    )
    assert [(x.text, x.box) for x in r.lines] == [
        ("ATLANTA (AP)", [10, 20, 30, 40]),
        ("Next line", [50, 60, 70, 80]),
    ]


def test_spotting_confidences_follow_ref_markers():
    ids = [90, 1, 2, 91, 92, 5, 93, 90, 3, 91]
    lps = [0.0, math.log(0.5), math.log(0.5), 0, 0, 0, 0, 0, math.log(0.25), 0]
    assert spotting_confidences(ids, lps, 90, 91) == [0.5, 0.25]


def test_fields_exact_keys_and_bad_json():
    r = parse_answer(
        "fields",
        '```json\n{"company": "ACME", "total": "9.00", "extra": 1}\n```',
        fields=["company", "date", "total"],
    )
    assert r.fields == {"company": "ACME", "date": None, "total": "9.00"} and r.valid_json
    assert any("dropped keys" in w for w in r.warnings)
    bad = parse_answer("fields", "no json here", fields=["total"])
    assert bad.fields == {"total": None} and not bad.valid_json


def test_table_rows_formula_chart_document():
    t = parse_answer("table", "<table><tr><td colspan=2>A</td></tr><tr><td>1</td><td>2</td></tr></table>")
    assert t.rows == [["A"], ["1", "2"]]
    assert parse_answer("table", "nothing").warnings == ["no <table> found in the answer"]
    assert parse_answer("formula", "$$E = mc^2$$").latex == "E = mc^2"
    c = parse_answer("chart", "```mermaid\ngraph TD\nA-->B\n```")
    assert c.kind == "mermaid" and c.content.startswith("graph TD")
    assert parse_answer("chart", "| a | b |\n|---|---|\n| 1 | 2 |").kind == "markdown"
    d = parse_answer("document", "# Title\n\nText.\n\n<table><tr><td>x</td></tr></table>\n\n$$a+b$$")
    assert d.tables and d.formulas == ["a+b"] and d.blocks[0]["kind"] == "heading"


def test_flags_travel_to_the_result():
    r = parse_answer("text", "abc", repetition_cut=True, truncated=True)
    assert r.repetition_cut and r.truncated and r.text == "abc"


def test_instructions_are_the_release_strings():
    assert instruction("spotting", "zh") == "检测并识别图片中的文字，将文本坐标格式化输出。"
    assert (
        instruction("fields", "zh", fields=["a", "b"])
        == "提取图片中的: ['a','b'] 的字段内容，并按照 JSON 格式返回。"
    )
    assert instruction("translate", target="de").startswith(
        "First extract the text, then translate the text content into German."
    )
    assert "翻译为英文。" in instruction("translate", "zh", target="en")
    assert instruction("key", key="total") == "Output the value of total."


def test_task_of_names_the_task_of_a_fixed_instruction():
    for task in ("spotting", "text", "document", "formula", "table", "chart", "subtitles"):
        assert task_of(instruction(task)) == task_of(instruction(task, "zh")) == task
    assert task_of("  " + instruction("formula") + "\n") == "formula"
    # instructions with a placeholder, and anything else, name no task
    assert task_of(instruction("key", key="total")) == task_of("What is the total?") == ""


@settings(max_examples=150, deadline=None)
@given(task=st.sampled_from(TASKS), raw=st.text(), w=st.integers(0, 5000), h=st.integers(0, 5000))
def test_never_raises_and_boxes_stay_inside(task, raw, w, h):
    r = parse_answer(task, raw, width=w, height=h, fields=["a"], key="k", target="en", question="q")
    json.dumps(r.to_dict())
    for line in getattr(r, "lines", []):
        if w and h:
            assert 0 <= line.box[0] <= line.box[2] <= w and 0 <= line.box[1] <= line.box[3] <= h


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=10), st.integers(-50, 1100), st.integers(-50, 1100)),
        max_size=5,
    )
)
def test_spotting_soup_boxes_inside(entries):
    raw = "".join(f"<ref>{t}</ref><quad>({x},{y}),({x + 10},{y + 10})</quad>" for t, x, y in entries)
    r = parse_answer("spotting", raw, width=300, height=200)
    for line in r.lines:
        assert 0 <= line.box[0] <= line.box[2] <= 300 and 0 <= line.box[1] <= line.box[3] <= 200
