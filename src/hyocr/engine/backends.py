"""Where engines come from: the shipped default model, a model directory, device and dtype choices."""

from __future__ import annotations

from pathlib import Path

import torch

from hyocr.errors import ModelLoadError

__all__ = [
    "DEFAULT_MODEL_DIR",
    "DEVICES",
    "DTYPES",
    "bf16_is_fast",
    "resolve_model_dir",
    "resolve_device",
    "load_engine",
]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "models" / "hyocr-tiny"
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")


def resolve_model_dir(model: str | Path | None) -> Path:
    """An explicit directory, or the model shipped inside the package."""
    if model:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"{model}: model directory not found")
        return path
    if (DEFAULT_MODEL_DIR / "config.json").is_file():
        return DEFAULT_MODEL_DIR
    raise ModelLoadError(
        "no model given and this install has no shipped model yet: pass --model DIR "
        "(a checkpoint directory in the release's layout, e.g. the release's v1.0/ folder)"
    )


def resolve_device(device: str) -> torch.device:
    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}' (choose from {', '.join(DEVICES)})")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA device is available")
    return torch.device(device)


def bf16_is_fast(device: torch.device | str) -> bool:
    """Whether bf16 autocast speeds matrix products up on `device`: a CUDA device that supports
    bf16, or a CPU with a bf16 matrix unit (AMX tiles or AVX512-BF16). On a CPU without one (AVX2
    only) PyTorch multiplies bf16 matrices with a slow reference loop, about a hundred times slower
    than float32 (0.9 against 100 GFLOP/s on a 2-core AVX2 machine; benchmarks/bench_dtype.py)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if dev.type != "cpu":
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def load_engine(
    model: str | Path | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    max_pixels: int | None = None,
    max_vision_tokens: int | None = None,
):
    """Build an Engine. dtype 'auto': float32 weights, with bf16 autocast where bf16 is fast (AMX or
    AVX512-BF16 on CPU, CUDA; `bf16_is_fast`); 'float32': no autocast (exact); 'bfloat16': bf16
    weights (half the memory)."""
    from hyocr.engine.generate import Engine

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    model_dir = resolve_model_dir(model)
    dev = resolve_device(device)
    weights = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    autocast = dtype == "auto" and bf16_is_fast(dev)
    return Engine.from_dir(
        model_dir,
        device=str(dev),
        dtype=weights,
        autocast=autocast,
        max_pixels=max_pixels,
        max_vision_tokens=max_vision_tokens,
    )
