"""Prompt layout: instruction + images -> token ids (and training labels).

Layout of the release (DESIGN.md §1.3, the public `hunyuan_ocr` fine-tuning template):

    <bos> [system <no_3>] (<image_start> <image>*n <image_end>)* instruction <User> answer <eos>

where n = (H/32)*(W/32+1)+2 for an image resized to H x W. A model directory whose
`tokenizer_config.json` carries a `chat_template` (the release's) is rendered through that
template with jinja2 instead, and its single image placeholder per image is expanded to n copies,
so the release's own prompt format is used byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hyocr.processing.tokenizer import HyTokenizer

__all__ = ["PromptBuilder", "Prompt"]


@dataclass
class Prompt:
    ids: list[int]
    num_images: int


class PromptBuilder:
    def __init__(self, tokenizer: HyTokenizer, chat_template: str | None = None):
        self.tok = tokenizer
        self.chat_template = chat_template
        self._jinja = None

    @classmethod
    def from_dir(cls, model_dir: str | Path, tokenizer: HyTokenizer) -> PromptBuilder:
        path = Path(model_dir) / "tokenizer_config.json"
        template = None
        if path.is_file():
            try:
                template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
            except json.JSONDecodeError:
                template = None
        jinja_file = Path(model_dir) / "chat_template.jinja"
        if template is None and jinja_file.is_file():
            template = jinja_file.read_text(encoding="utf-8")
        return cls(tokenizer, template if isinstance(template, str) else None)

    def prompt(self, instruction: str, image_tokens: list[int], system: str = "") -> Prompt:
        """Token ids of a prompt ending where the answer starts."""
        if self.chat_template:
            return Prompt(self._render(instruction, image_tokens, system), len(image_tokens))
        t = self.tok
        ids = [t.ids["bos"]]
        if system:
            ids += t.encode(system) + [t.ids["system_end"]]
        for n in image_tokens:
            ids += [t.ids["image_start"]] + [t.ids["image"]] * n + [t.ids["image_end"]]
        ids += t.encode(instruction) + [t.ids["user"]]
        return Prompt(ids, len(image_tokens))

    def training_example(
        self, instruction: str, answer: str, image_tokens: list[int], system: str = ""
    ) -> tuple[list[int], list[int]]:
        """(ids, labels): labels are -100 on the prompt and the answer's ids plus eos after it."""
        prompt = self.prompt(instruction, image_tokens, system).ids
        answer_ids = self.tok.encode(answer) + [self.tok.eos_id]
        return prompt + answer_ids, [-100] * len(prompt) + answer_ids

    # ---- the release's own template ----------------------------------------------------------
    def _render(self, instruction: str, image_tokens: list[int], system: str) -> list[int]:
        if self._jinja is None:
            import jinja2

            env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
            self._jinja = env.from_string(self.chat_template)
        content = [{"type": "image", "image": ""} for _ in image_tokens] + [
            {"type": "text", "text": instruction}
        ]
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": content}
        ]
        t = self.tok.tk
        text = self._jinja.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=t.id_to_token(self.tok.ids["bos"]),
            eos_token=t.id_to_token(self.tok.eos_id),
        )
        ids = self.tok.encode(text)
        image_id, out, k = self.tok.ids["image"], [], 0
        for i in ids:
            if i == image_id:
                if k >= len(image_tokens):
                    raise ValueError("chat template produced more image placeholders than images")
                out += [image_id] * image_tokens[k]
                k += 1
            else:
                out.append(i)
        if k != len(image_tokens):
            raise ValueError(f"chat template placed {k} image placeholders for {len(image_tokens)} images")
        return out
