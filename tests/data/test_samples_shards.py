"""Samples use the exact instructions and formats; shards are deterministic, resumable, readable."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re

import pytest

from hyocr.cli import main as hyocr_main
from hyocr.data.render.base import Render, TextLine
from hyocr.data.render.receipt import render_receipt
from hyocr.data.samples import (
    INSTRUCTIONS,
    SampleError,
    check_sample,
    instruction,
    keys_literal,
    samples_from_render,
    spotting_answer,
)
from hyocr.data.scenarios import list_recipes, load_recipe
from hyocr.data.shards import iter_samples, synthesize

# copied by hand from DESIGN.md §2; a change there must be made here too
EXPECTED = {
    "spotting": "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
    "text": "Extract the text in the image.",
    "table": "Parse the table in the image into HTML.",
    "subtitles": "Extract the subtitles from the image.",
}
EXPECTED_ZH = {
    "spotting": "检测并识别图片中的文字，将文本坐标格式化输出。",
    "text": "提取图中的文字。",
    "table": "把图中的表格解析为 HTML。",
}


def test_instructions_are_the_design_strings():
    for k, v in EXPECTED.items():
        assert INSTRUCTIONS[k][0] == v
    for k, v in EXPECTED_ZH.items():
        assert INSTRUCTIONS[k][1] == v
    assert instruction("key", "en", key="total") == "Output the value of total."
    assert instruction("fields", "en", keys=keys_literal(["company", "date"])) == (
        "Extract the content of the fields: ['company','date'] from the image and return it in JSON format."
    )
    assert instruction("translate", "zh", language="英文").startswith("先提取文字，再将文字内容翻译为英文。")
    with pytest.raises(ValueError, match="unknown task"):
        instruction("ocr")


def test_spotting_target_hand_computed():
    from PIL import Image

    img = Image.new("RGB", (200, 100), "white")
    r = Render(
        img,
        [
            TextLine("ATLANTA (AP)", (10, 20, 110, 20, 110, 40, 10, 40)),
            TextLine("x", (150, 50, 151, 50, 151, 99, 150, 99)),
        ],
        "line",
        "en",
    )
    assert (
        spotting_answer(r)
        == "<ref>ATLANTA (AP)</ref><quad>(50,200),(550,400)</quad><ref>x</ref><quad>(750,500),(755,990)</quad>"
    )


def test_receipt_samples_for_every_supported_task_and_checks_catch_tampering():
    r = render_receipt(random.Random(5))
    samples = samples_from_render(r, random.Random(0), zh_prob=0.5)
    tasks = {s.task for s in samples}
    assert {"spotting", "text", "fields", "key", "vqa"} <= tasks
    by = {s.task: s for s in samples}
    fields = json.loads(by["fields"].answer)
    assert list(fields) == by["fields"].meta["keys"]
    assert re.fullmatch(r"(<ref>[^<]+</ref><quad>\(\d+,\d+\),\(\d+,\d+\)</quad>)+", by["spotting"].answer)
    # tampering is caught
    bad = dataclasses.replace(by["spotting"], answer=by["spotting"].answer.replace("<ref>", "<ref>X", 1))
    with pytest.raises(SampleError):
        check_sample(bad, r)
    bad = dataclasses.replace(by["text"], instruction="Read the text.")
    with pytest.raises(SampleError):
        check_sample(bad, r)
    bad = dataclasses.replace(by["key"], answer="NOT ON THE RECEIPT 999")
    with pytest.raises(SampleError):
        check_sample(bad, r)


def _tree_bytes(d: str) -> dict[str, bytes]:
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def test_shards_are_byte_identical_for_a_seed_resumable_and_streamable(tmp_path):
    recipe = load_recipe("smoke")
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    m = synthesize(recipe, 20, a, seed=7, workers=1, progress=False)
    synthesize(recipe, 20, b, seed=7, workers=2, progress=False)
    ta = _tree_bytes(a)
    assert ta == _tree_bytes(b)
    assert m["samples"] == 20 and len(m["shards"]) == 2
    # resumable: a missing shard is rebuilt identically, existing ones are kept
    os.remove(os.path.join(a, "shard-000001.tar"))
    synthesize(recipe, 20, a, seed=7, progress=False)
    assert _tree_bytes(a) == ta
    # another seed gives other data
    c = str(tmp_path / "c")
    synthesize(recipe, 20, c, seed=8, progress=False)
    assert _tree_bytes(c)["shard-000000.tar"] != ta["shard-000000.tar"]
    n = 0
    for img, d in iter_samples(a):
        n += 1
        assert img.size == tuple(d["meta"]["image_size"])
        assert d["instruction"] and d["answer"] and d["task"] and d["lang"]
        for box in d["boxes"]:
            assert len(box["poly"]) == 8
    assert n == 20


def test_recipes_load_and_bad_recipe_fails_with_one_line(tmp_path):
    names = list_recipes()
    assert {"smoke", "lines", "receipts", "documents", "mixed", "charts", "scenes"} <= set(names)
    for name in names:
        load_recipe(name)
    p = tmp_path / "bad.toml"
    p.write_text("[scenarios]\nnovel = 1\n")
    with pytest.raises(ValueError, match="unknown scenario 'novel'"):
        load_recipe(str(p))
    with pytest.raises(ValueError, match="unknown recipe"):
        load_recipe("nope")


def test_cli_list_preview_and_synth(tmp_path, capsys):
    assert hyocr_main(["synth", "--list"]) == 0
    assert "receipts" in capsys.readouterr().out
    out = str(tmp_path / "p")
    assert hyocr_main(["synth", "--recipe", "smoke", "--preview", "--out", out]) == 0
    assert os.path.getsize(os.path.join(out, "preview.png")) > 10_000
    assert hyocr_main(["synth", "--recipe", "smoke", "--n", "4", "--out", out, "--quiet"]) == 0
    assert json.load(open(os.path.join(out, "manifest.json")))["samples"] == 4
    assert hyocr_main(["synth", "--recipe", "nope"]) == 1


def test_training_instructions_equal_the_inference_prompts():
    """Data written here must carry the very strings the task layer sends at inference."""
    from hyocr.tasks import prompts

    for il in ("en", "zh"):
        for task in ("spotting", "text", "document", "formula", "table", "chart", "subtitles"):
            assert instruction(task, il) == prompts.instruction(task, il)
        assert instruction("fields", il, keys=keys_literal(["company", "total"])) == prompts.instruction(
            "fields", il, fields=["company", "total"]
        )
        assert instruction("key", il, key="total") == prompts.instruction("key", il, key="total")
