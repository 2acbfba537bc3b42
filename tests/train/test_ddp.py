"""Two CPU processes under torchrun (gloo) take the same step as one process with both rows:
the plain gradient all-reduce path and the FSDP path (train/fsdp.py), checkpoints and resume included."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hyocr.model.weights import load_model
from hyocr.train.data import write_shard
from hyocr.train.fsdp import with_placeholder_image
from hyocr.train.sft import SftJob, forward_batch, run_sft
from hyocr.train.stages import stage_config
from tests.train.conftest import toy_sample

STAGE = dict(
    seq_len=160,
    max_steps=2,
    warmup_steps=0,
    lr_max=1e-3,
    lr_min=1e-3,
    shuffle=False,
    clip_norm=1.0,
    max_pixels=128 * 64,
    min_pixels=32 * 32,
    bf16=False,
    log_every=1,
    save_every=1000,
    weight_decay=0.0,
)
# FSDP runs also accumulate two micro-batches, recompute activations, train the CTC head (replicated,
# all-reduced; its loss is normalised over the whole step too) and save every step
FSDP_STAGE = dict(
    STAGE, grad_accum=2, grad_checkpointing=True, ctc_weight=0.1, save_every=1, keep_checkpoints=3
)


def _torchrun(toy_dir: Path, data: Path, out: Path, stage: dict, *flags: str) -> None:
    config = out.parent / f"{out.name}.toml"
    config.write_text(
        "".join(f"{k} = {json.dumps(v) if isinstance(v, bool | str) else v}\n" for k, v in stage.items())
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "hyocr.cli",
        "train",
        "--stage",
        "2",
        "--model",
        str(toy_dir / "init"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--config",
        str(config),
        "--quiet",
        *flags,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    err = proc.stderr.decode()
    # torchrun's own traceback comes last; the failing process's error lines tell what happened
    assert proc.returncode == 0, "\n".join(line for line in err.splitlines() if "rror" in line)[-3000:]


def _one_process(toy_dir: Path, data: Path, out: Path, stage: dict) -> None:
    """The reference: one process with both processes' rows in each micro-batch."""
    run_sft(SftJob(toy_dir / "init", data, out, stage_config("2", dict(stage, rows=2)), quiet=True))


def _assert_same_weights(a_dir: Path, b_dir: Path, init_dir: Path) -> None:
    a, b = load_model(a_dir).state_dict(), load_model(b_dir).state_dict()
    init = load_model(init_dir).state_dict()
    changed = 0
    for k in a:
        # Adam turns rounding-level gradient differences into up to ~1% of one step (lr 1e-3)
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)
        changed += not torch.equal(a[k], init[k])
    assert changed > len(a) // 2


def _train_log(out: Path) -> list[dict]:
    lines = (out / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "train"]


def test_torchrun_two_processes_equal_one_process(toy_dir, tmp_path):
    _torchrun(toy_dir, toy_dir / "shards", tmp_path / "ddp", STAGE)
    _one_process(toy_dir, toy_dir / "shards", tmp_path / "one", STAGE)
    _assert_same_weights(tmp_path / "ddp" / "latest", tmp_path / "one" / "latest", toy_dir / "init")


# ---- FSDP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_shards(tmp_path_factory) -> Path:
    """The first three samples have no image: in step 1 process 0's first row is text-only while
    process 1's has an image, the case where FSDP needs the placeholder image (or hangs)."""
    root = tmp_path_factory.mktemp("mixed")
    rng = random.Random(0)
    samples = [toy_sample(f"m{i:03d}", rng, "text" if i % 2 else "spotting") for i in range(16)]
    samples = [replace(s, images=[]) if i < 3 else s for i, s in enumerate(samples)]
    write_shard(root / "train-000.tar", samples)
    return root


