"""The HTTP service: OpenAI-compatible chat completions, one endpoint per OCR task, a web page.

Endpoints
- `POST /v1/chat/completions`: OpenAI's format; images as `image_url` parts (data URIs, or http(s)
  URLs of allow-listed hosts); `stream: true` answers with server-sent events ending in
  `data: [DONE]`. Sampling fields: `max_tokens`/`max_completion_tokens`, `temperature`, `top_p`,
  `seed`, and vLLM's extras `top_k`, `repetition_penalty`, `ignore_eos`.
- `GET /v1/models`; `GET /v1/tasks` (task names and instruction languages, for the page).
- `POST /v1/ocr/{task}`: a multipart upload `file` (an image or a PDF; a PDF gives one result per
  page) plus task options as form fields; answers `{"task", "model", "results": [typed result]}`,
  each result being `TaskResult.to_dict()` of the task layer with `finish_reason` and `usage`.
- `GET /health`, `GET /metrics` (Prometheus text format: model memory and KV-cache memory are
  separate gauges), `GET /` (the page; static files under `/static`, no third-party assets).

Choices
- The release's serving settings are the defaults: empty system prompt, greedy, up to 16384 new
  tokens (`--max-new-tokens` sets both the default and the ceiling a client may ask for).
- Errors are one line in OpenAI's shape `{"error": {"message", "type", "code"}}`: 400 bad input,
  401 missing/wrong API key, 404 unknown task, 413 too large (body, image bytes, pixels),
  429 queue full (with Retry-After), 499 client went away, 502 upstream failure, 503 shutting
  down, 504 timeout. Anything unexpected is logged with its traceback and answered with a bare
  500 "internal error": no stack trace ever leaves the server.
- A client that disconnects cancels its request: a watcher task waits for `http.disconnect` and
  cancels the work, which the scheduler drops before its next decode step.
- `finish_reason` stays within OpenAI's values: the release's repetition stop is reported as
  "length" (the answer is incomplete), with the exact reason under the choice's `hyocr` key.
- The API key (`--api-key` or `HYOCR_API_KEY`) guards `/v1/*` and `/metrics`; the page and
  `/health` stay open (the page asks for the key and sends it as a Bearer token).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from hyocr.engine.generate import ZH_TASK, SamplingParams
from hyocr.engine.generate import Request as GenRequest
from hyocr.errors import HyocrError, InputError, PixelBudgetError
from hyocr.serve.backends import Backend, Completion, UpstreamError
from hyocr.serve.batching import QueueFull
from hyocr.serve.inputs import InputLimits, decode_image, image_from_url, is_pdf, pdf_pages
from hyocr.tasks.parse import parse_answer, spotting_confidences
from hyocr.tasks.prompts import LANGUAGES, TASKS, TRANSLATION_TARGETS, instruction, task_of
from hyocr.tasks.segment import (
    FORMULA_AGAIN,
    PIECE_ASPECT,
    REREAD,
    REREAD_BEAMS,
    REREAD_WIDEN,
    ZH_AGAIN,
    ZH_AGAIN_WIDEN,
    ZH_PROBE,
    ZH_REREAD,
    SegmentAnswer,
    assemble,
    chinese_kept,
    chinese_page,
    formula_params,
    formula_rereading,
    formula_views,
    formulas_worth_reading,
    joined,
    mostly_chinese,
    page_plan,
    probe_asking,
    probe_crops,
    reading_kept,
    reads_formulas,
    rereading,
    segmenting,
    surest,
    widened,
    zh_again_floor,
    zh_again_kept,
    zh_rereading,
)

__all__ = ["ServeConfig", "create_app"]

log = logging.getLogger("hyocr.serve")

WEB_DIR = Path(__file__).resolve().parent / "web"
# the page loads only its own files; data:/blob: images for previews and overlays
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# finish reasons that mean a reading was cut short (the server's typed results flag them truncated)
CUT_SHORT = ("length", "repetition")
ROUTES = ("/", "/health", "/metrics", "/v1/models", "/v1/tasks", "/v1/chat/completions", "/v1/ocr/{task}")


@dataclass
class ServeConfig:
    model_name: str = "hyocr"
    api_key: str | None = None
    max_request_bytes: int = 32 * 1024 * 1024  # whole body, uploads and base64 images included
    max_new_tokens: int = 16384  # default and ceiling of max_tokens
    timeout: float = 600.0  # seconds per request, queue wait included
    limits: InputLimits = field(default_factory=InputLimits)
    # /v1/ocr/text, spotting, fields, key and table: cut pages into printed segments (tables into
    # cells) first ("auto": when the model's config says it reads lines, as the shipped hyocr-tiny
    # does; "lines": always; "off")
    segment: str = "auto"
    # segmented pages: leave out segments read with a lower confidence (a mostly Chinese reading
    # only under the page's `segment.chinese_floor`, if lower: 0.2 or 0.3 on Chinese pages)
    drop_score: float = 0.5
    piece_aspect: float = PIECE_ASPECT  # segmented pages: read longer segments in pieces (0: whole)
    # segmented pages: read segments read with a lower confidence (not under drop_score) again with
    # beam search, the surer reading kept (`segment.rereading`)
    reread: float = REREAD
    reread_beams: int = REREAD_BEAMS  # beams of that second reading
    reread_widen: float = REREAD_WIDEN  # and a greedy one of the crop widened so many times (1: none)
    # segmented pages, a model with a Chinese reader: segments still read under this are read by it
    # too, its reading kept where it has Chinese in it, or is Latin print, and is surer
    # (`segment.reading_kept`)
    zh_reread: float = ZH_REREAD
    # ... and its readings under this (and reread) read again by it with beam search (api.OCR
    # `zh_again`; 0: never)
    zh_again: float = ZH_AGAIN
    # segmented pages, a model with a Chinese reader: a page of more crops than this is probed
    # (api.OCR `zh_probe`; 0: never)
    zh_probe: int = ZH_PROBE
    # a formula image (the formula task) read with a lower confidence is read again in each of the
    # formula reader's `segment.formula_views` (its other heights, and widened), the surest kept
    # (api.OCR `formula_again`; a page's candidate formulas are read once)
    formula_again: float = FORMULA_AGAIN


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


class _BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


def _error(
    status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status, headers=headers
    )


# ---- metrics -------------------------------------------------------------------------------------
class HttpMetrics:
    def __init__(self):
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.in_flight = 0
        self.started = time.time()

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests[(route, str(status))] += 1
        buckets = self.latency[route]
        for i, b in enumerate(LATENCY_BUCKETS):
            if seconds <= b:
                buckets[i] += 1
        buckets[-1] += 1
        self.latency_sum[route] += seconds


def _route_of(path: str) -> str:
    if path.startswith("/v1/ocr/"):
        return "/v1/ocr/{task}"
    if path.startswith("/static/"):
        return "/static"
    return path if path in ROUTES else "other"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def render_metrics(http: HttpMetrics, backend: Backend) -> str:
    lines: list[str] = []

    def head(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    head("hyocr_http_requests_total", "counter", "HTTP requests by route and status.")
    for (route, status), n in sorted(http.requests.items()):
        lines.append(f'hyocr_http_requests_total{{route="{route}",status="{status}"}} {n}')
    head("hyocr_http_request_seconds", "histogram", "HTTP request latency by route.")
    for route, buckets in sorted(http.latency.items()):
        for b, n in zip(LATENCY_BUCKETS, buckets, strict=False):
            lines.append(f'hyocr_http_request_seconds_bucket{{route="{route}",le="{b}"}} {n}')
        lines.append(f'hyocr_http_request_seconds_bucket{{route="{route}",le="+Inf"}} {buckets[-1]}')
        lines.append(f'hyocr_http_request_seconds_sum{{route="{route}"}} {http.latency_sum[route]:.6f}')
        lines.append(f'hyocr_http_request_seconds_count{{route="{route}"}} {buckets[-1]}')
    head("hyocr_http_in_flight", "gauge", "HTTP requests being served.")
    lines.append(f"hyocr_http_in_flight {http.in_flight}")
    head("process_resident_memory_bytes", "gauge", "Resident memory of the server process.")
    lines.append(f"process_resident_memory_bytes {_rss_bytes()}")
    head("process_start_time_seconds", "gauge", "Start time of the server (Unix seconds).")
    lines.append(f"process_start_time_seconds {http.started:.0f}")
    seen = set()
    for name, kind, help_text, value, labels in backend.metrics():
        if name not in seen:
            head(name, kind, help_text)
            seen.add(name)
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")
    return "\n".join(lines) + "\n"


# ---- the guard in front of everything: size limit, API key, metrics ------------------------------
class Guard:
    """Pure ASGI middleware: refuses bodies over the limit (by Content-Length, or while streaming
    in), checks the API key, records per-route counts and latencies."""

    def __init__(self, app, config: ServeConfig, metrics: HttpMetrics):
        self.app, self.config, self.metrics = app, config, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        path = scope.get("path", "")
        route = _route_of(path)
        status = {"code": 500}

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            refusal = self._refuse(scope, path)
            if refusal is not None:
                return await refusal(scope, receive, send_wrapped)
            limit, seen = self.config.max_request_bytes, 0

            async def receive_limited():
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise _BodyTooLarge()
                return message

            await self.app(scope, receive_limited, send_wrapped)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe(route, status["code"], time.perf_counter() - t0)

    def _refuse(self, scope, path: str) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        length = headers.get("content-length")
        if length is not None:
            try:
                if int(length) > self.config.max_request_bytes:
                    return _error(
                        413,
                        f"request body over the limit of {self.config.max_request_bytes:,} bytes",
                        "request_too_large",
                    )
            except ValueError:
                return _error(400, "invalid Content-Length")
        key = self.config.api_key
        if key and (path.startswith("/v1/") or path == "/metrics"):
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), key.encode()):
                return _error(
                    401, "missing or invalid API key", "authentication_error", {"WWW-Authenticate": "Bearer"}
                )
        return None


# ---- request parsing -------------------------------------------------------------------------------
def _number(
    body: dict, name: str, default, lo: float | None = None, hi: float | None = None, integer: bool = False
):
    value = body.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and not float(value).is_integer())
    ):
        raise ApiError(400, f"'{name}' must be {'an integer' if integer else 'a number'}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ApiError(400, f"'{name}' must be between {lo} and {hi}")
    return int(value) if integer else float(value)


def sampling_from_body(body: dict, config: ServeConfig) -> SamplingParams:
    cap = config.max_new_tokens
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = _number({"max_tokens": max_tokens}, "max_tokens", cap, 1, cap, integer=True)
    if body.get("n") not in (None, 1):
        raise ApiError(400, "'n' must be 1: one answer per request")
    if body.get("stop") not in (None, [], ""):
        raise ApiError(400, "'stop' sequences are not supported")
    top_k = _number(body, "top_k", 0, -1, None, integer=True)
    ignore_eos = body.get("ignore_eos", False)
    if not isinstance(ignore_eos, bool):
        raise ApiError(400, "'ignore_eos' must be true or false")
    num_beams = _number(body, "num_beams", None, 1, 16, integer=True)  # None: the model's default
    temperature = _number(body, "temperature", 0.0, 0, 2)
    if (num_beams or 1) > 1 and temperature > 0:
        raise ApiError(400, "'num_beams' above 1 (beam search) needs 'temperature' 0")
    return SamplingParams(
        num_beams=num_beams,
        length_penalty=_number(body, "length_penalty", None, -10, 10),
        max_new_tokens=max_tokens,
        temperature=temperature,
        top_p=_number(body, "top_p", 1.0, 1e-6, 1),
        top_k=max(0, top_k),
        repetition_penalty=_number(body, "repetition_penalty", 1.0, 0.01, 10),
        seed=_number(body, "seed", None, 0, 2**63 - 1, integer=True),
        ignore_eos=ignore_eos,
    )


async def chat_request(body: Any, config: ServeConfig) -> GenRequest:
    """OpenAI messages -> one engine request (system text, images in order, instruction)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list")
    system, texts, urls = [], [], []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages[{i}] must be an object")
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "developer", "user", "assistant"):
            raise ApiError(400, f"messages[{i}].role must be system, user or assistant")
        if role == "assistant":
            raise ApiError(
                400,
                "multi-turn conversations are not supported: send the image and the instruction in one user message",
            )
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise ApiError(400, f"messages[{i}].content must be a string or a list of parts")
        for j, part in enumerate(parts):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                (system if role in ("system", "developer") else texts).append(part["text"])
            elif kind == "image_url" and role == "user":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if not isinstance(url, str) or not url:
                    raise ApiError(400, f"messages[{i}].content[{j}].image_url.url must be a string")
                urls.append(url)
            else:
                raise ApiError(
                    400,
                    f"messages[{i}].content[{j}]: unsupported part (use text, and image_url in user messages)",
                )
    if len(urls) > config.limits.max_images:
        raise ApiError(
            413,
            f"{len(urls)} images, over the limit of {config.limits.max_images} per request",
            "request_too_large",
        )
    images = await asyncio.gather(
        *(image_from_url(u, config.limits, f"image {k + 1}") for k, u in enumerate(urls))
    )
    prompt = "\n".join(texts)
    return GenRequest(prompt, list(images), "\n".join(system), task=task_of(prompt))


