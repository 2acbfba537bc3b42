"""SFT trainer: overfitting, exact resume after kill -9, packing and accumulation invariances, stage 1
freezing, schedule endpoints, and checkpoints that are model directories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.model.weights import load_model
from hyocr.processing.tokenizer import HyTokenizer
from hyocr.train.data import Packer, SampleEncoder, ShardIndex, collate
from hyocr.train.sft import SftJob, forward_batch, run_sft
from hyocr.train.stages import STAGES, load_stage_config, lr_at, stage_config
from tests.train.conftest import make_shard

TOY = dict(
    seq_len=1024,
    rows=1,
    max_pixels=128 * 64,
    min_pixels=32 * 32,
    bf16=False,
    log_every=1,
    save_every=1000,
    weight_decay=0.0,
)


def _log(out: Path, event: str = "train") -> list[dict]:
    return [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r["event"] == event]


def test_overfits_32_samples(toy_dir, tmp_path):
    # 16 text and 16 spotting samples, each word at its own place. A constant 1e-3 (a high rate such as
    # 1e-2 lets the model fit the format and the word prior but never read the first letter: it stalls
    # at ~0.2, the entropy of the words)
    make_shard(tmp_path / "big" / "train.tar", 32, seed=5, big=True)
    cfg = stage_config("2", dict(TOY, rows=2, max_steps=300, warmup_steps=5, lr_max=1e-3, lr_min=1e-3))
    run_sft(SftJob(toy_dir / "init", tmp_path / "big", tmp_path, cfg, quiet=True))
    losses = [r["loss"] for r in _log(tmp_path)]
    assert losses[0] > 5.0
    assert sum(losses[-5:]) / 5 < 0.05, losses[-10:]
    # the saved model reproduces the near-zero loss on the whole training shard ...
    model = load_model(tmp_path / "latest")
    tok = HyTokenizer.from_dir(tmp_path / "latest")
    enc = SampleEncoder(model.cfg, tok, cfg.max_pixels, cfg.min_pixels)
    data = ShardIndex(tmp_path / "big")
    batch = collate([[enc.encode(data[i]) for i in range(32)]], tok.pad_id)
    with torch.no_grad():
        assert float(forward_batch(model, batch, False).loss) < 0.05
    # ... and reads the training images back: greedy answers equal the targets (words and boxes)
    engine = Engine(model, tok)
    gens = engine.generate(
        [Request(data[i].instruction, [data[i].images[0]]) for i in range(32)],
        SamplingParams(max_new_tokens=40),
    )
    right = sum(g.text == data[i].answer for i, g in enumerate(gens))
    assert right >= 30, [(g.text, data[i].answer) for i, g in enumerate(gens) if g.text != data[i].answer]


def test_packed_row_equals_samples_alone(toy_dir):
    model = load_model(toy_dir / "init")
    tok = HyTokenizer.from_dir(toy_dir / "init")
    enc = SampleEncoder(model.cfg, tok, 128 * 64, 32 * 32)
    data = ShardIndex(toy_dir / "shards")
    enc_samples = [enc.encode(data[i]) for i in range(5)]
    with torch.no_grad():
        packed = forward_batch(model, collate([enc_samples], tok.pad_id), False, loss_only=False)
        alone = [
            forward_batch(model, collate([[e]], tok.pad_id), False, loss_only=False) for e in enc_samples
        ]
        fast = forward_batch(model, collate([enc_samples], tok.pad_id), False)
    assert fast.logits is None and fast.num_tokens == packed.num_tokens
    assert abs(float(fast.loss) - float(packed.loss)) < 1e-5
    start = 0
    for e, a in zip(enc_samples, alone, strict=True):
        n = len(e.ids)
        torch.testing.assert_close(packed.logits[0, start : start + n], a.logits[0], atol=1e-4, rtol=1e-4)
        start += n
    mean_alone = sum(float(a.loss) * a.num_tokens for a in alone) / sum(a.num_tokens for a in alone)
    assert abs(float(packed.loss) - mean_alone) < 1e-5


def test_packer_is_deterministic_and_drops_nothing(toy_dir):
    model_cfg = load_model(toy_dir / "init").cfg
    tok = HyTokenizer.from_dir(toy_dir / "init")
    enc = SampleEncoder(model_cfg, tok, 128 * 64, 32 * 32)
    data = ShardIndex(toy_dir / "shards")
    a = Packer(data, enc, 200, seed=3)
    rows = a.next_rows(20)
    seen = [i for row in rows for i in row]
    assert sorted(seen[:32]) == list(range(32))  # first epoch: each sample exactly once
    assert all(sum(enc.plan_length(data[i]) for i in row) <= 200 for row in rows)
    b = Packer(data, enc, 200, seed=3)
    first = b.next_rows(7)
    c = Packer(data, enc, 200, seed=3, position=b.position)  # resume from a data position
    assert first + c.next_rows(13) == rows


def test_accumulation_and_rows_give_the_same_step(toy_dir, tmp_path):
    base = dict(
        TOY, seq_len=160, max_steps=2, warmup_steps=0, lr_max=1e-3, lr_min=1e-3, shuffle=False, clip_norm=0.0
    )
    run_sft(
        SftJob(
            toy_dir / "init",
            toy_dir / "shards",
            tmp_path / "a",
            stage_config("2", dict(base, rows=2)),
            quiet=True,
        )
    )
    run_sft(
        SftJob(
            toy_dir / "init",
            toy_dir / "shards",
            tmp_path / "b",
            stage_config("2", dict(base, grad_accum=2)),
            quiet=True,
        )
    )
    a = load_model(tmp_path / "a" / "latest").state_dict()
    b = load_model(tmp_path / "b" / "latest").state_dict()
    for k in a:
        # Adam turns rounding-level gradient differences into up to ~1% of one step (lr 1e-3)
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)


def test_stage1_trains_vision_only(toy_dir, tmp_path):
    cfg = replace(STAGES["1"], **dict(TOY, max_steps=3, warmup_steps=0, lr_max=1e-3, lr_min=1e-3))
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    before = load_model(toy_dir / "init").state_dict()
    after = load_model(tmp_path / "latest").state_dict()
    decoder = [k for k in before if k.startswith("decoder.")]
    vision = [k for k in before if k.startswith(("vision.", "connector."))]
    assert all(torch.equal(before[k], after[k]) for k in decoder)
    assert sum(not torch.equal(before[k], after[k]) for k in vision) > len(vision) // 2


def test_schedules_and_configs(tmp_path):
    s2 = STAGES["2"]
    assert lr_at(s2, 0) == pytest.approx(s2.lr_max / s2.warmup_steps)
    assert lr_at(s2, s2.warmup_steps - 1) == pytest.approx(s2.lr_max)
    assert lr_at(s2, s2.max_steps - 1) == pytest.approx(s2.lr_min)
    s4 = STAGES["4"]
    mid = (s4.warmup_steps + s4.max_steps - 1) / 2
    assert lr_at(s4, int(mid)) == pytest.approx((s4.lr_max + s4.lr_min) / 2, rel=1e-2)  # linear anneal
    assert STAGES["1"].trains == "vision" and STAGES["3"].seq_len == 32768
    for stage in ("1", "2", "3", "4"):
        cfg = load_stage_config(
            stage, Path(__file__).parents[2] / "src/hyocr/train/configs" / f"stage{stage}.toml"
        )
        assert cfg.name == stage
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 1\n")
    with pytest.raises(ValueError, match="unknown stage config field"):
        load_stage_config("2", bad)


def test_checkpoint_is_a_model_directory(toy_dir, tmp_path):
    cfg = stage_config("2", dict(TOY, max_steps=2, warmup_steps=0))
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    assert (tmp_path / "latest").is_symlink()
    engine = Engine.from_dir(tmp_path / "latest")
    img = ShardIndex(toy_dir / "eval")[0].images[0]
    gen = engine.generate(
        [Request("Extract the text in the image.", [img])], SamplingParams(max_new_tokens=3)
    )[0]
    assert gen.finish_reason in ("stop", "length")
    assert engine.cfg.max_pixels == 128 * 64  # the stage's image bounds travel with the model


def _cli(out: Path, toy_dir: Path, config: Path, resume: bool = False) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "hyocr.cli",
        "train",
        "--stage",
        "2",
        "--model",
        str(toy_dir / "init"),
        "--data",
        str(toy_dir / "shards"),
        "--out",
        str(out),
        "--config",
        str(config),
        "--quiet",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        cmd + (["--resume"] if resume else []), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_kill9_then_resume_matches_uninterrupted_run(toy_dir, tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text(
        "max_steps = 40\nwarmup_steps = 4\nlr_max = 3e-3\nlr_min = 3e-4\nseq_len = 300\nrows = 1\n"
        "max_pixels = 8192\nmin_pixels = 1024\nbf16 = true\nsave_every = 3\nkeep_checkpoints = 2\nlog_every = 1\n"
    )
    ref = _cli(tmp_path / "ref", toy_dir, config)
    assert ref.wait(timeout=120) == 0, ref.stderr.read().decode()
    killed = _cli(tmp_path / "run", toy_dir, config)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "ckpt-0000006").exists():
        assert killed.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    resumed = _cli(tmp_path / "run", toy_dir, config, resume=True)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()
    steps = [r["step"] for r in _log(tmp_path / "run")]
    assert steps[-1] == 40 and set(range(1, 41)) <= set(steps)
    assert steps.count(1) == 1  # the second process continued, it did not start over
    a = load_model(tmp_path / "ref" / "latest").state_dict()
    b = load_model(tmp_path / "run" / "latest").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the data position and the optimiser's moments were restored too
    sa = torch.load(tmp_path / "ref" / "latest" / "trainer_state.pt", weights_only=False)
    sb = torch.load(tmp_path / "run" / "latest" / "trainer_state.pt", weights_only=False)
    assert sa["state"] == sb["state"]


def test_a_stage_stretch_travels_with_the_model_and_both_sides_widen_alike(toy_dir, tmp_path):
    from hyocr.processing.image import smart_resize

    cfg = stage_config("2", dict(TOY, max_steps=2, warmup_steps=0, stretch=1.5))
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    engine = Engine.from_dir(tmp_path / "latest")
    assert engine.cfg.stretch == 1.5
    sample = ShardIndex(toy_dir / "eval")[0]  # a 128x64 image
    prepared = engine.prepare(Request(sample.instruction, [sample.images[0]]))
    want = smart_resize(64, 192, 32, cfg.min_pixels, cfg.max_pixels)
    assert (prepared.image_sizes[0]["resized_height"], prepared.image_sizes[0]["resized_width"]) == want
    enc = SampleEncoder(engine.cfg, engine.tok, cfg.max_pixels, cfg.min_pixels).encode(sample)
    assert [list(g) for g in enc.grids] == [[want[0] // 16, want[1] // 16]]
    # what training saw is what inference prompts with: the same image tokens before the answer
    assert enc.ids[: len(prepared.ids)] == prepared.ids
    with pytest.raises(ValueError, match="stretch must be between 1 and 4"):
        stage_config("2", dict(stretch=5))


def test_a_stage_line_height_travels_with_the_model_and_both_sides_read_one_row(toy_dir, tmp_path):
    from hyocr.processing.image import read_size

    cfg = stage_config("2", dict(TOY, max_steps=2, warmup_steps=0, stretch=1.5, line_height=32))
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    engine = Engine.from_dir(tmp_path / "latest")
    assert (engine.cfg.stretch, engine.cfg.line_height) == (1.5, 32)
    sample = ShardIndex(toy_dir / "eval")[0]  # a 128x64 image: half as tall, widened 1.5x
    prepared = engine.prepare(Request(sample.instruction, [sample.images[0]]))
    assert (prepared.image_sizes[0]["resized_height"], prepared.image_sizes[0]["resized_width"]) == (32, 96)
    enc = SampleEncoder(engine.cfg, engine.tok, cfg.max_pixels, cfg.min_pixels).encode(sample)
    assert [list(g) for g in enc.grids] == [[2, 6]]
    assert enc.ids[: len(prepared.ids)] == prepared.ids
    # a short word stays one row (min_pixels does not apply), a very long line is capped
    assert read_size(40, 30, 32, 4096, 98304, stretch=1.5, line_height=32) == (32, 32)
    assert read_size(20, 4000, 32, 4096, 98304, stretch=1.5, line_height=32) == (32, 3072)
    with pytest.raises(ValueError, match="line_height must be 0 .off. or a multiple of 32"):
        stage_config("2", dict(line_height=40))


def test_a_stage_formula_height_reads_formulas_taller_on_both_sides(toy_dir, tmp_path):
    # `formula_height` travels with the model like `line_height`; a formula sample is encoded, and a
    # request that names the formula task is prepared, that many pixels tall; other tasks (and a
    # request that names none) keep the line height
    from hyocr.tasks.prompts import instruction
    from hyocr.train.data import Sample

    cfg = stage_config(
        "2", dict(TOY, max_steps=2, warmup_steps=0, max_pixels=96 * 256, line_height=32, formula_height=96)
    )
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    engine = Engine.from_dir(tmp_path / "latest")
    assert (engine.cfg.line_height, engine.cfg.formula_height) == (32, 96)
    line = ShardIndex(toy_dir / "eval")[0]  # a 128x64 image
    formula = Sample("f", "formula", instruction("formula"), "x^{2}", line.images)
    enc = SampleEncoder(engine.cfg, engine.tok, cfg.max_pixels, cfg.min_pixels)
    assert [list(g) for g in enc.encode(formula).grids] == [[6, 12]]  # 96 px tall, 192 wide
    assert [list(g) for g in enc.encode(line).grids] == [[2, 4]]
    prepared = engine.prepare(Request(formula.instruction, [formula.images[0]], task="formula"))
    assert enc.encode(formula).ids[: len(prepared.ids)] == prepared.ids
    plain = engine.prepare(Request(formula.instruction, [formula.images[0]]))
    assert plain.image_sizes[0]["resized_height"] == 32
    with pytest.raises(ValueError, match="formula_height must be 0 .off. or a multiple of 32"):
        stage_config("2", dict(formula_height=48))


def test_a_stage_formula_heights_train_each_formula_image_at_one_of_them_and_travel_with_the_model(
    toy_dir, tmp_path
):
    # a reader trained at several formula heights: each formula image is encoded at one of them,
    # chosen by its digest (the same in `plan_length` and `encode`, spread over the images); the
    # model remembers them, and a request may name the height to read at (what training saw)
    import io

    from PIL import Image

    from hyocr.tasks.prompts import instruction
    from hyocr.train.data import Sample

    heights = dict(line_height=32, formula_height=96, formula_heights=[160])
    cfg = stage_config("2", dict(TOY, max_steps=1, warmup_steps=0, max_pixels=160 * 512, **heights))
    assert cfg.formula_heights == (160,)
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    engine = Engine.from_dir(tmp_path / "latest")
    assert (engine.cfg.formula_height, engine.cfg.formula_heights) == (96, (160,))
    enc = SampleEncoder(engine.cfg, engine.tok, cfg.max_pixels, cfg.min_pixels)
    seen = {}
    for k in range(12):
        buf = io.BytesIO()
        Image.new("RGB", (128, 64), (255 - k, 255, 255)).save(buf, format="PNG")
        formula = Sample(f"f{k}", "formula", instruction("formula"), "x^{2}", [buf.getvalue()])
        encoded = enc.encode(formula)
        tall = encoded.grids[0][0] * 16
        assert tall in (96, 160)
        assert enc.plan_length(formula) == len(encoded.ids)
        assert enc.encode(formula).grids == encoded.grids  # the same image, the same height
        prepared = engine.prepare(Request(formula.instruction, formula.images, task="formula", height=tall))
        assert prepared.image_sizes[0]["resized_height"] == tall
        assert encoded.ids[: len(prepared.ids)] == prepared.ids
        seen[tall] = seen.get(tall, 0) + 1
    assert len(seen) == 2, seen  # both heights are trained
    line = ShardIndex(toy_dir / "eval")[0]
    assert [list(g) for g in enc.encode(line).grids] == [[2, 4]]  # text keeps the line height
    with pytest.raises(ValueError, match="formula_heights must be multiples of 32"):
        stage_config("2", dict(formula_heights=[100]))
    with pytest.raises(ValueError, match="a read height must be a multiple of 32"):
        engine.prepare(Request(formula.instruction, formula.images, task="formula", height=100))


def test_tight_lines_trains_on_the_crop_inference_reads(toy_dir):
    # a line drawn small in a wide margin: under `tight_lines` the encoder plans and encodes the cut
    # that inference makes for a line reader (page_segments), not the whole image; a two-line image
    # and a non-text sample are kept whole
    from PIL import Image, ImageDraw

    from hyocr.processing.image import preprocess
    from hyocr.tasks.segment import page_segments
    from hyocr.train.data import Sample, _png_bytes

    def drawn(lines: list[str]) -> Image.Image:
        im = Image.new("RGB", (360, 60 + 30 * len(lines)), "white")
        for k, line in enumerate(lines):
            ImageDraw.Draw(im).text((80, 30 + 30 * k), line, fill="black", font_size=18)
        return im

    engine = Engine.from_dir(toy_dir / "init")
    cfg = replace(engine.cfg, line_height=32, stretch=1.5)
    one = drawn(["TOTAL 12.35"])
    line = Sample("a", "text", "Extract the text in the image.", "TOTAL 12.35", [_png_bytes(one)])
    tight = SampleEncoder(cfg, engine.tok, 98304, 4096, tight_lines=True)
    loose = SampleEncoder(cfg, engine.tok, 98304, 4096)
    (seg,) = page_segments(one)
    assert seg.box[2] - seg.box[0] < 0.6 * one.width  # the margin is cut away
    want = preprocess(
        seg.crop(one),
        patch=cfg.vit_patch,
        merge=cfg.merge,
        min_pixels=4096,
        max_pixels=98304,
        stretch=1.5,
        line_height=32,
    )
    enc = tight.encode(line)
    assert np.array_equal(enc.pixel_values[0], want.pixel_values)
    # at one line height the cut line is read larger: more tokens across
    assert tight.plan_length(line) == len(enc.ids) > loose.plan_length(line)
    assert [list(g) for g in loose.encode(line).grids] != [list(g) for g in enc.grids]
    # keys repeat across datasets: a sample under the same key with another image gets its own cut
    two = replace(line, images=[_png_bytes(drawn(["TOTAL 12.35", "CASH 20.00"]))])
    spot = replace(line, task="spotting")
    for s in (two, spot):
        assert tight.plan_length(s) == loose.plan_length(s)
        assert np.array_equal(tight.encode(s).pixel_values[0], loose.encode(s).pixel_values[0])


def test_scan_lines_rescans_a_text_line_but_keeps_its_planned_length(toy_dir):
    # under `scan_lines` a text line's pixels are those of another scan (data.degrade.scan_line),
    # at the same size, so the planned token count is the encoded one; other tasks are untouched
    from PIL import Image, ImageDraw

    from hyocr.train.data import Sample, _png_bytes

    engine = Engine.from_dir(toy_dir / "init")
    cfg = replace(engine.cfg, line_height=32, stretch=1.5)
    im = Image.new("RGB", (240, 36), "white")
    ImageDraw.Draw(im).text((8, 6), "TOTAL 12.35", fill="black", font_size=20)
    line = Sample("a", "text", "Extract the text in the image.", "TOTAL 12.35", [_png_bytes(im)])
    plain = SampleEncoder(cfg, engine.tok, 98304, 4096)
    scanned = SampleEncoder(cfg, engine.tok, 98304, 4096, scan_lines=1.0, seed=3)
    want = plain.encode(line)
    outs = [scanned.encode(line) for _ in range(4)]
    for enc in outs:
        assert scanned.plan_length(line) == len(enc.ids) == len(want.ids)
        assert enc.ids == want.ids and [list(g) for g in enc.grids] == [list(g) for g in want.grids]
        assert not np.array_equal(enc.pixel_values[0], want.pixel_values[0])
    # each encoding is a scan of its own
    assert not np.array_equal(outs[0].pixel_values[0], outs[1].pixel_values[0])
    spot = replace(line, task="spotting")
    assert np.array_equal(scanned.encode(spot).pixel_values[0], plain.encode(spot).pixel_values[0])
    with pytest.raises(ValueError, match="probability"):
        stage_config("2", dict(scan_lines=1.5))


def test_a_samples_record_is_read_without_its_images(toy_dir):
    data = ShardIndex(toy_dir / "shards")
    for i in range(3):
        record, sample = data.record(i), data[i]
        assert record["answer"] == sample.answer and record["instruction"] == sample.instruction
