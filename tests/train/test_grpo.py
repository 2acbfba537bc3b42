"""GRPO: the algorithm's pieces by hand, and the whole loop raising a toy reward on a tiny model."""

from __future__ import annotations

import json

import pytest
import torch

from hyocr.train.data import Sample
from hyocr.train.grpo import (
    GrpoConfig,
    GrpoJob,
    clipped_policy_loss,
    filter_group,
    group_advantages,
    load_grpo_config,
    run_grpo,
)
from hyocr.train.rewards import RewardResult


def test_report_defaults():
    cfg = GrpoConfig()
    assert (cfg.group_size, cfg.temperature, cfg.top_p, cfg.top_k, cfg.beta, cfg.lr) == (
        8,
        0.85,
        0.95,
        50,
        0.0,
        8e-7,
    )


def test_advantages_and_filtering():
    adv = group_advantages([0.0, 0.5, 1.0, 0.5])
    assert sum(adv) == pytest.approx(0.0, abs=1e-9)
    assert adv[2] == pytest.approx(0.5 / (0.125**0.5), rel=1e-5)
    cfg = GrpoConfig()
    assert filter_group([0.3] * 8, cfg) == "no-variance"
    assert filter_group([1.0] * 7 + [0.95], cfg) == "trivial"  # everything passes
    assert filter_group([0.0] * 8, cfg) == "unsolvable"
    assert filter_group([0.0] * 7 + [0.4], cfg) == ""


def test_clipped_objective_by_hand():
    mask = torch.ones(1, 1)
    adv = torch.tensor([1.0])
    old = torch.zeros(1, 1)
    # ratio e^0.5 > 1.2 with a positive advantage: clipped at 1.2, no gradient
    logp = torch.full((1, 1), 0.5, requires_grad=True)
    loss = clipped_policy_loss(logp, old, adv, mask, 0.2)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(-1.2) and float(logp.grad) == 0.0
    # ratio 1: plain policy gradient, d(-ratio*A)/dlogp = -A
    logp = torch.zeros((1, 1), requires_grad=True)
    clipped_policy_loss(logp, logp.detach(), adv, mask, 0.2).backward()
    assert float(logp.grad) == pytest.approx(-1.0)
    # KL (k3) is zero at the reference and positive elsewhere
    lp = torch.tensor([[-1.0]])
    assert float(clipped_policy_loss(lp, lp, torch.zeros(1), mask, 0.2, lp, beta=0.1)) == 0.0
    assert float(clipped_policy_loss(lp, lp, torch.zeros(1), mask, 0.2, lp - 0.5, beta=0.1)) > 0.0


def test_config_file(tmp_path):
    from pathlib import Path

    cfg = load_grpo_config(Path(__file__).parents[2] / "src/hyocr/train/configs/rl.toml")
    assert cfg == GrpoConfig(**{**cfg.to_dict()}) and cfg.group_size == 8
    bad = tmp_path / "bad.toml"
    bad.write_text("kl = 0.1\n")
    with pytest.raises(ValueError, match="unknown GRPO config field"):
        load_grpo_config(bad)


def test_grpo_raises_a_toy_reward(toy_dir, tmp_path):
    """Toy reward: the share of sampled token ids that are even. A random model starts near 0.5."""
    prompts = [Sample(f"p{i}", "toy", f"say {w}", "") for i, w in enumerate(["cat", "dog", "sun", "map"])]

    def reward(sample, gen):
        ids = gen.token_ids
        return RewardResult(sum(t % 2 == 0 for t in ids) / max(len(ids), 1))

    cfg = GrpoConfig(
        max_steps=8,
        lr=3e-3,
        max_new_tokens=8,
        prompts_per_step=4,
        bf16=False,
        save_every=4,
        pass_threshold=1.0,
    )
    summary = run_grpo(GrpoJob(toy_dir / "init", prompts, tmp_path, cfg, reward_fn=reward, quiet=True))
    r = summary["train_rewards"]
    assert sum(r[:2]) / 2 < 0.65
    assert sum(r[-2:]) / 2 > sum(r[:2]) / 2 + 0.15, r
    logs = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert all(rec["kept_groups"] + sum(rec["dropped"].values()) == 4 for rec in logs if rec["event"] == "rl")
    assert (tmp_path / "latest" / "model.safetensors").is_file()


def test_cli_rl_reports_held_out_reward_before_and_after(toy_dir, tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "rl.toml"
    config.write_text(
        "max_steps = 1\ngroup_size = 2\nprompts_per_step = 2\nmax_new_tokens = 8\neval_prompts = 3\n"
        "eval_max_new_tokens = 8\nbf16 = false\nmax_pixels = 8192\nmin_pixels = 1024\nlr = 1e-4\n"
    )
    cmd = [sys.executable, "-m", "hyocr.cli", "train", "--stage", "rl", "--config", str(config)]
    cmd += ["--model", str(toy_dir / "init"), "--data", str(toy_dir / "shards"), "--quiet"]
    cmd += ["--eval-data", str(toy_dir / "shards"), "--out", str(tmp_path / "rl")]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    assert proc.returncode == 0, proc.stderr
    assert "rl done: held-out greedy reward" in proc.stdout, proc.stdout
    evals = [json.loads(x) for x in (tmp_path / "rl" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals if e["event"] == "eval"] == [0, 1]


def test_tight_lines_rewards_the_crop_inference_reads(toy_dir, tmp_path):
    # under `tight_lines` a line drawn small in a wide margin is sampled and rewarded as the cut a
    # line reader's inference reads (train.data.line_cut), not the whole image; a two-line image is
    # kept whole, as the cutter would read it segment by segment
    import io

    from PIL import Image, ImageDraw

    from hyocr.tasks.segment import page_segments
    from hyocr.train.data import _png_bytes

    def drawn(lines: list[str]) -> Image.Image:
        im = Image.new("RGB", (360, 60 + 30 * len(lines)), "white")
        for k, line in enumerate(lines):
            ImageDraw.Draw(im).text((80, 30 + 30 * k), line, fill="black", font_size=18)
        return im

    one, two = drawn(["TOTAL 12.35"]), drawn(["TOTAL 12.35", "CASH 20.00"])
    (seg,) = page_segments(one)
    prompts = [
        Sample("one", "text", "Extract the text in the image.", "TOTAL 12.35", [_png_bytes(one)]),
        Sample("two", "text", "Extract the text in the image.", "TOTAL 12.35\nCASH 20.00", [_png_bytes(two)]),
    ]
    seen: dict[tuple[str, bool], set] = {}

    def reward(tight: bool):
        def fn(sample, gen):
            seen.setdefault((sample.key, tight), set()).add(Image.open(io.BytesIO(sample.images[0])).size)
            return RewardResult(float(len(gen.token_ids) % 2))

        return fn

    for tight in (True, False):
        cfg = GrpoConfig(
            max_steps=1,
            group_size=2,
            prompts_per_step=2,
            max_new_tokens=4,
            bf16=False,
            lr=1e-5,
            max_pixels=8192,
            min_pixels=1024,
            tight_lines=tight,
        )
        run_grpo(
            GrpoJob(
                toy_dir / "init", prompts, tmp_path / str(tight), cfg, reward_fn=reward(tight), quiet=True
            )
        )
    assert seen[("one", True)] == {seg.crop(one).size} and seg.crop(one).size[0] < 0.6 * one.width
    assert seen[("one", False)] == {one.size}
    assert seen[("two", True)] == seen[("two", False)] == {two.size}
