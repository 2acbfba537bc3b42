"""`hyocr eval`: run an engine over a labelled folder, write predictions.jsonl and a Markdown report.

The folder holds `gt.jsonl` (one object per image, in the format of ../shared/realdev: `image`,
`task`, and ground truth among `text`, `boxes` [{`text`, `poly`: 8 pixel numbers}], `fields`,
`html`, `latex`, `lang`) and the images it names.

An engine is anything with `predict(image, request) -> dict` (the `Engine` protocol) returning the
ground truth's field names (`text`, `boxes` with pixel `poly`, `fields`, `html`, `latex`); it may
also offer `predict_batch(images, requests) -> list[dict]`, used when `--batch-size` > 1. The
engine never sees the ground truth: `request` carries only the image name, the item's task and
language, the outputs wanted (`want`) and, for extraction, the field names asked for (`keys`).

Non-obvious choices
- `--out` is a directory: OUT/predictions.jsonl, OUT/report.md, OUT/*.png.
- Resumable: with `--resume`, items already in predictions.jsonl without an error are skipped and
  new records are appended; the last record of an image wins when reading back.
- A broken gt line, an unreadable image or an engine failure on one item is one error line on
  stderr (also recorded in predictions.jsonl with an `error` field) and the run goes on; the exit
  code is 1 when anything failed.
- `seconds` is wall time of the engine call (the batch time divided by its size when batched);
  image decoding is not included.

Example:
    $ hyocr eval --data ../shared/realdev/receipts --task text --engine tesseract --out runs/tess
    $ hyocr eval --data ../shared/realdev/receipts --task spotting --engine rapidocr --out runs/ppocr
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from hyocr.arguments import whole_at_least
from hyocr.errors import HyocrError
from hyocr.tasks.segment import (
    FORMULA_AGAIN,
    PIECE_ASPECT,
    REREAD,
    REREAD_BEAMS,
    REREAD_WIDEN,
    ZH_AGAIN,
    ZH_PROBE,
    ZH_REREAD,
    add_segment_arguments,
)

__all__ = [
    "Engine",
    "TASKS",
    "load_gt",
    "load_predictions",
    "make_engine",
    "run_eval",
    "add_arguments",
    "main",
]

# --task → the ground-truth fields an item is asked for (auto: every field it has)
TASKS: dict[str, tuple[str, ...]] = {
    "auto": ("text", "boxes", "fields", "html", "latex", "markdown"),
    "text": ("text",),
    "spotting": ("text", "boxes"),
    "fields": ("fields",),
    "table": ("html",),
    "formula": ("latex",),
    "document": ("markdown",),
}
ENGINES = ("hyocr", "tesseract", "rapidocr")  # the model, then the baselines
GT_FIELDS = ("text", "boxes", "fields", "html", "latex", "markdown")


@runtime_checkable
class Engine(Protocol):
    def predict(self, image: Image.Image, item: dict[str, Any]) -> dict[str, Any]: ...


def make_engine(
    name: str,
    model: str | None = None,
    lang: str = "",
    threads: int = 1,
    psm: int = 3,
    segment: str = "auto",
    drop_score: float = 0.5,
    piece_aspect: float = PIECE_ASPECT,
    reread: float = REREAD,
    reread_beams: int = REREAD_BEAMS,
    reread_widen: float = REREAD_WIDEN,
    zh_reread: float = ZH_REREAD,
    zh_again: float = ZH_AGAIN,
    zh_probe: int = ZH_PROBE,
    formula_again: float = FORMULA_AGAIN,
    num_beams: int | None = None,
) -> Engine:
    """Build an engine by name; closed choice, one-line errors."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")
    if name == "tesseract":
        from hyocr.eval.tesseract import TesseractEngine

        return TesseractEngine(lang=lang, threads=threads, psm=psm)
    if name == "rapidocr":
        from hyocr.eval.rapidocr_engine import RapidOCREngine

        return RapidOCREngine(threads=threads, one_line=psm == 7)
    try:
        from hyocr.eval.engines import hyocr_engine
    except ImportError as exc:
        raise HyocrError("the hyocr engine needs the task layer (hyocr.tasks), not available yet") from exc
    from hyocr.engine.generate import SamplingParams

    if num_beams is not None and num_beams < 1:
        raise ValueError(f"num_beams must be at least 1, not {num_beams}")
    params = None if num_beams is None else SamplingParams(num_beams=num_beams)
    # no model: the shipped one
    return hyocr_engine(
        model,
        segment=segment,
        drop_score=drop_score,
        piece_aspect=piece_aspect,
        reread=reread,
        reread_beams=reread_beams,
        reread_widen=reread_widen,
        zh_reread=zh_reread,
        zh_again=zh_again,
        zh_probe=zh_probe,
        formula_again=formula_again,
        params=params,
    )


