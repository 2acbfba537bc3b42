"""Parity with the reference: transformers 5.23.0 `HunYuanVLForConditionalGeneration`, float32,
random weights on the reduced `hyocr-test` structure (3 decoder layers, GQA 4/2, 4 XD-RoPE axes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import HunYuanVLForConditionalGeneration
from transformers.models.hunyuan_vl.image_processing_pil_hunyuan_vl import HunYuanVLImageProcessorPil

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.model.weights import load_model, save_model
from hyocr.processing.image import preprocess
from hyocr.processing.template import PromptBuilder
from tests.conftest import make_image

TOL = 1e-4


@pytest.fixture(scope="module")
def checkpoint(random_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    save_model(random_model, d)
    return d


@pytest.fixture(scope="module")
def reference(checkpoint):
    model, info = HunYuanVLForConditionalGeneration.from_pretrained(
        checkpoint, attn_implementation="eager", dtype=torch.float32, output_loading_info=True
    )
    return model.eval(), info


def _inputs(cfg, images, text_before=(40, 41), text_after=(42, 43, 44)):
    """ids for one sequence: bos, text, then each image wrapped in start/end, then text."""
    procs = [preprocess(im, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels) for im in images]
    ids = [cfg.bos_id, *text_before]
    for p in procs:
        ids += (
            [cfg.image_start_id] + [cfg.image_token_id] * cfg.image_tokens(*p.resized_hw) + [cfg.image_end_id]
        )
    ids += list(text_after)
    pv = torch.from_numpy(np.concatenate([p.pixel_values for p in procs]))
    grids = [p.grid_hw for p in procs]
    return ids, pv, grids


def test_checkpoint_loads_in_both_without_missing_or_unexpected(reference, checkpoint, random_model):
    _, info = reference
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ours = load_model(checkpoint)
    for (k, a), (_, b) in zip(ours.state_dict().items(), random_model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_transformers_saved_directory_loads_here(reference, tmp_path, random_model):
    ref, _ = reference
    ref.save_pretrained(tmp_path)
    ours = load_model(tmp_path)
    for k, v in random_model.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k


@pytest.mark.parametrize("hw", [(300, 900), (900, 300), (700, 500), (40, 40), (1200, 3600)])
def test_pixels_and_grid_match_reference_processor(hw):
    img = make_image(*hw, seed=hw[0])
    ref = HunYuanVLImageProcessorPil()(img, return_tensors="np")
    ours = preprocess(img)
    assert tuple(ref["image_grid_thw"][0][1:]) == ours.grid_hw
    np.testing.assert_array_equal(ref["pixel_values"], ours.pixel_values)


def test_position_ids_match_reference_for_two_images(reference, random_model, test_cfg):
    ref, _ = reference
    ids, _, grids = _inputs(test_cfg, [make_image(64, 192, 1), make_image(96, 64, 2)])
    input_ids = torch.tensor([ids])
    tt = (input_ids == test_cfg.image_token_id).int()
    thw = torch.tensor([[1, h, w] for h, w in grids])
    want, _ = ref.model.get_rope_index(input_ids, mm_token_type_ids=tt, image_grid_thw=thw)
    got = random_model.position_ids(input_ids, [grids], None)
    assert torch.equal(want, got)
    # first image's pooled grid: width axis runs 0..w/2 (newline column included), image index 0;
    # the second image's grid carries image index 1
    start = ids.index(test_cfg.image_start_id) + 2  # skip start token and the begin vector
    rows, cols = grids[0][0] // 2, grids[0][1] // 2 + 1
    grid0 = got[:, 0, start : start + rows * cols]
    assert grid0[1].tolist() == list(range(cols)) * rows
    assert grid0[2].tolist() == [r for r in range(rows) for _ in range(cols)]
    assert set(grid0[3].tolist()) == {0}
    start1 = len(ids) - ids[::-1].index(test_cfg.image_start_id) + 1
    assert got[3, 0, start1] == 1


def test_vision_features_and_merged_tokens_match(reference, random_model, test_cfg):
    ref, _ = reference
    # two packed images, one 3:1
    _, pv, grids = _inputs(test_cfg, [make_image(64, 192, 3), make_image(80, 112, 4)])
    thw = torch.tensor([[1, h, w] for h, w in grids])
    with torch.no_grad():
        out = ref.model.vision_tower(pv, grid_thw=thw)
        feats = random_model.vision(pv, grids)
        merged = torch.cat(random_model.encode_images(pv, grids))
    assert (out.last_hidden_state[0] - feats).abs().max() < TOL
    assert (out.pooler_output[0] - merged).abs().max() < TOL


@pytest.mark.parametrize(
    "sizes",
    [
        [(64, 192), (80, 112), (64, 64)],  # runs of patches of three lengths: padded to the longest
        [(64, 192), (64, 192)],  # runs of one length: one call, no key masked
        [(128, 256), (32, 32), (32, 32)],  # padding would more than double the work: one call each
    ],
)
def test_packed_images_equal_each_alone(random_model, test_cfg, sizes):
    _, pv, grids = _inputs(test_cfg, [make_image(h, w, k + 3) for k, (h, w) in enumerate(sizes)])
    with torch.no_grad():
        packed = random_model.encode_images(pv, grids)
        start = 0
        for k, (h, w) in enumerate(grids):
            alone = random_model.encode_images(pv[start : start + h * w], [(h, w)])[0]
            start += h * w
            assert (packed[k] - alone).abs().max() < 1e-5


def test_logits_match_for_a_padded_batch_of_two(reference, random_model, test_cfg):
    ref, _ = reference
    a = _inputs(test_cfg, [make_image(64, 192, 5)])  # 3:1
    b = _inputs(test_cfg, [make_image(96, 64, 6), make_image(64, 64, 7)], text_before=(45,), text_after=(46,))
    length = max(len(a[0]), len(b[0]))
    input_ids = torch.full((2, length), test_cfg.pad_id)
    attn = torch.zeros((2, length), dtype=torch.long)
    for r, (ids, _, _) in enumerate((a, b)):
        input_ids[r, length - len(ids) :] = torch.tensor(ids)
        attn[r, length - len(ids) :] = 1
    pv = torch.cat([a[1], b[1]])
    grids = a[2] + b[2]
    pos = random_model.position_ids(input_ids, [a[2], b[2]], attn)
    with torch.no_grad():
        want = ref(
            input_ids=input_ids,
            attention_mask=attn,
            pixel_values=pv,
            image_grid_thw=torch.tensor([[1, h, w] for h, w in grids]),
            position_ids=pos,
        ).logits
        got = random_model(input_ids, pv, grids, images_per_row=[1, 2], attention_mask=attn).logits
    real = attn.bool()
    assert (want[real] - got[real]).abs().max() < TOL


def test_32_greedy_tokens_identical(reference, checkpoint, tokenizer, test_cfg):
    ref, _ = reference
    engine = Engine(load_model(checkpoint), tokenizer, PromptBuilder(tokenizer), autocast=False)
    req = Request("Extract the text in the image.", [make_image(64, 192, 8)])
    ours = engine.generate([req], SamplingParams(max_new_tokens=32, ignore_eos=True))[0]
    prep = engine.prepare(req)
    input_ids = torch.tensor([prep.ids])
    tt = (input_ids == test_cfg.image_token_id).int()
    with torch.no_grad():
        out = ref.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            pixel_values=torch.from_numpy(np.concatenate(prep.pixel_values)),
            image_grid_thw=torch.tensor([[1, h, w] for h, w in prep.grids]),
            mm_token_type_ids=tt,
            max_new_tokens=32,
            min_new_tokens=32,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=test_cfg.pad_id,
        )
    assert len(ours.token_ids) == 32
    assert out[0, input_ids.shape[1] :].tolist() == ours.token_ids