# ---- the app ---------------------------------------------------------------------------------------
def create_app(backend: Backend, config: ServeConfig | None = None) -> FastAPI:
    """Build the FastAPI app around a backend.

    Example:
        >>> import uvicorn                                                    # doctest: +SKIP
        >>> from hyocr.engine.backends import load_engine                     # doctest: +SKIP
        >>> from hyocr.serve.backends import NativeBackend                    # doctest: +SKIP
        >>> app = create_app(NativeBackend(load_engine("DIR"), "hyocr"))      # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)                     # doctest: +SKIP
    """
    config = config or ServeConfig(model_name=backend.name)
    http = HttpMetrics()
    created = int(time.time())

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        start = getattr(backend, "start", None)
        if start is not None:
            await start()
        yield
        await backend.aclose()

    app = FastAPI(title="hyocr", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.backend, app.state.config, app.state.metrics = backend, config, http
    app.add_middleware(Guard, config=config, metrics=http)

    # ---- errors: one line, never a traceback ----
    @app.exception_handler(ApiError)
    async def _api_error(_req, exc: ApiError):
        return _error(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(_BodyTooLarge)
    async def _too_large(_req, _exc):
        return _error(
            413, f"request body over the limit of {config.max_request_bytes:,} bytes", "request_too_large"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req, exc: StarletteHTTPException):
        return _error(
            exc.status_code,
            str(exc.detail).splitlines()[0] if exc.detail else "error",
            "invalid_request_error",
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_req, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def _internal(_req, exc: Exception):
        log.error("internal error", exc_info=exc)
        return _error(500, "internal error", "server_error")

    def _as_api_error(exc: BaseException) -> ApiError:
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, QueueFull):
            retry = exc.retry_after
            status = 503 if "shutting down" in str(exc) else 429
            return ApiError(
                status,
                str(exc),
                "rate_limit_error" if status == 429 else "server_busy",
                {"Retry-After": str(retry)},
            )
        if isinstance(exc, PixelBudgetError):
            return ApiError(413, str(exc), "request_too_large")
        if isinstance(exc, UpstreamError):
            return ApiError(
                exc.status, str(exc), "upstream_error" if exc.status >= 500 else "invalid_request_error"
            )
        if isinstance(exc, (HyocrError, InputError, ValueError)):
            return ApiError(400, str(exc).splitlines()[0] if str(exc) else "invalid input")
        if isinstance(exc, TimeoutError):
            return ApiError(504, f"request timed out (limit {config.timeout:g} s)", "timeout")
        raise exc

    async def _guarded(request: Request, coro):
        """Run `coro`, cancelling it if the client disconnects; map expected failures to ApiError."""
        task = asyncio.ensure_future(asyncio.wait_for(coro, config.timeout + 5))

        async def disconnected() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(disconnected())
        try:
            done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
        if task not in done:
            task.cancel()
            raise ClientGone()
        try:
            return task.result()
        except Exception as exc:
            raise _as_api_error(exc) from None

    @app.exception_handler(ClientGone)
    async def _gone(_req, _exc):
        return _error(499, "client closed the request", "cancelled")

    async def _json_body(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None

    # ---- pages and probes ----
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(
            WEB_DIR / "index.html",
            headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"},
        )

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/health")
    async def health():
        return {"status": "ok", "backend": backend.kind, "model": backend.name}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(render_metrics(http, backend), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models():
        return {
            "object": "list",
            "data": [{"id": backend.name, "object": "model", "created": created, "owned_by": "hyocr"}],
        }

    @app.get("/v1/tasks")
    async def tasks():
        return {
            "tasks": list(TASKS),
            "languages": list(LANGUAGES),
            "translation_targets": list(TRANSLATION_TARGETS),
        }

    # ---- OpenAI chat completions ----
    def _choice_extra(c: Completion) -> dict:
        return {
            "finish_reason": c.finish_reason,
            "repetition_cut": c.repetition_cut,
            "image_sizes": c.image_sizes,
        }

    def _openai_reason(reason: str) -> str:
        return "stop" if reason == "stop" else "length"

    def _usage(c: Completion) -> dict:
        return {
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens,
        }

    def _usage_of(completions) -> dict:
        """The usage of several readings made for one answer, summed."""
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for c in completions:
            for key, v in _usage(c).items():
                usage[key] += v
        return usage

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        params = sampling_from_body(body, config)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be true or false")
        opts = body.get("stream_options") or {}
        include_usage = bool(opts.get("include_usage")) if isinstance(opts, dict) else False
        rid = "chatcmpl-" + uuid.uuid4().hex
        now = int(time.time())
        try:
            req = await chat_request(body, config)
        except ApiError:
            raise
        except Exception as exc:
            raise _as_api_error(exc) from None
        if not stream:
            done: Completion = await _guarded(request, backend.generate(req, params, config.timeout))
            return {
                "id": rid,
                "object": "chat.completion",
                "created": now,
                "model": backend.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": done.text},
                        "logprobs": None,
                        "finish_reason": _openai_reason(done.finish_reason),
                        "hyocr": _choice_extra(done),
                    }
                ],
                "usage": _usage(done),
            }
        pieces = backend.stream(req, params, config.timeout)
        # wait for the first piece before answering, so refusals (bad image, queue full) keep their status
        first = await _guarded(request, pieces.__anext__())

        def chunk(delta: dict, reason: str | None = None, extra: dict | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            if extra:
                choice["hyocr"] = extra
            data = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": now,
                "model": backend.name,
                "choices": [choice],
            }
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        async def events() -> AsyncIterator[str]:
            try:
                yield chunk({"role": "assistant", "content": ""})
                item = first
                while True:
                    if isinstance(item, Completion):
                        yield chunk({}, _openai_reason(item.finish_reason), _choice_extra(item))
                        if include_usage:
                            data = {
                                "id": rid,
                                "object": "chat.completion.chunk",
                                "created": now,
                                "model": backend.name,
                                "choices": [],
                                "usage": _usage(item),
                            }
                            yield f"data: {json.dumps(data)}\n\n"
                        yield "data: [DONE]\n\n"
                        return
                    yield chunk({"content": item})
                    item = await pieces.__anext__()
            except Exception as exc:  # mid-stream failure: one error event, then the end
                try:
                    err = _as_api_error(exc)
                    payload = {"error": {"message": err.message, "type": err.kind, "code": err.status}}
                except Exception:
                    log.exception("stream failed")
                    payload = {"error": {"message": "internal error", "type": "server_error", "code": 500}}
                yield f"data: {json.dumps(payload)}\n\n"
            finally:
                await pieces.aclose()

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    # ---- task endpoints ----
    @app.post("/v1/ocr/{task}")
    async def ocr(task: str, request: Request):
        if task not in TASKS:
            raise ApiError(404, f"unknown task '{task}' (choose from {', '.join(TASKS)})", "not_found_error")
        try:
            form = await request.form(max_files=1, max_fields=32)
        except _BodyTooLarge:
            raise
        except Exception:
            raise ApiError(400, "expected a multipart/form-data upload with a 'file' field") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "missing the uploaded 'file' (an image or a PDF)")
        data = await upload.read()
        name = upload.filename or "upload"
        opts = {k: v for k, v in form.items() if isinstance(v, str)}
        lang = opts.get("lang", "en")
        fields = opts.get("fields")
        field_list = None
        if fields:
            try:
                field_list = json.loads(fields) if fields.strip().startswith("[") else fields.split(",")
            except ValueError:
                raise ApiError(400, "'fields' must be comma-separated names or a JSON list") from None
            if not isinstance(field_list, list) or not all(isinstance(f, str) for f in field_list):
                raise ApiError(400, "'fields' must be comma-separated names or a JSON list")
            field_list = [f.strip() for f in field_list if f.strip()]
        try:
            text = instruction(
                task,
                lang,
                key=opts.get("key"),
                fields=field_list,
                target=opts.get("target"),
                question=opts.get("question"),
            )
            params = sampling_from_body(
                {"max_tokens": int(opts["max_tokens"])} if opts.get("max_tokens") else {}, config
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if not data:
            raise ApiError(400, f"{name}: file is empty")
        pdf = is_pdf(data)
        try:
            images = await asyncio.to_thread(
                pdf_pages if pdf else (lambda d, lim, n: [decode_image(d, lim, n)]), data, config.limits, name
            )
        except Exception as exc:
            raise _as_api_error(exc) from None

        engine = getattr(backend, "engine", None)
        model_cfg = getattr(engine, "cfg", None)
        formula_cfg = engine.for_task("formula").cfg if engine is not None else None
        by_segment = segmenting(config.segment, task, getattr(model_cfg, "reads", "page"))
        width = asyncio.Semaphore(max(1, getattr(backend, "max_batch", 8)))  # never flood the queue
        line_text, formula_text = instruction("text", lang), instruction("formula", lang)
        formulas = reads_formulas(task, formula_cfg)

        async def read_segment(crop) -> Completion:
            async with width:
                return await backend.generate(GenRequest(line_text, [crop]), params, config.timeout)

        async def formula_views_read(image, first: Completion, p: SamplingParams) -> list[Completion]:
            # an unsure (greedy or beamed) formula reading read again in the formula reader's
            # `formula_views` (api.OCR._formulas_again): every reading made, the first first (the
            # surest is kept)
            views = formula_views(formula_cfg)
            if not views or p.temperature > 0 or not formula_rereading(first.logprobs, config.formula_again):
                return [first]

            async def read(height: int, widen: float) -> Completion:
                view = widened(image, widen) if widen != 1.0 else image
                async with width:
                    return await backend.generate(
                        GenRequest(formula_text, [view], task="formula", height=height), p, config.timeout
                    )

            return [first, *await asyncio.gather(*(read(h, w) for h, w in views))]

        async def read_formula(crop) -> Completion:
            # a candidate formula of a page, within its token budget, read once (as api.OCR._formulas)
            limited = formula_params(params, crop, formula_cfg)
            async with width:
                return await backend.generate(
                    GenRequest(formula_text, [crop], task="formula"), limited, config.timeout
                )

        # greedy readings only are read again with beams (sampled ones cannot be searched, beamed ones
        # were), and only by a backend that searches
        searched = (params.num_beams or 1) > 1
        beams = None if params.temperature > 0 or searched or not backend.beams else config.reread_beams

        async def reread(
            crop,
            first: Completion,
            task: str = "",
            floor: float | None = None,
            widen: float | None = None,
            under: float | None = None,
        ) -> list[Completion]:
            # an unsure reading (under reread and `under` if given, not under `floor`, default the drop
            # score) is read again by `task`'s reader with beam search: every reading made
            floor = config.drop_score if floor is None else floor
            sure = config.reread if under is None else min(config.reread, under)
            if beams is None or not rereading(first.logprobs, floor, sure):
                return [first]
            # with beams, and (unless `widen`, default reread_widen, is 1) greedily widened, side by side
            views = [(crop, replace(params, num_beams=beams))]
            widen = config.reread_widen if widen is None else widen
            if widen != 1.0:
                views.append((widened(crop, widen), params))

            async def read(view, p) -> Completion:
                async with width:
                    return await backend.generate(GenRequest(line_text, [view], task=task), p, config.timeout)

            return [first, *await asyncio.gather(*(read(v, p) for v, p in views))]

        chinese = getattr(engine, "zh", None) is not None and config.zh_reread > 0

        async def read_zh(crop) -> Completion:
            async with width:
                return await backend.generate(
                    GenRequest(line_text, [crop], task=ZH_TASK), params, config.timeout
                )

        async def read_chinese(crop, best: Completion, made: Completion | None) -> Completion | None:
            # a segment still read unsurely is read by the Chinese reader too, if the model has one
            # (unless it was: `made`)
            if not chinese or not zh_rereading(best.logprobs, config.zh_reread):
                return None
            return made if made is not None else await read_zh(crop)

        async def first_readings(crops) -> tuple[list[Completion], dict[int, Completion], set[int], bool]:
            # a page of more than ZH_PROBE crops is probed first (api.OCR._first_readings, alike):
            # if its probe crops read as Chinese, its other crops are read by the Chinese reader
            # first, and those it reads as mostly Chinese are settled (no line reading)
            probe = probe_crops(crops, config.zh_probe) if chinese else []
            outs: dict[int, Completion] = dict(
                zip(probe, await asyncio.gather(*(read_segment(crops[i]) for i in probe)), strict=True)
            )
            ask = [i for i in probe if probe_asking(outs[i].logprobs, config.zh_reread)]
            zh = dict(zip(ask, await asyncio.gather(*(read_zh(crops[i]) for i in ask)), strict=True))
            zh_page = chinese_page(
                [i in zh and chinese_kept(outs[i], zh[i], config.drop_score) for i in probe]
            )
            rest = [i for i in range(len(crops)) if zh_page and i not in outs]
            zh |= dict(zip(rest, await asyncio.gather(*(read_zh(crops[i]) for i in rest)), strict=True))
            settled = {i for i in rest if mostly_chinese(zh[i].text)}
            lines = [i for i in range(len(crops)) if i not in outs and i not in settled]
            outs |= dict(
                zip(lines, await asyncio.gather(*(read_segment(crops[i]) for i in lines)), strict=True)
            )
            return [zh[i] if i in settled else outs[i] for i in range(len(crops))], zh, settled, zh_page

        # a segment read again keeps its image features from its first reading (the line reader's and
        # the Chinese reader's each: `Engine.keeping_features`)
        keeping = getattr(engine, "keeping_features", None) if beams and config.reread > 0 else None

        async def by_segments(k: int, img) -> dict:
            with contextlib.ExitStack() as held:
                return await read_page(k, img, held)

        async def read_page(k: int, img, held: contextlib.ExitStack) -> dict:
            t0 = time.perf_counter()
            segs, crops, owner, fboxes, fcrops = await asyncio.to_thread(
                page_plan, task, img, config.piece_aspect, formulas
            )
            if keeping is not None:
                held.enter_context(keeping(crops))
            # the document task reads its candidate formulas beside the lines; text and spotting
            # read only those whose rows the lines left unsure (`formulas_worth_reading`), after
            # them and beside the unsure segments' second reading: that only ever keeps a surer
            # reading, so it could only rule candidates out, as `assemble` does on the final answers
            beside = task == "document"
            (outs, made, settled, zh_page), fouts = await asyncio.gather(
                first_readings(crops),
                asyncio.gather(*(read_formula(c) for c in (fcrops if beside else []))),
            )
            once = joined([SegmentAnswer.of(c, CUT_SHORT) for c in outs], owner, len(segs), crops)
            # every one for the document task
            worth = formulas_worth_reading(task, fboxes, segs, once, zh_page)
            tried, later = await asyncio.gather(
                asyncio.gather(
                    *(
                        reread(c, o) if i not in settled else asyncio.sleep(0, [o])
                        for i, (c, o) in enumerate(zip(crops, outs, strict=True))
                    )
                ),
                asyncio.gather(*(read_formula(fcrops[k]) for k in ([] if beside else worth))),
            )
            outs = [surest(t) for t in tried]
            zh = await asyncio.gather(
                *(
                    read_chinese(c, o, made.get(i)) if i not in settled else asyncio.sleep(0, None)
                    for i, (c, o) in enumerate(zip(crops, outs, strict=True))
                )
            )
            outs = [
                z if z is not None and reading_kept(o, z, config.drop_score) else o
                for o, z in zip(outs, zh, strict=True)
            ]
            # the Chinese reader's readings under zh_again read again by it, with beams as the line reader's
            # were (widened ZH_AGAIN_WIDEN times), those under `zh_again_floor` aside (api.OCR._chinese_again,
            # alike)
            chinese = [i for i, (o, z) in enumerate(zip(outs, zh, strict=True)) if i in settled or o is z]
            tried_zh = await asyncio.gather(
                *(
                    reread(
                        crops[i],
                        outs[i],
                        ZH_TASK,
                        zh_again_floor(outs[i].text, config.drop_score),
                        ZH_AGAIN_WIDEN,
                        config.zh_again,
                    )
                    for i in chinese
                )
            )
            for i, t in zip(chinese, tried_zh, strict=True):
                outs[i] = zh_again_kept(t[0], surest(t))
            fouts = fouts if beside else later
            # every reading made, for the usage: the line reader's (none of a settled crop's) and
            # the Chinese reader's, each once
            spent = (
                [c for i, t in enumerate(tried) if i not in settled for c in t]
                + list(made.values())
                + [z for i, z in enumerate(zh) if z is not None and i not in made]
                + [c for t in tried_zh for c in t[1:]]
                + list(fouts)
            )
            answers = joined([SegmentAnswer.of(c, CUT_SHORT) for c in outs], owner, len(segs), crops)
            typed = assemble(
                task,
                img.size,
                segs,
                answers,
                seconds=time.perf_counter() - t0,
                source=f"{name}#page={k + 1}" if pdf else name,
                drop_score=config.drop_score,
                fields=field_list,
                key=opts.get("key"),
                formulas=[
                    (fboxes[k], SegmentAnswer.of(c, CUT_SHORT)) for k, c in zip(worth, fouts, strict=True)
                ],
            ).to_dict()
            usage = _usage_of(spent)
            finish = "length" if any(a.truncated for a in answers) else "stop"
            typed.update(page=k + 1 if pdf else None, finish_reason=finish, usage=usage)
            return typed

        async def one(k: int, img) -> dict:
            if by_segment:
                return await by_segments(k, img)
            c = await backend.generate(GenRequest(text, [img], task=task), params, config.timeout)
            readings = [c]
            if task == "formula":
                readings = await formula_views_read(img, c, params)
                c = surest(readings)
            conf = None
            if task == "spotting" and backend.ref_ids and c.token_ids:
                conf = spotting_confidences(c.token_ids, c.logprobs, *backend.ref_ids)
            typed = parse_answer(
                task,
                c.text,
                width=img.width,
                height=img.height,
                fields=field_list,
                key=opts.get("key"),
                target=opts.get("target"),
                question=opts.get("question"),
                confidences=conf,
                repetition_cut=c.repetition_cut,
                truncated=c.finish_reason in CUT_SHORT,
                seconds=c.seconds,
                source=f"{name}#page={k + 1}" if pdf else name,
            ).to_dict()
            typed.update(
                page=k + 1 if pdf else None, finish_reason=c.finish_reason, usage=_usage_of(readings)
            )
            return typed

        async def all_pages() -> list[dict]:
            return await asyncio.gather(*(one(k, im) for k, im in enumerate(images)))

        results = await _guarded(request, all_pages())
        out: dict[str, Any] = {
            "task": task,
            "model": backend.name,
            "instruction": text,
            "filename": name,
            "results": list(results),
        }
        if pdf and opts.get("return_images") in ("1", "true", "yes"):
            out["images"] = await asyncio.to_thread(lambda: [_jpeg_data_uri(im) for im in images])
        return out

    return app


def _jpeg_data_uri(img) -> str:
    """A page image for the web page's overlay (JPEG keeps PDF pages small)."""
    import base64
    import io

    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
