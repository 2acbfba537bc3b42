"""PP-OCRv6 baseline engine for `hyocr eval --engine rapidocr` (the `rapidocr` package on onnxruntime).

rapidocr 3.10.0 ships the ONNX models it runs by default: PP-OCRv6_det_small (text detection),
ch_ppocr_mobile_v2.0_cls_mobile (0°/180° line orientation) and PP-OCRv6_rec_small (recognition, one
Chinese+Latin character set). One call per image gives line quadrilaterals with their text and
confidence; the full text is those lines joined by newlines in rapidocr's order (top to bottom,
then left to right). PP-OCR reads no key fields, tables, formulas or page structure, so `fields`
is {} and `html`, `latex` and `markdown` are ''.

Non-obvious choices
- Single thread by default (onnxruntime's intra-op threads and OpenCV's, which does the resizing
  and box post-processing), as for the Tesseract baseline: comparable with its figures, and it
  keeps the machine usable by others. rapidocr ignores a thread count above the core count (it
  falls back to onnxruntime's default, all cores), so the count is capped at the core count.
- The image goes in as a BGR array (rapidocr treats a 3-channel array as OpenCV's BGR, and converts
  only paths and PIL images from RGB itself, `rapidocr/utils/load_image.py`); a path would also
  apply the file's EXIF orientation, which `hyocr eval` does not do for any engine.
- The three ONNX sessions are loaded when the engine is built (rapidocr loads each on its first use,
  1.5 s on this 2-core machine), so that the first image's `seconds` is reading time like the others'.
- rapidocr's defaults otherwise: lines under a recognition confidence of 0.5 dropped
  (`Global.text_score`), the page scaled so its longer side is at most 2000 pixels, and the
  detector's input so its shorter side is 736 (`Det.limit_side_len`, `limit_type: min`: a small
  image is scaled up, and costs about as much as a page). The item's `lang` is not used: the one
  recognition model reads Chinese and Latin script.
- `one_line` (`hyocr eval --engine rapidocr --psm 7`, as Tesseract's one-line mode): each image is
  one line crop, read by the recognizer alone (`use_det=False`); its one box is the whole image.
  On a tight crop the detector may find only part of the line, or nothing: on the 576 real receipt
  line crops, caseless CER 0.266 with it, 0.031 without.
- rapidocr logs at INFO level (model files, engine) and warns on every page where it finds no
  text; only its errors are shown.

Example:
    >>> from PIL import Image
    >>> RapidOCREngine().predict(Image.new("RGB", (64, 32), "white"), {})["text"]
    ''
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from hyocr.errors import HyocrError

__all__ = ["RapidOCREngine", "rapidocr_version"]


def rapidocr_version() -> str:
    """The installed rapidocr and onnxruntime versions, or '' when either is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"rapidocr {version('rapidocr')}, onnxruntime {version('onnxruntime')}"
    except PackageNotFoundError:
        return ""


@dataclass
class RapidOCREngine:
    """`predict(image, item) -> {"text", "boxes", "fields", "html", "latex", "markdown"}`
    (boxes: one per line, `poly` as 8 floats in pixels of the image given, with `confidence`)."""

    threads: int = 1
    one_line: bool = False
    name: str = "rapidocr"
    _ocr: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            import cv2
            import onnxruntime  # noqa: F401  (rapidocr imports it when loading a model)
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise HyocrError(
                f"the rapidocr engine needs rapidocr and onnxruntime (pip install 'hyocr[eval]'): {exc}"
            ) from exc
        self.threads = max(1, min(self.threads, os.cpu_count() or 1))
        cv2.setNumThreads(self.threads)
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "error",
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,  # ops run one after another
            }
        )
        # rapidocr/main.py loads each model on first use; load them now (see the module docstring)
        for load in (self._ocr._load_det_model, self._ocr._load_cls_model, self._ocr._load_rec_model):
            load()

    def describe(self) -> str:
        models = "rec alone, one line an image" if self.one_line else "det/rec + mobile cls"
        return f"PP-OCRv6 small {models} ({rapidocr_version()}, {self.threads} thread(s))"

    def predict(self, image: Image.Image, item: dict[str, Any]) -> dict[str, Any]:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # (H, W, 3) uint8
        if self.one_line:
            out = self._ocr(bgr, use_det=False, use_cls=False, use_rec=True)
            text = "".join(out.txts or ())
            w, h = image.size
            box = {"text": text, "poly": [0.0, 0.0, float(w), 0.0, float(w), float(h), 0.0, float(h)]}
            box["confidence"] = round(float(out.scores[0]), 4) if out.scores else 0.0
            return self._answer([box] if text else [])
        out = self._ocr(bgr)
        boxes = []
        # nothing found: boxes and txts are None (an empty RapidOCROutput)
        if getattr(out, "boxes", None) is not None and getattr(out, "txts", None) is not None:
            for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):  # quad: (4, 2)
                boxes.append(
                    {
                        "text": text,
                        "poly": [round(float(v), 1) for v in np.asarray(quad).reshape(-1)],
                        "confidence": round(float(score), 4),
                    }
                )
        return self._answer(boxes)

    @staticmethod
    def _answer(boxes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "text": "\n".join(b["text"] for b in boxes),
            "boxes": boxes,
            "fields": {},
            "html": "",
            "latex": "",
            "markdown": "",
        }
