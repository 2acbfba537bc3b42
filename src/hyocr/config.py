"""Model configuration: one dataclass, named presets, and config.json I/O in the release's layout.

Fields are prefixed by component (`vit_`, `mlp_` for the connector, `lm_` for the decoder) so a grep
finds every use. Presets:

- `hunyuanocr-1b`: the released HunyuanOCR 1.0 (`tencent/HunyuanOCR`, directory `v1.0/`), numbers
  from its config.json as read by transformers 5.23.0 (`models/hunyuan_vl/configuration_hunyuan_vl.py`).
- `hyocr-tiny`, `hyocr-small`: the same structure shrunk for CPU training, derived by override.
- `hyocr-test`: the smallest model that still has several layers, GQA and XD-RoPE sections of every
  axis; used by the parity and invariance tests.

config.json is written in the release's flat layout (decoder fields at the top level, vision fields
under `vision_config`, RoPE under `rope_scaling` with `xdrope_section`), which both transformers and
vLLM read; reading also accepts the nested `text_config` layout that transformers writes.

Example:
    >>> from hyocr.config import get_preset
    >>> cfg = get_preset("hunyuanocr-1b")
    >>> cfg.image_tokens(1024, 768)      # (1024/32) * (768/32 + 1) + 2
    802
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from hyocr.errors import ModelLoadError

__all__ = ["HyocrConfig", "PRESETS", "get_preset", "load_config", "save_config"]


@dataclass(frozen=True)
class HyocrConfig:
    # --- vision tower (SigLIP-v2 derived ViT) ---
    vit_hidden: int = 1152  # width of the ViT
    vit_layers: int = 27  # pre-LayerNorm blocks
    vit_heads: int = 16
    vit_mlp: int = 4304  # MLP inner width, GELU
    vit_patch: int = 16  # conv patch embedding kernel = stride
    vit_pos_edge: int = 128  # learned position grid is pos_edge x pos_edge (+1 unused entry): 2048/16
    vit_eps: float = 1e-5
    # --- connector ("perceive"): RMSNorm -> conv k2 s2 -> GELU -> conv k1 -> newline -> Linear ---
    merge: int = 2  # spatial merge: one LLM token per merge x merge patches
    # --- decoder (Hunyuan dense) ---
    lm_vocab: int = 120818
    lm_hidden: int = 1024
    lm_layers: int = 24
    lm_heads: int = 16
    lm_kv_heads: int = 8
    lm_head_dim: int = 128
    lm_mlp: int = 3584  # SwiGLU inner width
    lm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_alpha: float = 1000.0  # NTK-alpha: base = theta * alpha ** (d / (d - 2))
    xdrope_section: tuple[int, ...] = (16, 16, 16, 16)  # (sequence, width, height, image index)
    max_position: int = 32768
    tie_embeddings: bool = True
    # --- special token ids (release values; tiny models take theirs from their tokenizer) ---
    bos_id: int = 120000
    eos_id: int = 120020
    pad_id: int = 120002
    image_token_id: int = 120120
    image_start_id: int = 120118
    image_end_id: int = 120119
    image_newline_id: int = 120121
    # --- pre-processing (the reference's smart_resize bounds) ---
    min_pixels: int = 512 * 512
    max_pixels: int = 2048 * 2048
    # what the trained model reads in one pass: "page" (the release) or "lines" (a line reader such
    # as the shipped hyocr-tiny; text and spotting then cut the page into segments first)
    reads: str = "page"
    # every image is widened by this factor before smart_resize (1: the release). A line reader
    # packs 2-4 characters of a dense receipt line into one 32-px merged token; widening gives each
    # character more of a token. Trained with it, so the model must be read with it.
    stretch: float = 1.0
    # a line reader's images are scaled to exactly this height (one row of merged tokens at 32),
    # keeping their aspect, before the stretch; 0: off (smart_resize alone, as the release). Without
    # it a 24-px line is read 32 px tall and a 48-px one 64 px tall, with the widths rounded apart.
    line_height: int = 0
    # a line reader's formula images (the `formula` task) are scaled to this height instead; 0: the
    # line height. A display formula stacks fractions, scripts and limits, which one 32-px row of
    # tokens reads at a few pixels each; at three rows (96) its main symbols are a text line tall.
    formula_height: int = 0
    # the other heights this reader was trained to read formulas at (`train.data`: each formula
    # image at one of `formula_height` and these, by its digest). At 96 px a fraction's numerator
    # and a limit's script are a few pixels tall; the pipeline reads a formula image it reads
    # unsurely again at each of these and keeps the surest reading (api.OCR `_formulas_again`). (): none.
    formula_heights: tuple[int, ...] = ()
    # a directory beside this model's files (a relative path inside its directory) holding the
    # model that reads the `formula` task in this one's stead: a small line reader taught formulas
    # too reads lines worse (session 13 and 15), so the shipped line reader has a formula reader of
    # its own. "": this model reads formulas itself.
    formula_model: str = ""
    # likewise, the model that reads Chinese lines beside this one (session 41): the pipeline gives
    # it the segments this model reads unsurely and keeps its reading where that has Chinese in it
    # and is surer (api.OCR `zh_reread`). "": none.
    zh_model: str = ""

    def __post_init__(self) -> None:
        if self.reads not in ("page", "lines"):
            raise ValueError(f"reads must be 'page' or 'lines', not {self.reads!r}")
        if not 1.0 <= self.stretch <= 4.0:
            raise ValueError(f"stretch must be between 1 and 4, not {self.stretch}")
        if self.line_height < 0 or self.line_height % self.factor:
            raise ValueError(
                f"line_height must be 0 (off) or a multiple of {self.factor}, not {self.line_height}"
            )
        if self.formula_height < 0 or self.formula_height % self.factor:
            raise ValueError(
                f"formula_height must be 0 (off) or a multiple of {self.factor}, not {self.formula_height}"
            )
        if self.formula_height and not self.line_height:
            raise ValueError("formula_height needs a line_height (it is a line reader's setting)")
        if any(h <= 0 or h % self.factor for h in self.formula_heights):
            raise ValueError(
                f"formula_heights must be multiples of {self.factor}, not {list(self.formula_heights)}"
            )
        if self.formula_heights and not self.formula_height:
            raise ValueError("formula_heights needs a formula_height (the height read first)")
        for name in ("formula_model", "zh_model"):
            sub = getattr(self, name)
            if sub and (Path(sub).is_absolute() or ".." in Path(sub).parts):
                raise ValueError(f"{name} must be a directory inside the model's own, not {sub!r}")
        if sum(self.xdrope_section) * 2 != self.lm_head_dim:
            raise ValueError(
                f"xdrope_section {self.xdrope_section} must sum to lm_head_dim/2 = {self.lm_head_dim // 2}"
            )
        if self.lm_heads % self.lm_kv_heads:
            raise ValueError(
                f"lm_heads ({self.lm_heads}) must be a multiple of lm_kv_heads ({self.lm_kv_heads})"
            )
        if self.vit_hidden % self.vit_heads:
            raise ValueError(
                f"vit_hidden ({self.vit_hidden}) must be a multiple of vit_heads ({self.vit_heads})"
            )

    # derived numbers
    @property
    def factor(self) -> int:
        """Image sides are resized to multiples of this (patch x merge = 32 for the release)."""
        return self.vit_patch * self.merge

    def read_height(self, task: str = "") -> int:
        """The height an image of `task` is scaled to before reading (0: smart_resize alone)."""
        return self.formula_height if task == "formula" and self.formula_height else self.line_height

    def image_tokens(self, height: int, width: int) -> int:
        """Placeholder tokens for an image already resized to height x width pixels."""
        rows, cols = height // self.factor, width // self.factor
        return rows * (cols + 1) + 2

    def num_parameters(self) -> int:
        """Parameter count computed from the numbers alone (tied embeddings counted once)."""
        d, m = self.vit_hidden, self.vit_mlp
        vit = 3 * self.vit_patch**2 * d + d + (self.vit_pos_edge**2 + 1) * d
        vit += self.vit_layers * (4 * (d * d + d) + 2 * d * m + m + d + 4 * d)
        c = self.merge
        conn = (
            d
            + (d * 2 * d * c * c + 2 * d)
            + (2 * d * 4 * d + 4 * d)
            + (4 * d * self.lm_hidden + self.lm_hidden)
        )
        conn += 4 * d + 3 * self.lm_hidden + self.lm_hidden
        h, hd = self.lm_hidden, self.lm_head_dim
        attn = h * self.lm_heads * hd * 2 + h * self.lm_kv_heads * hd * 2 + 2 * hd
        lm = self.lm_vocab * h + self.lm_layers * (attn + 3 * h * self.lm_mlp + 2 * h) + h
        if not self.tie_embeddings:
            lm += self.lm_vocab * h
        return vit + conn + lm

    # config.json I/O
    def to_release_dict(self) -> dict:
        """The release's config.json layout (flat decoder fields, nested vision_config)."""
        return {
            "architectures": ["HunYuanVLForConditionalGeneration"],
            "model_type": "hunyuan_vl",
            "vocab_size": self.lm_vocab,
            "org_vocab_size": self.lm_vocab,
            "hidden_size": self.lm_hidden,
            "num_hidden_layers": self.lm_layers,
            "num_attention_heads": self.lm_heads,
            "num_key_value_heads": self.lm_kv_heads,
            "head_dim": self.lm_head_dim,
            "attention_head_dim": self.lm_head_dim,
            "intermediate_size": self.lm_mlp,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "use_qk_norm": True,
            "rms_norm_eps": self.lm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": {
                "type": "xdrope",
                "alpha": self.rope_alpha,
                "beta_fast": 32,
                "beta_slow": 1,
                "factor": 1.0,
                "mscale": 1.0,
                "mscale_all_dim": 1.0,
                "xdrope_section": list(self.xdrope_section),
            },
            "max_position_embeddings": self.max_position,
            "tie_word_embeddings": self.tie_embeddings,
            "bos_token_id": self.bos_id,
            "eos_token_id": self.eos_id,
            "eod_token_id": self.eos_id,
            "pad_token_id": self.pad_id,
            "pad_id": self.pad_id,
            "image_token_id": self.image_token_id,
            "im_start_id": self.image_start_id,
            "im_end_id": self.image_end_id,
            "im_newline_id": self.image_newline_id,
            "vision_config": {
                "hidden_size": self.vit_hidden,
                "intermediate_size": self.vit_mlp,
                "num_hidden_layers": self.vit_layers,
                "num_attention_heads": self.vit_heads,
                "num_channels": 3,
                "patch_size": self.vit_patch,
                "spatial_merge_size": self.merge,
                "hidden_act": "gelu",
                "interpolate_mode": "bilinear",
                "rms_norm_eps": self.vit_eps,
                "max_image_size": self.vit_pos_edge * self.vit_patch,
                "out_hidden_size": self.lm_hidden,
                "text_hidden_size": self.lm_hidden,
                "min_image_size": int(math.isqrt(self.min_pixels)),
                "cat_extra_token": 1,
            },
            "hyocr": {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
            | ({"reads": self.reads} if self.reads != "page" else {})
            | ({"stretch": self.stretch} if self.stretch != 1.0 else {})
            | ({"line_height": self.line_height} if self.line_height else {})
            | ({"formula_height": self.formula_height} if self.formula_height else {})
            | ({"formula_heights": list(self.formula_heights)} if self.formula_heights else {})
            | ({"formula_model": self.formula_model} if self.formula_model else {})
            | ({"zh_model": self.zh_model} if self.zh_model else {}),
        }

    @classmethod
    def from_release_dict(cls, d: dict) -> HyocrConfig:
        """Read the release's flat layout or transformers' nested `text_config` layout."""
        text = dict(d)
        if isinstance(d.get("text_config"), dict):
            text.update(d["text_config"])
        vis = d.get("vision_config") or {}
        rope = text.get("rope_scaling") or text.get("rope_parameters") or {}
        section = rope.get("xdrope_section") or rope.get("mrope_section")
        head_dim = text.get("head_dim") or text.get("attention_head_dim")
        try:
            kw = dict(
                lm_vocab=int(text["vocab_size"]),
                lm_hidden=int(text["hidden_size"]),
                lm_layers=int(text["num_hidden_layers"]),
                lm_heads=int(text["num_attention_heads"]),
                lm_kv_heads=int(text.get("num_key_value_heads") or text["num_attention_heads"]),
                lm_head_dim=int(head_dim or text["hidden_size"] // text["num_attention_heads"]),
                lm_mlp=int(text["intermediate_size"]),
                lm_eps=float(text.get("rms_norm_eps", 1e-5)),
                rope_theta=float(text.get("rope_theta") or rope.get("rope_theta") or 10000.0),
                rope_alpha=float(rope.get("alpha", 1.0)),
                max_position=int(text.get("max_position_embeddings", 32768)),
                tie_embeddings=bool(text.get("tie_word_embeddings", d.get("tie_word_embeddings", True))),
                vit_hidden=int(vis["hidden_size"]),
                vit_layers=int(vis["num_hidden_layers"]),
                vit_heads=int(vis["num_attention_heads"]),
                vit_mlp=int(vis["intermediate_size"]),
                vit_patch=int(vis.get("patch_size", 16)),
                vit_pos_edge=int(vis.get("max_image_size", 2048)) // int(vis.get("patch_size", 16)),
                vit_eps=float(vis.get("rms_norm_eps", vis.get("layer_norm_eps", 1e-5))),
                merge=int(vis.get("spatial_merge_size", 2)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"config.json is missing or has a bad field: {exc}") from None
        if section is not None:
            kw["xdrope_section"] = tuple(int(s) for s in section)
        pad = text.get("pad_id")
        if pad is None or pad < 0:
            pad = text.get("pad_token_id")
        eos = text.get("eos_token_id")
        if isinstance(eos, list):
            eos = eos[0]
        ids = dict(
            bos_id=text.get("bos_token_id"),
            eos_id=eos,
            pad_id=pad,
            image_token_id=d.get("image_token_id"),
            image_start_id=d.get("im_start_id"),
            image_end_id=d.get("im_end_id"),
            image_newline_id=d.get("im_newline_id"),
        )
        kw.update({k: int(v) for k, v in ids.items() if v is not None and v >= 0})
        extra = d.get("hyocr") or {}
        if "min_pixels" in extra:
            kw["min_pixels"] = int(extra["min_pixels"])
        if "max_pixels" in extra:
            kw["max_pixels"] = int(extra["max_pixels"])
        if "reads" in extra:
            kw["reads"] = str(extra["reads"])
        for name in ("formula_model", "zh_model"):
            if name in extra:
                if not isinstance(extra[name], str):
                    raise ModelLoadError(
                        f"config.json: hyocr.{name} must be a directory name, not {extra[name]!r}"
                    )
                kw[name] = extra[name]
        if "stretch" in extra:
            try:
                kw["stretch"] = float(extra["stretch"])
            except (TypeError, ValueError):
                raise ModelLoadError(
                    f"config.json: hyocr.stretch must be a number, not {extra['stretch']!r}"
                ) from None
        for name in ("line_height", "formula_height"):
            if name in extra:
                if not isinstance(extra[name], int) or isinstance(extra[name], bool):
                    raise ModelLoadError(
                        f"config.json: hyocr.{name} must be a whole number, not {extra[name]!r}"
                    )
                kw[name] = extra[name]
        if "formula_heights" in extra:
            heights = extra["formula_heights"]
            if not isinstance(heights, list) or not all(
                isinstance(h, int) and not isinstance(h, bool) for h in heights
            ):
                raise ModelLoadError(
                    f"config.json: hyocr.formula_heights must be a list of whole numbers, not {heights!r}"
                )
            kw["formula_heights"] = tuple(heights)
        try:
            return cls(**kw)
        except ValueError as exc:
            raise ModelLoadError(f"inconsistent config.json: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


HUNYUANOCR_1B = HyocrConfig()

# The smallest model with the full structure: several layers, GQA (4 query heads over 2 kv heads),
# and all four XD-RoPE axes (head dim 16 = 4 sections of 2 pairs).
HYOCR_TEST = replace(
    HUNYUANOCR_1B,
    vit_hidden=32,
    vit_layers=2,
    vit_heads=2,
    vit_mlp=64,
    vit_pos_edge=16,
    lm_vocab=512,
    lm_hidden=64,
    lm_layers=3,
    lm_heads=4,
    lm_kv_heads=2,
    lm_head_dim=16,
    lm_mlp=128,
    xdrope_section=(2, 2, 2, 2),
    max_position=4096,
    bos_id=1,
    eos_id=2,
    pad_id=0,
    image_token_id=500,
    image_start_id=501,
    image_end_id=502,
    image_newline_id=503,
    min_pixels=64 * 64,
    max_pixels=512 * 512,
)

# CPU-trainable models. `hyocr-tiny` (~8.6M parameters) is sized by measurement on a 2-core CPU
# (~3 s per 2048-token training step, bf16 autocast) so that a session can train it; the shipped
# default is trained from it. Token ids are filled in from the tokenizer when a model directory is
# written (model/factory.py). `hyocr-small` (~30M) is the next size up.
HYOCR_TINY = replace(
    HUNYUANOCR_1B,
    vit_hidden=192,
    vit_layers=4,
    vit_heads=3,
    vit_mlp=768,
    vit_pos_edge=64,
    lm_vocab=8192,
    lm_hidden=256,
    lm_layers=4,
    lm_heads=4,
    lm_kv_heads=2,
    lm_head_dim=64,
    lm_mlp=768,
    xdrope_section=(8, 8, 8, 8),
    max_position=8192,
    min_pixels=128 * 128,
    max_pixels=1024 * 1024,
)
HYOCR_SMALL = replace(
    HYOCR_TINY,
    vit_hidden=384,
    vit_layers=8,
    vit_heads=6,
    vit_mlp=1536,
    lm_hidden=512,
    lm_layers=8,
    lm_heads=8,
    lm_mlp=1408,
)

PRESETS: dict[str, HyocrConfig] = {
    "hunyuanocr-1b": HUNYUANOCR_1B,
    "hyocr-small": HYOCR_SMALL,
    "hyocr-tiny": HYOCR_TINY,
    "hyocr-test": HYOCR_TEST,
}


def get_preset(name: str) -> HyocrConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    return PRESETS[name]


def load_config(model_dir: str | Path) -> HyocrConfig:
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise ModelLoadError(f"{model_dir}: not a model directory (no config.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return HyocrConfig.from_release_dict(data)


def save_config(cfg: HyocrConfig, model_dir: str | Path) -> None:
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(cfg.to_release_dict(), indent=2) + "\n", encoding="utf-8")