@pytest.fixture(scope="module")
def fsdp_reference(toy_dir, mixed_shards, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "one"
    _one_process(toy_dir, mixed_shards, out, FSDP_STAGE)
    return out


def test_placeholder_image_changes_nothing(toy_dir, mixed_shards):
    from hyocr.processing.tokenizer import HyTokenizer
    from hyocr.train.data import Packer, SampleEncoder, ShardIndex

    model = load_model(toy_dir / "init").train()
    tok = HyTokenizer.from_dir(toy_dir / "init")
    encoder = SampleEncoder(model.cfg, tok, 128 * 64, 32 * 32)
    packer = Packer(ShardIndex(mixed_shards), encoder, 160, shuffle=False)
    batch = packer.encode_rows([packer.next_row()])
    assert batch.pixel_values is None
    padded = with_placeholder_image(batch, model.cfg, tok.pad_id)
    assert padded.input_ids.shape[1] == batch.input_ids.shape[1] + 4  # 2x2 patches -> 1x(1+1)+2 tokens

    grads = []
    for b in (batch, padded):
        model.zero_grad(set_to_none=True)
        out = forward_batch(model, b, bf16=False)
        out.loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
        assert out.num_tokens == batch.num_answer_tokens
    for name, g in grads[1].items():
        if name.startswith(("vision.", "connector.")):
            assert grads[0][name] is None
            assert g is None or not g.any(), name  # exactly zero: the image sits in the padding span
        else:
            torch.testing.assert_close(g, grads[0][name], atol=1e-7, rtol=1e-5)


def test_fsdp_two_processes_equal_one_process(toy_dir, mixed_shards, fsdp_reference, tmp_path):
    _torchrun(toy_dir, mixed_shards, tmp_path / "fsdp", dict(FSDP_STAGE, fsdp=True))
    # the checkpoint is a release-layout model directory holding the whole model
    _assert_same_weights(tmp_path / "fsdp" / "latest", fsdp_reference / "latest", toy_dir / "init")
    # clipping saw the global norm of the sharded gradients (> clip_norm, so clipping acted)
    for a, b in zip(_train_log(tmp_path / "fsdp"), _train_log(fsdp_reference), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)
        assert a["grad_norm"] > FSDP_STAGE["clip_norm"]
        assert a["ctc_loss"] == pytest.approx(b["ctc_loss"], rel=1e-6)
    assert _train_log(fsdp_reference)[-1]["ctc_loss"] > 0
    # the optimizer state was gathered whole, in the layout of an unsharded run
    a = torch.load(tmp_path / "fsdp" / "latest" / "trainer_state.pt", weights_only=False)["optimizer"]
    b = torch.load(fsdp_reference / "latest" / "trainer_state.pt", weights_only=False)["optimizer"]
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i, moments in b["state"].items():
        for k, v in moments.items():
            torch.testing.assert_close(a["state"][i][k], v, atol=1e-7, rtol=1e-4)


def test_fsdp_resumes_a_one_process_checkpoint(toy_dir, mixed_shards, fsdp_reference, tmp_path):
    out = tmp_path / "resumed"
    out.mkdir()
    shutil.copytree(fsdp_reference / "ckpt-0000001", out / "ckpt-0000001")
    _torchrun(toy_dir, mixed_shards, out, dict(FSDP_STAGE, fsdp=True), "--resume")
    assert [r["step"] for r in _train_log(out)] == [2]
    _assert_same_weights(out / "latest", fsdp_reference / "latest", toy_dir / "init")


def test_fsdp_bf16_autocast(toy_dir, mixed_shards, tmp_path):
    stage = dict(FSDP_STAGE, bf16="always", save_every=1000)  # the bf16 path on any CPU
    _torchrun(toy_dir, mixed_shards, tmp_path / "fsdp", dict(stage, fsdp=True))
    _one_process(toy_dir, mixed_shards, tmp_path / "one", stage)
    # bf16 rounding differs between one row and two rows per matmul; weights are not compared
    # (Adam moves a parameter whose gradient is bf16 noise by a full step either way)
    for a, b in zip(_train_log(tmp_path / "fsdp"), _train_log(tmp_path / "one"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)
    for t in load_model(tmp_path / "fsdp" / "latest").state_dict().values():
        assert torch.isfinite(t).all()