def load_gt(data_dir: Path, errors: list[str]) -> list[dict[str, Any]]:
    """Read DIR/gt.jsonl; a bad line becomes an error message, not an exception."""
    path = data_dir / "gt.jsonl"
    if not path.is_file():
        raise HyocrError(f"no gt.jsonl in {data_dir}")
    items = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"gt.jsonl line {n}: not JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("image"), str):
                errors.append(f"gt.jsonl line {n}: no 'image' field")
                continue
            items.append(obj)
    return items


def load_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """image → last record in predictions.jsonl (unreadable lines are ignored)."""
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("image"), str):
                out[obj["image"]] = obj
    return out


def _request(item: dict[str, Any], task: str) -> dict[str, Any]:
    want = [k for k in TASKS[task] if item.get(k) not in (None, "", [], {})]
    if task != "auto" and not want:
        want = list(TASKS[task])
    keys = list(item["fields"]) if isinstance(item.get("fields"), dict) else []
    return {
        "image": item["image"],
        "task": item.get("task"),
        "lang": item.get("lang"),
        "want": want,
        "keys": keys,
    }


def _load_image(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im.convert("RGB")


def _clean(pred: Any) -> dict[str, Any]:
    if not isinstance(pred, dict):
        raise TypeError(f"engine returned {type(pred).__name__}, not a dict")
    return {k: pred[k] for k in GT_FIELDS if k in pred}


def run_eval(
    data_dir: str | Path,
    out_dir: str | Path,
    engine: Engine,
    task: str = "auto",
    limit: int | None = None,
    resume: bool = False,
    batch_size: int = 1,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[Path, list[str]]:
    """Evaluate `engine` on `data_dir`; returns (report path, error messages)."""
    from tqdm import tqdm

    from hyocr.eval.report import write_report

    if task not in TASKS:
        raise ValueError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
    data, out = Path(data_dir), Path(out_dir)
    errors: list[str] = []
    gts = load_gt(data, errors)
    if limit is not None:
        gts = gts[: max(limit, 0)]
    out.mkdir(parents=True, exist_ok=True)
    pred_path = out / "predictions.jsonl"
    done = load_predictions(pred_path) if resume else {}
    todo = [g for g in gts if "error" in done.get(g["image"], {"error": 1})]
    mode = "a" if resume else "w"
    t_start = time.perf_counter()
    with (
        pred_path.open(mode, encoding="utf-8") as f,
        tqdm(total=len(todo), desc="eval", unit="img", disable=not progress, file=sys.stderr) as bar,
    ):

        def record(rec: dict[str, Any]) -> None:
            done[rec["image"]] = rec
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()

        def fail(item: dict[str, Any], msg: str) -> None:
            line = f"{item['image']}: {msg}"
            errors.append(line)
            tqdm.write(f"hyocr eval: error: {line}", file=sys.stderr)
            record({"image": item["image"], "error": msg})

        for start in range(0, len(todo), max(batch_size, 1)):
            batch = todo[start : start + max(batch_size, 1)]
            images, items = [], []
            for item in batch:
                try:
                    images.append(_load_image(data / item["image"]))
                    items.append(item)
                except Exception as exc:  # PIL raises many types for bad files
                    fail(item, f"cannot read image ({type(exc).__name__}: {exc})")
            if not items:
                bar.update(len(batch))
                continue
            requests = [_request(i, task) for i in items]
            preds: list[Any]
            t0 = time.perf_counter()
            if len(items) > 1 and hasattr(engine, "predict_batch"):
                try:
                    preds = list(engine.predict_batch(images, requests))
                except Exception as exc:
                    preds = [exc] * len(items)
                per = (time.perf_counter() - t0) / len(items)
                secs = [per] * len(items)
            else:
                preds, secs = [], []
                for im, req in zip(images, requests, strict=True):
                    t1 = time.perf_counter()
                    try:
                        preds.append(engine.predict(im, req))
                    except Exception as exc:
                        preds.append(exc)
                    secs.append(time.perf_counter() - t1)
            for item, pred, sec in zip(items, preds, secs, strict=True):
                try:
                    if isinstance(pred, Exception):
                        raise pred
                    record({"image": item["image"], **_clean(pred), "seconds": round(sec, 4)})
                except Exception as exc:
                    fail(item, f"engine failed ({type(exc).__name__}: {exc})")
            bar.update(len(batch))
    elapsed = time.perf_counter() - t_start
    ok = [(g, done[g["image"]]) for g in gts if g["image"] in done and "error" not in done[g["image"]]]
    info = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "data": str(data),
        "task": task,
        "items": f"{len(ok)} scored of {len(gts)} ({len(gts) - len(ok)} failed or missing)",
        "run time": f"{elapsed:.1f} s for {len(todo)} item(s) run now",
        **(meta or {}),
    }
    asked = [{k: v for k, v in g.items() if k not in GT_FIELDS or k in TASKS[task]} for g, _ in ok]
    report = write_report(out, asked, [p for _, p in ok], info, errors)
    return report, errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # what to evaluate
    parser.add_argument("--data", required=True, help="folder with gt.jsonl and its images")
    parser.add_argument(
        "--task",
        default="auto",
        choices=list(TASKS),
        help="outputs to ask for and score (auto: all the gt has)",
    )
    parser.add_argument("--limit", type=whole_at_least(1), default=None, help="only the first N items")
    # who answers
    parser.add_argument(
        "--engine",
        default="hyocr",
        choices=list(ENGINES),
        help="the hyocr model, or a baseline: tesseract (Tesseract LSTM), rapidocr (PP-OCRv6 small on onnxruntime)",
    )
    parser.add_argument(
        "--model", default=None, help="model directory (for --engine hyocr; default: the shipped model)"
    )
    add_segment_arguments(parser, "hyocr text/spotting/fields/table/document")
    parser.add_argument(
        "--num-beams",
        type=whole_at_least(1),
        help="hyocr: beam search with N beams, 1 = greedy (default: the model's; the formula reader's is in its generation_config.json)",
    )
    parser.add_argument(
        "--lang", default="", help="tesseract language(s), e.g. eng or eng+fra (default: from gt lang)"
    )
    parser.add_argument(
        "--threads",
        type=whole_at_least(1),
        default=1,
        help="baseline threads, default 1: tesseract's OMP_THREAD_LIMIT; rapidocr's onnxruntime and OpenCV threads (at most the core count)",
    )
    parser.add_argument(
        "--psm",
        type=int,
        default=3,
        choices=range(14),
        metavar="N",
        help="tesseract page segmentation mode (3: page, 6: one block, 7: one line); rapidocr reads "
        "each image as one line with its recognizer alone (no detection) at 7",
    )
    parser.add_argument(
        "--batch-size",
        type=whole_at_least(1),
        default=1,
        help="images per engine call (engines with predict_batch)",
    )
    # where results go
    parser.add_argument("--out", required=True, help="output directory: predictions.jsonl, report.md, plots")
    parser.add_argument("--resume", action="store_true", help="skip items already in OUT/predictions.jsonl")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    engine = make_engine(
        args.engine,
        args.model,
        lang=args.lang,
        threads=args.threads,
        psm=args.psm,
        segment=args.segment,
        drop_score=args.drop_score,
        piece_aspect=args.piece_aspect,
        reread=args.reread,
        reread_beams=args.reread_beams,
        reread_widen=args.reread_widen,
        zh_reread=args.zh_reread,
        zh_again=args.zh_again,
        zh_probe=args.zh_probe,
        formula_again=args.formula_again,
        num_beams=args.num_beams,
    )
    meta = {"engine": getattr(engine, "describe", lambda: args.engine)()}
    if args.model:
        meta["model"] = args.model
    if args.engine == "hyocr":  # how pages were read, so that a report can be reproduced
        meta["reading"] = (
            f"segment {args.segment}, piece aspect {args.piece_aspect:g}, drop score {args.drop_score:g}, "
            f"reread {args.reread:g} ({args.reread_beams} beams, widened {args.reread_widen:g}), "
            f"Chinese reader under {args.zh_reread:g}, its readings under {args.zh_again:g} read again ("
            + (
                f"pages of more than {args.zh_probe} crops probed"
                if args.zh_probe > 0
                else "pages not probed"
            )
            + ")"
            + (f", {args.num_beams} beams" if args.num_beams else "")
        )
    report, errors = run_eval(
        args.data,
        args.out,
        engine,
        task=args.task,
        limit=args.limit,
        resume=args.resume,
        batch_size=args.batch_size,
        meta=meta,
        progress=not args.no_progress,
    )
    print(report)
    if errors:
        print(f"hyocr eval: {len(errors)} item(s) failed; see {report}", file=sys.stderr)
        return 1
    return 0
