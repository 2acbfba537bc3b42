"""`hyocr serve`: the OpenAI-compatible server, task endpoints and web page (see serve/app.py).

Example:
    $ hyocr serve --model DIR --host 127.0.0.1 --port 8000
    $ hyocr serve --backend openai --upstream http://127.0.0.1:8001/v1   # front another server
    $ hyocr serve --backend vllm --model tencent-HunyuanOCR-dir           # on a GPU machine

Defaults are the release's serving settings (empty system prompt, greedy, 16384 new tokens) and a
loopback address; the API key comes from `--api-key` or the `HYOCR_API_KEY` environment variable.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from hyocr.arguments import number_in, whole_at_least
from hyocr.engine.backends import DEVICES, DTYPES
from hyocr.tasks.segment import add_segment_arguments

__all__ = ["add_arguments", "main", "build_backend", "build_config"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    # where answers come from
    p.add_argument(
        "--backend",
        default="native",
        choices=("native", "openai", "vllm"),
        help="native engine (default), an OpenAI-compatible upstream, or vLLM",
    )
    p.add_argument("--model", help="model directory (native and vllm; default: the model shipped with hyocr)")
    p.add_argument("--model-name", help="model id shown in /v1/models (default: the directory's name)")
    p.add_argument("--upstream", help="base URL of the OpenAI-compatible server for --backend openai")
    p.add_argument("--upstream-model", help="model id to request upstream (default: its first listed model)")
    p.add_argument(
        "--upstream-api-key", help="API key for the upstream (default: env HYOCR_UPSTREAM_API_KEY)"
    )
    p.add_argument("--device", default="auto", choices=DEVICES, help="native engine device (default: auto)")
    p.add_argument(
        "--dtype", default="auto", choices=DTYPES, help="native engine dtype (auto: as `hyocr run --dtype`)"
    )
    p.add_argument(
        "--max-pixels", type=whole_at_least(1024), help="resize budget per image (default: the model's)"
    )
    p.add_argument(
        "--threads",
        type=whole_at_least(1),
        help="torch intra-op threads (default: torch's choice; 1 is steadier on a busy machine)",
    )
    # network
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=whole_at_least(0, 65535), default=8000, help="port (default: 8000; 0 picks a free one)"
    )
    p.add_argument(
        "--api-key", help="require this key as 'Authorization: Bearer KEY' (default: env HYOCR_API_KEY)"
    )
    # batching
    p.add_argument(
        "--batching",
        default="continuous",
        choices=("continuous", "window", "off"),
        help="continuous batching of decode steps (default), static windows, or none",
    )
    p.add_argument(
        "--max-batch",
        type=whole_at_least(1),
        default=16,
        help="most requests decoding together (default: 16)",
    )
    p.add_argument(
        "--batch-window-ms",
        type=number_in(0),
        default=5.0,
        help="how long an idle engine waits to group arrivals (default: 5)",
    )
    p.add_argument(
        "--max-queue",
        type=whole_at_least(1),
        default=64,
        help="requests allowed to wait; beyond that 429 (default: 64)",
    )
    p.add_argument(
        "--timeout",
        type=number_in(0, low_open=True),
        default=600.0,
        help="seconds per request, queueing included (default: 600)",
    )
    add_segment_arguments(p, "/v1/ocr/text, spotting, fields, key and table")
    p.add_argument(
        "--max-new-tokens",
        type=whole_at_least(1),
        default=16384,
        help="default and ceiling of max_tokens (default: 16384)",
    )
    # limits
    p.add_argument(
        "--max-request-mb",
        type=number_in(0, low_open=True),
        default=32.0,
        help="largest request body in MiB (default: 32)",
    )
    p.add_argument(
        "--max-image-mb",
        type=number_in(0, low_open=True),
        default=20.0,
        help="largest image file in MiB (default: 20)",
    )
    p.add_argument(
        "--max-image-pixels",
        type=whole_at_least(1),
        default=40_000_000,
        help="largest decoded image in pixels (default: 40M)",
    )
    p.add_argument("--max-images", type=whole_at_least(1), default=8, help="images per request (default: 8)")
    p.add_argument(
        "--max-pdf-pages", type=whole_at_least(1), default=16, help="pages per uploaded PDF (default: 16)"
    )
    p.add_argument(
        "--allow-url-host",
        action="append",
        default=[],
        metavar="HOST",
        help="allow remote image URLs from this host (repeatable; internal addresses are always refused)",
    )
    p.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="server log level"
    )


def build_config(args: argparse.Namespace, model_name: str):
    from hyocr.serve.app import ServeConfig
    from hyocr.serve.inputs import InputLimits

    limits = InputLimits(
        max_image_bytes=int(args.max_image_mb * 1024 * 1024),
        max_image_pixels=args.max_image_pixels,
        max_images=args.max_images,
        max_pdf_pages=args.max_pdf_pages,
        allow_url_hosts=frozenset(h.lower().rstrip(".") for h in args.allow_url_host),
    )
    return ServeConfig(
        model_name=model_name,
        api_key=args.api_key or os.environ.get("HYOCR_API_KEY") or None,
        max_request_bytes=int(args.max_request_mb * 1024 * 1024),
        max_new_tokens=args.max_new_tokens,
        timeout=args.timeout,
        limits=limits,
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
    )


def build_backend(args: argparse.Namespace):
    """The backend chosen on the command line (vLLM imported only here, only when asked for)."""
    from hyocr.serve.backends import NativeBackend, OpenAIUpstreamBackend, VLLMBackend

    if args.backend == "openai":
        if not args.upstream:
            raise ValueError("--backend openai needs --upstream URL (an OpenAI-compatible server)")
        key = args.upstream_api_key or os.environ.get("HYOCR_UPSTREAM_API_KEY")
        backend = OpenAIUpstreamBackend(
            args.upstream,
            model=args.upstream_model or args.model_name,
            api_key=key,
            max_concurrency=args.max_queue,
        )
        return backend
    from hyocr.engine.backends import load_engine, resolve_model_dir

    model_dir = resolve_model_dir(args.model)
    name = args.model_name or Path(model_dir).resolve().name
    if args.backend == "vllm":
        return VLLMBackend(model_dir, name=name, max_batch=args.max_batch, max_images=args.max_images)
    engine = load_engine(model_dir, device=args.device, dtype=args.dtype, max_pixels=args.max_pixels)
    return NativeBackend(
        engine,
        name,
        mode=args.batching,
        max_batch=args.max_batch,
        max_queue=args.max_queue,
        window_ms=args.batch_window_ms,
        threads=args.threads,
    )


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from hyocr.serve.app import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    backend = build_backend(args)
    app = create_app(backend, build_config(args, backend.name))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5)
    return 0
