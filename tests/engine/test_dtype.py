"""Engine choices that depend on the machine: when bf16 autocast is used."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyocr.engine.backends import bf16_is_fast, load_engine
from hyocr.engine.generate import Engine
from hyocr.train.stages import autocast_bf16, stage_config


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
