"""Documents end to end through `hyocr run` with a real (random-weight) model: PDFs, folders,
videos, output formats, and one clear error per bad input while the rest completes."""

from __future__ import annotations

import json
import random
import subprocess

import pikepdf
import pytest
from PIL import Image, ImageDraw

from hyocr.data.fonts import fonts_for
from hyocr.data.render.document import render_document
from hyocr.documents.pdf import iter_pdf_pages, parse_pages
from hyocr.documents.video import Cue, segment_frames, to_srt, to_vtt
from hyocr.model.weights import save_model
from tests.cli.test_run import hyocr
from tests.conftest import make_image


@pytest.fixture(scope="module")
def model_dir(random_model, tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    save_model(random_model, d)
    tokenizer.save(d)
    return d


@pytest.fixture(scope="module")
def three_page_pdf(tmp_path_factory):
    """Three document pages rendered by our data engine, saved as one PDF."""
    pages = [render_document(random.Random(s), "en", width=600).image.convert("RGB") for s in (1, 2, 3)]
    path = tmp_path_factory.mktemp("pdf") / "doc.pdf"
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=100)
    return path, pages


def test_pdf_pages_render_in_order_within_the_pixel_budget(three_page_pdf):
    path, pages = three_page_pdf
    got = list(iter_pdf_pages(path, dpi=100, max_pixels=300 * 300))
    assert [p.page for p in got] == [1, 2, 3]
    for p in got:
        assert p.image.width * p.image.height <= 300 * 300 * 1.02
    assert [p.page for p in iter_pdf_pages(path, pages="3,1-2")] == [3, 1, 2]


def test_parse_pages():
    assert parse_pages("1-3,5,8-", 9) == [1, 2, 3, 5, 8, 9]
    assert parse_pages(None, 2) == [1, 2]
    with pytest.raises(ValueError, match="bad page range 'x'"):
        parse_pages("x", 3)
    with pytest.raises(ValueError, match="selects no page"):
        parse_pages("7-", 3)


def test_three_page_pdf_gives_three_pages_of_markdown_in_order(three_page_pdf, model_dir, tmp_path):
    path, _ = three_page_pdf
    proc = hyocr(
        "run",
        path,
        "--task",
        "document",
        "--format",
        "md",
        "--model",
        model_dir,
        "--max-new-tokens",
        "4",
        "--dpi",
        "72",
    )
    assert proc.returncode == 0, proc.stderr
    marks = [line for line in proc.stdout.splitlines() if line.startswith("<!-- page")]
    assert marks == ["<!-- page 1 -->", "<!-- page 2 -->", "<!-- page 3 -->"]
    out = tmp_path / "out"
    proc = hyocr(
        "run",
        path,
        "--task",
        "document",
        "--format",
        "json",
        "--out",
        out,
        "--model",
        model_dir,
        "--max-new-tokens",
        "4",
        "--dpi",
        "72",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "doc.json").read_text())
    assert [p["source"] for p in doc["pages"]] == [f"{path}#page={i}" for i in (1, 2, 3)]
    proc = hyocr(
        "run",
        path,
        "--task",
        "document",
        "--format",
        "html",
        "--out",
        out,
        "--model",
        model_dir,
        "--max-new-tokens",
        "4",
        "--pages",
        "2",
    )
    assert proc.returncode == 0 and (out / "doc.html").read_text().startswith("<!doctype html>")


