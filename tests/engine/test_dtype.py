"""Engine choices that depend on the machine: when bf16 autocast is used."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hyocr.engine.backends import bf16_is_fast, load_engine
from hyocr.engine.generate import DECODE_AUTOCAST_HIDDEN, Engine, Request, SamplingParams
from hyocr.model.factory import init_model
from hyocr.train.stages import autocast_bf16, stage_config
from tests.conftest import make_image


def _cpu_has_bf16_unit() -> bool:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool({"amx_tile", "amx_bf16", "avx512_bf16"} & flags)


def test_bf16_is_fast_only_on_a_cpu_with_a_bf16_unit():
    # on a CPU with AVX2 only, PyTorch's bf16 matrix product is a reference loop (0.9 against 100
    # GFLOP/s for float32 on this project's AVX2 machine), so autocast must stay off there
    assert bf16_is_fast("cpu") == _cpu_has_bf16_unit()
    assert bf16_is_fast(torch.device("meta")) is False


def test_engines_autocast_where_bf16_is_fast(random_model, tokenizer):
    assert Engine(random_model, tokenizer).autocast == bf16_is_fast("cpu")
    assert Engine(random_model, tokenizer, autocast=True).autocast  # asked for: obeyed
    assert load_engine(None).autocast == bf16_is_fast("cpu")
    assert not load_engine(None, dtype="float32").autocast


def test_trainers_bf16_setting():
    said: list[str] = []
    assert autocast_bf16(True, torch.device("cpu"), said.append) == bf16_is_fast("cpu")
    assert bool(said) != bf16_is_fast("cpu")  # one line when it turns bf16 off
    assert said == [] or "float32" in said[0]
    assert autocast_bf16("always", torch.device("cpu")) is True
    assert autocast_bf16(False, torch.device("cpu")) is False
    with pytest.raises(ValueError, match="bf16 must be"):
        autocast_bf16("maybe", torch.device("cpu"))
    with pytest.raises(ValueError, match="bf16 must be"):
        stage_config("2", {"bf16": "yes"})
    assert stage_config("2", {"bf16": "always"}).bf16 == "always"


def _autocast_seen(engine: Engine, params) -> dict[str, set[bool]]:
    """Whether autocast was on in each prefill and decoding step of one generation."""
    seen: dict[str, set[bool]] = {"prefill": set(), "decode": set()}
    model = engine.model
    for name in seen:
        inner = getattr(model, name)

        def spy(*a, _inner=inner, _name=name, **kw):
            seen[_name].add(torch.is_autocast_enabled("cpu"))
            return _inner(*a, **kw)

        setattr(model, name, spy)
    try:
        engine.generate([Request("Extract the text in the image.", [make_image(32, 96)])], params)
    finally:
        for name in seen:
            delattr(model, name)
    return seen


@pytest.mark.parametrize("beams", [1, 2])
def test_small_decoders_decode_without_autocast(random_model, tokenizer, beams):
    # a small decoder's steps are slower under autocast (its casts), its prefill faster
    engine = Engine(random_model, tokenizer, autocast=True)
    assert not engine.autocast_decode and engine.cache_dtype == torch.float32
    seen = _autocast_seen(engine, SamplingParams(max_new_tokens=4, num_beams=beams, ignore_eos=True))
    assert seen == {"prefill": {True}, "decode": {False}}


def test_wide_decoders_decode_under_autocast(test_cfg, tokenizer):
    wide = init_model(replace(test_cfg, lm_hidden=DECODE_AUTOCAST_HIDDEN, lm_layers=1), seed=0).eval()
    engine = Engine(wide, tokenizer, autocast=True)
    assert engine.autocast_decode and engine.cache_dtype == torch.bfloat16
    seen = _autocast_seen(engine, SamplingParams(max_new_tokens=3, ignore_eos=True))
    assert seen == {"prefill": {True}, "decode": {True}}
    assert not Engine(wide, tokenizer, autocast=False).autocast_decode
