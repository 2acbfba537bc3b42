"""`hyocr run`: one instruction over images, PDFs, multi-page TIFFs, folders and videos.

- Each input is read on its own: a bad file (missing, empty, corrupt, encrypted PDF, zero-length
  video, ...) prints one error line naming it and the rest still run; the exit code is 1 when
  any input failed.
- Without `--out`, answers go to stdout (txt: the answer; json/jsonl: one JSON object per page;
  md/html: the document). With `--out DIR`, one file per input (`DIR/<name>.<format>`), plus an
  overlay PNG per page with `--draw` for spotting; `--resume` skips inputs whose output exists.
- PDFs are rasterised page by page (`--pages 1-3,5`, `--dpi`) within the model's pixel budget.
- Videos run the subtitles task and give SRT (default), VTT or JSON cues.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hyocr.arguments import number_in, whole_at_least
from hyocr.engine.backends import DEVICES, DTYPES
from hyocr.errors import HyocrError
from hyocr.tasks.prompts import LANGUAGES, TASKS, instruction, task_of
from hyocr.tasks.segment import add_segment_arguments

__all__ = ["add_arguments", "main"]

FORMATS = ("txt", "json", "jsonl", "md", "html", "srt", "vtt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="images, PDFs, TIFFs, folders or videos")
    # task
    g = p.add_argument_group("task")
    g.add_argument(
        "--task", default="text", choices=TASKS, help="what to do (default: text; videos: subtitles)"
    )
    g.add_argument(
        "--lang", default="en", choices=LANGUAGES, help="language of the instruction (default: en)"
    )
    g.add_argument("--fields", help="comma-separated field names for --task fields")
    g.add_argument("--key", help="the key for --task key")
    g.add_argument("--question", help="the question for --task vqa")
    g.add_argument("--target-lang", default="en", help="target language for --task translate (code or name)")
    g.add_argument("--prompt", help="a raw instruction instead of the task's (overrides --task)")
    g.add_argument("--system", default="", help="system prompt (the release uses none)")
    # model
    g = p.add_argument_group("model")
    g.add_argument("--model", help="model directory (default: the model shipped with hyocr)")
    g.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: auto)")
    g.add_argument(
        "--dtype",
        default="auto",
        choices=DTYPES,
        help="auto = fp32 weights, bf16 autocast where bf16 is fast (decoding steps only for wide decoders)",
    )
    g.add_argument(
        "--max-pixels",
        type=whole_at_least(1024),
        help="resize budget per image in pixels (default: the model's)",
    )
    g.add_argument(
        "--batch-size", type=whole_at_least(1), default=4, help="pages per forward batch (default: 4)"
    )
    g.add_argument(
        "--workers",
        type=whole_at_least(1),
        help="batches read side by side, each on its share of the threads (default: 2 on a CPU with 2+ threads)",
    )
    add_segment_arguments(g)
    # decoding
    g = p.add_argument_group("decoding")
    g.add_argument("--max-new-tokens", type=int, default=16384, help="answer length limit (default: 16384)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (the release's default)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    g.add_argument("--top-k", type=int, default=0, help="sample among the k best tokens (0 = off)")
    g.add_argument(
        "--repetition-penalty", type=float, default=1.0, help="penalise repeated tokens (1.0 = off)"
    )
    g.add_argument("--seed", type=int, help="sampling seed")
    g.add_argument(
        "--num-beams",
        type=int,
        help="beam search with N beams, greedy only; 1 = off (default: the model's generation_config.json, else 1)",
    )
    g.add_argument(
        "--length-penalty",
        type=float,
        help="beam search: hypotheses scored by log-probability / length ** this (default: the model's, else 1.0)",
    )
    # documents
    g = p.add_argument_group("documents")
    g.add_argument("--pages", help="pages of PDFs/TIFFs, 1-based, e.g. 1-3,5,8-")
    g.add_argument(
        "--dpi",
        type=number_in(0, low_open=True),
        default=200.0,
        help="PDF rasterisation resolution (default: 200)",
    )
    g.add_argument(
        "--fps",
        type=number_in(0, low_open=True),
        default=4.0,
        help="video frames sampled per second (default: 4)",
    )
    # output
    g = p.add_argument_group("output")
    g.add_argument(
        "--format", default="txt", choices=FORMATS, help="output format (default: txt; videos: srt)"
    )
    g.add_argument("--out", help="write one file per input into this directory instead of stdout")
    g.add_argument("--draw", action="store_true", help="with --out: save spotting overlays as PNG")
    g.add_argument("--resume", action="store_true", help="with --out: skip inputs whose output file exists")
    g.add_argument(
        "--stream", action="store_true", help="print the answer as it is generated (txt, images only)"
    )


class _Runner:
    def __init__(self, args, ocr, params):
        self.args, self.ocr, self.params = args, ocr, params
        self.task = "prompt" if args.prompt else args.task
        self.fields = [f for f in args.fields.split(",")] if args.fields else None
        self.prompt = args.prompt or instruction(
            args.task,
            args.lang,
            key=args.key,
            fields=self.fields,
            target=args.target_lang,
            question=args.question,
        )

    def pages(self, images):
        """Run the task over page images in batches; typed results."""
        a = self.args
        out = []
        for i in range(0, len(images), max(1, a.batch_size)):
            chunk = images[i : i + max(1, a.batch_size)]
            if self.task == "prompt":
                out += self.ocr.run(chunk, self.prompt)
            else:
                kw = {"fields": self.fields} if self.task == "fields" else {}
                kw.update({"key": a.key} if self.task == "key" else {})
                kw.update({"target": a.target_lang} if self.task == "translate" else {})
                kw.update({"question": a.question} if self.task == "vqa" else {})
                method = getattr(self.ocr, self.task)
                if self.task in ("vqa",):
                    out += method(chunk, **kw)
                else:
                    out += method(chunk, lang=a.lang, **kw)
        return out


def _name(path: Path, roots: list[Path]) -> str:
    for r in roots:
        if r.is_dir() and r in path.parents:
            return str(path.relative_to(r).with_suffix("")).replace("/", "__")
    return path.stem


def main(args: argparse.Namespace) -> int:
    from hyocr.api import OCR
    from hyocr.documents.export import EXTENSIONS
    from hyocr.documents.inputs import expand_inputs, kind_of
    from hyocr.engine.generate import SamplingParams

    if (args.draw or args.resume) and not args.out:
        raise ValueError("--draw and --resume need --out DIR")
    params = SamplingParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        num_beams=args.num_beams,
        length_penalty=args.length_penalty,
    )
    ocr = OCR(
        args.model,
        device=args.device,
        dtype=args.dtype,
        lang=args.lang,
        max_pixels=args.max_pixels,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        params=params,
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
        workers=args.workers,
    )
    runner = _Runner(args, ocr, params)
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    roots = [Path(i) for i in args.inputs]
    paths = expand_inputs(args.inputs)
    if not paths:
        raise ValueError("no readable inputs found")
    failed = 0
    for path in paths:
        kind = kind_of(path)
        fmt = args.format
        if kind == "video" and fmt == "txt":
            fmt = "srt"
        target = out_dir / (_name(path, roots) + EXTENSIONS[fmt]) if out_dir else None
        if target is not None and args.resume and target.exists():
            print(f"hyocr run: {path}: skipped (output exists)", file=sys.stderr)
            continue
        try:
            text = _run_one(runner, path, kind, fmt, target, args)
        except (HyocrError, OSError, ValueError, RuntimeError) as exc:
            failed += 1
            print(
                f"hyocr run: {path}: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                file=sys.stderr,
            )
            continue
        if target is None:
            if len(paths) > 1 and fmt in ("txt", "md", "srt", "vtt"):
                print(f"==> {path} <==")
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            tmp = target.with_name(target.name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)  # a killed run never leaves a half-written output that --resume would skip
    return 1 if failed else 0


def _run_one(runner: _Runner, path: Path, kind: str, fmt: str, target: Path | None, args) -> str:
    from hyocr.documents.export import html_page, results_json, results_markdown, results_text
    from hyocr.documents.inputs import iter_pages

    if kind == "unknown" and not path.exists():
        raise ValueError("file not found")
    if kind == "video":
        return _run_video(runner, path, fmt)
    if fmt in ("srt", "vtt"):
        raise ValueError(f"--format {fmt} is for videos")
    segmenting = runner.ocr.segmenting(runner.task)
    if args.stream and fmt == "txt" and kind == "image" and target is None and not segmenting:
        return _stream_image(runner, path)
    # pages are cut down to a few times the model's budget before it resizes them; segments are
    # read at the page's own scale, so a segmented page keeps up to an A4 scan at 400 dpi
    cap = 4 * runner.ocr.engine.max_pixels
    if segmenting:
        cap = max(cap, 16_000_000)
    pages = list(iter_pages(path, pages=args.pages, dpi=args.dpi, max_pixels=cap))
    results = runner.pages([p.image for p in pages])
    for page, r in zip(pages, results, strict=True):
        r.source = page.name
        if r.repetition_cut:
            print(f"hyocr run: {page.name}: note: repeated tail cut back", file=sys.stderr)
        if args.draw and target is not None and runner.task == "spotting":
            from hyocr.tasks.draw import draw_spotting

            suffix = f"_p{page.index}" if page.count > 1 else ""
            draw_spotting(page.image, r).save(target.with_name(target.stem + suffix + ".overlay.png"))
    if fmt == "json":
        return results_json(str(path), results) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in results)
    if fmt == "md":
        return results_markdown(results)
    if fmt == "html":
        return html_page(path.name, results_markdown(results))
    return results_text(results)


def _stream_image(runner: _Runner, path: Path) -> str:
    from hyocr.engine.generate import Request

    done = []
    for piece in runner.ocr.engine.stream(
        Request(runner.prompt, [path], runner.args.system, task_of(runner.prompt)),
        runner.params,
        on_done=done.append,
    ):
        print(piece, end="", flush=True)
    print()
    return ""


def _run_video(runner: _Runner, path: Path, fmt: str) -> str:
    from hyocr.documents.video import read_subtitles, to_srt, to_vtt

    if runner.task not in ("subtitles", "text"):
        raise ValueError(f"videos support the subtitles task, not '{runner.task}'")
    lang = runner.args.lang
    cues = read_subtitles(
        path, lambda imgs: [r.text for r in runner.ocr.subtitles(imgs, lang=lang)], fps=runner.args.fps
    )
    if fmt == "vtt":
        return to_vtt(cues)
    if fmt in ("json", "jsonl"):
        return (
            json.dumps({"source": str(path), "cues": [c.__dict__ for c in cues]}, ensure_ascii=False) + "\n"
        )
    if fmt != "srt":
        raise ValueError(f"--format {fmt} is not available for videos (use srt, vtt or json)")
    return to_srt(cues)
