"""Deepening a model (model/grow.py): same function, more blocks, and the new blocks train."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from hyocr.engine.backends import DEFAULT_MODEL_DIR
from hyocr.model.grow import deepen, layer_plan
from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer
from tests.conftest import make_image
from tests.model.test_parity import _inputs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_layer_plan_spreads_copies_after_their_block():
    assert layer_plan(4, 4) == [(0, False), (1, False), (2, False), (3, False)]
    assert layer_plan(4, 8) == [(i, f) for i in range(4) for f in (False, True)]
    assert layer_plan(4, 6) == [(0, False), (1, False), (1, True), (2, False), (3, False), (3, True)]
    assert layer_plan(2, 7) == [(0, False), (0, True), (0, True), (1, False), (1, True), (1, True), (1, True)]
    with pytest.raises(ValueError, match="cannot grow a tower of 4 blocks to 3"):
        layer_plan(4, 3)


def test_deeper_model_computes_the_same_logits(random_model, test_cfg):
    grown = deepen(random_model, vit_layers=test_cfg.vit_layers + 3, lm_layers=test_cfg.lm_layers * 2)
    assert (
        grown.cfg.vit_layers == test_cfg.vit_layers + 3
        and len(grown.vision.layers) == test_cfg.vit_layers + 3
    )
    assert (
        grown.cfg.lm_layers == test_cfg.lm_layers * 2 and len(grown.decoder.layers) == test_cfg.lm_layers * 2
    )
    ids, pv, grids = _inputs(test_cfg, [make_image(64, 160, 5)])
    ids = torch.tensor([ids])
    with torch.no_grad():
        old = random_model(ids, pixel_values=pv, grid_hw=grids).logits
        new = grown(ids, pixel_values=pv, grid_hw=grids).logits
    assert (old - new).abs().max() < 1e-5
    # the new blocks are not dead: one training step moves their output projections off zero and
    # then the logits differ from the old model's
    grown.train()
    labels = ids.clone()
    labels[:, :-3] = -100
    grown(ids, pixel_values=pv, grid_hw=grids, labels=labels).loss.backward()
    grad = grown.vision.layers[1].self_attn.o_proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    opt = torch.optim.SGD(grown.parameters(), lr=0.1)
    opt.step()
    grown.eval()
    with torch.no_grad():
        moved = grown(ids, pixel_values=pv, grid_hw=grids).logits
    assert (moved - old).abs().max() > 1e-3


def test_deepened_shipped_model_reads_the_same_after_save_and_load(tmp_path):
    from hyocr import OCR

    src = DEFAULT_MODEL_DIR
    shipped = load_model(src)
    vit, lm = shipped.cfg.vit_layers + 2, shipped.cfg.lm_layers + 1
    grown = deepen(shipped, vit_layers=vit, lm_layers=lm)
    save_model(grown, tmp_path)
    HyTokenizer.from_dir(src).save(tmp_path)
    again = load_model(tmp_path)
    assert again.cfg.vit_layers == vit and again.cfg.lm_layers == lm
    assert again.cfg.line_height == grown.cfg.line_height and again.cfg.reads == "lines"
    image = Image.open(EXAMPLES / "line_receipt.png")
    before = OCR(max_new_tokens=48).text(image).text
    after = OCR(str(tmp_path), max_new_tokens=48).text(image).text
    assert before.strip() and after == before


def test_added_characters_are_one_piece_each_and_old_text_encodes_as_before():
    from hyocr.processing.tokenizer import add_characters

    tok = HyTokenizer.from_dir(DEFAULT_MODEL_DIR)
    chars = "识别图片中的汉字，。使用"
    wide, made_of = add_characters(tok, chars)
    assert wide.ids == tok.ids and wide.eos_id == tok.eos_id and wide.vocab_size > tok.vocab_size
    for text in ["Total RM 12.50 <pFig>x</pFig>", "<ref>SUBTOTAL</ref><quad>(1,2),(3,4)</quad>", "Šiauliai"]:
        assert wide.encode(text) == tok.encode(text) and wide.decode(wide.encode(text)) == text
    for ch in chars:
        (piece,) = wide.encode(ch)  # one piece, even where the old tokenizer had one already
        assert wide.decode([piece]) == ch
    # in a run of characters each keeps its piece (no merge crosses a character's bytes)
    assert wide.encode("使用汉字") == [wide.encode(c)[0] for c in "使用汉字"]
    assert wide.decode(wide.encode("识别图片中的汉字。")) == "识别图片中的汉字。"
    assert min(made_of) == tok.vocab_size and sorted(made_of) == list(range(tok.vocab_size, wide.vocab_size))
    # a new piece is made of old ids whose text is its own
    for new_id, ids in made_of.items():
        assert all(i < tok.vocab_size for i in ids)
        assert wide.tk.decode([new_id]).encode() == tok.tk.decode(ids).encode()
    assert add_characters(wide, chars)[1] == {}  # nothing left to add


def test_widened_model_keeps_its_rows_and_starts_new_ones_from_their_pieces():
    from hyocr.model.grow import widen_vocab
    from hyocr.processing.tokenizer import add_characters

    tok = HyTokenizer.from_dir(DEFAULT_MODEL_DIR)
    shipped = load_model(DEFAULT_MODEL_DIR)
    wide_tok, made_of = add_characters(tok, "汉字识别")
    wide = widen_vocab(shipped, made_of)
    old_rows, rows = shipped.decoder.embed_tokens.weight, wide.decoder.embed_tokens.weight
    assert wide.cfg.lm_vocab % 64 == 0 and wide.cfg.lm_vocab >= wide_tok.vocab_size
    assert torch.equal(rows[: tok.vocab_size], old_rows[: tok.vocab_size])
    for new_id, ids in made_of.items():
        assert torch.allclose(rows[new_id], old_rows[ids].mean(0))
    old_state = shipped.state_dict()
    assert all(torch.equal(v, old_state[k]) for k, v in wide.state_dict().items() if "embed_tokens" not in k)
    with pytest.raises(ValueError, match="existing ids"):
        widen_vocab(shipped, {shipped.cfg.lm_vocab: [shipped.cfg.lm_vocab]})