def test_bad_documents_each_get_one_line_and_the_rest_completes(three_page_pdf, model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(64, 64).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n this is not a pdf")
    with pikepdf.open(three_page_pdf[0]) as pdf:
        pdf.save(folder / "secret.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.txt").write_text("ignored: not an input type")
    out = tmp_path / "out"
    proc = hyocr("run", folder, "--model", model_dir, "--max-new-tokens", "3", "--out", out)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = sorted(line for line in proc.stderr.splitlines() if ": error: " in line)
    assert len(errors) == 4, proc.stderr
    assert "b.png: error:" in errors[0] and "truncated or corrupt" in errors[0]
    assert "corrupt.pdf: error:" in errors[1] and "not a readable PDF" in errors[1]
    assert "empty.mp4: error:" in errors[2] and "file is empty" in errors[2]
    assert "secret.pdf: error:" in errors[3] and "encrypted" in errors[3]
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    # --resume skips what is done and only retries what failed
    again = hyocr("run", folder, "--model", model_dir, "--max-new-tokens", "3", "--out", out, "--resume")
    assert "a.png: skipped (output exists)" in again.stderr


def _make_video(path, tmp_path):
    """4 s at 10 fps: 'Hello there' from 0.5 s to 1.8 s, 'General Kenobi' from 2.2 s to 3.6 s."""
    font = fonts_for("latn")[0].pil(28)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(40):
        t = i / 10
        img = Image.new("RGB", (320, 240), (40 + i, 60, 90))  # a slowly changing background
        d = ImageDraw.Draw(img)
        d.ellipse([100 + i, 40, 160 + i, 100], fill=(200, 180, 60))
        text = "Hello there" if 0.5 <= t < 1.8 else "General Kenobi" if 2.2 <= t < 3.6 else ""
        if text:
            d.text(
                (160, 200), text, font=font, fill="white", anchor="mm", stroke_width=2, stroke_fill="black"
            )
        img.save(frames / f"{i:03d}.png")
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-framerate",
            "10",
            "-i",
            str(frames / "%03d.png"),
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )


def test_video_with_two_subtitles_gives_two_cues_at_the_right_times(model_dir, tmp_path):
    video = tmp_path / "clip.mp4"
    _make_video(video, tmp_path)
    proc = hyocr("run", video, "--model", model_dir, "--max-new-tokens", "4", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    cues = json.loads(proc.stdout)["cues"]
    assert len(cues) == 2, cues
    for cue, (start, end) in zip(cues, [(0.5, 1.8), (2.2, 3.6)], strict=True):
        assert abs(cue["start"] - start) <= 0.5 and abs(cue["end"] - end) <= 0.5, cues
    srt = hyocr("run", video, "--model", model_dir, "--max-new-tokens", "4")
    assert srt.stdout.startswith("1\n00:00:00,") and "\n2\n00:00:02," in srt.stdout


def test_subtitle_band_segmentation_ignores_background_motion(tmp_path):
    video = tmp_path / "clip.mp4"
    _make_video(video, tmp_path)
    from hyocr.documents.video import iter_frames

    frames = list(iter_frames(video, fps=4))
    segs = [(frames[a][0], frames[b - 1][0]) for a, b, blank in segment_frames(frames) if not blank]
    assert len(segs) == 2, segs


def test_srt_and_vtt_format():
    cues = [Cue(0.5, 1.75, "Hello"), Cue(3661.2, 3662.0, "Two\nlines")]
    assert (
        to_srt(cues)
        == "1\n00:00:00,500 --> 00:00:01,750\nHello\n\n2\n01:01:01,200 --> 01:01:02,000\nTwo\nlines\n\n"
    )
    assert to_vtt(cues).startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.750\nHello\n")


def test_spotting_overlay_is_drawn(model_dir, tmp_path):
    img = tmp_path / "x.png"
    make_image(64, 128).save(img)
    out = tmp_path / "o"
    proc = hyocr(
        "run",
        img,
        "--task",
        "spotting",
        "--model",
        model_dir,
        "--max-new-tokens",
        "4",
        "--out",
        out,
        "--draw",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "x.overlay.png").is_file()


def test_draw_cjk_and_rtl_labels():
    from hyocr.tasks.draw import draw_spotting
    from hyocr.tasks.parse import parse_answer

    img = Image.new("RGB", (400, 200), "white")
    r = parse_answer(
        "spotting",
        "<ref>中文标签</ref><quad>(100,300),(500,450)</quad><ref>مرحبا بالعالم</ref><quad>(100,700),(600,850)</quad>",
        width=400,
        height=200,
    )
    out = draw_spotting(img, r)
    assert out.size == img.size and out.getbbox() is not None
    # text pixels were drawn inside the label bands: the image is no longer white there
    import numpy as np

    assert len(np.unique(np.asarray(out.crop((40, 30, 200, 60))).reshape(-1, 3), axis=0)) > 2


def test_multipage_tiff_gives_one_result_per_frame(model_dir, tmp_path):
    frames = [make_image(64, 96, s) for s in (1, 2, 3)]
    tif = tmp_path / "scan.tiff"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    proc = hyocr(
        "run", tif, "--model", model_dir, "--max-new-tokens", "2", "--format", "jsonl", "--pages", "2-3"
    )
    assert proc.returncode == 0, proc.stderr
    pages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [p["source"] for p in pages] == [f"{tif}#page=2", f"{tif}#page=3"]
