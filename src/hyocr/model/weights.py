"""Checkpoint I/O in the release's file layout and tensor names.

A model directory holds `config.json` (hyocr.config), weights as `model.safetensors` or shards
`model-0000x-of-0000y.safetensors` + `model.safetensors.index.json`, and tokenizer files. Tensor
names are the release's: vision under `vit.`, the connector under `vit.perceive.`, the decoder
under `model.`; `lm_head.weight` is tied to `model.embed_tokens.weight` and not stored. Inside
hyocr the same tensors live under `vision.`, `connector.` and `decoder.`.

Loading also accepts the names transformers uses in memory (`model.language_model.*`,
`model.vision_tower.*`, `layer_norm1`, `mlp.fc1`, `patch_merger.proj_conv`; see
`transformers/conversion_mapping.py`, key `hunyuan_vl`), so a directory written by any of the
three loads here. Tensors are memory-mapped (safetensors `safe_open`) and cast to the dtype chosen
at load. Unknown, missing or mis-shaped tensors raise `ModelLoadError` naming them.

`save_model(..., int8=True)` stores each matrix (2 or more dimensions, at least `INT8_MIN_SIZE`
elements) as int8 with one float32 scale per row, in a tensor named `<name>.int8_scale` beside it:
half the bytes of bfloat16, for a model shipped in a size budget. `load_weights` multiplies them
back; vectors (norms, biases) keep their dtype. Such a directory is hyocr's own: transformers does
not read it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hyocr.config import HyocrConfig, load_config, save_config
from hyocr.errors import ModelLoadError
from hyocr.model.rope import ntk_alpha_inv_freq
from hyocr.model.vlm import HunyuanOCRModel

__all__ = [
    "to_release_name",
    "from_release_name",
    "release_state_dict",
    "expected_shapes",
    "check_release_tensors",
    "load_model",
    "load_weights",
    "save_model",
    "quantize_int8",
    "dequantize_int8",
]

# (hyocr prefix, release prefix); order matters: the longer prefix first
_PREFIXES = [("connector.", "vit.perceive."), ("vision.", "vit."), ("decoder.", "model.")]

# transformers' in-memory names -> release names (the inverse of conversion_mapping's renames)
_HF_TO_RELEASE = [
    (re.compile(r"^model\.language_model\."), "model."),
    (re.compile(r"^model\.vision_tower\.patch_merger\.proj_conv\."), "vit.perceive.proj.0."),
    (re.compile(r"^model\.vision_tower\.patch_merger\.proj_out\."), "vit.perceive.proj.2."),
    (re.compile(r"^model\.vision_tower\.patch_merger\."), "vit.perceive."),
    (re.compile(r"^model\.vision_tower\."), "vit."),
    (re.compile(r"\.layer_norm1\."), ".input_layernorm."),
    (re.compile(r"\.layer_norm2\."), ".post_attention_layernorm."),
    (re.compile(r"\.mlp\.fc1\."), ".mlp.dense_h_to_4h."),
    (re.compile(r"\.mlp\.fc2\."), ".mlp.dense_4h_to_h."),
]
_TIED = "lm_head.weight"
INT8_SCALE = ".int8_scale"  # suffix of the per-row scales of a tensor stored as int8
INT8_MIN_SIZE = 4096  # smaller matrices are not worth a scale each row


def quantize_int8(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A tensor (rows along dim 0) -> (int8 tensor, float32 scale per row): symmetric, row-wise
    absolute maximum, so each element is off by at most half its row's step."""
    rows = t.detach().float().reshape(t.shape[0], -1)
    scale = rows.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(rows / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.reshape(t.shape), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The inverse of `quantize_int8`, in float32."""
    rows = q.reshape(q.shape[0], -1).float() * scale.float()[:, None]
    return rows.reshape(q.shape)


def to_release_name(name: str) -> str:
    for ours, theirs in _PREFIXES:
        if name.startswith(ours):
            return theirs + name[len(ours) :]
    raise ModelLoadError(f"tensor '{name}' has no release name")


def from_release_name(name: str) -> str:
    """Release (or transformers) tensor name -> hyocr parameter name."""
    if name.startswith("model.language_model.") or name.startswith("model.vision_tower."):
        for pattern, repl in _HF_TO_RELEASE:
            name = pattern.sub(repl, name)
    for ours, theirs in _PREFIXES:
        if name.startswith(theirs):
            return ours + name[len(theirs) :]
    raise ModelLoadError(f"unknown tensor '{name}' in checkpoint")


def release_state_dict(model: HunyuanOCRModel) -> dict[str, torch.Tensor]:
    return {to_release_name(k): v for k, v in model.state_dict().items()}


def expected_shapes(cfg: HyocrConfig) -> dict[str, tuple[int, ...]]:
    """hyocr parameter name -> shape, computed on the meta device (no memory, any size)."""
    with torch.device("meta"):
        model = HunyuanOCRModel(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _short(names: Iterable[str], n: int = 5) -> str:
    names = sorted(names)
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_release_tensors(shapes: dict[str, tuple[int, ...]], cfg: HyocrConfig) -> dict[str, str]:
    """Validate release-named tensor shapes against a config; returns release name -> hyocr name.

    Raises ModelLoadError for unknown, missing or mis-shaped tensors.
    """
    want = expected_shapes(cfg)
    mapping: dict[str, str] = {}
    unknown = []
    for name in shapes:
        if name == _TIED and cfg.tie_embeddings:
            continue
        try:
            ours = from_release_name(name)
        except ModelLoadError:
            unknown.append(name)
            continue
        if ours not in want:
            unknown.append(name)
            continue
        mapping[name] = ours
    if unknown:
        raise ModelLoadError(
            f"checkpoint has {len(unknown)} tensors this config does not know: {_short(unknown)}"
        )
    missing = set(want) - set(mapping.values())
    if missing:
        names = [to_release_name(m) for m in missing]
        raise ModelLoadError(f"checkpoint is missing {len(missing)} tensors: {_short(names)}")
    for name, ours in mapping.items():
        if tuple(shapes[name]) != want[ours]:
            raise ModelLoadError(
                f"config does not match weights: '{name}' has shape {tuple(shapes[name])}, config expects {want[ours]}"
            )
    return mapping


def _weight_files(model_dir: Path) -> list[Path]:
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise ModelLoadError(f"{index}: unreadable shard index ({exc})") from None
        files = sorted({model_dir / f for f in weight_map.values()})
    elif (model_dir / "model.safetensors").is_file():
        files = [model_dir / "model.safetensors"]
    else:
        files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{model_dir}: no safetensors weights found")
    for f in files:
        if not f.is_file():
            raise ModelLoadError(f"{model_dir}: shard {f.name} listed in the index is missing")
    return files


def load_weights(model: HunyuanOCRModel, model_dir: str | Path, dtype: torch.dtype | None = None) -> None:
    """Read safetensors (memory-mapped) into `model`, casting to `dtype` (default: the file's)."""
    model_dir = Path(model_dir)
    handles = []
    shapes: dict[str, tuple[int, ...]] = {}
    where: dict[str, int] = {}
    try:
        for i, f in enumerate(_weight_files(model_dir)):
            h = safe_open(str(f), framework="pt")
            handles.append(h)
            for k in h.keys():
                shapes[k] = tuple(h.get_slice(k).get_shape())
                where[k] = i
    except ModelLoadError:
        raise
    except Exception as exc:  # safetensors raises its own SafetensorError, not an OSError
        raise ModelLoadError(f"{model_dir}: cannot read weights ({str(exc).splitlines()[0]})") from None
    scales = {k[: -len(INT8_SCALE)]: k for k in shapes if k.endswith(INT8_SCALE)}
    for name, key in scales.items():
        if shapes.get(name, (-1,))[:1] != shapes[key]:
            raise ModelLoadError(f"{model_dir}: '{key}' scales no tensor of {shapes[key][0]} rows")
        del shapes[key]
    mapping = check_release_tensors(shapes, model.cfg)
    state = {}
    for name, ours in mapping.items():
        try:
            t = handles[where[name]].get_tensor(name)
            if name in scales:
                t = dequantize_int8(t, handles[where[scales[name]]].get_tensor(scales[name]))
            elif not t.is_floating_point():
                raise ValueError(f"{t.dtype} without '{name}{INT8_SCALE}'")
        except Exception as exc:
            raise ModelLoadError(
                f"{model_dir}: cannot read tensor '{name}' ({str(exc).splitlines()[0]})"
            ) from None
        state[ours] = t.to(dtype) if dtype is not None else t
    model.load_state_dict(state, strict=True, assign=True)


def load_model(
    model_dir: str | Path, dtype: torch.dtype | None = torch.float32, device: str | torch.device = "cpu"
) -> HunyuanOCRModel:
    """config.json + safetensors -> model in eval mode. Without materialising random init first.
    The model is the directory's own: a formula or Chinese reader its config names (`formula_model`,
    `zh_model`) is not part of it (`Engine.from_dir` loads those), so a model trained, grown or
    averaged from it and saved elsewhere does not name a directory it lacks."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: model directory not found")
    cfg = replace(load_config(model_dir), formula_model="", zh_model="")
    with torch.device("meta"):
        model = HunyuanOCRModel(cfg)
    load_weights(model, model_dir, dtype)
    # buffers are not in the checkpoint: rebuild them on the real device
    model.inv_freq = ntk_alpha_inv_freq(cfg.lm_head_dim, cfg.rope_theta, cfg.rope_alpha)
    return model.to(device).eval()


def save_model(
    model: HunyuanOCRModel, model_dir: str | Path, max_shard_bytes: int = 2 * 1024**3, int8: bool = False
) -> None:
    """Write config.json and safetensors (sharded above `max_shard_bytes`) in the release's names;
    with `int8`, matrices as int8 and a scale per row (the module docstring)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    save_config(model.cfg, model_dir)
    tensors = {k: v.detach().contiguous().cpu() for k, v in release_state_dict(model).items()}
    if int8:
        for name, t in list(tensors.items()):
            if t.is_floating_point() and t.dim() >= 2 and t.numel() >= INT8_MIN_SIZE:
                tensors[name], tensors[name + INT8_SCALE] = quantize_int8(t)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensors[name]
        size += nbytes
    meta = {"format": "pt"}
    for old in list(model_dir.glob("model*.safetensors")) + [model_dir / "model.safetensors.index.json"]:
        if old.exists():
            old.unlink()
    if len(shards) == 1:
        save_file(shards[0], str(model_dir / "model.safetensors"), metadata=meta)
        return
    weight_map = {}
    total = len(shards)
    for i, shard in enumerate(shards, 1):
        fname = f"model-{i:05d}-of-{total:05d}.safetensors"
        save_file(shard, str(model_dir / fname), metadata=meta)
        weight_map.update({k: fname for k in shard})
    index = {
        "metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())},
        "weight_map": weight_map,
    }
    (model_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
