"""Toy shards for the training tests: short words drawn with Pillow's built-in font on small images,
as spotting and text samples in the shard layout (KEY.png + KEY.json), plus a tiny model directory."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from hyocr.config import get_preset
from hyocr.model.factory import config_for_tokenizer, init_model
from hyocr.model.weights import save_model
from hyocr.processing.tokenizer import train_tokenizer
from hyocr.tasks.prompts import instruction
from hyocr.train.data import Sample, write_shard

WORDS = [
    "cat",
    "dog",
    "sun",
    "map",
    "pen",
    "box",
    "red",
    "sky",
    "tea",
    "cup",
    "owl",
    "fig",
    "ink",
    "jam",
    "kit",
    "log",
]


def toy_sample(key: str, rng: random.Random, task: str, big: bool = False) -> Sample:
    """big: larger glyphs near a fixed place, so the words are easier to read (overfitting test)."""
    w, h = 128, 64
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=40 if big else 22)
    word = rng.choice(WORDS)
    x, y = (rng.randint(0, 40), rng.randint(0, 8)) if big else (rng.randint(2, 70), rng.randint(2, 34))
    draw.text((x, y), word, fill="black", font=font)
    x1, y1, x2, y2 = draw.textbbox((x, y), word, font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    if task == "spotting":
        q = [round(x1 * 1000 / w), round(y1 * 1000 / h), round(x2 * 1000 / w), round(y2 * 1000 / h)]
        answer = f"<ref>{word}</ref><quad>({q[0]},{q[1]}),({q[2]},{q[3]})</quad>"
    else:
        answer = word
    return Sample(
        key,
        task,
        instruction(task),
        answer,
        [buf.getvalue()],
        "en",
        [{"text": word, "poly": [x1, y1, x2, y1, x2, y2, x1, y2]}],
    )


def make_shard(
    path: Path, n: int, seed: int = 0, tasks: tuple[str, ...] = ("text", "spotting"), big: bool = False
) -> Path:
    rng = random.Random(seed)
    return write_shard(
        path, [toy_sample(f"s{seed}-{i:05d}", rng, tasks[i % len(tasks)], big) for i in range(n)]
    )


TOKENIZER_TEXTS = [instruction("text"), instruction("spotting"), *WORDS, "(0,1),(2,3) 0123456789"] * 10


def make_model_dir(path: Path, seed: int = 0, **overrides) -> Path:
    tok = train_tokenizer(TOKENIZER_TEXTS, vocab_size=300, min_frequency=1)
    from dataclasses import replace

    cfg = replace(config_for_tokenizer(get_preset("hyocr-test"), tok), **overrides)
    model = init_model(cfg, seed=seed)
    save_model(model, path)
    tok.save(path)
    return path


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    make_shard(root / "shards" / "train-000.tar", 32, seed=0)
    make_shard(root / "eval" / "eval-000.tar", 8, seed=1)
    make_model_dir(root / "init")
    return root
