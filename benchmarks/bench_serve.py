"""Serving benchmark and soak: `hyocr serve` on loopback with a small random-weight model.

    python benchmarks/bench_serve.py                 # throughput/latency, batching on vs off
    python benchmarks/bench_serve.py --soak 3000     # a soak of mixed good and bad requests

Throughput: for batching `continuous` and `off`, a fresh `hyocr serve` subprocess; C concurrent
clients (1, 4, 16) each send chat completions with one small image and `max_tokens` fixed by
`ignore_eos`, so every request generates the same number of tokens. Each level sends until
`--requests` requests or `--seconds` seconds, whichever comes first; requests still in flight at
twice that time are abandoned ("cut"), so each level is bounded in count and time.
Printed: requests/s, generated tokens/s, p50/p99 latency, and the speed-up of batching at each level.

Soak (`--soak N`): one server (continuous batching, small limits), N requests from 16 clients in a
fixed mix: valid chat (plain and streaming), valid task uploads, malformed JSON, bad base64, files
that are not images, decompression bombs, oversize bodies, too many images, unknown tasks, and
clients that give up mid-request. Checks: no 5xx and every valid request answered 200, every bad
one a 4xx; the server still healthy at the end; resident memory sampled from /metrics along the way.

The model is the `hyocr-tiny` preset (or `--preset`) with random weights and a tokenizer trained
on the spot: speed depends on shapes, not on what the weights know. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

CORPUS = [
    "Extract the text in the image.",
    "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
    "TOTAL 12.50 CASH 20.00 CHANGE 7.50 receipt invoice date 2024-01-02 (x1,y1),(x2,y2)",
    "The quick brown fox jumps over the lazy dog. 0123456789",
] * 50


def make_model(preset: str, out: Path) -> Path:
    from hyocr.config import get_preset
    from hyocr.model.factory import config_for_tokenizer, init_model
    from hyocr.model.weights import save_model
    from hyocr.processing.tokenizer import train_tokenizer

    tok = train_tokenizer(CORPUS, vocab_size=600, min_frequency=1)
    cfg = config_for_tokenizer(get_preset(preset), tok)
    save_model(init_model(cfg, seed=0, std=0.2).eval(), out)
    tok.save(out)
    return out


def png(h: int, w: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(b: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(b).decode()


def chat(image: bytes | None, max_tokens: int, **kw) -> dict:
    content = ([{"type": "image_url", "image_url": {"url": data_uri(image)}}] if image else []) + [
        {"type": "text", "text": "Extract the text in the image."}
    ]
    return {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, **kw}


class Server:
    def __init__(self, model_dir: Path, *extra: str):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "hyocr.cli",
            "serve",
            "--model",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            *extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 90
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("server did not start within 90 s")

    def metrics(self) -> dict[str, float]:
        out = {}
        for line in httpx.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# ---- throughput ---------------------------------------------------------------------------------
async def load(
    url: str, clients: int, max_requests: int, seconds: float, max_tokens: int, image: bytes
) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    end = time.monotonic() + seconds
    body = chat(image, max_tokens, ignore_eos=True)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent, errors
        while sent < max_requests and time.monotonic() < end:
            sent += 1
            t0 = time.perf_counter()
            r = await http.post(url + "/v1/chat/completions", json=body)
            if r.status_code == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        tasks = [asyncio.create_task(client(http)) for _ in range(clients)]
        # hard bound: requests still in flight at 2x the level's time are abandoned (and cancelled
        # server-side when their connections close); throughput counts completed requests only
        _, pending = await asyncio.wait(tasks, timeout=2 * seconds)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    wall = time.perf_counter() - t0
    latencies.sort()
    n = len(latencies)
    return {
        "clients": clients,
        "requests": n,
        "errors": errors,
        "cut": len(pending),
        "seconds": wall,
        "rps": n / wall,
        "tok_s": n * max_tokens / wall,
        "p50": statistics.median(latencies) if n else float("nan"),
        "p99": latencies[min(n - 1, int(round(0.99 * (n - 1))))] if n else float("nan"),
    }


def bench(model_dir: Path, args) -> None:
    """Both servers stay up; at each level the two modes run back to back, so that load from other
    processes on a shared machine affects both sides alike."""
    image = png(args.image_size, args.image_size, 0)
    table: dict[tuple[str, int], dict] = {}
    common = (
        "--max-batch",
        "16",
        "--max-queue",
        "256",
        "--dtype",
        args.dtype,
        "--threads",
        str(args.threads),
    )
    servers = {mode: Server(model_dir, "--batching", mode, *common) for mode in ("continuous", "off")}
    try:
        for server in servers.values():
            asyncio.run(load(server.url, 2, 4, 30, args.max_tokens, image))  # warm-up
        for clients in args.clients:
            for mode, server in servers.items():
                m0 = server.metrics()
                r = asyncio.run(
                    load(server.url, clients, args.requests, args.seconds, args.max_tokens, image)
                )
                m1 = server.metrics()
                steps = m1["hyocr_decode_steps_total"] - m0["hyocr_decode_steps_total"]
                rows = m1["hyocr_decode_rows_total"] - m0["hyocr_decode_rows_total"]
                r["mean_batch"] = rows / steps if steps else 0.0
                r["busy"] = (
                    m1["hyocr_engine_busy_seconds_total"] - m0["hyocr_engine_busy_seconds_total"]
                ) / r["seconds"]
                r["prefills"] = m1["hyocr_prefills_total"] - m0["hyocr_prefills_total"]
                table[(mode, clients)] = r
                print(
                    f"  {mode:10s} clients={clients:2d}: {r['requests']:4d} req in {r['seconds']:5.1f} s  {r['rps']:6.2f} req/s  "
                    f"{r['tok_s']:7.1f} tok/s  p50 {r['p50'] * 1000:7.0f} ms  p99 {r['p99'] * 1000:7.0f} ms  "
                    f"mean decode batch {r['mean_batch']:.1f}  prefills {r['prefills']:.0f}  engine busy {r['busy']:.0%}  "
                    f"errors {r['errors']}  cut {r['cut']}",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.stop()
    print("\n| clients | batching | req/s | tok/s | p50 ms | p99 ms | mean batch | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for clients in args.clients:
        off = table[("off", clients)]
        for mode in ("continuous", "off"):
            r = table[(mode, clients)]
            up = r["rps"] / off["rps"] if off["rps"] else float("nan")
            print(
                f"| {clients} | {mode} | {r['rps']:.2f} | {r['tok_s']:.0f} | {r['p50'] * 1000:.0f} | {r['p99'] * 1000:.0f} | "
                f"{r['mean_batch']:.1f} | {up:.2f}x |"
            )


# ---- soak ----------------------------------------------------------------------------------------
def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


KINDS = {  # name -> (weight, valid?)
    "chat": (30, True),
    "chat_stream": (10, True),
    "ocr_upload": (10, True),
    "give_up": (4, True),
    "malformed_json": (8, False),
    "bad_base64": (6, False),
    "not_image": (6, False),
    "bomb": (6, False),
    "oversize": (4, False),
    "too_many_images": (4, False),
    "unknown_task": (6, False),
    "bad_params": (6, False),
}


async def soak(model_dir: Path, args) -> int:
    server = Server(
        model_dir,
        "--batching",
        "continuous",
        "--max-batch",
        "16",
        "--max-queue",
        "512",
        "--dtype",
        args.dtype,
        "--threads",
        str(args.threads),
        "--max-request-mb",
        "1",
        "--max-images",
        "4",
        "--max-new-tokens",
        "64",
        "--timeout",
        "120",
    )
    rng = random.Random(0)
    images = [png(64 + 32 * (k % 4), 64 + 16 * (k % 5), k) for k in range(8)]
    names, weights = zip(*((k, v[0]) for k, v in KINDS.items()), strict=True)
    plan = rng.choices(names, weights, k=args.soak)
    status: dict[str, Counter] = {k: Counter() for k in KINDS}
    rss: list[tuple[int, float]] = []
    done = 0
    t0 = time.perf_counter()

    slowest: dict[str, float] = Counter()

    async def one(http: httpx.AsyncClient, kind: str, k: int) -> None:
        t_start = time.perf_counter()
        try:
            await one_inner(http, kind, k)
        finally:
            slowest[kind] = max(slowest[kind], time.perf_counter() - t_start)

    async def one_inner(http: httpx.AsyncClient, kind: str, k: int) -> None:
        url = server.url
        img = images[k % len(images)]
        try:
            if kind == "chat":
                r = await http.post(url + "/v1/chat/completions", json=chat(img, rng.choice([2, 4, 8])))
            elif kind == "chat_stream":
                async with http.stream(
                    "POST", url + "/v1/chat/completions", json=chat(img, 8, stream=True)
                ) as r:
                    text = "".join([line async for line in r.aiter_lines()])
                    if r.status_code == 200 and not text.rstrip().endswith("[DONE]"):
                        status[kind]["stream-incomplete"] += 1
            elif kind == "ocr_upload":
                task = rng.choice(["text", "spotting", "document", "table"])
                r = await http.post(
                    url + f"/v1/ocr/{task}", files={"file": ("a.png", img)}, data={"max_tokens": "8"}
                )
            elif kind == "give_up":  # the client leaves before the answer: the server must cancel, not crash
                try:
                    await http.post(
                        url + "/v1/chat/completions",
                        json=chat(img, 64, ignore_eos=True, temperature=1.0),
                        timeout=0.05,
                    )
                    status[kind]["finished-anyway"] += 1
                except httpx.TimeoutException:
                    status[kind]["gave-up"] += 1
                return
            elif kind == "malformed_json":
                r = await http.post(
                    url + "/v1/chat/completions",
                    content=b'{"messages": [',
                    headers={"content-type": "application/json"},
                )
            elif kind == "bad_base64":
                r = await http.post(
                    url + "/v1/chat/completions",
                    json={
                        "messages": [
                            {
                                "role": "user",
                                "content": [
                                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}
                                ],
                            }
                        ]
                    },
                )
            elif kind == "not_image":
                r = await http.post(url + "/v1/ocr/text", files={"file": ("x.png", os.urandom(2000))})
            elif kind == "bomb":
                r = await http.post(url + "/v1/chat/completions", json=chat(bomb_png(50000, 50000), 4))
            elif kind == "oversize":
                r = await http.post(
                    url + "/v1/chat/completions",
                    content=b"{" + b" " * (1_200_000) + b"}",
                    headers={"content-type": "application/json"},
                )
            elif kind == "too_many_images":
                body = chat(images[0], 4)
                body["messages"][0]["content"] = body["messages"][0]["content"][:1] * 6
                r = await http.post(url + "/v1/chat/completions", json=body)
            elif kind == "unknown_task":
                r = await http.post(url + "/v1/ocr/ocr-everything", files={"file": ("a.png", img)})
            else:  # bad_params
                r = await http.post(
                    url + "/v1/chat/completions",
                    json=chat(img, rng.choice([0, -5, 10**7]), temperature="hot"),
                )
            status[kind][r.status_code] += 1
        except httpx.HTTPError as exc:
            status[kind][type(exc).__name__] += 1

    queue: asyncio.Queue = asyncio.Queue()
    for k, kind in enumerate(plan):
        queue.put_nowait((k, kind))

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal done
        while not queue.empty() and time.perf_counter() - t0 < args.soak_seconds:
            k, kind = queue.get_nowait()
            await one(http, kind, k)
            done += 1
            if done % 250 == 0:
                rss.append((done, server.metrics()["process_resident_memory_bytes"] / 2**20))
                print(
                    f"  {done:5d} requests, {time.perf_counter() - t0:5.1f} s, server RSS {rss[-1][1]:.0f} MiB",
                    flush=True,
                )

    try:
        rss.append((0, server.metrics()["process_resident_memory_bytes"] / 2**20))
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=16)) as http:
            await asyncio.gather(*(worker(http) for _ in range(16)))
        await asyncio.sleep(0.5)
        final = server.metrics()
        healthy = httpx.get(server.url + "/health", timeout=10).status_code == 200
        alive = server.proc.poll() is None
    finally:
        server.stop()
    wall = time.perf_counter() - t0
    print(
        f"\nsoak: {done} requests in {wall:.1f} s ({done / wall:.1f} req/s), server alive {alive}, /health {'ok' if healthy else 'FAILED'}"
    )
    print("| kind | valid | count | slowest s | outcomes |")
    print("|---|---|---|---|---|")
    bad = 0
    for kind, counter in status.items():
        valid = KINDS[kind][1]
        for outcome in counter:
            code = outcome if isinstance(outcome, int) else None
            if code is not None and code >= 500:
                bad += counter[outcome]
            elif valid and kind != "give_up" and code != 200:
                bad += counter[outcome]
            elif not valid and code is not None and not 400 <= code < 500:
                bad += counter[outcome]
        print(
            f"| {kind} | {'yes' if valid else 'no'} | {sum(counter.values())} | {slowest[kind]:.2f} | "
            f"{', '.join(f'{k}: {v}' for k, v in sorted(counter.items(), key=str))} |"
        )
    print(
        f"server counters: cancelled {final['hyocr_sequences_cancelled_total']:.0f}, finished {final['hyocr_sequences_finished_total']:.0f}, "
        f"active at end {final['hyocr_active_sequences']:.0f}, KV cache at end {final['hyocr_kv_cache_memory_bytes']:.0f} B, "
        f"KV peak {final['hyocr_kv_cache_memory_peak_bytes'] / 2**20:.1f} MiB"
    )
    settled = [m for n, m in rss if n >= min(500, done // 2)]
    if settled:
        print(
            f"server RSS (MiB) by requests done: {', '.join(f'{n}:{m:.0f}' for n, m in rss)}; "
            f"growth after warm-up {settled[-1] - settled[0]:+.0f} MiB"
        )
    print(f"unexpected outcomes: {bad}")
    return 1 if bad or not alive or not healthy else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--preset", default="hyocr-tiny", help="model preset with random weights (default: hyocr-tiny)"
    )
    p.add_argument("--model", help="use this model directory instead of a random one")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=("auto", "float32", "bfloat16"),
        help="server dtype (default: float32)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="server torch threads (default: 1: OpenMP spin-waits make 2 erratic on a shared 2-core machine)",
    )
    p.add_argument(
        "--clients", type=int, nargs="+", default=[1, 4, 16], help="concurrency levels (default: 1 4 16)"
    )
    p.add_argument("--requests", type=int, default=240, help="most requests per level (default: 240)")
    p.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="seconds per level before the clients stop sending (default: 8)",
    )
    p.add_argument("--max-tokens", type=int, default=24, help="tokens generated per request (default: 24)")
    p.add_argument("--image-size", type=int, default=128, help="side of the square test image (default: 128)")
    p.add_argument(
        "--soak",
        type=int,
        default=0,
        metavar="N",
        help="run the soak with N requests instead of the benchmark",
    )
    p.add_argument("--soak-seconds", type=float, default=170.0, help="time bound of the soak (default: 170)")
    args = p.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; server torch threads {args.threads}; preset {args.preset}, dtype {args.dtype}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model) if args.model else make_model(args.preset, Path(tmp) / "model")
        if args.soak:
            return asyncio.run(soak(model_dir, args))
        bench(model_dir, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
