"""Where the server's answers come from: the native engine, an OpenAI-compatible upstream, or vLLM.

Every backend offers the same three coroutines to the HTTP layer (app.py), so the chat endpoint,
the task endpoints and the web page work unchanged over any of them:
- `generate(request, params, timeout)` -> `Completion`;
- `stream(request, params, timeout)` -> async iterator of text pieces, then one `Completion`;
- `metrics()` -> Prometheus samples.
Cancellation is plain asyncio cancellation: the HTTP layer cancels the awaiting task when the
client goes away, and each backend turns that into dropping the work (the native scheduler drops
the row before its next decode step; the upstream backend closes its HTTP request).

- `NativeBackend`: hyocr's own engine behind `batching.Scheduler` (continuous batching).
  Images are pre-processed on a worker thread before queuing, so a bad image fails its own request
  only and never occupies a batch slot.
- `OpenAIUpstreamBackend` (`--backend openai --upstream URL`): forwards to any server speaking
  `/v1/chat/completions` (e.g. `vllm serve tencent/HunyuanOCR`, or another hyocr). Images go as PNG
  data URIs, built from the already validated image, so our size limits apply in front of it.
  Upstream 4xx answers pass through as 4xx; transport failures and upstream 5xx become 502.
- `VLLMBackend` (`--backend vllm`): vLLM's offline `LLM.chat` (which renders the release's own chat
  template) on a worker thread, requests arriving within a few ms batched into one call. vLLM is
  imported only when this backend is chosen. Not exercised here (no GPU on the development
  machines): only its missing-package error is tested.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from PIL import Image

from hyocr.engine.generate import Generation, Request, SamplingParams
from hyocr.errors import HyocrError, InputError, ModelLoadError

__all__ = [
    "Completion",
    "UpstreamError",
    "Backend",
    "NativeBackend",
    "OpenAIUpstreamBackend",
    "VLLMBackend",
    "BACKENDS",
]

log = logging.getLogger("hyocr.serve")

BACKENDS = ("native", "openai", "vllm")

# (name, type, help, value, labels)
Sample = tuple[str, str, str, float, dict[str, str]]


@dataclass
class Completion:
    """A backend's answer to one request, whatever produced it."""

    text: str
    finish_reason: str  # "stop" | "length" | "repetition" (native only)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repetition_cut: bool = False
    image_sizes: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    token_ids: list[int] = field(default_factory=list)  # native only (spotting confidences)
    logprobs: list[float] = field(default_factory=list)

    @classmethod
    def from_generation(cls, g: Generation) -> Completion:
        return cls(
            g.text,
            g.finish_reason,
            g.prompt_tokens,
            len(g.token_ids),
            g.repetition_cut,
            g.image_sizes,
            g.seconds,
            g.token_ids,
            g.logprobs,
        )


class UpstreamError(HyocrError):
    """An upstream server refused (status < 500: passed on) or failed (502)."""

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.status = status


