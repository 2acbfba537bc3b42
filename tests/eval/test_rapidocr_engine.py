"""The PP-OCRv6 baseline (`--engine rapidocr`) for real, on a rendered receipt footer and a blank page."""

import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from hyocr.cli import main as cli_main
from hyocr.eval.bench import load_predictions, make_engine
from hyocr.eval.metrics import polygon_iou
from hyocr.eval.rapidocr_engine import RapidOCREngine
from hyocr.eval.report import score_item

LINES = ["TOTAL 12.50", "THANK YOU"]


@pytest.fixture(scope="module")
def engine() -> RapidOCREngine:
    built = make_engine("rapidocr")  # the path `hyocr eval --engine rapidocr` takes
    assert isinstance(built, RapidOCREngine) and built.threads == 1  # one thread unless asked
    return built


def test_rapidocr_reads_rendered_lines_with_boxes_over_them(engine: RapidOCREngine, render_lines):
    im, gt_boxes = render_lines(LINES, width=400)
    pred = engine.predict(im, {"lang": "en"})
    assert pred["text"].casefold() == "\n".join(LINES).casefold()
    assert [b["text"].casefold() for b in pred["boxes"]] == [t.casefold() for t in LINES]
    for box, gt in zip(pred["boxes"], gt_boxes, strict=True):
        assert len(box["poly"]) == 8 and all(isinstance(v, float) for v in box["poly"])
        assert polygon_iou(box["poly"], gt["poly"]) >= 0.5  # over the drawn line, in image pixels
        assert 0.5 <= box["confidence"] <= 1.0
    assert pred["fields"] == {} and pred["html"] == pred["latex"] == pred["markdown"] == ""
    s = score_item({"text": "\n".join(LINES), "boxes": gt_boxes}, pred)
    assert s["text_ned"] == 0.0 and s["spot_score"] == 1.0


def test_rapidocr_blank_page_is_empty_text_and_no_boxes(engine: RapidOCREngine):
    # rapidocr answers a page without text with boxes=None, not an empty list
    pred = engine.predict(Image.new("RGB", (200, 100), "white"), {})
    assert pred["text"] == "" and pred["boxes"] == []


def test_cli_eval_engine_rapidocr_scores_a_folder(tmp_path: Path, capsys, render_lines):
    data = tmp_path / "data"
    data.mkdir()
    im, boxes = render_lines(LINES, width=400)
    im.save(data / "footer.png")
    gt = {"image": "footer.png", "task": "kie", "text": "\n".join(LINES), "boxes": boxes, "lang": "en"}
    (data / "gt.jsonl").write_text(json.dumps(gt) + "\n")
    out = tmp_path / "out"
    args = ["eval", "--data", str(data), "--engine", "rapidocr", "--task", "spotting", "--out", str(out)]
    # rapidocr ignores a thread count above the core count (onnxruntime then takes them all): capped
    assert cli_main([*args, "--threads", "999", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""  # rapidocr's INFO logging is silenced
    pred = load_predictions(out / "predictions.jsonl")["footer.png"]
    assert pred["text"].casefold() == "\n".join(LINES).casefold() and pred["seconds"] > 0
    report = (out / "report.md").read_text()
    assert "PP-OCRv6 small det/rec + mobile cls (rapidocr 3.10.0" in report and "| kie | 1 |" in report
    assert f"{os.cpu_count()} thread(s))" in report


def test_missing_rapidocr_is_one_error_line(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # `import rapidocr` raises ImportError
    (tmp_path / "gt.jsonl").write_text("")
    rc = cli_main(["eval", "--data", str(tmp_path), "--engine", "rapidocr", "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hyocr eval: error:") and "pip install 'hyocr[eval]'" in err[0]


def test_rapidocr_one_line_reads_a_tight_crop_with_its_recognizer_alone(render_lines):
    # `--psm 7`: a line crop cut tight to its print, as a receipt's ground-truth boxes are; the
    # whole crop is the one box
    im, boxes = render_lines(["TOTAL 12.50"], width=400)
    x0, y0, x1, y1 = (
        int(v) for v in (boxes[0]["poly"][0], boxes[0]["poly"][1], boxes[0]["poly"][4], boxes[0]["poly"][5])
    )
    crop = im.crop((x0 - 2, y0 - 2, x1 + 2, y1 + 2))
    one = make_engine("rapidocr", psm=7)
    assert one.one_line and "rec alone" in one.describe()
    pred = one.predict(crop, {})
    assert pred["text"].casefold() == "total 12.50"
    assert [b["poly"] for b in pred["boxes"]] == [
        [0.0, 0.0, crop.width, 0.0, crop.width, crop.height, 0.0, crop.height]
    ]
    assert one.predict(Image.new("RGB", (120, 30), "white"), {})["boxes"] == []
