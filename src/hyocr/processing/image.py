"""Image loading, validation and the reference's pre-processing.

- `load_image` accepts a path, bytes, a PIL image or a numpy array and returns RGB; a missing,
  empty, truncated or non-image input, or one over the decompression-bomb limit, raises
  `InputError` / `PixelBudgetError` with one line naming the problem (never a PIL traceback).
- `smart_resize` is the reference's (transformers `image_processing_pil_hunyuan_vl.smart_resize`):
  sides rounded to multiples of 32 (patch 16 x merge 2), then scaled down into max_pixels or up
  into min_pixels keeping the aspect ratio.
- `read_size` is what a model config reads an image at: smart_resize of the image widened by its
  `stretch`, or, for a line reader with a `line_height`, that height exactly with the aspect kept.
- `patchify` flattens to (N patches, 3*16*16) in raster order with each patch laid out (C, p, p):
  the reference's (h/2, 2, w/2, 2) block transpose is plain raster order once flattened.
- Resampling is PIL bicubic on the 8-bit image, then /255 and CLIP mean/std, as the reference does.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hyocr.errors import InputError, PixelBudgetError

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "MAX_INPUT_PIXELS",
    "ProcessedImage",
    "load_image",
    "patchify",
    "preprocess",
    "read_size",
    "smart_resize",
    "stretched",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Inputs above this many pixels are refused before decoding (decompression bombs). 12k x 12k covers
# a 600-dpi A3 scan; the model itself never sees more than max_pixels.
MAX_INPUT_PIXELS = 144_000_000


@dataclass
class ProcessedImage:
    pixel_values: np.ndarray  # (h*w, 3*p*p) float32
    grid_hw: tuple[int, int]  # patch grid (h, w)
    resized_hw: tuple[int, int]  # pixels after smart_resize
    original_hw: tuple[int, int]  # pixels of the input


def _check_size(width: int, height: int, name: str, max_input_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_input_pixels:
        raise PixelBudgetError(
            f"{name}: image is too large: {width}x{height} = {width * height:,} pixels, over the limit of {max_input_pixels:,}"
        )


def load_image(src, *, name: str | None = None, max_input_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Path | bytes | PIL.Image | numpy array (H, W[, C], uint8) -> RGB PIL image."""
    if isinstance(src, Image.Image):
        _check_size(src.width, src.height, name or "image", max_input_pixels)
        return src.convert("RGB") if src.mode != "RGB" else src
    if isinstance(src, np.ndarray):
        label = name or "array"
        if src.ndim not in (2, 3) or (src.ndim == 3 and src.shape[2] not in (1, 3, 4)):
            raise InputError(f"{label}: expected an (H, W) or (H, W, 1|3|4) array, got shape {src.shape}")
        arr = src
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
                arr = arr * 255.0
            arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        _check_size(arr.shape[1], arr.shape[0], label, max_input_pixels)
        return Image.fromarray(arr).convert("RGB")
    if isinstance(src, (bytes, bytearray, memoryview)):
        data, label = bytes(src), name or "image bytes"
    elif isinstance(src, (str, Path)):
        path, label = Path(src), name or str(src)
        if not path.exists():
            raise InputError(f"{label}: file not found")
        if path.is_dir():
            raise InputError(f"{label}: is a directory, not an image")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    else:
        raise InputError(f"unsupported image input of type {type(src).__name__}")
    if not data:
        raise InputError(f"{label}: file is empty")
    try:
        with warnings.catch_warnings():
            # our own limit (max_input_pixels) replaces Pillow's warning; its hard error still applies
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_size(img.width, img.height, label, max_input_pixels)
            img.load()
            img = ImageOps.exif_transpose(img)
    except (PixelBudgetError, InputError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PixelBudgetError(f"{label}: image is too large: {str(exc).splitlines()[0]}") from None
    except UnidentifiedImageError:
        raise InputError(f"{label}: not an image file (or an unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{label}: image is truncated or corrupt ({str(exc).splitlines()[0]})") from None
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("RGB")


def _check_sides(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise InputError(f"image has no pixels ({width}x{height})")
    if max(height, width) / min(height, width) > 200:
        raise InputError(f"aspect ratio must be under 200:1, got {width}x{height}")


def smart_resize(
    height: int, width: int, factor: int = 32, min_pixels: int = 512 * 512, max_pixels: int = 2048 * 2048
) -> tuple[int, int]:
    """(height, width) -> sides that are multiples of `factor` with pixel count in [min, max]."""
    _check_sides(height, width)
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) exceeds max_pixels ({max_pixels})")
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        beta = ((height * width) / max_pixels) ** 0.5
        h = max(factor, int(height / beta / factor) * factor)
        w = max(factor, int(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = (min_pixels / (height * width)) ** 0.5
        h = -(-height * beta // factor) * factor
        w = -(-width * beta // factor) * factor
        h, w = int(h), int(w)
    return int(h), int(w)


def stretched(width: int, stretch: float) -> int:
    """The width an image is read at before smart_resize, for a model config's `stretch`."""
    return width if stretch == 1.0 else max(1, round(width * stretch))


def read_size(
    height: int,
    width: int,
    factor: int = 32,
    min_pixels: int = 512 * 512,
    max_pixels: int = 2048 * 2048,
    *,
    stretch: float = 1.0,
    line_height: int = 0,
) -> tuple[int, int]:
    """The (height, width) an image of height x width is read at, for a model config's bounds,
    `stretch` and `line_height`. With a line height (a multiple of `factor`) the image is scaled to
    exactly that height keeping its aspect, widened by `stretch`, and its width rounded to a
    multiple of `factor` (at least one) and capped so that the pixels stay within max_pixels;
    min_pixels does not apply (a short word stays one row tall). Otherwise smart_resize of the
    widened image, as the release reads it."""
    if not line_height:
        return smart_resize(height, stretched(width, stretch), factor, min_pixels, max_pixels)
    _check_sides(height, width)
    w = max(factor, round(width * line_height / height * stretch / factor) * factor)
    return line_height, max(factor, min(w, max_pixels // line_height // factor * factor))


def patchify(image: np.ndarray, patch: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(3, H, W) float32 -> ((H/p)*(W/p), 3*p*p) in raster order, and the (H/p, W/p) grid."""
    c, height, width = image.shape
    gh, gw = height // patch, width // patch
    x = image.reshape(c, gh, patch, gw, patch).transpose(1, 3, 0, 2, 4)  # (gh, gw, C, p, p)
    return np.ascontiguousarray(x.reshape(gh * gw, c * patch * patch)), (gh, gw)


def preprocess(
    image: Image.Image,
    *,
    patch: int = 16,
    merge: int = 2,
    min_pixels: int = 512 * 512,
    max_pixels: int = 2048 * 2048,
    stretch: float = 1.0,
    line_height: int = 0,
) -> ProcessedImage:
    """RGB PIL image -> patches ready for the vision tower, at `read_size` (the model config's
    `stretch` and `line_height`; 1 and 0 for the release)."""
    rh, rw = read_size(
        image.height,
        image.width,
        patch * merge,
        min_pixels,
        max_pixels,
        stretch=stretch,
        line_height=line_height,
    )
    resized = (
        image.resize((rw, rh), Image.Resampling.BICUBIC) if (rh, rw) != (image.height, image.width) else image
    )
    arr = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0  # (3, H, W)
    mean = np.asarray(CLIP_MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(CLIP_STD, dtype=np.float32)[:, None, None]
    arr = (arr - mean) / std
    patches, grid = patchify(arr, patch)
    return ProcessedImage(patches, grid, (rh, rw), (image.height, image.width))
