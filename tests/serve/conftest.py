"""Fixtures for the server tests: a saved random-weight model, and real uvicorn servers on
127.0.0.1 at free ports (run in a thread of the test process, or as `hyocr serve` subprocesses)."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from hyocr.engine.generate import Engine
from hyocr.model.weights import save_model
from hyocr.processing.template import PromptBuilder
from hyocr.serve.app import ServeConfig, create_app
from hyocr.serve.backends import NativeBackend
from tests.conftest import make_image


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1 at a port picked by the OS, in a background thread."""

    def __init__(self, app):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        end = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > end or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`hyocr serve ...` in a subprocess; waits for /health."""

    def __init__(self, *args: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "hyocr.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *args,
        ]
        self.env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))

    def __enter__(self) -> ServeProcess:
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hyocr serve exited: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("hyocr serve did not become healthy within 60 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.stderr = self.proc.stderr.read()


@pytest.fixture(scope="session")
def model_dir(random_model, tokenizer, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("serve-model")
    save_model(random_model, d)
    tokenizer.save(d)
    return d


@pytest.fixture(scope="session")
def serve_engine(random_model, tokenizer) -> Engine:
    return Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)


def make_app(engine: Engine, **config):
    backend_kw = {k: config.pop(k) for k in ("mode", "max_batch", "max_queue", "window_ms") if k in config}
    backend = NativeBackend(engine, "hyocr-test", **backend_kw)
    return create_app(backend, ServeConfig(model_name="hyocr-test", **config))


@pytest.fixture(scope="module")
def server(serve_engine):
    """One server for a module: max 64 new tokens per request so random weights finish quickly."""
    with LiveServer(make_app(serve_engine, max_new_tokens=64)) as s:
        yield s


def png_bytes(h: int = 64, w: int = 96, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    make_image(h, w, seed).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
