"""The eval harness end to end with the real Tesseract engine on a tiny rendered folder."""

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from hyocr.cli import main as cli_main
from hyocr.eval.bench import load_predictions, run_eval
from hyocr.eval.report import score_item
from hyocr.eval.tesseract import TesseractEngine


@pytest.fixture
def folder(tmp_path: Path, render_lines) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    lines = ["HELLO WORLD", "TOTAL 9.00"]
    im, boxes = render_lines(lines)
    im.save(data / "good.png")
    (data / "broken.png").write_bytes(b"this is not a png")
    records = [
        {"image": "good.png", "task": "kie", "text": "\n".join(lines), "boxes": boxes,
         "fields": {"total": "9.00"}, "lang": "en"},
        {"image": "broken.png", "task": "kie", "text": "x", "lang": "en"},
    ]  # fmt: skip
    with (data / "gt.jsonl").open("w") as f:
        f.write(json.dumps(records[0]) + "\n")
        f.write("{not json\n")
        f.write(json.dumps(records[1]) + "\n")
    return data


def test_tesseract_reads_simplified_chinese_without_spaces(tmp_path: Path):
    # the gt's "zh-Hans" picks chi_sim (it fell back to eng), and the characters Tesseract returns
    # as words of their own are joined without the spaces the text never had
    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 40, index=2)
    im = Image.new("RGB", (520, 90), "white")
    ImageDraw.Draw(im).text((30, 20), "今天天气很好", fill="black", font=font)
    pred = TesseractEngine(psm=7).predict(im, {"lang": "zh-Hans"})
    assert pred["text"] == "今天天气很好"


def test_tesseract_reads_rendered_text_with_line_boxes(folder: Path):
    pred = TesseractEngine().predict(Image.open(folder / "good.png"), {"lang": "en"})
    assert pred["text"] == "HELLO WORLD\nTOTAL 9.00"
    assert [b["text"] for b in pred["boxes"]] == ["HELLO WORLD", "TOTAL 9.00"]
    assert pred["fields"] == {} and pred["html"] == ""
    gt = json.loads((folder / "gt.jsonl").read_text().splitlines()[0])
    s = score_item(gt, pred)
    assert s["text_ned"] == 0.0 and s["word_f1"] == 1.0
    assert s["spot_score"] == 1.0  # line boxes overlap the rendered ones with IoU >= 0.5
    assert s["field_f1"] == 0.0  # tesseract reads no fields


def test_formulas_score_by_normalised_latex():
    gt = {"latex": "\\frac{a}{b} = x^{2}"}
    same = score_item(gt, {"latex": "$\\dfrac{a}{b}=x^{2}$"})  # delimiters, dfrac and spaces apart
    assert same["latex_exact"] == 1.0 and same["latex_sim"] == 1.0
    near = score_item(gt, {"latex": "\\frac{a}{b} = x^{3}"})
    assert near["latex_exact"] == 0.0 and 0.9 < near["latex_sim"] < 1.0
    assert score_item(gt, {})["latex_exact"] == 0.0


def test_markdown_scores_its_formulas_and_tables_apart():
    table = "<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>"
    gt = {"markdown": f"# Rates\n\nThe rate is\n\n$$\nr = \\frac{{p}}{{h}}\n$$\n\n{table}"}
    right = score_item(gt, {"markdown": gt["markdown"]})
    assert right["md_formula_sim"] == 1.0 and right["md_table_teds"] == 1.0 and right["md_ned"] == 0.0
    # the formula read with one symbol wrong, the table left out, a second formula that is not there
    wrong = "# Rates\n\nThe rate is\n\n$$\nr = \\frac{p}{n}\n$$\n\n$$\nx\n$$"
    s = score_item(gt, {"markdown": wrong})
    assert s["md_formula_sim"] == (1 - 1 / len("r=\\frac{p}{h}")) / 2  # matched one, over two written
    assert s["md_table_teds"] == 0.0
    # a page with neither on either side has no such figure (not a perfect one)
    plain = score_item({"markdown": "Just text."}, {"markdown": "Just text."})
    assert "md_formula_sim" not in plain and "md_table_teds" not in plain


