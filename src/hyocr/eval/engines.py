"""hyocr models as evaluation engines (the `Engine` protocol of eval/bench.py).

For each item the engine asks the model what the ground truth wants, with the release's exact
instructions: spotting when boxes are wanted (its lines also give the text), the text task when only
text is, the fields task with the item's field names, the table task for HTML, the formula task for
LaTeX. Boxes are returned in pixels of the original image as 8-number polygons.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

__all__ = ["HyocrEngine", "hyocr_engine"]


class HyocrEngine:
    def __init__(self, ocr):
        self.ocr = ocr

    def predict(self, image: Image.Image, item: dict[str, Any]) -> dict[str, Any]:
        return self.predict_batch([image], [item])[0]

    def predict_batch(self, images: list[Image.Image], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        outs: list[dict[str, Any]] = [{} for _ in images]
        lang = [("zh" if str(it.get("lang") or "").startswith("zh") else "en") for it in items]

        def run(indices, fn):
            if indices:
                yield from zip(indices, fn([images[i] for i in indices]), strict=True)

        want = [set(it.get("want") or []) for it in items]
        spot = [i for i, w in enumerate(want) if "boxes" in w]
        text = [i for i, w in enumerate(want) if "text" in w and "boxes" not in w]
        for i, r in run(spot, lambda ims: self.ocr.spotting(ims, lang=lang[spot[0]])):
            outs[i]["boxes"] = [
                {
                    "text": line.text,
                    "poly": [v for xy in line.polygon for v in xy],
                    "confidence": line.confidence,
                }
                for line in r.lines
            ]
            outs[i]["text"] = r.text
        for i, r in run(text, lambda ims: self.ocr.text(ims, lang=lang[text[0]])):
            outs[i]["text"] = r.text
        for i, w in enumerate(want):  # fields differ per item: one call each
            if "fields" in w:
                outs[i]["fields"] = self.ocr.fields(
                    images[i], items[i].get("keys") or [], lang=lang[i]
                ).fields
        table = [i for i, w in enumerate(want) if "html" in w]
        for i, r in run(table, lambda ims: self.ocr.table(ims)):
            outs[i]["html"] = r.html
        document = [i for i, w in enumerate(want) if "markdown" in w]
        for i, r in run(document, lambda ims: self.ocr.document(ims)):
            outs[i]["markdown"] = r.markdown
        formula = [i for i, w in enumerate(want) if "latex" in w]
        for i, r in run(formula, lambda ims: self.ocr.formula(ims)):
            outs[i]["latex"] = r.latex
        return outs


def hyocr_engine(model: str | None, **kw) -> HyocrEngine:
    from hyocr.api import OCR

    return HyocrEngine(OCR(model, **kw))
