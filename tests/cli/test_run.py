"""`hyocr run` end to end in a subprocess: answers, and one clear error line for each kind of bad input."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib

import pytest

from hyocr.model.weights import save_model
from tests.conftest import make_image


@pytest.fixture(scope="module")
def model_dir(random_model, tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    save_model(random_model, d)
    tokenizer.save(d)
    return d


def hyocr(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "hyocr.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def _png_with_size(path, width, height):
    """A PNG whose header claims width x height (a decompression bomb) with a tiny body."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def assert_one_error_line(proc, *needles):
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_runs_and_prints_json(model_dir, tmp_path):
    img = tmp_path / "a.png"
    make_image(64, 96).save(img)
    proc = hyocr(
        "run", img, "--model", model_dir, "--max-new-tokens", "5", "--format", "json", "--dtype", "float32"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["source"] == str(img) and len(out["pages"]) == 1
    page = out["pages"][0]
    assert page["task"] == "text" and page["width"] == 96 and page["height"] == 64 and page["truncated"]


def test_bad_inputs_each_get_one_line_and_the_rest_still_runs(model_dir, tmp_path):
    good = tmp_path / "good.png"
    make_image(64, 64).save(good)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    trunc = tmp_path / "trunc.png"
    make_image(200, 200).save(trunc)
    trunc.write_bytes(trunc.read_bytes()[:300])
    bomb = tmp_path / "bomb.png"
    _png_with_size(bomb, 60000, 60000)
    missing = tmp_path / "missing.png"
    proc = hyocr(
        "run", good, empty, text, trunc, bomb, missing, "--model", model_dir, "--max-new-tokens", "3"
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 5, proc.stderr
    joined = "\n".join(errors)
    assert "empty.png: file is empty" in joined
    assert "notes.png: not an image file" in joined
    assert "trunc.png: image is truncated or corrupt" in joined
    assert "bomb.png: image is too large" in joined
    assert "missing.png: file not found" in joined
    assert "==> " + str(good) in proc.stdout


@pytest.mark.parametrize(
    "setup,needle",
    [
        ("nodir", "model directory not found"),
        ("noconfig", "no config.json"),
        ("mismatch", "config does not match weights"),
        ("notokenizer", "no tokenizer.json"),
    ],
)
def test_bad_model_directories(model_dir, tmp_path, setup, needle):
    img = tmp_path / "a.png"
    make_image(32, 32).save(img)
    d = tmp_path / "m"
    if setup != "nodir":
        d.mkdir()
        if setup != "noconfig":
            for f in model_dir.iterdir():
                (d / f.name).write_bytes(f.read_bytes())
        if setup == "mismatch":
            cfg = json.loads((d / "config.json").read_text())
            cfg["intermediate_size"] = 96
            (d / "config.json").write_text(json.dumps(cfg))
        if setup == "notokenizer":
            (d / "tokenizer.json").unlink()
    proc = hyocr("run", img, "--model", d)
    assert_one_error_line(proc, needle)


def test_no_model_and_nothing_shipped_says_so(tmp_path, monkeypatch):
    # an install without the shipped model (e.g. a slimmed wheel) says what to pass
    from hyocr.engine import backends
    from hyocr.errors import ModelLoadError

    monkeypatch.setattr(backends, "DEFAULT_MODEL_DIR", tmp_path / "none")
    with pytest.raises(ModelLoadError, match="pass --model DIR"):
        backends.resolve_model_dir(None)


def test_bad_task_options(model_dir, tmp_path):
    img = tmp_path / "a.png"
    make_image(32, 32).save(img)
    assert_one_error_line(
        hyocr("run", img, "--model", model_dir, "--task", "translate", "--target-lang", "xx"),
        "unknown target language",
    )
    proc = hyocr("run", img, "--task", "nope")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = hyocr("run", img, "--workers", "0")
    assert proc.returncode == 2 and "--workers: expected a whole number of at least 1" in proc.stderr
    for beams in ("1", "two"):
        proc = hyocr("run", img, "--reread-beams", beams)
        assert proc.returncode == 2 and "--reread-beams: expected a whole number of at least 2" in proc.stderr
    for factor in ("0.9", "wide", "nan", "inf"):
        proc = hyocr("run", img, "--reread-widen", factor)
        assert proc.returncode == 2 and "--reread-widen: expected a factor of at least 1" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_own_pixel_limit_below_pillows_guard(tmp_path):
    from hyocr.errors import PixelBudgetError
    from hyocr.processing.image import load_image

    bomb = tmp_path / "b.png"
    _png_with_size(bomb, 12000, 12001)  # 144M pixels: under Pillow's error threshold, over ours
    with pytest.raises(
        PixelBudgetError, match="12000x12001 = 144,012,000 pixels, over the limit of 144,000,000"
    ):
        load_image(bomb)
