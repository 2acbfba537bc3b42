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


def with_chinese_reader(path):
    """A model directory at `path`: the shipped line reader, naming a Chinese reader (`zh_model`)
    in `zh/`: a random-weight model of the test tokenizer (seed 6, std 3.0: sure of what it writes),
    which writes a Chinese character on `chinese_page`'s Chinese line and none on its Latin one."""
    import dataclasses

    from hyocr.engine.backends import DEFAULT_MODEL_DIR
    from hyocr.model.weights import load_model, save_model
    from hyocr.processing.tokenizer import HyTokenizer

    line = load_model(DEFAULT_MODEL_DIR, dtype=None)
    line.cfg = dataclasses.replace(line.cfg, zh_model="zh")
    save_model(line, path)
    HyTokenizer.from_dir(DEFAULT_MODEL_DIR).save(path)
    tok = train_tokenizer(CORPUS, vocab_size=400, min_frequency=1)
    cfg = dataclasses.replace(
        config_for_tokenizer(get_preset("hyocr-test"), tok), reads="lines", line_height=32
    )
    save_model(init_model(cfg, seed=6, std=3.0).eval(), path / "zh")
    tok.save(path / "zh")
    return path


def chinese_page() -> Image.Image:
    """A line of Chinese over a line of Latin print, black on white."""
    from PIL import ImageDraw

    from hyocr.tasks.draw import label_font

    page = Image.new("RGB", (440, 150), "white")
    draw = ImageDraw.Draw(page)
    draw.text((20, 15), "发票号码合计金额", fill="black", font=label_font("发票", 30))
    draw.text((20, 80), "TOTAL 12.50", fill="black", font=label_font("TOTAL", 30))
    return page
