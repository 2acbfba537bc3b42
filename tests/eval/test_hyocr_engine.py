"""`hyocr eval --engine hyocr` plumbing with a real random-weight model (figures are meaningless,
the shapes of predictions are not)."""

from __future__ import annotations

import json

from hyocr.api import OCR
from hyocr.engine.generate import Engine
from hyocr.eval.bench import run_eval
from hyocr.eval.engines import HyocrEngine
from tests.conftest import make_image


def test_hyocr_engine_over_a_labelled_folder(random_model, tokenizer, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    make_image(64, 96, 1).save(data / "r1.png")
    make_image(80, 64, 2).save(data / "t1.png")
    (data / "bad.png").write_bytes(b"not an image")
    gt = [
        {
            "image": "r1.png",
            "task": "kie",
            "text": "A\nB",
            "fields": {"company": "X", "total": "1.00"},
            "boxes": [{"text": "A", "poly": [0, 0, 10, 0, 10, 10, 0, 10]}],
            "lang": "en",
        },
        {"image": "t1.png", "task": "table", "html": "<table><tr><td>1</td></tr></table>"},
        {"image": "bad.png", "task": "kie", "text": "x"},
    ]
    (data / "gt.jsonl").write_text("\n".join(json.dumps(g) for g in gt) + "\n")
    engine = HyocrEngine(OCR(engine=Engine(random_model, tokenizer, autocast=False), max_new_tokens=8))
    report, errors = run_eval(data, tmp_path / "out", engine, batch_size=2, progress=False)
    assert len(errors) == 1 and "bad.png" in errors[0]
    preds = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    by = {p["image"]: p for p in preds}
    assert set(by["r1.png"]["fields"]) == {"company", "total"}
    assert isinstance(by["r1.png"]["boxes"], list) and "text" in by["r1.png"]
    assert "html" in by["t1.png"] and "seconds" in by["t1.png"]
    assert report.is_file()
