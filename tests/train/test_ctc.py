"""Auxiliary CTC loss: which samples take part, the column layout it reads, and a resumable run whose
saved model directory stays in the release's layout."""

from __future__ import annotations

import torch

from hyocr.model.weights import load_model
from hyocr.processing.tokenizer import HyTokenizer
from hyocr.train.checkpointing import load_checkpoint
from hyocr.train.ctc import CHARSET, CtcHead, ctc_target, image_ctc_loss
from hyocr.train.data import SampleEncoder, ShardIndex, collate
from hyocr.train.sft import SftJob, run_sft
from hyocr.train.stages import stage_config
from tests.train.test_sft import TOY


def test_targets_only_for_single_line_text_samples():
    a, b, c = (CHARSET.index(x) for x in "abc")
    assert ctc_target("text", "abc", 1) == [a, b, c]
    assert ctc_target("text", "aé", 1) == [a, len(CHARSET)]  # anything else is one class
    assert ctc_target("spotting", "abc", 1) is None
    assert ctc_target("text", "ab\ncd", 1) is None
    assert ctc_target("text", "abc", 2) is None
    assert ctc_target("text", "  ", 1) is None


def test_head_reads_columns_of_the_connector_layout():
    head = CtcHead(hidden=8, classes=6)
    # grid 4x6 patches -> 2 rows of 3 tokens + a newline each, between begin and end
    tokens = torch.randn(1 + 2 * 4 + 1, 8)
    scores = head(tokens, (4, 6))
    assert scores.shape == (6, 6)  # two 16-px columns per token, vocab + blank classes
    # newline/begin/end tokens do not take part
    changed = tokens.clone()
    changed[0] += 5
    changed[4] += 5
    changed[-1] += 5
    torch.testing.assert_close(head(changed, (4, 6)), scores)
    # a target longer than the columns has no alignment and is left out rather than made infinite
    loss, n = image_ctc_loss(head, [tokens, tokens], [(4, 6), (4, 6)], [[1, 2], [1] * 7])
    assert n == 2 and torch.isfinite(loss)
    loss.backward()
    assert head.proj.weight.grad.abs().sum() > 0


def test_run_with_ctc_saves_head_in_payload_and_model_in_release_layout(toy_dir, tmp_path):
    cfg = stage_config("2", dict(TOY, max_steps=3, warmup_steps=0, lr_max=1e-3, lr_min=1e-3, ctc_weight=1.0))
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    model, payload = load_checkpoint(tmp_path / "latest")
    assert set(payload["extra"]["ctc_head"]) == {"norm.weight", "norm.bias", "proj.weight", "proj.bias"}
    assert set(model.state_dict()) == set(load_model(toy_dir / "init").state_dict())
    logs = (tmp_path / "log.jsonl").read_text()
    assert '"ctc_loss"' in logs
    # the toy shard's text samples have targets; its spotting samples do not
    tok = HyTokenizer.from_dir(toy_dir / "init")
    enc = SampleEncoder(model.cfg, tok, 128 * 64, 32 * 32)
    data = ShardIndex(toy_dir / "shards")
    batch = collate([[enc.encode(data[i]) for i in range(8)]], tok.pad_id)
    for i, t in enumerate(batch.ctc_targets):
        assert (t is not None) == (data[i].task == "text")
    # resuming continues the head from the payload
    cfg5 = stage_config("2", dict(TOY, max_steps=5, warmup_steps=0, lr_max=1e-3, lr_min=1e-3, ctc_weight=1.0))
    run_sft(SftJob(None, toy_dir / "shards", tmp_path, cfg5, resume=True, quiet=True))
    _, payload5 = load_checkpoint(tmp_path / "latest")
    assert payload5["state"]["step"] == 5
    assert not torch.equal(
        payload5["extra"]["ctc_head"]["proj.weight"], payload["extra"]["ctc_head"]["proj.weight"]
    )


def test_vision_only_ctc_stage_never_touches_the_decoder(toy_dir, tmp_path):
    cfg = stage_config(
        "1",
        dict(TOY, max_steps=3, warmup_steps=0, lr_max=1e-3, lr_min=1e-3, ctc_weight=1.0, answer_loss=False),
    )
    run_sft(SftJob(toy_dir / "init", toy_dir / "shards", tmp_path, cfg, quiet=True))
    before = load_model(toy_dir / "init").state_dict()
    after = load_model(tmp_path / "latest").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("vision."))
    assert '"ctc_loss"' in (tmp_path / "log.jsonl").read_text()
    # the next stage, started from that checkpoint, keeps the head it trained (lr 0: nothing moves)
    _, payload1 = load_checkpoint(tmp_path / "latest")
    cfg2 = stage_config("2", dict(TOY, max_steps=1, warmup_steps=0, lr_max=0.0, lr_min=0.0, ctc_weight=1.0))
    run_sft(SftJob(tmp_path / "latest", toy_dir / "shards", tmp_path / "s2", cfg2, quiet=True))
    _, payload2 = load_checkpoint(tmp_path / "s2" / "latest")
    for k, v in payload1["extra"]["ctc_head"].items():
        assert torch.equal(payload2["extra"]["ctc_head"][k], v), k


def test_vision_only_stage_needs_ctc():
    import pytest

    with pytest.raises(ValueError, match="ctc_weight"):
        stage_config("1", dict(answer_loss=False))


def test_text_only_sample_adds_no_ctc_target(toy_dir):
    # regression: collate gave a sample without images one CTC target, so `ctc_targets` no longer
    # lined up with the images and image_ctc_loss failed (zip strict) on any mixed micro-batch
    from dataclasses import replace

    tok = HyTokenizer.from_dir(toy_dir / "init")
    enc = SampleEncoder(load_model(toy_dir / "init").cfg, tok, 128 * 64, 32 * 32)
    data = ShardIndex(toy_dir / "shards")
    text = next(s for s in data if s.task == "text")
    batch = collate([[enc.encode(replace(text, images=[])), enc.encode(text)]], tok.pad_id)
    assert len(batch.grid_hw) == 1
    assert len(batch.ctc_targets) == 1 and batch.ctc_targets[0] is not None


def test_fsdp_refuses_the_vision_only_ctc_stage():
    import pytest

    with pytest.raises(ValueError, match="fsdp"):
        stage_config("1", dict(answer_loss=False, ctc_weight=1.0, fsdp=True))
