"""Text sources and fonts: every language has text, every sampled string has a font with its glyphs."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest

from hyocr.data import fonts
from hyocr.data.fonts import FontMissingError, covers, fonts_for, pick_font
from hyocr.data.render.base import fit_text
from hyocr.data.text import (
    LANGUAGES,
    gettext_catalogue,
    language,
    parallel_pairs,
    script_fraction,
    text_source,
)

REQUIRED = [
    "en",
    "zh-Hans",
    "zh-Hant",
    "ja",
    "ko",
    "ar",
    "he",
    "ru",
    "hi",
    "th",
    "vi",
    "de",
    "es",
    "tr",
    "it",
    "fr",
    "pt",
    "id",
    "ms",
]


def test_language_count_and_required_set():
    assert set(REQUIRED) <= set(LANGUAGES)
    assert len(LANGUAGES) >= 45


@pytest.mark.parametrize("code", REQUIRED)
def test_every_required_language_samples_text_in_its_script_with_a_covering_font(code):
    lang = language(code)
    src = text_source(code)
    rng = random.Random(code)
    in_script = 0
    for _ in range(8):
        text, face = fit_text(rng, lambda g: src.line(g, 40), lang.script)
        assert face.covers(text), (code, text, face.name)
        in_script += script_fraction(text, lang.script) > 0.5
    assert in_script >= 4, f"{code}: most lines should be in the {lang.script} script"


def test_character_lines_write_the_rare_characters_as_often_as_the_common_ones():
    """`TextSource.characters` draws each character of the script's `inventory` alike: the tenth of
    the inventory that the language's lines write least is about a tenth of what it draws (with a
    tenth of digits and marks), not next to nothing as in the lines."""
    import collections

    from hyocr.data.text import ODD_CHARACTERS, inventory

    src, chars = text_source("zh-Hans"), inventory("zh-Hans")
    assert len(chars) > 1000 and script_fraction(chars, "hans") == 1.0
    rng = random.Random(5)
    written = collections.Counter(c for _ in range(5000) for c in src.line(rng, 40) if c in chars)
    rare = set(sorted(chars, key=lambda c: written[c])[: len(chars) // 10])
    assert sum(written[c] for c in rare) / sum(written.values()) < 0.01
    drawn = "".join(src.characters(rng, 20) for _ in range(3000))
    assert 0.07 < sum(c in rare for c in drawn) / len(drawn) < 0.11
    assert 0.07 < sum(c in ODD_CHARACTERS for c in drawn) / len(drawn) < 0.13
    assert set(drawn) <= set(chars) | set(ODD_CHARACTERS)
    # a language with spaces gets words of them
    words = text_source("en").characters(random.Random(1), 24).split(" ")
    assert all(1 <= len(w) <= 8 for w in words)


def test_gettext_catalogue_is_a_parallel_corpus():
    de = gettext_catalogue("de")
    assert len(de) > 1000
    pairs = parallel_pairs("de", "zh-Hans")
    assert len(pairs) > 500
    src, tgt = pairs[len(pairs) // 2]
    assert script_fraction(tgt, "hans") > 0.6 and script_fraction(src, "latn") > 0.6


def test_unknown_language_fails_with_one_line():
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        language("xx")


def test_cmap_coverage_check():
    arabic = fonts_for("arab", "sans")[0]  # Noto Sans Arabic: no Latin letters
    assert covers(arabic, "مرحبا بالعالم")
    assert not covers(arabic, "hello")
    assert fonts.missing_glyphs(arabic, "a مرحبا") == ["a"]


def test_no_font_covers_text_raises_instead_of_tofu():
    rng = random.Random(0)
    with pytest.raises(FontMissingError):
        pick_font(rng, "thai", None, "漢字")
    with pytest.raises(FontMissingError):
        fit_text(rng, lambda g: "漢字", "thai", tries=3)


def test_missing_font_family_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "FONT_ROOTS", (str(tmp_path),))
    fonts.fonts_for.cache_clear()
    try:
        with pytest.raises(FontMissingError, match="apt-get install .*fonts-noto-cjk"):
            fonts.fonts_for("kore")
    finally:
        monkeypatch.undo()
        fonts.fonts_for.cache_clear()


def test_data_package_does_not_import_torch():
    code = (
        "import sys, hyocr.data.shards, hyocr.data.cli, hyocr.data.preview, hyocr.data.render.document, "
        "hyocr.data.render.receipt, hyocr.data.render.scene, hyocr.data.render.chart, hyocr.data.render.card; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_held_out_faces_never_reach_training_renders_and_are_all_an_eval_set_sees():
    from hyocr.data.fonts import HELDOUT_FACES, font_split, fonts_for, pick_font
    from hyocr.data.scenarios import Recipe, load_recipe, make_render

    assert HELDOUT_FACES <= {f.name for f in fonts_for("latn")}  # the split names installed faces
    seen: dict[str, set[str]] = {}
    for side in ("train", "heldout"):
        recipe = Recipe(
            name="t",
            scenarios={"line": 1, "line_clean": 1, "line_basic": 1, "receipt_line": 1},
            fonts=side,
            degrade_probability=0,
        )
        seen[side] = {make_render(recipe, 7, i)[0].meta["font"] for i in range(80)}
    assert not seen["train"] & HELDOUT_FACES and seen["heldout"] <= HELDOUT_FACES, seen
    assert len(seen["heldout"]) >= 3
    # every style keeps faces on both sides, and renderers called directly see every face
    for style in ("sans", "serif", "mono", "hand", "italic", "bold", "narrow", "display"):
        for side in ("train", "heldout"):
            with font_split(side):
                assert (pick_font(random.Random(style), "latn", style).name in HELDOUT_FACES) == (
                    side == "heldout"
                )
    picked = {pick_font(random.Random(i), "latn", "mono").name for i in range(300)}
    assert picked & HELDOUT_FACES and picked - HELDOUT_FACES
    # recipes default to the training side and refuse an unknown one
    assert load_recipe("smoke").fonts == "train"
    with pytest.raises(ValueError, match="fonts must be one of train, heldout, all"):
        with font_split("test"):
            pass


def test_no_training_face_is_a_copy_or_a_sibling_of_a_held_out_face():
    # held-out faces measure reading print never seen: a clone under another name (TeX Gyre Bonum
    # is URW Bookman redrawn) or the same design at another weight would leak them into training
    from hyocr.data.fonts import HELDOUT_FACES, fonts_for

    kin = ("URWBookman", "texgyrebonum", "Roboto", "JetBrainsMono", "Anonymous", "DejaVuSansCondensed-BoldOb")
    training = {f.name for f in fonts_for("latn")} - HELDOUT_FACES
    assert len(training) >= 130  # session 55's faces are installed (requirements/apt.txt)
    assert not [name for name in training if name.startswith(kin)], training


@pytest.mark.parametrize("code", ["zh-Hans", "zh-Hant", "ja"])
def test_chinese_and_japanese_sentences_run_on_without_spaces(code):
    """Text of a language written without spaces has none after a sentence's full stop: Faker's
    lorem joins its sentences with spaces, which made about one "。" in eight of the Chinese
    paragraphs a "。 " (a space no Chinese text prints, and that a reader cannot see)."""
    src, rng = text_source(code), random.Random(7)
    paragraphs = [src.paragraph(rng, 300) for _ in range(60)]
    assert sum(p.count("。") for p in paragraphs) > 300
    assert not any(re.search(r"。\s", p) for p in paragraphs)
