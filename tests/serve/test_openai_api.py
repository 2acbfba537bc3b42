"""The official `openai` client against a running server: models, plain and streaming chat."""

from __future__ import annotations

import openai
import pytest

from hyocr.engine.generate import Request, SamplingParams
from tests.conftest import make_image
from tests.serve.conftest import data_uri, png_bytes

OCR_TEXT = "Extract the text in the image."


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def _messages(image: bytes, text: str = OCR_TEXT, system: str | None = None):
    content = [{"type": "image_url", "image_url": {"url": data_uri(image)}}, {"type": "text", "text": text}]
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": content}
    ]


def test_models_lists_the_served_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["hyocr-test"]


def test_chat_completion_equals_the_engine_answer(client, serve_engine):
    image = png_bytes(64, 96, 1)
    out = client.chat.completions.create(
        model="hyocr-test", messages=_messages(image), max_tokens=12, extra_body={"ignore_eos": True}
    )
    ref = serve_engine.generate(
        [Request(OCR_TEXT, [image])], SamplingParams(max_new_tokens=12, ignore_eos=True)
    )[0]
    assert out.choices[0].message.content == ref.text
    assert out.choices[0].finish_reason == "length"
    assert out.usage.completion_tokens == 12 and out.usage.prompt_tokens == ref.prompt_tokens
    assert out.model == "hyocr-test" and out.object == "chat.completion"


def test_streaming_pieces_join_to_the_plain_answer(client):
    image = png_bytes(96, 64, 2)
    kw = dict(model="hyocr-test", messages=_messages(image), max_tokens=20, extra_body={"ignore_eos": True})
    plain = client.chat.completions.create(**kw).choices[0].message.content
    stream = client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw)
    chunks = list(stream)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert "".join(pieces) == plain
    assert sum(1 for p in pieces if p) > 1, "the answer should arrive in several pieces"
    assert reasons == ["length"]
    assert chunks[-1].usage.completion_tokens == 20


def test_beam_search_is_asked_for_with_num_beams(client, serve_engine):
    image = png_bytes(64, 128, 3)
    extra = {"ignore_eos": True, "num_beams": 3, "length_penalty": 0.5}
    kw = dict(model="hyocr-test", messages=_messages(image), max_tokens=9, extra_body=extra)
    ref = serve_engine.generate(
        [Request(OCR_TEXT, [image])],
        SamplingParams(max_new_tokens=9, ignore_eos=True, num_beams=3, length_penalty=0.5),
    )[0]
    greedy = serve_engine.generate(
        [Request(OCR_TEXT, [image])], SamplingParams(max_new_tokens=9, ignore_eos=True)
    )[0]
    assert ref.token_ids != greedy.token_ids, "pick an image whose beam answer is not the greedy one"
    out = client.chat.completions.create(**kw)
    assert out.choices[0].message.content == ref.text and out.usage.completion_tokens == 9
    pieces = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(stream=True, **kw)
        if c.choices
    ]
    assert "".join(pieces) == ref.text


def test_system_prompt_and_text_only_requests(client, serve_engine):
    out = client.chat.completions.create(
        model="hyocr-test",
        messages=[
            {"role": "system", "content": "You read receipts."},
            {"role": "user", "content": "TOTAL 12.50"},
        ],
        max_tokens=6,
        extra_body={"ignore_eos": True},
    )
    ref = serve_engine.generate(
        [Request("TOTAL 12.50", [], "You read receipts.")], SamplingParams(max_new_tokens=6, ignore_eos=True)
    )[0]
    assert out.choices[0].message.content == ref.text


def test_a_formula_instruction_is_read_at_the_models_formula_height(random_model, tokenizer):
    # a line reader with a formula_height: the server knows the formula task by its instruction, so
    # the image is read three rows tall (more prompt tokens), as the engine reads it for that task
    from dataclasses import replace

    from hyocr.engine.generate import Engine
    from hyocr.processing.template import PromptBuilder
    from hyocr.tasks.prompts import instruction
    from tests.serve.conftest import LiveServer, make_app

    engine = Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
    engine.cfg = replace(engine.cfg, line_height=32, formula_height=96)
    image = png_bytes(64, 96, 3)
    with LiveServer(make_app(engine, max_new_tokens=4)) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
        used = {}
        for task in ("formula", "text"):
            out = client.chat.completions.create(
                model="hyocr-test", messages=_messages(image, instruction(task)), max_tokens=2
            )
            used[task] = out.usage.prompt_tokens
            want = engine.prepare(Request(instruction(task), [image], task=task))
            assert used[task] == len(want.ids)
    tall = engine.prepare(Request(instruction("formula"), [image], task="formula"))
    one_row = engine.prepare(Request(instruction("formula"), [image]))
    assert [p.image_sizes[0]["resized_height"] for p in (tall, one_row)] == [96, 32]
    assert used["formula"] == len(tall.ids) > len(one_row.ids)


def test_seeded_sampling_is_repeatable(client):
    kw = dict(
        model="hyocr-test",
        messages=_messages(png_bytes(64, 64, 3)),
        max_tokens=10,
        temperature=0.9,
        seed=7,
        extra_body={"ignore_eos": True},
    )
    a = client.chat.completions.create(**kw).choices[0].message.content
    b = client.chat.completions.create(**kw).choices[0].message.content
    assert a == b


@pytest.mark.parametrize(
    "messages,kw,status,needle",
    [
        ([], {}, 400, "'messages' must be a non-empty list"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!"}}],
                }
            ],
            {},
            400,
            "invalid base64",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": data_uri(b"not an image")}}],
                }
            ],
            {},
            400,
            "not an image",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}],
                }
            ],
            {},
            400,
            "not on this server's allow-list",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}],
                }
            ],
            {},
            400,
            "unsupported image URL",
        ),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}], {}, 400, "multi-turn"),
        ([{"role": "user", "content": "hi"}], {"max_tokens": 10**6}, 400, "'max_tokens' must be between"),
        ([{"role": "user", "content": "hi"}], {"n": 3}, 400, "'n' must be 1"),
        ([{"role": "user", "content": "hi"}], {"temperature": -1}, 400, "'temperature'"),
        (
            [{"role": "user", "content": "hi"}],
            {"extra_body": {"num_beams": 0}},
            400,
            "'num_beams' must be between",
        ),
        (
            [{"role": "user", "content": "hi"}],
            {"temperature": 0.5, "extra_body": {"num_beams": 2}},
            400,
            "needs 'temperature' 0",
        ),
    ],
)
def test_bad_requests_get_one_line_4xx(client, messages, kw, status, needle):
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="hyocr-test", messages=messages, **kw)
    assert exc.value.status_code == status
    assert needle in exc.value.message
    assert "Traceback" not in exc.value.response.text


def test_too_many_images_is_413(client):
    part = {"type": "image_url", "image_url": {"url": data_uri(png_bytes(32, 32))}}
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="hyocr-test", messages=[{"role": "user", "content": [part] * 9}])
    assert exc.value.status_code == 413


def test_image_of_unusual_mode_is_accepted(client):
    import io

    buf = io.BytesIO()
    make_image(40, 50, 4).convert("LA").save(buf, format="PNG")
    out = client.chat.completions.create(model="hyocr-test", messages=_messages(buf.getvalue()), max_tokens=3)
    assert out.choices[0].finish_reason in ("stop", "length")
