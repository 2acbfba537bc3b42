"""Atomic training checkpoints that double as release-layout model directories.

Layout of a run directory:

    OUT/
      log.jsonl                 one JSON object per logged step / eval / checkpoint
      ckpt-0000200/             a complete model directory (config.json, model.safetensors,
        trainer_state.pt        tokenizer.json, tokenizer_config.json) + the trainer's state:
        stage.json              optimiser, schedule step, RNG states, data position; the stage config
      latest -> ckpt-0000200    symlink, so `hyocr run --model OUT/latest` takes the newest model

Atomicity: everything is written to `OUT/.tmp-ckpt-…` first, fsynced, then renamed into place with
`os.replace`; `latest` is swapped the same way (a new symlink renamed over the old one). A run
killed at any instant leaves either the previous checkpoint or the new one, never a half-written
directory that `--resume` would pick up; leftovers of an interrupted write are removed on resume.
Weights are saved in float32 (the trainer's master weights), so resuming is bit-exact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyocr.model.vlm import HunyuanOCRModel
from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer

__all__ = [
    "TrainerState",
    "rng_state",
    "set_rng_state",
    "save_checkpoint",
    "latest_checkpoint",
    "load_checkpoint",
]

STATE_FILE = "trainer_state.pt"


@dataclass
class TrainerState:
    step: int = 0  # optimiser steps done
    position: int = 0  # samples consumed (data position)
    samples: int = 0  # samples trained on (all processes)
    tokens: int = 0  # real tokens trained on (all processes)
    skipped: int = 0  # samples too long for seq_len


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for f in path.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


def save_checkpoint(
    out: str | Path,
    model: HunyuanOCRModel,
    tok: HyTokenizer,
    optimizer: torch.optim.Optimizer | dict[str, Any],
    state: TrainerState,
    stage: dict[str, Any],
    keep: int = 2,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write OUT/ckpt-STEP atomically, point OUT/latest at it, keep the newest `keep` checkpoints.

    `optimizer` is the optimizer or its state dict (FSDP passes one gathered whole, fsdp.py)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"ckpt-{state.step:07d}"
    final = out / name
    tmp = out / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp)
    tok.save(tmp)
    torch.save(
        {
            "state": state.__dict__,
            "optimizer": optimizer if isinstance(optimizer, dict) else optimizer.state_dict(),
            "rng": rng_state(),
            "extra": extra or {},
        },
        tmp / STATE_FILE,
    )
    (tmp / "stage.json").write_text(json.dumps(stage, indent=2, default=str) + "\n", encoding="utf-8")
    _fsync_tree(tmp)
    if final.exists():  # same step saved twice (e.g. the final save right after a periodic one)
        shutil.rmtree(final)
    os.replace(tmp, final)
    link_tmp = out / f".tmp-latest-{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(name, link_tmp)
    os.replace(link_tmp, out / "latest")
    _fsync_dir(out)
    ckpts = sorted(p for p in out.glob("ckpt-*") if p.is_dir())
    for old in ckpts[: max(len(ckpts) - keep, 0)]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out: str | Path) -> Path | None:
    """The checkpoint OUT/latest points at (None if there is none); removes interrupted writes."""
    out = Path(out)
    if not out.is_dir():
        return None
    for leftover in out.glob(".tmp-*"):
        if leftover.is_symlink() or leftover.is_file():
            leftover.unlink(missing_ok=True)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    link = out / "latest"
    if link.exists() and (link / STATE_FILE).is_file():
        return link.resolve()
    ckpts = sorted(p for p in out.glob("ckpt-*") if (p / STATE_FILE).is_file())
    return ckpts[-1] if ckpts else None


def load_checkpoint(path: str | Path) -> tuple[HunyuanOCRModel, dict[str, Any]]:
    """(model in float32, train mode) and the saved trainer payload (state, optimizer, rng, extra)."""
    path = Path(path)
    model = load_model(path, dtype=torch.float32).train()
    payload = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    return model, payload