def test_cli_eval_bad_inputs_are_one_line_each_and_the_rest_goes_on(folder: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    rc = cli_main(
        ["eval", "--data", str(folder), "--engine", "tesseract", "--out", str(out), "--no-progress"]
    )
    assert rc == 1  # something failed
    err = capsys.readouterr().err
    assert "broken.png: cannot read image" in err
    assert err.count("broken.png: cannot read image") == 1
    preds = load_predictions(out / "predictions.jsonl")
    assert set(preds) == {"good.png", "broken.png"}
    good = preds["good.png"]
    assert good["text"] == "HELLO WORLD\nTOTAL 9.00" and good["seconds"] > 0
    assert set(good) == {"image", "text", "boxes", "fields", "html", "latex", "markdown", "seconds"}
    assert good["markdown"].split() == good["text"].split()  # its paragraphs, as plain Markdown
    assert "error" in preds["broken.png"]
    report = (out / "report.md").read_text()
    assert "| kie | 1 |" in report  # the good item is scored, the broken one reported
    assert "gt.jsonl line 2: not JSON" in report
    for png in ("metrics_hist.png", "seconds_hist.png", "category_means.png"):
        assert (out / png).stat().st_size > 1000


def test_resume_skips_done_items_and_retries_failed_ones(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    engine = TesseractEngine()
    _, errors = run_eval(folder, out, engine, progress=False)
    assert len(errors) == 2  # the bad gt line and the bad image
    first = (out / "predictions.jsonl").read_text().splitlines()
    assert len(first) == 2
    _, errors = run_eval(folder, out, engine, resume=True, progress=False)
    again = (out / "predictions.jsonl").read_text().splitlines()
    assert again[:2] == first  # kept, appended to
    assert [json.loads(x)["image"] for x in again[2:]] == ["broken.png"]  # only the failed item re-run


def test_task_text_scores_only_text(folder: Path, tmp_path: Path):
    report, _ = run_eval(folder, tmp_path / "o", TesseractEngine(), task="text", limit=1, progress=False)
    text = report.read_text()
    assert "text_ned" in text and "spot_score" not in text and "field_f1" not in text


def test_hyocr_engine_errors_are_one_clear_line(folder: Path, tmp_path: Path, capsys):
    missing = tmp_path / "no-such-model"
    rc = cli_main(["eval", "--data", str(folder), "--out", str(tmp_path / "o"), "--model", str(missing)])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hyocr eval: error:") and "no-such-model" in err[0]


def test_unknown_task_is_one_line(folder: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        run_eval(folder, tmp_path / "o", TesseractEngine(), task="nope", progress=False)


def test_batched_run_gives_the_same_predictions(folder: Path, tmp_path: Path):
    engine = TesseractEngine()
    run_eval(folder, tmp_path / "one", engine, progress=False)
    run_eval(folder, tmp_path / "two", engine, batch_size=2, progress=False)
    one = load_predictions(tmp_path / "one" / "predictions.jsonl")
    two = load_predictions(tmp_path / "two" / "predictions.jsonl")
    assert one.keys() == two.keys()
    assert {k: v.get("text") for k, v in one.items()} == {k: v.get("text") for k, v in two.items()}


def test_cli_eval_report_names_how_the_shipped_reader_read_the_pages(folder: Path, tmp_path: Path):
    # the reading settings (segment, piece aspect, drop score, reread) change the figures, so the
    # report of a hyocr run names them
    out = tmp_path / "out"
    args = ["eval", "--data", str(folder), "--engine", "hyocr", "--task", "spotting", "--out", str(out)]
    rc = cli_main([*args, "--no-progress", "--reread", "0.7", "--drop-score", "0.4"])
    assert rc == 1  # the broken image and the bad line fail; the good image is scored
    report = (out / "report.md").read_text()
    assert "segment auto, piece aspect 20, drop score 0.4, reread 0.7" in report, report