class Backend:
    """The interface app.py uses; see the module docstring."""

    name: str = "hyocr"
    kind: str = "native"
    max_batch: int = 1
    #: token ids of <ref>/</ref> when the backend returns token ids (spotting confidences)
    ref_ids: tuple[int, int] | None = None
    #: whether it takes beam search (`num_beams` above 1)
    beams: bool = True

    async def generate(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> Completion:
        raise NotImplementedError

    def stream(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> AsyncIterator[str | Completion]:
        raise NotImplementedError

    def metrics(self) -> list[Sample]:
        return []

    def retry_after(self) -> int:
        return 1

    async def aclose(self) -> None:
        return None


def _sizes(images) -> list[dict]:
    return [{"width": im.width, "height": im.height} for im in images if isinstance(im, Image.Image)]


# ---- native ------------------------------------------------------------------------------------
class NativeBackend(Backend):
    kind = "native"

    def __init__(
        self,
        engine,
        name: str,
        *,
        mode: str = "continuous",
        max_batch: int = 16,
        max_queue: int = 64,
        window_ms: float = 5.0,
        threads: int | None = None,
    ):
        from hyocr.serve.batching import Scheduler

        self.engine = engine
        self.name = name
        # one scheduler a model: the engine's, and its formula and Chinese readers' if it has them
        # (`for_task`, `Engine.readers`)
        engines = getattr(engine, "readers", [engine])
        self.schedulers = {
            id(e): Scheduler(
                e, mode=mode, max_batch=max_batch, max_queue=max_queue, window_ms=window_ms, threads=threads
            )
            for e in engines
        }
        self.scheduler = self.schedulers[id(engine)]
        self.max_batch = self.scheduler.max_batch
        ids = engine.tok.ids
        self.ref_ids = (
            (ids["ref_open"], ids["ref_close"]) if "ref_open" in ids and "ref_close" in ids else None
        )

    async def _submit(
        self, request: Request, params: SamplingParams, timeout: float | None, sink_factory, stream: bool
    ):
        engine = self.engine.for_task(request.task)
        prepared = await asyncio.to_thread(engine.prepare, request)
        return self.schedulers[id(engine)].submit(
            prepared, params, sink_factory(), timeout=timeout, stream=stream
        )

    async def generate(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> Completion:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def resolve(kind: str, payload: Any) -> None:
            if fut.done() or kind == "tokens":
                return
            if kind == "done":
                fut.set_result(payload)
            else:
                fut.set_exception(payload)

        def sink_factory():
            return lambda kind, payload: loop.call_soon_threadsafe(resolve, kind, payload)

        job = await self._submit(request, params, timeout, sink_factory, stream=False)
        try:
            return Completion.from_generation(await fut)
        finally:
            job.cancel()  # no effect once finished; drops the row when the caller went away

    async def stream(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> AsyncIterator[str | Completion]:
        """Incremental detokenisation as vLLM does it: decode a short window of recent ids and emit
        what grew, holding back text that ends in an incomplete UTF-8 sequence."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def sink_factory():
            return lambda kind, payload: loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

        job = await self._submit(request, params, timeout, sink_factory, stream=True)
        tok = self.engine.for_task(request.task).tok
        ids: list[int] = []
        emitted = ""
        prefix, read = 0, 0
        try:
            while True:
                kind, payload = await queue.get()
                if kind == "tokens":
                    ids += payload
                    before = tok.decode(ids[prefix:read])
                    now = tok.decode(ids[prefix:])
                    if len(now) > len(before) and not now.endswith("\ufffd"):
                        piece = now[len(before) :]
                        emitted += piece
                        prefix, read = read, len(ids)
                        yield piece
                elif kind == "done":
                    final: Generation = payload
                    if final.text.startswith(emitted) and len(final.text) > len(emitted):
                        yield final.text[len(emitted) :]
                    yield Completion.from_generation(final)
                    return
                else:
                    raise payload
        finally:
            job.cancel()

    def retry_after(self) -> int:
        return max(s.retry_after() for s in self.schedulers.values())

    def metrics(self) -> list[Sample]:
        """The schedulers' figures summed (the model's and its formula and Chinese readers'; the KV
        cache peak is then the sum of each one's own peak, an upper bound of them together)."""
        from hyocr.serve.batching import SchedulerStats

        scheds = list(self.schedulers.values())
        s = SchedulerStats(
            **{f.name: sum(getattr(x.stats, f.name) for x in scheds) for f in fields(SchedulerStats)}
        )
        queued = sum(x.queued for x in scheds)
        return [
            (
                "hyocr_model_memory_bytes",
                "gauge",
                "Bytes of model weights and buffers.",
                sum(x.model_bytes() for x in scheds),
                {},
            ),
            (
                "hyocr_kv_cache_memory_bytes",
                "gauge",
                "Bytes of KV cache held by the running batch now.",
                s.kv_cache_bytes,
                {},
            ),
            (
                "hyocr_kv_cache_memory_peak_bytes",
                "gauge",
                "Largest KV cache held since start.",
                s.kv_cache_peak_bytes,
                {},
            ),
            ("hyocr_queue_depth", "gauge", "Requests waiting for a batch slot.", queued, {}),
            ("hyocr_active_sequences", "gauge", "Requests decoding in the running batch.", s.active, {}),
            ("hyocr_max_batch", "gauge", "Batch size limit.", self.max_batch, {}),
            ("hyocr_prefills_total", "counter", "Prefill forward passes.", s.prefills, {}),
            ("hyocr_prefill_rows_total", "counter", "Requests prefilled.", s.prefill_rows, {}),
            ("hyocr_decode_steps_total", "counter", "Decode forward passes.", s.decode_steps, {}),
            (
                "hyocr_decode_rows_total",
                "counter",
                "Sum of batch sizes over decode steps.",
                s.decode_rows,
                {},
            ),
            ("hyocr_prompt_tokens_total", "counter", "Prompt tokens prefilled.", s.prompt_tokens, {}),
            ("hyocr_generated_tokens_total", "counter", "Tokens generated.", s.generated_tokens, {}),
            (
                "hyocr_sequences_finished_total",
                "counter",
                "Requests that finished generating.",
                s.finished,
                {},
            ),
            (
                "hyocr_sequences_cancelled_total",
                "counter",
                "Requests dropped after the client went away.",
                s.cancelled,
                {},
            ),
            (
                "hyocr_sequences_timed_out_total",
                "counter",
                "Requests dropped at their deadline.",
                s.timed_out,
                {},
            ),
            (
                "hyocr_queue_rejected_total",
                "counter",
                "Requests refused because the queue was full.",
                s.rejected,
                {},
            ),
            (
                "hyocr_engine_busy_seconds_total",
                "counter",
                "Seconds the engine spent computing.",
                s.busy_seconds,
                {},
            ),
        ]

    async def aclose(self) -> None:
        for sched in self.schedulers.values():
            await asyncio.to_thread(sched.close)


# ---- any OpenAI-compatible server -------------------------------------------------------------
def _png_data_uri(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _messages(request: Request) -> list[dict]:
    content: list[dict] = [
        {"type": "image_url", "image_url": {"url": _png_data_uri(im)}} for im in request.images
    ]
    content.append({"type": "text", "text": request.instruction})
    msgs = [{"role": "system", "content": request.system}] if request.system else []
    return msgs + [{"role": "user", "content": content}]


def _sampling_body(params: SamplingParams) -> dict:
    body: dict[str, Any] = {
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
    }
    if params.top_k:
        body["top_k"] = params.top_k
    if params.repetition_penalty != 1.0:
        body["repetition_penalty"] = params.repetition_penalty
    if params.seed is not None:
        body["seed"] = params.seed
    if params.ignore_eos:
        body["ignore_eos"] = True
    # hyocr's own server understands these; other servers may not
    if params.num_beams is not None:
        body["num_beams"] = params.num_beams
    if params.length_penalty is not None:
        body["length_penalty"] = params.length_penalty
    return body


class OpenAIUpstreamBackend(Backend):
    kind = "openai"

    def __init__(
        self,
        upstream: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 64,
    ):
        import httpx

        base = upstream.rstrip("/")
        self.base = base if base.endswith("/v1") else base + "/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=self.base,
            headers=headers,
            timeout=httpx.Timeout(None, connect=10.0),
            trust_env=False,
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self.name = model or ""
        self.max_batch = max_concurrency
        self.forwarded = 0
        self.failures = 0

    async def start(self) -> None:
        """Learn the upstream's model name when none was given (its first model)."""
        if self.name:
            return
        data = await self._json("GET", "/models")
        models = data.get("data") or []
        if not models:
            raise UpstreamError("the upstream server lists no models")
        self.name = str(models[0].get("id"))

    async def _json(
        self, method: str, path: str, body: dict | None = None, timeout: float | None = None
    ) -> dict:
        import httpx

        try:
            resp = await self.client.request(method, path, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            self.failures += 1
            raise UpstreamError(f"upstream unreachable ({type(exc).__name__})") from None
        if resp.status_code >= 400:
            self.failures += 1
            raise UpstreamError(
                _upstream_message(resp.status_code, resp.content),
                resp.status_code if resp.status_code < 500 else 502,
            )
        try:
            return resp.json()
        except ValueError:
            self.failures += 1
            raise UpstreamError("upstream answered with invalid JSON") from None

    async def generate(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> Completion:
        t0 = time.perf_counter()
        body = {
            "model": self.name,
            "messages": await asyncio.to_thread(_messages, request),
            **_sampling_body(params),
        }
        self.forwarded += 1
        data = await self._json("POST", "/chat/completions", body, timeout)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
        except (KeyError, IndexError, TypeError):
            self.failures += 1
            raise UpstreamError("upstream answer has no choices[0].message.content") from None
        return Completion(
            text,
            (choice.get("hyocr") or {}).get("finish_reason") or choice.get("finish_reason") or "stop",
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            bool((choice.get("hyocr") or {}).get("repetition_cut")),
            _sizes(request.images),
            time.perf_counter() - t0,
        )

    async def stream(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> AsyncIterator[str | Completion]:
        import httpx

        t0 = time.perf_counter()
        body = {
            "model": self.name,
            "messages": await asyncio.to_thread(_messages, request),
            "stream": True,
            "stream_options": {"include_usage": True},
            **_sampling_body(params),
        }
        self.forwarded += 1
        parts: list[str] = []
        reason, usage = "stop", {}
        try:
            async with self.client.stream("POST", "/chat/completions", json=body, timeout=timeout) as resp:
                if resp.status_code >= 400:
                    self.failures += 1
                    content = await resp.aread()
                    raise UpstreamError(
                        _upstream_message(resp.status_code, content),
                        resp.status_code if resp.status_code < 500 else 502,
                    )
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            parts.append(piece)
                            yield piece
                        if choice.get("finish_reason"):
                            reason = choice["finish_reason"]
        except httpx.HTTPError as exc:
            self.failures += 1
            raise UpstreamError(f"upstream stream failed ({type(exc).__name__})") from None
        yield Completion(
            "".join(parts),
            reason,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            False,
            _sizes(request.images),
            time.perf_counter() - t0,
        )

    def metrics(self) -> list[Sample]:
        return [
            (
                "hyocr_upstream_requests_total",
                "counter",
                "Requests forwarded to the upstream server.",
                self.forwarded,
                {},
            ),
            (
                "hyocr_upstream_failures_total",
                "counter",
                "Upstream requests that failed or were refused.",
                self.failures,
                {},
            ),
        ]

    async def aclose(self) -> None:
        await self.client.aclose()


def _upstream_message(status: int, content: bytes) -> str:
    """One line from an upstream error body (OpenAI's {"error": {"message": ...}} when present)."""
    msg = ""
    try:
        data = json.loads(content)
        err = data.get("error") if isinstance(data, dict) else None
        msg = (err.get("message") if isinstance(err, dict) else err) or data.get("detail") or ""
    except (ValueError, AttributeError):
        pass
    msg = str(msg).splitlines()[0][:300] if msg else ""
    return (
        f"upstream refused the request (HTTP {status}): {msg}" if msg else f"upstream answered HTTP {status}"
    )


# ---- vLLM ----------------------------------------------------------------------------------------
class VLLMBackend(Backend):
    kind = "vllm"
    beams = False

    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str,
        max_batch: int = 16,
        max_images: int = 8,
        window_ms: float = 10.0,
        **engine_kw,
    ):
        local = Path(model_dir) / "config.json"
        if local.is_file():
            from hyocr.config import load_config

            cfg = load_config(model_dir)
            if cfg.stretch != 1.0 or cfg.line_height:
                how = (
                    f"widened {cfg.stretch:g}x (its config's stretch)"
                    if cfg.stretch != 1.0
                    else f"scaled to {cfg.line_height} px tall (its config's line_height)"
                )
                raise ModelLoadError(
                    f"--backend vllm cannot serve {model_dir}: it reads images {how}, which vLLM's "
                    "image processor does not do; use --backend native"
                )
        try:
            import vllm
        except ImportError:
            raise ModelLoadError(
                "--backend vllm needs the 'vllm' package, which is not installed (pip install vllm, on a machine with a GPU)"
            ) from None
        self._vllm = vllm
        self.name = name
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.llm = vllm.LLM(model=str(model_dir), limit_mm_per_prompt={"image": max_images}, **engine_kw)
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self.calls = 0
        self.requests = 0

    def _sampling(self, params: SamplingParams):
        if (params.num_beams or 1) > 1:
            raise InputError("beam search ('num_beams' above 1) is not offered by the vllm backend")
        return self._vllm.SamplingParams(
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k or -1,
            repetition_penalty=params.repetition_penalty,
            seed=params.seed,
            ignore_eos=params.ignore_eos,
        )

    async def _batcher(self) -> None:
        """Collect requests arriving within `window` and run them as one `LLM.chat` call."""
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            end = time.monotonic() + self.window
            while len(items) < self.max_batch and (left := end - time.monotonic()) > 0:
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            items = [it for it in items if not it[2].done()]
            if not items:
                continue
            convs = [it[0] for it in items]
            sps = [it[1] for it in items]
            self.calls += 1
            self.requests += len(items)
            try:
                outs = await asyncio.to_thread(self.llm.chat, convs, sps, use_tqdm=False)
            except Exception as exc:  # a failed call fails its requests, not the server
                log.exception("vLLM call failed")
                for it in items:
                    if not it[2].done():
                        it[2].set_exception(UpstreamError(f"vLLM failed ({type(exc).__name__})"))
                continue
            for it, out in zip(items, outs, strict=True):
                if not it[2].done():
                    it[2].set_result(out)

    async def generate(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> Completion:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._batcher())
        t0 = time.perf_counter()
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((await asyncio.to_thread(_messages, request), self._sampling(params), fut))
        out = await asyncio.wait_for(fut, timeout)
        o = out.outputs[0]
        return Completion(
            o.text,
            o.finish_reason or "stop",
            len(out.prompt_token_ids or []),
            len(o.token_ids or []),
            False,
            _sizes(request.images),
            time.perf_counter() - t0,
        )

    async def stream(
        self, request: Request, params: SamplingParams, timeout: float | None = None
    ) -> AsyncIterator[str | Completion]:
        """The offline engine has no token stream: the whole answer comes as one piece."""
        done = await self.generate(request, params, timeout)
        if done.text:
            yield done.text
        yield done

    def metrics(self) -> list[Sample]:
        return [
            ("hyocr_vllm_calls_total", "counter", "Batched LLM.chat calls.", self.calls, {}),
            ("hyocr_vllm_requests_total", "counter", "Requests sent to vLLM.", self.requests, {}),
        ]

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
