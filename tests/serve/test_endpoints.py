"""Task endpoints, probes, metrics and the server's safety rules, over real HTTP."""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib

import httpx
import pytest
from PIL import Image

from hyocr.engine.generate import Request, SamplingParams
from hyocr.tasks.prompts import TASKS, instruction
from tests.conftest import make_image
from tests.serve.conftest import LiveServer, data_uri, make_app, png_bytes


def metrics(url: str, **headers) -> dict[str, float]:
    text = httpx.get(url + "/metrics", headers=headers, timeout=10).text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb) with a tiny body."""

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


def pdf_bytes(pages: int = 2) -> bytes:
    imgs = [make_image(120, 90, 10 + k) for k in range(pages)]
    buf = io.BytesIO()
    imgs[0].save(buf, format="PDF", save_all=True, append_images=imgs[1:], resolution=72)
    return buf.getvalue()


def chat_body(image: bytes | None = None, text: str = "Extract the text in the image.", **kw) -> dict:
    content = ([{"type": "image_url", "image_url": {"url": data_uri(image)}}] if image else []) + [
        {"type": "text", "text": text}
    ]
    return {"model": "hyocr-test", "messages": [{"role": "user", "content": content}], **kw}


# ---- task endpoints -------------------------------------------------------------------------------
def test_ocr_text_upload_returns_the_typed_result(server, serve_engine):
    image = png_bytes(64, 96, 5)
    r = httpx.post(
        server.url + "/v1/ocr/text",
        files={"file": ("a.png", image, "image/png")},
        data={"max_tokens": "8"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    ref = serve_engine.generate([Request(instruction("text"), [image])], SamplingParams(max_new_tokens=8))[0]
    (res,) = body["results"]
    assert body["task"] == "text" and body["instruction"] == instruction("text")
    assert res["task"] == "text" and res["content"] == ref.text.strip() and res["raw"] == ref.text
    assert (res["width"], res["height"]) == (96, 64) and res["source"] == "a.png" and res["page"] is None
    assert res["usage"]["completion_tokens"] == len(ref.token_ids)


def test_ocr_spotting_has_lines_and_fields_has_exactly_the_keys(server):
    image = png_bytes(64, 64, 6)
    spot = httpx.post(
        server.url + "/v1/ocr/spotting",
        files={"file": ("s.png", image)},
        data={"max_tokens": "10"},
        timeout=60,
    ).json()
    assert "lines" in spot["results"][0]
    fields = httpx.post(
        server.url + "/v1/ocr/fields",
        files={"file": ("f.png", image)},
        data={"fields": "company, total", "max_tokens": "6"},
        timeout=60,
    ).json()
    assert set(fields["results"][0]["fields"]) == {"company", "total"}
    assert fields["instruction"] == instruction("fields", fields=["company", "total"])


def test_ocr_pdf_gives_one_result_per_page_and_page_images_on_request(server):
    r = httpx.post(
        server.url + "/v1/ocr/document",
        files={"file": ("doc.pdf", pdf_bytes(2), "application/pdf")},
        data={"max_tokens": "5", "return_images": "1"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [res["page"] for res in body["results"]] == [1, 2]
    assert body["results"][0]["source"] == "doc.pdf#page=1" and "markdown" in body["results"][0]
    assert len(body["images"]) == 2 and body["images"][0].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize(
    "path,files,data,status,needle",
    [
        ("/v1/ocr/nonsense", {"file": ("a.png", b"x")}, {}, 404, "unknown task 'nonsense'"),
        ("/v1/ocr/text", None, {"lang": "en"}, 400, "'file'"),
        ("/v1/ocr/text", {"file": ("a.png", b"")}, {}, 400, "file is empty"),
        ("/v1/ocr/text", {"file": ("a.png", b"GIF89a broken")}, {}, 400, "a.png"),
        ("/v1/ocr/text", {"file": ("bomb.png", bomb_png(60000, 60000))}, {}, 413, "image is too large"),
        ("/v1/ocr/text", {"file": ("a.pdf", b"%PDF-1.4 garbage")}, {}, 400, "not a readable PDF"),
        ("/v1/ocr/key", {"file": ("a.png", png_bytes())}, {}, 400, "needs a key name"),
        (
            "/v1/ocr/text",
            {"file": ("a.png", png_bytes())},
            {"lang": "xx"},
            400,
            "unknown instruction language",
        ),
        (
            "/v1/ocr/translate",
            {"file": ("a.png", png_bytes())},
            {"target": "klingon"},
            400,
            "unknown target language",
        ),
    ],
)
def test_ocr_refusals(server, path, files, data, status, needle):
    r = httpx.post(server.url + path, files=files, data=data, timeout=30)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]
    assert "Traceback" not in r.text


def test_every_task_name_is_served(server):
    image = png_bytes(32, 32, 7)
    extra = {
        "key": {"key": "total"},
        "fields": {"fields": "a"},
        "vqa": {"question": "what?"},
        "translate": {"target": "de"},
    }
    for task in TASKS:
        r = httpx.post(
            server.url + f"/v1/ocr/{task}",
            files={"file": ("t.png", image)},
            data={"max_tokens": "2", **extra.get(task, {})},
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["results"][0]["task"] == task, (task, r.text)


# ---- probes and metrics ---------------------------------------------------------------------------
def test_health_models_tasks_and_metrics(server, serve_engine):
    assert httpx.get(server.url + "/health").json() == {
        "status": "ok",
        "backend": "native",
        "model": "hyocr-test",
    }
    assert httpx.get(server.url + "/v1/tasks").json()["tasks"] == list(TASKS)
    r = httpx.get(server.url + "/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    m = metrics(server.url)
    params = sum(p.numel() * p.element_size() for p in serve_engine.model.parameters())
    assert m["hyocr_model_memory_bytes"] >= params > 0
    assert "hyocr_kv_cache_memory_bytes" in m and "hyocr_kv_cache_memory_peak_bytes" in m
    assert m['hyocr_http_requests_total{route="/health",status="200"}'] >= 1
    assert m["process_resident_memory_bytes"] > 0


def test_concurrent_requests_share_decode_steps(server):
    before = metrics(server.url)
    results = []

    def call(seed):
        r = httpx.post(
            server.url + "/v1/chat/completions",
            json=chat_body(png_bytes(64, 64, seed), max_tokens=30, ignore_eos=True),
            timeout=60,
        )
        results.append(r.status_code)

    threads = [threading.Thread(target=call, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = metrics(server.url)
    assert results == [200] * 6
    steps = after["hyocr_decode_steps_total"] - before["hyocr_decode_steps_total"]
    rows = after["hyocr_decode_rows_total"] - before["hyocr_decode_rows_total"]
    assert rows == 6 * 29  # every token after the first comes from a decode step
    assert steps < rows / 2, f"{steps} decode steps for {rows} rows: requests did not share forward passes"
    assert after["hyocr_kv_cache_memory_bytes"] == 0  # nothing left running: the cache is released


def test_malformed_json_and_wrong_types(server):
    r = httpx.post(
        server.url + "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == "the request body is not valid JSON"
    r = httpx.post(server.url + "/v1/chat/completions", json=[1, 2])
    assert r.status_code == 400
    r = httpx.post(server.url + "/v1/chat/completions", json=chat_body(stream="yes"))
    assert r.status_code == 400 and "'stream'" in r.text


# ---- limits, keys, back-pressure, timeouts, disconnects: servers of their own --------------------
def test_body_limit_api_key_and_remote_urls(serve_engine):
    from hyocr.serve.inputs import InputLimits

    limits = InputLimits(allow_url_hosts=frozenset({"localhost"}), max_image_pixels=1_000_000)
    app = make_app(serve_engine, api_key="s3cret", max_request_bytes=200_000, max_new_tokens=8, limits=limits)
    with LiveServer(app) as s:
        auth = {"Authorization": "Bearer s3cret"}
        r = httpx.post(s.url + "/v1/chat/completions", json=chat_body(max_tokens=2))
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(s.url + "/metrics").status_code == 401
        assert httpx.get(s.url + "/health").status_code == 200 and httpx.get(s.url + "/").status_code == 200
        assert httpx.get(s.url + "/v1/models", headers=auth).status_code == 200
        assert httpx.get(s.url + "/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
        big = chat_body(png_bytes(400, 400, 1) * 2)
        r = httpx.post(s.url + "/v1/chat/completions", json=big, headers=auth)
        assert r.status_code == 413 and "over the limit" in r.json()["error"]["message"]

        def chunks():  # no Content-Length: the limit applies while the body streams in
            for _ in range(30):
                yield b"x" * 10_000

        r = httpx.post(s.url + "/v1/chat/completions", content=chunks(), headers=auth)
        assert r.status_code == 413
        plain = io.BytesIO()
        Image.new("RGB", (1100, 1000), "white").save(plain, format="PNG")  # small file, 1.1 M pixels
        pixels = chat_body(plain.getvalue())
        r = httpx.post(s.url + "/v1/chat/completions", json=pixels, headers=auth)
        assert r.status_code == 413 and "image is too large" in r.text
        # an allow-listed host that resolves to loopback is still refused: no requests to internal addresses
        remote = {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": f"{s.url.replace('127.0.0.1', 'localhost')}/health"},
                        }
                    ],
                }
            ],
        }
        r = httpx.post(s.url + "/v1/chat/completions", json=remote, headers=auth)
        assert r.status_code == 400 and "internal address" in r.json()["error"]["message"]
        m = metrics(s.url, **auth)
        assert m['hyocr_http_requests_total{route="/health",status="200"}'] == 1, (
            "the refused URL must not have been fetched"
        )


def test_full_queue_answers_429_with_retry_after_and_timeouts_504(serve_engine):
    app = make_app(
        serve_engine,
        mode="continuous",
        max_batch=1,
        max_queue=1,
        window_ms=0,
        max_new_tokens=100_000,
        timeout=30,
    )
    with LiveServer(app) as s, httpx.Client(timeout=60) as client:
        long = chat_body(None, "TOTAL", max_tokens=3000, ignore_eos=True, stream=True, temperature=1.0)
        with client.stream("POST", s.url + "/v1/chat/completions", json=long) as running:
            assert running.status_code == 200
            lines = running.iter_lines()  # keep the iterator: dropping it closes the connection
            next(lines)
            waiting = threading.Thread(
                target=lambda: client.post(
                    s.url + "/v1/chat/completions", json=chat_body(None, "x", max_tokens=2)
                )
            )
            waiting.start()
            deadline = time.monotonic() + 10
            while metrics(s.url)["hyocr_queue_depth"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            r = client.post(s.url + "/v1/chat/completions", json=chat_body(None, "y", max_tokens=2))
            assert r.status_code == 429, r.text
            assert int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["error"]["message"]
        waiting.join(30)
    app = make_app(serve_engine, max_new_tokens=100_000, timeout=0.3)
    with LiveServer(app) as s:
        r = httpx.post(
            s.url + "/v1/chat/completions",
            json=chat_body(None, "TOTAL", max_tokens=50_000, ignore_eos=True, temperature=1.0),
            timeout=30,
        )
        assert r.status_code == 504 and "timed out" in r.json()["error"]["message"]
        assert metrics(s.url)["hyocr_sequences_timed_out_total"] == 1


def test_client_disconnect_cancels_the_request(serve_engine):
    app = make_app(serve_engine, max_new_tokens=100_000)
    with LiveServer(app) as s:
        long = chat_body(
            None, "TOTAL", max_tokens=50_000, ignore_eos=True, temperature=1.0
        )  # sampled: no repetition stop
        with (
            httpx.Client(timeout=60) as client,
            client.stream("POST", s.url + "/v1/chat/completions", json={**long, "stream": True}) as r,
        ):
            next(r.iter_lines())
        with pytest.raises(httpx.ReadTimeout):  # a plain request whose client gives up
            httpx.post(s.url + "/v1/chat/completions", json=long, timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = metrics(s.url)
            if m["hyocr_sequences_cancelled_total"] == 2 and m["hyocr_active_sequences"] == 0:
                break
            time.sleep(0.05)
        assert m["hyocr_sequences_cancelled_total"] == 2 and m["hyocr_active_sequences"] == 0
        assert m["hyocr_kv_cache_memory_bytes"] == 0
        assert m["hyocr_generated_tokens_total"] < 20_000, "cancelled requests must stop generating"


def test_internal_errors_are_one_line_without_traceback(serve_engine):
    app = make_app(serve_engine)

    @app.get("/v1/boom")
    async def boom():
        raise RuntimeError("secret internals /path/to/file.py line 3")

    with LiveServer(app) as s:
        r = httpx.get(s.url + "/v1/boom")
        assert r.status_code == 500 and r.json() == {
            "error": {"message": "internal error", "type": "server_error", "code": 500}
        }
        assert "secret" not in r.text


def test_page_is_served_with_a_strict_content_security_policy(server):
    r = httpx.get(server.url + "/")
    assert r.status_code == 200 and "<title>hyocr</title>" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for asset in ("app.js", "style.css"):
        text = httpx.get(server.url + "/static/" + asset).text
        assert "http://" not in text and "https://" not in text, (
            f"{asset} must not load anything from elsewhere"
        )
    assert "https://" not in r.text and "http://" not in r.text


def test_json_stays_json(server):
    r = httpx.post(server.url + "/v1/chat/completions", json=chat_body(png_bytes(), max_tokens=3))
    assert json.loads(r.text)["choices"][0]["message"]["role"] == "assistant"


def test_document_reads_centred_rows_as_formulas_too_when_the_model_reads_formulas(random_model, tokenizer):
    # a line reader with a formula_height: the document endpoint reads the page's centred rows with
    # the formula instruction as well (three rows of tokens tall), and counts those readings in the
    # usage; the same model without a formula_height reads the page's segments only
    import io
    from dataclasses import replace

    from hyocr.engine.generate import Engine, Request
    from hyocr.processing.template import PromptBuilder
    from hyocr.tasks.prompts import instruction
    from hyocr.tasks.segment import formula_crops, read_plan
    from tests.serve.conftest import LiveServer, make_app
    from tests.tasks.test_layout import formula_page

    page, _ = formula_page()
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    usage = {}
    for height, reread in ((0, 0.0), (96, 0.0), (0, 1.01), (96, 1.01)):  # 1.01: every segment read again
        engine = Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
        engine.cfg = replace(engine.cfg, reads="lines", line_height=32, formula_height=height)
        # (formula_again 0: each candidate read once; its second readings are another test's)
        app = make_app(engine, max_new_tokens=3, drop_score=0.0, reread=reread, formula_again=0.0)
        with LiveServer(app) as srv:
            r = httpx.post(
                srv.url + "/v1/ocr/document", files={"file": ("p.png", buf.getvalue())}, timeout=120
            )
        assert r.status_code == 200, r.text
        usage[height, reread] = r.json()["results"][0]["usage"]
    segs, _, _ = read_plan("document", page)
    boxes, crops = formula_crops(page, segs)
    assert len(crops) == 1
    tall = engine.prepare(Request(instruction("formula"), [crops[0]], task="formula"))
    assert tall.image_sizes[0]["resized_height"] == 96
    for reread in (0.0, 1.01):
        with_formula, without = usage[96, reread], usage[0, reread]
        assert with_formula["prompt_tokens"] - without["prompt_tokens"] == len(tall.ids)
        assert 1 <= with_formula["completion_tokens"] - without["completion_tokens"] <= 3
    # once greedy, once beamed, once greedy widened (`REREAD_WIDEN`: more image tokens)
    assert usage[0, 1.01]["prompt_tokens"] > 3 * usage[0, 0.0]["prompt_tokens"]
    # spotting reads the candidate after the lines, since its rows were read unsurely (random weights)
    spotted = {}
    for height in (0, 96):
        engine = Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
        engine.cfg = replace(engine.cfg, reads="lines", line_height=32, formula_height=height)
        with LiveServer(make_app(engine, max_new_tokens=3, drop_score=0.0, formula_again=0.0)) as srv:
            r = httpx.post(
                srv.url + "/v1/ocr/spotting", files={"file": ("p.png", buf.getvalue())}, timeout=120
            )
        assert r.status_code == 200, r.text
        spotted[height] = r.json()["results"][0]["usage"]["prompt_tokens"]
    assert spotted[96] - spotted[0] == len(tall.ids)


def test_the_server_reads_an_unsure_formula_image_again_in_the_readers_other_views(random_model, tokenizer):
    # a formula reader trained at several heights (`formula_heights`): the formula endpoint reads an
    # image again at each of them and widened when its reading is under formula_again (every
    # reading, at 1.01), as api.OCR does, keeps the surest and counts every reading in the usage; at
    # 0 it reads it once. A page's candidate formulas (the document endpoint) are read once either way
    import io
    from dataclasses import replace

    from hyocr.engine.generate import Engine, Request, SamplingParams
    from hyocr.processing.template import PromptBuilder
    from hyocr.tasks.prompts import instruction
    from hyocr.tasks.segment import FORMULA_WIDEN, surest, widened
    from tests.serve.conftest import LiveServer, make_app
    from tests.tasks.test_layout import formula_page

    page, _ = formula_page()
    crop = page.crop((0, 0, 160, 64))
    files = {}
    for name, im in (("page", page), ("crop", crop)):
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        files[name] = buf.getvalue()
    engine = Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
    engine.cfg = replace(engine.cfg, reads="lines", line_height=32, formula_height=64, formula_heights=(128,))
    got = {}
    for again in (0.0, 1.01):
        app = make_app(engine, max_new_tokens=3, drop_score=0.0, reread=0.0, formula_again=again)
        with LiveServer(app) as srv:
            for task, name in (("formula", "crop"), ("document", "page")):
                r = httpx.post(
                    f"{srv.url}/v1/ocr/{task}", files={"file": ("f.png", files[name])}, timeout=120
                )
                assert r.status_code == 200, r.text
                got[again, task] = r.json()["results"][0]
    prompt = instruction("formula")
    views = [
        Request(prompt, [crop], task="formula"),
        Request(prompt, [crop], task="formula", height=128),
        Request(prompt, [widened(crop, FORMULA_WIDEN)], task="formula"),
    ]
    readings = [engine.generate([v], SamplingParams(max_new_tokens=3))[0] for v in views]
    assert got[0.0, "formula"]["latex"] == readings[0].text.strip()
    assert got[1.01, "formula"]["latex"] == surest(readings).text.strip()
    extra = sum(len(engine.prepare(v).ids) for v in views[1:])
    assert (
        got[1.01, "formula"]["usage"]["prompt_tokens"] - got[0.0, "formula"]["usage"]["prompt_tokens"]
        == extra
    )
    assert got[1.01, "document"]["usage"] == got[0.0, "document"]["usage"]


def test_formula_requests_are_read_by_the_formula_reader(random_model, test_cfg, tokenizer):
    """An engine with a formula reader (a model directory's `formula_model`): the formula
    instruction, in a chat request or at /v1/ocr/formula, is answered by that model, the text one by
    the engine's own; /metrics counts both models."""
    from hyocr.engine.generate import Engine
    from hyocr.model.factory import init_model

    engine = Engine(random_model, tokenizer, autocast=False)
    engine.formula = Engine(init_model(test_cfg, seed=7, std=0.2).eval(), tokenizer, autocast=False)
    image = png_bytes(64, 128, 6)
    params = SamplingParams(max_new_tokens=8)
    formula = Request(instruction("formula", "en"), [make_image(64, 128, 6)], task="formula")
    want = engine.formula.generate([formula], params)[0].text
    own = Engine(random_model, tokenizer, autocast=False).generate([formula], params)[0].text
    assert want != own  # the two models read it differently: the routing shows in the answer
    with LiveServer(make_app(engine, max_new_tokens=64)) as s:
        r = httpx.post(
            s.url + "/v1/chat/completions",
            json=chat_body(image, instruction("formula", "en"), max_tokens=8),
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == want
        r = httpx.post(
            s.url + "/v1/ocr/formula",
            files={"file": ("f.png", image, "image/png")},
            data={"max_tokens": "8"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["latex"] == want.strip()
        text = Request(instruction("text", "en"), [make_image(64, 96, 5)])
        r = httpx.post(
            s.url + "/v1/chat/completions",
            json=chat_body(png_bytes(64, 96, 5), instruction("text", "en"), max_tokens=8),
            timeout=60,
        )
        assert r.json()["choices"][0]["message"]["content"] == engine.generate([text], params)[0].text
        m = metrics(s.url)
        both = sum(
            p.numel() * p.element_size() for e in (engine, engine.formula) for p in e.model.parameters()
        )
        assert m["hyocr_model_memory_bytes"] >= both
        assert m["hyocr_sequences_finished_total"] == 3


def test_unsure_segments_are_searched_with_the_configured_beams(random_model, tokenizer):
    # `reread_beams` (`hyocr serve --reread-beams`) sets the width of the second reading's search
    from dataclasses import replace

    from hyocr.engine.generate import Engine
    from hyocr.processing.template import PromptBuilder
    from hyocr.serve.app import ServeConfig, create_app
    from hyocr.serve.backends import NativeBackend
    from hyocr.tasks.segment import REREAD_WIDEN

    engine = Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
    engine.cfg = replace(engine.cfg, reads="lines", line_height=32)
    body = png_bytes(64, 160)
    for beams in (2, 3):
        backend = NativeBackend(engine, "hyocr-test")
        widths, sizes = [], []
        plain = backend.generate

        async def spied(request, params, timeout=None, plain=plain, widths=widths, sizes=sizes):
            widths.append(params.num_beams or 1)
            sizes.append((params.num_beams or 1, request.images[0].size))
            return await plain(request, params, timeout)

        backend.generate = spied
        config = ServeConfig(model_name="hyocr-test", max_new_tokens=3, drop_score=0.0, reread=1.01)
        with LiveServer(create_app(backend, replace(config, reread_beams=beams))) as srv:
            r = httpx.post(srv.url + "/v1/ocr/text", files={"file": ("p.png", body)}, timeout=120)
        assert r.status_code == 200, r.text
        # each unsure segment: its first reading, the search, and a greedy one widened (`REREAD_WIDEN`)
        assert set(widths) == {1, beams} and widths.count(1) == 2 * widths.count(beams), widths
        searched = {size for b, size in sizes if b == beams}
        greedy = [size for b, size in sizes if b == 1]
        wider = [(w, h) for w, h in greedy if (round(w / REREAD_WIDEN), h) in searched]
        assert len(wider) == widths.count(beams), sizes


def test_the_server_reads_unsure_segments_with_the_chinese_reader_as_the_api_does(tmp_path):
    """A model directory naming a Chinese reader (`zh_model`): /v1/ocr/spotting takes the same
    segments from it as `OCR` does (the Chinese line's, not the Latin one's)."""
    from hyocr import OCR
    from hyocr.engine.generate import Engine
    from hyocr.tasks.segment import has_chinese
    from tests.conftest import chinese_page, with_chinese_reader

    model = with_chinese_reader(tmp_path)
    page = chinese_page()
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    # the defaults, and every segment read again (the Chinese line by the Chinese reader)
    for kw in ({}, {"reread": 1.01, "zh_again": 1.01, "drop_score": 0.0}):
        want = OCR(str(model), max_new_tokens=8, **kw).spotting(page).lines
        assert has_chinese(want[0].text) and not has_chinese(want[1].text)
        with LiveServer(make_app(Engine.from_dir(model), max_new_tokens=64, **kw)) as s:
            r = httpx.post(
                s.url + "/v1/ocr/spotting",
                files={"file": ("p.png", buf.getvalue(), "image/png")},
                data={"max_tokens": "8"},
                timeout=120,
            )
            assert r.status_code == 200, r.text
            got = r.json()["results"][0]["lines"]
            assert [(ln["text"], ln["confidence"]) for ln in got] == [(ln.text, ln.confidence) for ln in want]
