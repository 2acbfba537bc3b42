"""A model directory that names a formula reader (`formula_model`): formula requests are read by
that model, every other request by the directory's own, alone, in mixed batches and streamed."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.errors import ModelLoadError
from hyocr.model.factory import init_model
from hyocr.model.weights import save_model
from tests.conftest import make_image

PARAMS = SamplingParams(max_new_tokens=8)


def _save(model, tokenizer, path, **hyocr) -> None:
    model = copy.copy(model)
    model.cfg = dataclasses.replace(model.cfg, **hyocr)
    save_model(model, path)
    tokenizer.save(path)


@pytest.fixture(scope="module")
def pair(random_model, test_cfg, tokenizer, tmp_path_factory):
    """A model directory whose config names `formula/`, a random model of other weights."""
    d = tmp_path_factory.mktemp("with-formula-reader")
    _save(random_model, tokenizer, d, formula_model="formula")
    _save(init_model(test_cfg, seed=7, std=0.2).eval(), tokenizer, d / "formula")
    return d


def test_formula_requests_go_to_the_formula_reader(pair, random_model, tokenizer):
    engine = Engine.from_dir(pair)
    alone = Engine.from_dir(pair / "formula")
    plain = Engine(random_model, tokenizer)
    assert engine.formula is not None and alone.formula is None
    assert engine.for_task("formula") is engine.formula and engine.for_task("text") is engine
    text = Request("Extract the text in the image.", [make_image(64, 96, 1)], task="text")
    formula = Request(
        "Identify the formula in the image and represent it using LaTeX format.",
        [make_image(64, 128, 2)],
        task="formula",
    )
    want_text = plain.generate([text], PARAMS)[0].token_ids
    want_formula = alone.generate([formula], PARAMS)[0].token_ids
    # the two models read the formula differently, so the routing is seen in the answer
    assert plain.generate([formula], PARAMS)[0].token_ids != want_formula
    mixed = engine.generate([formula, text, formula], PARAMS)
    assert [g.token_ids for g in mixed] == [want_formula, want_text, want_formula]
    streamed = "".join(engine.stream(formula, PARAMS))
    assert streamed == alone.generate([formula], PARAMS)[0].text


def test_formula_model_errors_are_one_line(pair, tmp_path):
    raw = json.loads((pair / "config.json").read_text())
    # the named directory is missing
    (tmp_path / "config.json").write_text(json.dumps(raw))
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        if (pair / name).is_file():
            (tmp_path / name).write_bytes((pair / name).read_bytes())
    with pytest.raises(ModelLoadError, match="its formula model .*formula has no config.json"):
        Engine.from_dir(tmp_path)
    # a directory outside the model's own
    raw["hyocr"]["formula_model"] = "../other"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="formula_model must be a directory inside the model's own"):
        Engine.from_dir(tmp_path)
    raw["hyocr"]["formula_model"] = 3
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="hyocr.formula_model must be a directory name, not 3"):
        Engine.from_dir(tmp_path)
    # a formula reader that names one of its own
    raw["hyocr"]["formula_model"] = "formula"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    (tmp_path / "formula").mkdir()
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"):
        if (pair / name).is_file():
            (tmp_path / "formula" / name).write_bytes((pair / name).read_bytes())
    with pytest.raises(ModelLoadError, match="a formula model must read alone"):
        Engine.from_dir(tmp_path)


@pytest.fixture(scope="module")
def trio(random_model, test_cfg, tokenizer, tmp_path_factory):
    """A model directory naming `formula/` and `zh/`, random models of other weights each."""
    d = tmp_path_factory.mktemp("with-formula-and-chinese-readers")
    _save(random_model, tokenizer, d, formula_model="formula", zh_model="zh")
    _save(init_model(test_cfg, seed=7, std=0.2).eval(), tokenizer, d / "formula")
    _save(init_model(test_cfg, seed=11, std=0.2).eval(), tokenizer, d / "zh")
    return d


def test_chinese_requests_go_to_the_chinese_reader(trio, random_model, tokenizer):
    from hyocr.engine.generate import ZH_TASK

    engine = Engine.from_dir(trio)
    plain = Engine(random_model, tokenizer)
    alone = {name: Engine.from_dir(trio / name) for name in ("formula", "zh")}
    assert engine.for_task(ZH_TASK) is engine.zh and engine.for_task("formula") is engine.formula
    assert engine.zh is not engine.formula and engine.for_task("text") is engine
    assert engine.readers == [engine, engine.formula, engine.zh] and alone["zh"].readers == [alone["zh"]]
    image = make_image(64, 128, 3)
    text = Request("Extract the text in the image.", [image], task="text")
    zh = Request("Extract the text in the image.", [image], task=ZH_TASK)
    formula = Request("Identify the formula in the image.", [image], task="formula")
    want = {
        "text": plain.generate([text], PARAMS)[0].token_ids,
        "zh": alone["zh"].generate([zh], PARAMS)[0].token_ids,
        "formula": alone["formula"].generate([formula], PARAMS)[0].token_ids,
    }
    assert len({tuple(v) for v in want.values()}) == 3  # three models, three readings
    mixed = engine.generate([zh, text, formula, zh], PARAMS)
    assert [g.token_ids for g in mixed] == [want["zh"], want["text"], want["formula"], want["zh"]]
    assert "".join(engine.stream(zh, PARAMS)) == alone["zh"].generate([zh], PARAMS)[0].text


def test_one_model_may_read_formulas_and_chinese(trio, tmp_path):
    raw = json.loads((trio / "config.json").read_text())
    raw["hyocr"]["zh_model"] = "formula"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((trio / name).read_bytes())
    (tmp_path / "formula").mkdir()
    for f in (trio / "formula").iterdir():
        (tmp_path / "formula" / f.name).write_bytes(f.read_bytes())
    engine = Engine.from_dir(tmp_path)
    assert engine.zh is engine.formula is not None
    assert engine.readers == [engine, engine.formula]  # each model once
    # a Chinese reader that names a reader of its own
    raw["hyocr"]["zh_model"] = "zh"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    (tmp_path / "zh").mkdir()
    sub = json.loads((trio / "zh" / "config.json").read_text())
    sub["hyocr"]["formula_model"] = "formula"
    (tmp_path / "zh" / "config.json").write_text(json.dumps(sub))
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "zh" / name).write_bytes((trio / "zh" / name).read_bytes())
    with pytest.raises(ModelLoadError, match="a Chinese model must read alone"):
        Engine.from_dir(tmp_path)
    raw["hyocr"]["zh_model"] = "/abs"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="zh_model must be a directory inside the model's own"):
        Engine.from_dir(tmp_path)
