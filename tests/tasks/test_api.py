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


def _word_crops(words: list[str]) -> list:
    """One dark-on-paper crop per word, as the cutter hands a line reader its segments."""
    from PIL import Image, ImageDraw

    crops = []
    for w in words:
        im = Image.new("RGB", (24 + 19 * len(w), 44), (250, 250, 248))
        ImageDraw.Draw(im).text((12, 6), w, fill=(20, 20, 20), font_size=30)
        crops.append(im)
    return crops


def test_segment_crops_batched_by_shape_come_back_in_their_order():
    from hyocr.tasks.prompts import instruction

    words = ["TOTAL 12.50", "OK", "THANK YOU FOR SHOPPING", "CASH", "CHANGE 7.50"]
    crops = _word_crops(words)
    ocr = OCR(max_new_tokens=24)
    prompt = instruction("text", "en")
    by_shape = [g.text for g in ocr._generate(prompt, crops, batch_size=2, by_shape=True)]
    in_order = [g.text for g in ocr._generate(prompt, crops, batch_size=2)]
    assert by_shape == in_order
    assert sum(t.strip() == w for t, w in zip(by_shape, words, strict=True)) >= 4, by_shape


def test_two_workers_read_batches_side_by_side_as_one_thread_reads_them():
    import threading

    import torch

    from hyocr.tasks.prompts import instruction

    words = ["TOTAL 12.50", "OK", "THANK YOU", "CASH", "CHANGE 7.50", "VISA 0042"]
    crops = _word_crops(words)
    one = OCR(max_new_tokens=24, workers=1)
    two = OCR(engine=one.engine, max_new_tokens=24, workers=2)
    callers = set()
    generate = one.engine.generate

    def recorded(*args, **kwargs):
        callers.add(threading.get_ident())
        return generate(*args, **kwargs)

    prompt = instruction("text", "en")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = one._generate(prompt, crops, batch_size=2)
        one.engine.generate = recorded
        side_by_side = two._generate(prompt, crops, batch_size=2)
    finally:
        one.engine.generate = generate
        torch.set_num_threads(threads)
    assert len(callers) == 2  # three batches of two, on two reader threads
    assert [(g.text, g.logprobs) for g in side_by_side] == [(g.text, g.logprobs) for g in alone]
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="workers must be at least 1"):
        OCR(engine=one.engine, workers=0)
    # two calls of an application's own threads at once: the count comes back when both have ended
    from concurrent.futures import ThreadPoolExecutor

    try:
        torch.set_num_threads(2)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: two._generate(prompt, crops, batch_size=2), range(2)))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_ahead_gives_items_in_order_computed_on_a_second_thread_and_raises_at_the_bad_ones_turn():
    import threading

    from hyocr.api import _ahead

    main = threading.get_ident()
    seen = []

    def work(x):
        if x == 3:
            raise ValueError("bad item 3")
        return x * 10, threading.get_ident()

    got = _ahead(work, [0, 1, 2, 3, 4])
    for want in (0, 10, 20):
        value, thread = next(got)
        seen.append(value)
        assert value == want and thread != main
    with pytest.raises(ValueError, match="bad item 3"):
        next(got)
    assert seen == [0, 10, 20]
    assert [v for v, t in _ahead(work, [5])] == [50]  # one item: no second thread
    assert next(iter(_ahead(work, [5])))[1] == main


def test_pages_read_in_groups_while_the_next_are_cut_equal_pages_read_one_by_one(monkeypatch):
    from PIL import Image, ImageDraw

    import hyocr.api

    pages = []
    for k, rows in enumerate(
        [["TOTAL 12.50", "CASH 20.00"], ["THANK YOU"], ["VISA 0042", "CHANGE 7.50", "OK"]]
    ):
        im = Image.new("RGB", (360, 60 + 50 * len(rows)), (250, 250, 248))
        for i, text in enumerate(rows):
            ImageDraw.Draw(im).text((20 + 10 * k, 30 + 50 * i), text, fill=(20, 20, 20), font_size=28)
        pages.append(im)
    ocr = OCR(max_new_tokens=24)
    alone = [ocr.spotting(p).raw for p in pages]
    assert ocr.spotting(pages[0]).raw == alone[0]
    together = [r.raw for r in ocr.spotting(pages)]  # one group: every crop in shared batches
    monkeypatch.setattr(hyocr.api, "PAGE_GROUP", 1)
    grouped = [r.raw for r in ocr.spotting(pages)]  # a group a page, the next cut meanwhile
    assert together == alone and grouped == alone
    assert sum("TOTAL" in t for t in alone) == 1 and sum("THANK" in t for t in alone) == 1, alone


