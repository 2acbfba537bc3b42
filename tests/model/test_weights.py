"""The release's tensor names at the full 1B shapes, on meta tensors (no memory), and checkpoint errors."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from hyocr.config import get_preset, load_config
from hyocr.errors import ModelLoadError
from hyocr.model.weights import (
    INT8_SCALE,
    check_release_tensors,
    dequantize_int8,
    expected_shapes,
    from_release_name,
    load_model,
    quantize_int8,
    save_model,
    to_release_name,
)

RELEASE_SAMPLES = {
    "vit.embeddings.patch_embedding.weight": (1152, 3, 16, 16),
    "vit.embeddings.position_embedding.weight": (128 * 128 + 1, 1152),
    "vit.layers.26.self_attn.q_proj.bias": (1152,),
    "vit.layers.0.mlp.dense_h_to_4h.weight": (4304, 1152),
    "vit.layers.0.input_layernorm.weight": (1152,),
    "vit.perceive.proj.0.weight": (2304, 1152, 2, 2),
    "vit.perceive.proj.2.weight": (4608, 2304, 1, 1),
    "vit.perceive.mlp.weight": (1024, 4608),
    "vit.perceive.image_newline": (4608,),
    "vit.perceive.image_sep": (1024,),
    "vit.perceive.after_rms.weight": (1024,),
    "model.embed_tokens.weight": (120818, 1024),
    "model.layers.23.self_attn.k_proj.weight": (8 * 128, 1024),
    "model.layers.23.self_attn.query_layernorm.weight": (128,),
    "model.layers.0.mlp.gate_proj.weight": (3584, 1024),
    "model.norm.weight": (1024,),
}


@pytest.fixture(scope="module")
def release_shapes():
    return {to_release_name(k): v for k, v in expected_shapes(get_preset("hunyuanocr-1b")).items()}


def test_1b_names_and_shapes_are_the_release_ones(release_shapes):
    for name, shape in RELEASE_SAMPLES.items():
        assert release_shapes[name] == shape, name
    n = sum(torch.Size(s).numel() for s in release_shapes.values())
    assert 990e6 < n < 1.0e9  # "~996M parameters"
    assert n == get_preset("hunyuanocr-1b").num_parameters()


def test_mapping_round_trips_both_directions(release_shapes):
    mapping = check_release_tensors(release_shapes, get_preset("hunyuanocr-1b"))
    assert len(mapping) == len(release_shapes)
    for release, ours in mapping.items():
        assert to_release_name(ours) == release
        assert from_release_name(release) == ours


def test_transformers_in_memory_names_map_too():
    assert (
        from_release_name("model.language_model.layers.3.mlp.up_proj.weight")
        == "decoder.layers.3.mlp.up_proj.weight"
    )
    assert (
        from_release_name("model.vision_tower.layers.2.layer_norm1.bias")
        == "vision.layers.2.input_layernorm.bias"
    )
    assert (
        from_release_name("model.vision_tower.layers.2.mlp.fc2.weight")
        == "vision.layers.2.mlp.dense_4h_to_h.weight"
    )
    assert from_release_name("model.vision_tower.patch_merger.proj_conv.weight") == "connector.proj.0.weight"
    assert from_release_name("model.vision_tower.patch_merger.image_begin") == "connector.image_begin"


def test_tied_lm_head_is_accepted(release_shapes):
    shapes = dict(release_shapes, **{"lm_head.weight": (120818, 1024)})
    check_release_tensors(shapes, get_preset("hunyuanocr-1b"))


def test_unknown_tensor_is_a_clear_error(release_shapes):
    shapes = dict(release_shapes, **{"vit.layers.27.self_attn.q_proj.weight": (1152, 1152)})
    with pytest.raises(ModelLoadError, match="does not know: vit.layers.27.self_attn.q_proj.weight"):
        check_release_tensors(shapes, get_preset("hunyuanocr-1b"))
    with pytest.raises(ModelLoadError, match="unknown tensor 'foo.bar'"):
        from_release_name("foo.bar")


def test_missing_tensor_is_a_clear_error(release_shapes):
    shapes = dict(release_shapes)
    del shapes["model.layers.5.mlp.down_proj.weight"]
    with pytest.raises(ModelLoadError, match="missing 1 tensors: model.layers.5.mlp.down_proj.weight"):
        check_release_tensors(shapes, get_preset("hunyuanocr-1b"))


def test_config_that_does_not_match_weights(random_model, tmp_path):
    save_model(random_model, tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["intermediate_size"] = 96
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="config does not match weights"):
        load_model(tmp_path)


def test_sharded_save_and_bf16_load(random_model, tmp_path):
    save_model(random_model, tmp_path, max_shard_bytes=100_000)
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "model.safetensors.index.json").is_file()
    m = load_model(tmp_path, dtype=torch.bfloat16)
    assert next(m.parameters()).dtype == torch.bfloat16
    ref = random_model.state_dict()
    for k, v in m.state_dict().items():
        assert torch.equal(v, ref[k].to(torch.bfloat16)), k
    assert load_config(tmp_path) == random_model.cfg


def test_missing_shard_and_bad_directories(random_model, tmp_path):
    save_model(random_model, tmp_path, max_shard_bytes=100_000)
    next(tmp_path.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="model directory not found"):
        load_model(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(empty)
    (empty / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(empty)


def test_int8_quantization_is_rowwise_and_within_half_a_step():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(48, 3, 4, 4, generator=g) * torch.logspace(-3, 1, 48)[:, None, None, None]
    w[5] = 0.0  # an all-zero row keeps a finite scale and comes back zero
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8 and q.shape == w.shape and scale.shape == (48,)
    back = dequantize_int8(q, scale)
    step = scale[:, None, None, None]
    assert torch.all((back - w).abs() <= step / 2 + 1e-7)
    assert torch.equal(back[5], torch.zeros_like(back[5]))
    # each row uses its whole range: the largest magnitude maps to +-127
    assert torch.equal(
        q.reshape(48, -1).abs().amax(1)[torch.arange(48) != 5], torch.full((47,), 127, dtype=torch.int8)
    )


def test_int8_save_is_half_the_size_and_loads_back_close(random_model, tmp_path):
    from safetensors import safe_open

    bf16, int8 = tmp_path / "bf16", tmp_path / "int8"
    save_model(copy.deepcopy(random_model).to(torch.bfloat16), bf16)
    save_model(random_model, int8, int8=True)

    with safe_open(str(int8 / "model.safetensors"), framework="pt") as h:
        dtypes = {k: h.get_slice(k).get_dtype() for k in h.keys()}
    matrices = [k for k in dtypes if k.endswith(INT8_SCALE)]
    assert matrices and all(dtypes[k[: -len(INT8_SCALE)]] == "I8" for k in matrices)
    assert all(dtypes[k] == "F32" for k in dtypes if k not in matrices and k + INT8_SCALE not in dtypes)
    size = (int8 / "model.safetensors").stat().st_size / (bf16 / "model.safetensors").stat().st_size
    assert 0.5 < size < 0.75, size  # int8 matrices; the float32 vectors and scales are the rest
    m = load_model(int8)
    ref = random_model.state_dict()
    for k, v in m.state_dict().items():
        assert v.dtype == torch.float32
        tol = ref[k].abs().max() / 254 + 1e-7  # half a step of the largest row
        assert (v - ref[k]).abs().max() <= tol, k
    # the same input, nearly the same output
    ids = torch.arange(9, 41)[None]
    with torch.no_grad():
        a, b = random_model(ids).logits, m(ids).logits
    assert (a - b).norm() / a.norm() < 0.04, ((a - b).norm() / a.norm()).item()  # measured 0.029
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9


def test_int8_tensor_without_scales_is_a_clear_error(random_model, tmp_path):
    from safetensors.torch import load_file, save_file

    save_model(random_model, tmp_path, int8=True)
    f = tmp_path / "model.safetensors"
    tensors = load_file(str(f))
    name = next(k for k in tensors if k.endswith(INT8_SCALE))
    lone = dict(tensors)
    del lone[name]
    save_file(lone, str(f))
    with pytest.raises(ModelLoadError, match="without"):
        load_model(tmp_path)
    wrong = dict(tensors)
    wrong[name] = torch.ones(3)
    save_file(wrong, str(f))
    with pytest.raises(ModelLoadError, match="scales no tensor"):
        load_model(tmp_path)


def test_truncated_weights_file(random_model, tmp_path):
    save_model(random_model, tmp_path)
    f = tmp_path / "model.safetensors"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="cannot read weights"):
        load_model(tmp_path)


def test_reads_round_trips_and_is_checked(tmp_path):
    import dataclasses

    from hyocr.config import save_config

    cfg = dataclasses.replace(get_preset("hyocr-test"), reads="lines")
    save_config(cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hyocr"]["reads"] == "lines"
    assert load_config(tmp_path).reads == "lines"
    save_config(get_preset("hyocr-test"), tmp_path)  # the default is not written: release-like configs
    assert "reads" not in json.loads((tmp_path / "config.json").read_text())["hyocr"]
    assert load_config(tmp_path).reads == "page"
    with pytest.raises(ValueError, match="reads must be 'page' or 'lines'"):
        dataclasses.replace(cfg, reads="pages")


def test_stretch_round_trips_and_is_checked(tmp_path):
    import dataclasses

    from hyocr.config import save_config
    from hyocr.errors import ModelLoadError

    cfg = dataclasses.replace(get_preset("hyocr-test"), stretch=1.5)
    save_config(cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hyocr"]["stretch"] == 1.5
    assert load_config(tmp_path).stretch == 1.5
    save_config(get_preset("hyocr-test"), tmp_path)  # the release's 1 is not written
    assert "stretch" not in json.loads((tmp_path / "config.json").read_text())["hyocr"]
    assert load_config(tmp_path).stretch == 1.0
    with pytest.raises(ValueError, match="stretch must be between 1 and 4"):
        dataclasses.replace(cfg, stretch=0.5)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["hyocr"]["stretch"] = "wide"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="hyocr.stretch must be a number"):
        load_config(tmp_path)


def test_line_height_round_trips_and_is_checked(tmp_path):
    import dataclasses

    from hyocr.config import save_config
    from hyocr.errors import ModelLoadError

    save_config(dataclasses.replace(get_preset("hyocr-test"), line_height=32), tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hyocr"]["line_height"] == 32
    assert load_config(tmp_path).line_height == 32
    save_config(get_preset("hyocr-test"), tmp_path)  # off (0) is not written
    assert "line_height" not in json.loads((tmp_path / "config.json").read_text())["hyocr"]
    assert load_config(tmp_path).line_height == 0
    with pytest.raises(ValueError, match="line_height must be 0 .off. or a multiple of 32"):
        dataclasses.replace(get_preset("hyocr-test"), line_height=24)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["hyocr"]["line_height"] = "32"
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="hyocr.line_height must be a whole number"):
        load_config(tmp_path)


def test_formula_height_round_trips_and_is_checked(tmp_path):
    import dataclasses

    from hyocr.config import save_config
    from hyocr.errors import ModelLoadError

    cfg = dataclasses.replace(get_preset("hyocr-test"), line_height=32, formula_height=96)
    save_config(cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hyocr"]["formula_height"] == 96
    loaded = load_config(tmp_path)
    assert (loaded.read_height("formula"), loaded.read_height("text"), loaded.read_height()) == (96, 32, 32)
    # off (0): a formula is read at the line height, and nothing is written
    off = dataclasses.replace(cfg, formula_height=0)
    assert off.read_height("formula") == 32
    save_config(off, tmp_path)
    assert "formula_height" not in json.loads((tmp_path / "config.json").read_text())["hyocr"]
    with pytest.raises(ValueError, match="formula_height must be 0 .off. or a multiple of 32"):
        dataclasses.replace(cfg, formula_height=80)
    with pytest.raises(ValueError, match="formula_height needs a line_height"):
        dataclasses.replace(get_preset("hyocr-test"), formula_height=96)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["hyocr"]["formula_height"] = 96.0
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="hyocr.formula_height must be a whole number"):
        load_config(tmp_path)


def test_formula_heights_round_trip_and_are_checked(tmp_path):
    import dataclasses

    from hyocr.config import save_config
    from hyocr.errors import ModelLoadError

    cfg = dataclasses.replace(
        get_preset("hyocr-test"), line_height=32, formula_height=96, formula_heights=(128, 160)
    )
    save_config(cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hyocr"]["formula_heights"] == [128, 160]
    assert load_config(tmp_path).formula_heights == (128, 160)
    save_config(dataclasses.replace(cfg, formula_heights=()), tmp_path)
    assert "formula_heights" not in json.loads((tmp_path / "config.json").read_text())["hyocr"]
    assert load_config(tmp_path).formula_heights == ()
    with pytest.raises(ValueError, match="formula_heights must be multiples of 32"):
        dataclasses.replace(cfg, formula_heights=(100,))
    with pytest.raises(ValueError, match="formula_heights needs a formula_height"):
        dataclasses.replace(cfg, formula_height=0)
    save_config(cfg, tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["hyocr"]["formula_heights"] = 160
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="hyocr.formula_heights must be a list of whole numbers"):
        load_config(tmp_path)
