"""The training recipe as configs: the four pre-training stages and RL (DESIGN.md §4, report §5).

| stage | trains | LR | schedule | seq len (release) |
|---|---|---|---|---|
| 1 alignment | ViT + connector (decoder frozen) | 3e-4 → 3e-5 | warm-up + cosine | 8k |
| 2 pre-training | everything | 2e-4 → 5e-5 | warm-up + cosine | 8k |
| 3 long context | everything | 8e-5 → 5e-6 | warm-up + cosine | 32k |
| 4 annealing | everything | 2e-5 → 1e-6 | linear | 32k |

RL (GRPO, everything, constant 8e-7) has its own config: `grpo.GrpoConfig`.

`STAGES` holds those numbers; a TOML file (`--config`, examples in `train/configs/`) overrides any
field, e.g. the step count and image budget that suit a small model on a CPU. Token budgets of the
release (50B/300B/80B/24B) are not reproduced: `max_steps` is the dial instead.

Choices not given by the report (stated here so nobody has to guess):
- AdamW with betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices only (norms, biases and
  the connector's learned vectors are not decayed); gradient clipping at norm 1.0.
- Warm-up is linear from 0 over `warmup_steps`; cosine and linear decay run from the end of warm-up
  to `max_steps`, ending exactly at `lr_min`.
- Stage 1 freezes the whole decoder, token embeddings (tied to the output head) included.

Example:
    >>> cfg = stage_config("2")
    >>> cfg.lr_max, cfg.trains
    (0.0002, 'all')
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["StageConfig", "STAGES", "CONFIG_DIR", "stage_config", "load_stage_config", "lr_at"]

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class StageConfig:
    name: str = "2"
    # --- what trains ---
    trains: str = "all"  # "all" | "vision" (ViT + connector; decoder frozen)
    # --- optimiser and schedule ---
    lr_max: float = 2e-4
    lr_min: float = 5e-5
    schedule: str = "cosine"  # "cosine" | "linear" | "constant"
    warmup_steps: int = 100
    max_steps: int = 1000
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    clip_norm: float = 1.0
    # --- batch shape ---
    seq_len: int = 8192  # tokens per packed row
    rows: int = 1  # packed rows per micro-batch
    grad_accum: int = 1  # micro-batches per optimiser step (per process)
    max_pixels: int = 2048 * 2048  # images are resized to at most this many pixels in this stage
    min_pixels: int = 512 * 512
    stretch: float | None = None  # set the model's `stretch` (images widened before resizing); None keeps it
    line_height: int | None = None  # set the model's `line_height` (0: off); None keeps it
    formula_height: int | None = None  # set the model's `formula_height` (0: off); None keeps it
    # set the model's `formula_heights`; None keeps them. A formula image is then trained at one of
    # `formula_height` and these, chosen by its digest (train/data.py `SampleEncoder.read_height`)
    formula_heights: tuple[int, ...] | None = None
    # cut a text line's image as inference cuts it for a line reader (train/data.py `tight_lines`)
    tight_lines: bool = False
    # probability that a one-image text sample's line is scanned once more (train/data.py `scan_lines`)
    scan_lines: float = 0.0
    tasks: tuple[str, ...] = ()  # keep only these tasks (empty: all)
    shuffle: bool = True
    # --- numerics and memory ---
    # autocast to bfloat16, weights stay fp32: true where bf16 is fast (AMX or AVX512-BF16 on CPU,
    # CUDA) and float32 elsewhere; "always" also where it is slow (tests of the bf16 path); false never
    bf16: bool | str = True
    grad_checkpointing: bool = False
    fsdp: bool = False  # with several processes: shard weights, grads, Adam moments per block (train/fsdp.py)
    ctc_weight: float = 0.0  # auxiliary CTC loss on image tokens for single-line text samples (train/ctc.py)
    answer_loss: bool = True  # False (with ctc_weight > 0): a vision-only CTC stage, the decoder never runs
    # --- bookkeeping ---
    seed: int = 0
    log_every: int = 10
    save_every: int = 200
    keep_checkpoints: int = 2
    eval_every: int = 0  # 0: no evaluation during training
    eval_samples: int = 64  # held-out samples for the eval loss
    eval_generate: int = 8  # of which greedy-decoded and scored with the task reward
    eval_max_new_tokens: int = 512
    extra: dict[str, Any] = field(default_factory=dict)  # free-form (recorded in the log)

    def __post_init__(self) -> None:
        if self.trains not in ("all", "vision"):
            raise ValueError(f"unknown 'trains' value '{self.trains}' (choose from all, vision)")
        if self.schedule not in ("cosine", "linear", "constant"):
            raise ValueError(f"unknown schedule '{self.schedule}' (choose from cosine, linear, constant)")
        if not self.answer_loss and self.ctc_weight <= 0:
            raise ValueError("answer_loss = false needs ctc_weight > 0 (nothing would be trained)")
        if self.fsdp and not self.answer_loss:
            raise ValueError(
                "fsdp = true needs answer_loss = true (the vision-only CTC stage is not sharded)"
            )
        if self.stretch is not None and not 1.0 <= self.stretch <= 4.0:
            raise ValueError(f"stretch must be between 1 and 4, not {self.stretch}")
        for name in ("line_height", "formula_height"):
            value = getattr(self, name)
            if value is not None and (value < 0 or value % 32):
                raise ValueError(f"{name} must be 0 (off) or a multiple of 32, not {value}")
        if self.formula_heights is not None and any(h <= 0 or h % 32 for h in self.formula_heights):
            raise ValueError(f"formula_heights must be multiples of 32, not {list(self.formula_heights)}")
        if not 0.0 <= self.scan_lines <= 1.0:
            raise ValueError(f"scan_lines is a probability (0 to 1), not {self.scan_lines}")
        if self.max_steps < 1 or self.seq_len < 16 or self.rows < 1 or self.grad_accum < 1:
            raise ValueError("max_steps, rows and grad_accum must be >= 1 and seq_len >= 16")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_BASE = StageConfig()
STAGES: dict[str, StageConfig] = {
    "1": replace(_BASE, name="1", trains="vision", lr_max=3e-4, lr_min=3e-5, seq_len=8192),
    "2": replace(_BASE, name="2", lr_max=2e-4, lr_min=5e-5, seq_len=8192),
    "3": replace(_BASE, name="3", lr_max=8e-5, lr_min=5e-6, seq_len=32768, grad_checkpointing=True),
    "4": replace(
        _BASE, name="4", lr_max=2e-5, lr_min=1e-6, schedule="linear", seq_len=32768, grad_checkpointing=True
    ),
}


def _check_bf16(value: Any) -> None:
    if value not in (True, False, "always"):
        raise ValueError(f'bf16 must be true, false or "always", not {value!r}')


def autocast_bf16(bf16: bool | str, device: Any, say: Any = None) -> bool:
    """Whether a trainer autocasts to bf16 on `device` for a config's `bf16` (true, false or
    "always"): true turns into float32 where bf16 is slow (a CPU without AMX or AVX512-BF16, where
    PyTorch's bf16 matrix products are ~100x slower than float32), said once through `say`."""
    from hyocr.engine.backends import bf16_is_fast

    _check_bf16(bf16)
    if bf16 is True and not bf16_is_fast(device):
        if say is not None:
            say(
                f"bf16 autocast off: {device} has no bf16 matrix unit (AMX, AVX512-BF16); training in float32"
            )
        return False
    return bool(bf16)


def _coerce(name: str, value: Any) -> Any:
    if name == "bf16":
        _check_bf16(value)
    if name in ("betas", "tasks", "formula_heights") and isinstance(value, list):
        return tuple(value)
    if name == "stretch" and isinstance(value, int):
        return float(value)
    return value


def stage_config(stage: str, overrides: dict[str, Any] | None = None) -> StageConfig:
    """The preset of `stage` with `overrides` applied (unknown keys are an error)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage '{stage}' (choose from {', '.join(STAGES)})")
    cfg = STAGES[stage]
    if overrides:
        known = {f.name for f in fields(StageConfig)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"unknown stage config field(s): {', '.join(bad)}")
        cfg = replace(cfg, **{k: _coerce(k, v) for k, v in overrides.items()})
    return cfg


def load_stage_config(stage: str, path: str | Path | None = None) -> StageConfig:
    """Stage preset overridden by a TOML file: top-level keys, or a `[stage]` table."""
    if path is None:
        return stage_config(stage)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML ({exc})") from None
    data = data.get("stage", data)
    data.pop("name", None)
    return replace(stage_config(stage, data), name=stage)


def lr_at(cfg: StageConfig, step: int) -> float:
    """Learning rate for optimiser step `step` (0-based)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr_max * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr_max
    span = max(cfg.max_steps - cfg.warmup_steps - 1, 1)
    t = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    if cfg.schedule == "linear":
        return cfg.lr_max + (cfg.lr_min - cfg.lr_max) * t
    return cfg.lr_min + 0.5 * (cfg.lr_max - cfg.lr_min) * (1.0 + math.cos(math.pi * t))
