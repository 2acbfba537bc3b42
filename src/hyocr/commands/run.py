"""`hyocr run`: one instruction over one or more images, printing the model's answer.

Each input is read and validated on its own: a bad file prints one error line naming it and the
rest still run; the exit code is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from hyocr.engine.backends import DEVICES, DTYPES, load_engine
from hyocr.errors import HyocrError
from hyocr.tasks.parse import parse_answer, spotting_confidences
from hyocr.tasks.prompts import LANGUAGES, TASKS, instruction

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, WebP, TIFF, BMP, ...)")
    # task
    p.add_argument("--task", default="text", choices=TASKS, help="what to do (default: text)")
    p.add_argument("--lang", default="en", choices=LANGUAGES, help="language of the instruction (default: en)")
    p.add_argument("--fields", help="comma-separated field names for --task fields")
    p.add_argument("--key", help="the key for --task key")
    p.add_argument("--question", help="the question for --task vqa")
    p.add_argument("--target-lang", default="en", help="target language for --task translate (code or name)")
    p.add_argument("--prompt", help="a raw instruction instead of the task's (overrides --task)")
    p.add_argument("--system", default="", help="system prompt (the release uses none)")
    # model
    p.add_argument("--model", help="model directory (default: the model shipped with hyocr)")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: auto)")
    p.add_argument("--dtype", default="auto", choices=DTYPES, help="auto = bf16 autocast over fp32 weights")
    p.add_argument("--max-pixels", type=int, help="resize budget per image in pixels (default: the model's)")
    # decoding
    p.add_argument("--max-new-tokens", type=int, default=16384, help="answer length limit (default: 16384)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (the release's default)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k best tokens (0 = off)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="penalise repeated tokens (1.0 = off)")
    p.add_argument("--seed", type=int, help="sampling seed")
    # output
    p.add_argument("--format", default="txt", choices=("txt", "json"), help="txt: the answer; json: one object per input")
    p.add_argument("--stream", action="store_true", help="print the answer as it is generated (one input at a time)")


def main(args: argparse.Namespace) -> int:
    from hyocr.engine.generate import Request, SamplingParams

    fields = args.fields.split(",") if args.fields else None
    if args.prompt:
        text = args.prompt
    else:
        text = instruction(
            args.task, args.lang, key=args.key, fields=fields, target=args.target_lang, question=args.question
        )
    params = SamplingParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
    )
    engine = load_engine(args.model, device=args.device, dtype=args.dtype, max_pixels=args.max_pixels)
    failed = 0
    many = len(args.inputs) > 1
    for path in args.inputs:
        request = Request(text, [path], args.system)
        try:
            if args.stream and args.format == "txt":
                if many:
                    print(f"==> {path} <==", flush=True)
                done = []
                for piece in engine.stream(request, params, on_done=done.append):
                    print(piece, end="", flush=True)
                print()
                if done and done[0].repetition_cut:
                    print(f"hyocr run: {path}: note: repeated tail cut back", file=sys.stderr)
                continue
            result = engine.generate([request], params)[0]
        except (HyocrError, OSError, ValueError) as exc:
            failed += 1
            print(f"hyocr run: {path}: error: {exc}", file=sys.stderr)
            continue
        if args.format == "json":
            size = result.image_sizes[0] if result.image_sizes else {"width": 0, "height": 0}
            conf = None
            ids = engine.tok.ids
            task = "prompt" if args.prompt else args.task
            if task == "spotting" and "ref_open" in ids and "ref_close" in ids:
                conf = spotting_confidences(result.token_ids, result.logprobs, ids["ref_open"], ids["ref_close"])
            typed = parse_answer(
                task,
                result.text,
                width=size["width"],
                height=size["height"],
                fields=fields,
                key=args.key,
                target=args.target_lang,
                question=args.question or (text if args.prompt else None),
                confidences=conf,
                repetition_cut=result.repetition_cut,
                truncated=result.finish_reason == "length",
                seconds=result.seconds,
                source=path,
            )
            record = {"input": path, "instruction": text, "finish_reason": result.finish_reason, "image": size}
            record.update(typed.to_dict())
            print(json.dumps(record, ensure_ascii=False))
        else:
            if many:
                print(f"==> {path} <==")
            print(result.text)
            if result.repetition_cut:
                print(f"hyocr run: {path}: note: repeated tail cut back ({result.finish_reason})", file=sys.stderr)
    return 1 if failed else 0
