"""`--backend openai`: one hyocr server fronting another (a `hyocr serve` subprocess) on loopback;
`--backend vllm`: a clear one-line error where vLLM is not installed; the CLI's own checks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import httpx
import openai
import pytest

from hyocr.cli import build_parser
from hyocr.serve.app import create_app
from hyocr.serve.cli import build_backend, build_config
from tests.serve.conftest import LiveServer, ServeProcess, data_uri, free_port, png_bytes

KEY = "upstream-key"


@pytest.fixture(scope="module")
def upstream(model_dir):
    """A native `hyocr serve` whose key comes from the environment, capped at 24 new tokens."""
    with ServeProcess(
        "--model", str(model_dir), "--dtype", "float32", "--max-new-tokens", "24", env={"HYOCR_API_KEY": KEY}
    ) as s:
        yield s


def front_app(*argv: str):
    args = build_parser().parse_args(["serve", *argv])
    backend = build_backend(args)
    return create_app(backend, build_config(args, backend.name))


@pytest.fixture(scope="module")
def front(upstream):
    with LiveServer(
        front_app("--backend", "openai", "--upstream", upstream.url + "/v1", "--upstream-api-key", KEY)
    ) as s:
        yield s


def _messages(image: bytes):
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_uri(image)}},
                {"type": "text", "text": "Extract the text in the image."},
            ],
        }
    ]


def test_upstream_key_comes_from_the_environment(upstream):
    assert httpx.get(upstream.url + "/v1/models").status_code == 401
    assert (
        httpx.get(upstream.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    )


def test_front_learns_the_model_and_answers_like_the_upstream(front, upstream, model_dir):
    direct = openai.OpenAI(base_url=upstream.url + "/v1", api_key=KEY, max_retries=0, timeout=60)
    via = openai.OpenAI(base_url=front.url + "/v1", api_key="none", max_retries=0, timeout=60)
    assert [m.id for m in via.models.list().data] == [model_dir.name]
    assert httpx.get(front.url + "/health").json()["backend"] == "openai"
    kw = dict(
        model=model_dir.name,
        messages=_messages(png_bytes(64, 96, 11)),
        max_tokens=10,
        extra_body={"ignore_eos": True},
    )
    a = direct.chat.completions.create(**kw)
    b = via.chat.completions.create(**kw)
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.usage.completion_tokens == a.usage.completion_tokens == 10
    pieces = [
        c.choices[0].delta.content or "" for c in via.chat.completions.create(stream=True, **kw) if c.choices
    ]
    assert "".join(pieces) == a.choices[0].message.content


def test_task_endpoint_through_the_front_equals_the_upstream_one(front, upstream):
    image = png_bytes(64, 64, 12)
    files = {"file": ("a.png", image, "image/png")}
    a = httpx.post(
        upstream.url + "/v1/ocr/text",
        files=files,
        data={"max_tokens": "8"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    b = httpx.post(front.url + "/v1/ocr/text", files=files, data={"max_tokens": "8"}, timeout=60)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    ra, rb = a.json()["results"][0], b.json()["results"][0]
    assert rb["content"] == ra["content"] and (rb["width"], rb["height"]) == (64, 64)
    assert rb["usage"] == ra["usage"]


def test_upstream_refusals_pass_through_and_failures_are_502(front, upstream):
    via = openai.OpenAI(base_url=front.url + "/v1", api_key="none", max_retries=0, timeout=60)
    with pytest.raises(openai.BadRequestError) as exc:  # the front allows 100 tokens, the upstream only 24
        via.chat.completions.create(model="m", messages=_messages(png_bytes()), max_tokens=100)
    assert (
        "upstream refused the request (HTTP 400): 'max_tokens' must be between 1 and 24" in exc.value.message
    )
    port = free_port()  # nothing listens there
    with LiveServer(
        front_app("--backend", "openai", "--upstream", f"http://127.0.0.1:{port}", "--upstream-model", "x")
    ) as dead:
        r = httpx.post(
            dead.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert r.status_code == 502 and r.json()["error"]["message"] == "upstream unreachable (ConnectError)"


def test_vllm_backend_missing_package_is_one_line(model_dir):
    assert importlib.util.find_spec("vllm") is None, (
        "this test checks the error shown where vLLM is not installed"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hyocr.cli",
            "serve",
            "--backend",
            "vllm",
            "--model",
            str(model_dir),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "hyocr serve: error: --backend vllm needs the 'vllm' package, which is not installed (pip install vllm, on a machine with a GPU)"
    ]


def test_openai_backend_needs_an_upstream():
    args = build_parser().parse_args(["serve", "--backend", "openai"])
    with pytest.raises(ValueError, match="needs --upstream"):
        build_backend(args)


def test_vllm_backend_refuses_a_model_that_reads_widened_images(tmp_path):
    import dataclasses

    from hyocr.config import get_preset, save_config
    from hyocr.errors import ModelLoadError
    from hyocr.serve.backends import VLLMBackend

    # a model read with its images widened (config "stretch", as the shipped one is): vLLM's
    # processor would not widen them, so the model would see what it was never trained on
    save_config(dataclasses.replace(get_preset("hyocr-test"), stretch=1.5), tmp_path)
    with pytest.raises(ModelLoadError, match=r"cannot serve .* reads images widened 1.5x"):
        VLLMBackend(tmp_path, name="m")
    save_config(dataclasses.replace(get_preset("hyocr-test"), line_height=32), tmp_path)
    with pytest.raises(ModelLoadError, match=r"cannot serve .* reads images scaled to 32 px tall"):
        VLLMBackend(tmp_path, name="m")
