"""The OCR API over a real (random-weight) engine: typed results for every task and input kind."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hyocr import OCR
from hyocr.engine.generate import Engine
from hyocr.tasks import results as R
from tests.conftest import make_image


@pytest.fixture(scope="module")
def ocr(random_model, tokenizer):
    return OCR(engine=Engine(random_model, tokenizer, autocast=False), max_new_tokens=6)


def test_each_task_returns_its_result_type(ocr):
    img = make_image(64, 96)
    assert isinstance(ocr.spotting(img), R.SpottingResult)
    assert isinstance(ocr.text(img), R.TextResult)
    assert isinstance(ocr.document(img), R.DocumentResult)
    assert isinstance(ocr.table(img), R.TableResult)
    assert isinstance(ocr.formula(img), R.FormulaResult)
    assert isinstance(ocr.chart(img), R.ChartResult)
    f = ocr.fields(img, ["company", "total"])
    assert isinstance(f, R.FieldsResult) and set(f.fields) == {"company", "total"}
    assert isinstance(ocr.key(img, "total"), R.KeyResult)
    assert isinstance(ocr.subtitles(img), R.TextResult)
    assert isinstance(ocr.translate(img, "de"), R.TranslationResult)
    assert isinstance(ocr.vqa(img, "What is the total?"), R.AnswerResult)
    r = ocr.run(img, "Say anything.")
    assert r.truncated and r.width == 96 and r.height == 64


def test_inputs_paths_bytes_arrays_and_lists(ocr, tmp_path):
    img = make_image(64, 64, 3)
    path = tmp_path / "a.png"
    img.save(path)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    outs = ocr.text([str(path), buf.getvalue(), np.asarray(img), img])
    assert len(outs) == 4 and len({o.raw for o in outs}) == 1
    assert outs[0].source == str(path)


def test_unknown_task_language_is_one_clear_error(ocr):
    with pytest.raises(ValueError, match="unknown instruction language 'fr'"):
        ocr.text(make_image(32, 32), lang="fr")