def test_formula_candidates_read_together_equal_each_alone(random_model, tokenizer):
    """A page's formula candidates are read in batches up to the largest budget; each reading is
    that of the crop read alone within its own budget (`formula_params`), cut short alike."""
    import copy
    import dataclasses

    from hyocr.engine.generate import SamplingParams
    from hyocr.tasks.prompts import instruction
    from hyocr.tasks.segment import formula_params

    model = copy.copy(random_model)
    factor = model.cfg.factor
    model.cfg = dataclasses.replace(model.cfg, reads="lines", line_height=factor, formula_height=2 * factor)
    ocr = OCR(engine=Engine(model, tokenizer, autocast=False), max_new_tokens=40, workers=1)
    crops = [make_image(40, w, seed=w) for w in (40, 90, 160, 300)]
    budgets = [formula_params(SamplingParams(max_new_tokens=40), c, model.cfg).max_new_tokens for c in crops]
    assert len(set(budgets)) > 1  # the crops have budgets of their own
    together = ocr._formulas(crops, "en")
    for crop, budget, got in zip(crops, budgets, together, strict=True):
        (alone,) = ocr._generate(
            instruction("formula", "en"), [crop], SamplingParams(max_new_tokens=budget), task="formula"
        )
        assert (got.token_ids, got.finish_reason, got.text) == (
            alone.token_ids,
            alone.finish_reason,
            alone.text,
        )
        assert got.logprobs == pytest.approx(alone.logprobs, abs=1e-4)


def test_unsure_formulas_are_read_again_in_the_readers_other_views_and_the_surest_kept(
    random_model, tokenizer
):
    """A formula reader trained at several heights (`formula_heights`): a formula image's reading
    (the formula task) under `formula_again` is read again at each of them and widened
    (`formula_views`) and the surest reading kept; `formula_again` 0 reads each once, at
    `formula_height`. A page's candidate formulas (`_formulas`) are read once."""
    import copy
    import dataclasses

    from hyocr.engine.generate import SamplingParams
    from hyocr.tasks.prompts import instruction
    from hyocr.tasks.segment import FORMULA_WIDEN, formula_params, formula_views, surest, widened

    model = copy.copy(random_model)
    f = model.cfg.factor
    model.cfg = dataclasses.replace(
        model.cfg, reads="lines", line_height=f, formula_height=2 * f, formula_heights=(3 * f,)
    )
    assert formula_views(model.cfg) == [(3 * f, 1.0), (0, FORMULA_WIDEN)]
    assert formula_views(dataclasses.replace(model.cfg, formula_heights=(), formula_height=0)) == []
    engine = Engine(model, tokenizer, autocast=False)
    images = [make_image(40, w, seed=w) for w in (40, 90, 160, 300, 70, 120)]
    prompt = instruction("formula", "en")
    once = OCR(engine=engine, max_new_tokens=12, workers=1, formula_again=0.0)
    again = OCR(engine=engine, max_new_tokens=12, workers=1, formula_again=1.01)  # every reading

    def views(params):
        return [
            once._generate(prompt, images, params, task="formula"),
            once._generate(prompt, images, params, task="formula", height=3 * f),
            once._generate(prompt, [widened(im, FORMULA_WIDEN) for im in images], params, task="formula"),
        ]

    first, tall, wide = views(SamplingParams(max_new_tokens=12))
    assert [g.image_sizes[0]["resized_height"] for g in first + tall] == [2 * f] * 6 + [3 * f] * 6
    want = [surest(v) for v in zip(first, tall, wide, strict=True)]
    # each view is the surest somewhere, so leaving one out would change the answers
    assert {id(w) for w in want} & {id(g) for g in first} and {id(w) for w in want} & {id(g) for g in tall}
    assert {id(w) for w in want} & {id(g) for g in wide}
    assert [r.latex for r in once.formula(images)] == [g.text.strip() for g in first]
    assert [r.latex for r in again.formula(images)] == [w.text.strip() for w in want]
    # a page's candidates are read once, each within its budget, whatever formula_again
    p = SamplingParams(max_new_tokens=12)
    budgets = [formula_params(p, c, model.cfg).max_new_tokens for c in images]
    assert [g.token_ids for g in again._formulas(images, "en")] == [
        once._generate(prompt, [im], SamplingParams(max_new_tokens=b), task="formula")[0].token_ids
        for im, b in zip(images, budgets, strict=True)
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("drop_score", 1.5, "drop_score must be a number from 0 to 1"),
        ("drop_score", float("nan"), "drop_score must be a number from 0 to 1"),
        ("reread", -0.1, "reread must be a finite number of at least 0"),
        ("zh_reread", float("inf"), "zh_reread must be a finite number of at least 0"),
        ("zh_again", -1, "zh_again must be a finite number of at least 0"),
        ("piece_aspect", -1, "piece_aspect must be a finite number of at least 0"),
        ("zh_probe", -1, "zh_probe must be at least 0"),
        ("formula_again", -0.5, "formula_again must be a finite number of at least 0"),
    ],
)
def test_reading_options_out_of_range_fail_before_any_model_loads(option, value, message, tmp_path):
    # `model` names a directory that does not exist: the option is refused before it is looked for
    with pytest.raises(ValueError, match=message):
        OCR(tmp_path / "no-model", **{option: value})
