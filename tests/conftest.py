"""Shared fixtures: a tiny tokenizer trained here and random-weight models of the `hyocr-test` preset."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hyocr.config import get_preset
from hyocr.model.factory import config_for_tokenizer, init_model
from hyocr.processing.tokenizer import train_tokenizer

CORPUS = [
    "Extract the text in the image.",
    "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
    "提取图中的文字。 检测并识别图片中的文字，将文本坐标格式化输出。",
    "TOTAL 12.50 CASH 20.00 CHANGE 7.50 ATLANTA (AP) receipt invoice date 2024-01-02",
    "The quick brown fox jumps over the lazy dog. 0123456789 (x1,y1),(x2,y2)",
] * 20


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(CORPUS, vocab_size=400, min_frequency=1)


@pytest.fixture(scope="session")
def test_cfg(tokenizer):
    return config_for_tokenizer(get_preset("hyocr-test"), tokenizer)


@pytest.fixture(scope="session")
def random_model(test_cfg):
    # std 0.2 gives well-separated logits so greedy choices are not near-ties
    return init_model(test_cfg, seed=0, std=0.2).eval()


def make_image(h: int, w: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
