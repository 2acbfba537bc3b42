"""Offline text sources for the data engine: a sampler per language and script.

Sources, all on the machine (see DESIGN.md §3):
- gettext catalogues that Debian packages install (`/usr/share/locale/*/LC_MESSAGES/*.mo`): real,
  human-translated UI strings. msgid is English, so the catalogues double as a parallel corpus
  (English ↔ X, and X ↔ Chinese by pivoting on the same msgid).
- Faker locales: names, companies, addresses, phone numbers, and locale "lorem" text where Faker
  has a word list for the language.
- Debian word lists (`/usr/share/dict/*`): single words and word salads for Latin-script languages.
- generators for numbers, dates, times, amounts and IDs.

Non-obvious choices:
- .mo files are parsed here rather than with `gettext.GNUTranslations`, which raises on the
  catalogues whose header charset is not UTF-8; such a file is decoded with its declared charset
  or skipped.
- A catalogue string is kept only if it is plain prose: no printf/format placeholders, markup,
  escapes or newlines; keyboard mnemonics (`_File`, `&Open`) are removed; at least 60 % of its
  letters must be in the language's script (catalogues contain untranslated English).
- All randomness comes from the caller's `random.Random`, Faker included (its `random` is set to
  the caller's generator), so one seed gives one text.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import re
import struct
import unicodedata
from dataclasses import dataclass

__all__ = [
    "LANGUAGES",
    "Language",
    "TextSource",
    "amount",
    "date_string",
    "gettext_catalogue",
    "inventory",
    "language",
    "parallel_pairs",
    "script_fraction",
    "text_source",
    "time_string",
]

LOCALE_ROOT = "/usr/share/locale"
DICT_ROOT = "/usr/share/dict"


@dataclass(frozen=True)
class Language:
    code: str  # BCP-47-like code used in samples ("zh-Hans")
    name_en: str  # as used in the translation instruction ("English")
    name_zh: str  # as used in the Chinese translation instruction ("英文")
    script: str  # key into fonts.SCRIPTS
    faker: str | None  # Faker locale, or None
    locales: tuple[str, ...]  # gettext locale directories
    wordlist: str | None = None  # file under /usr/share/dict
    rtl: bool = False
    spaces: bool = True  # words separated by spaces (False: CJK, Thai)
    faker_lorem: bool = False  # Faker has a real word list for this language's text()


def _L(code, en, zh, script, faker, locales, wordlist=None, rtl=False, spaces=True, lorem=False) -> Language:
    return Language(code, en, zh, script, faker, tuple(locales), wordlist, rtl, spaces, lorem)


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        _L("en", "English", "英文", "latn", "en_US", [], "american-english", lorem=False),
        _L("zh-Hans", "Chinese", "中文", "hans", "zh_CN", ["zh_CN"], spaces=False, lorem=True),
        _L(
            "zh-Hant",
            "Traditional Chinese",
            "繁体中文",
            "hant",
            "zh_TW",
            ["zh_TW", "zh_HK"],
            spaces=False,
            lorem=True,
        ),
        _L("ja", "Japanese", "日文", "jpan", "ja_JP", ["ja"], spaces=False, lorem=True),
        _L("ko", "Korean", "韩文", "kore", "ko_KR", ["ko"]),
        _L("ar", "Arabic", "阿拉伯文", "arab", "ar_AA", ["ar"], rtl=True, lorem=True),
        _L("he", "Hebrew", "希伯来文", "hebr", "he_IL", ["he"], rtl=True, lorem=True),
        _L("fa", "Persian", "波斯文", "arab", "fa_IR", ["fa"], rtl=True, lorem=True),
        _L("ru", "Russian", "俄文", "cyrl", "ru_RU", ["ru"], lorem=True),
        _L("uk", "Ukrainian", "乌克兰文", "cyrl", "uk_UA", ["uk"], lorem=True),
        _L("bg", "Bulgarian", "保加利亚文", "cyrl", "bg_BG", ["bg"]),
        _L("sr", "Serbian", "塞尔维亚文", "cyrl", None, ["sr"]),
        _L("el", "Greek", "希腊文", "grek", "el_GR", ["el"], lorem=True),
        _L("hi", "Hindi", "印地文", "deva", "hi_IN", ["hi"]),
        _L("bn", "Bengali", "孟加拉文", "beng", "bn_BD", ["bn", "bn_IN"], lorem=True),
        _L("ta", "Tamil", "泰米尔文", "taml", "ta_IN", ["ta"]),
        _L("th", "Thai", "泰文", "thai", "th_TH", ["th"], spaces=False, lorem=True),
        _L("vi", "Vietnamese", "越南文", "latn", "vi_VN", ["vi"], lorem=True),
        _L("de", "German", "德文", "latn", "de_DE", ["de"], "ngerman", lorem=True),
        _L("es", "Spanish", "西班牙文", "latn", "es_ES", ["es"], "spanish", lorem=True),
        _L("fr", "French", "法文", "latn", "fr_FR", ["fr"], "french", lorem=True),
        _L("it", "Italian", "意大利文", "latn", "it_IT", ["it"], "italian", lorem=True),
        _L("pt", "Portuguese", "葡萄牙文", "latn", "pt_BR", ["pt", "pt_BR"], "portuguese"),
        _L("tr", "Turkish", "土耳其文", "latn", "tr_TR", ["tr"]),
        _L("id", "Indonesian", "印尼文", "latn", "id_ID", ["id"]),
        _L("ms", "Malay", "马来文", "latn", "en_MS", ["ms"]),
        _L("nl", "Dutch", "荷兰文", "latn", "nl_NL", ["nl"], "dutch", lorem=True),
        _L("pl", "Polish", "波兰文", "latn", "pl_PL", ["pl"], lorem=True),
        _L("cs", "Czech", "捷克文", "latn", "cs_CZ", ["cs"], lorem=True),
        _L("sk", "Slovak", "斯洛伐克文", "latn", "sk_SK", ["sk"]),
        _L("sl", "Slovenian", "斯洛文尼亚文", "latn", "sl_SI", ["sl"]),
        _L("hr", "Croatian", "克罗地亚文", "latn", "hr_HR", ["hr"]),
        _L("hu", "Hungarian", "匈牙利文", "latn", "hu_HU", ["hu"]),
        _L("ro", "Romanian", "罗马尼亚文", "latn", "ro_RO", ["ro"]),
        _L("sv", "Swedish", "瑞典文", "latn", "sv_SE", ["sv"]),
        _L("da", "Danish", "丹麦文", "latn", "da_DK", ["da"], lorem=True),
        _L("nb", "Norwegian", "挪威文", "latn", "no_NO", ["nb"]),
        _L("fi", "Finnish", "芬兰文", "latn", "fi_FI", ["fi"]),
        _L("et", "Estonian", "爱沙尼亚文", "latn", "et_EE", ["et"]),
        _L("lt", "Lithuanian", "立陶宛文", "latn", "lt_LT", ["lt"]),
        _L("lv", "Latvian", "拉脱维亚文", "latn", "lv_LV", ["lv"]),
        _L("ca", "Catalan", "加泰罗尼亚文", "latn", None, ["ca"]),
        _L("gl", "Galician", "加利西亚文", "latn", None, ["gl"]),
        _L("eu", "Basque", "巴斯克文", "latn", None, ["eu"]),
        _L("af", "Afrikaans", "南非荷兰文", "latn", None, ["af"]),
    )
}

# Unicode ranges per script (for filtering catalogue strings)
_SCRIPT_RANGES: dict[str, str] = {
    "latn": "A-Za-z\u00c0-\u024f\u1e00-\u1eff",
    "cyrl": "\u0400-\u04ff",
    "grek": "\u0370-\u03ff\u1f00-\u1fff",
    "arab": "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff",
    "hebr": "\u0590-\u05ff",
    "deva": "\u0900-\u097f",
    "beng": "\u0980-\u09ff",
    "taml": "\u0b80-\u0bff",
    "thai": "\u0e00-\u0e7f",
    "hans": "\u3400-\u4dbf\u4e00-\u9fff",
    "hant": "\u3400-\u4dbf\u4e00-\u9fff",
    "jpan": "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff",
    "kore": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
}
_SCRIPT_RE = {s: re.compile(f"[{r}]") for s, r in _SCRIPT_RANGES.items()}
_BAD = re.compile(r"[%{}<>\\$@|\t\n\r=#*/\[\]~^`]|\.\.\.|…|https?:|\b[A-Z_]{4,}\b")


def language(code: str) -> Language:
    """Look a language up by code; one-line error for an unknown one."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise ValueError(f"unknown language '{code}' (known: {', '.join(LANGUAGES)})") from None


def script_fraction(text: str, script: str) -> float:
    """Fraction of the letters of `text` that belong to `script`."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    rx = _SCRIPT_RE[script]
    return sum(1 for c in letters if rx.match(c)) / len(letters)


# ----------------------------------------------------------------------------- gettext catalogues


def _read_mo(path: str) -> dict[str, str]:
    """msgid -> msgstr of a GNU .mo file (singular entries only)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        return {}
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if end is None:
        return {}
    _, n, orig_off, trans_off = struct.unpack(end + "4I", data[4:20])
    raw: list[tuple[bytes, bytes]] = []
    for i in range(n):
        ln, off = struct.unpack(end + "2I", data[orig_off + 8 * i : orig_off + 8 * i + 8])
        tl, toff = struct.unpack(end + "2I", data[trans_off + 8 * i : trans_off + 8 * i + 8])
        raw.append((data[off : off + ln], data[toff : toff + tl]))
    charset = "utf-8"
    for k, v in raw:
        if k == b"":
            m = re.search(rb"charset=([\w-]+)", v)
            if m:
                charset = m.group(1).decode("ascii", "replace")
    out: dict[str, str] = {}
    for k, v in raw:
        if not k or b"\x00" in k or b"\x04" in k:  # header, plurals, msgctxt
            continue
        try:
            out[k.decode("utf-8")] = v.split(b"\x00")[0].decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return out


def _clean(s: str) -> str | None:
    if any(unicodedata.category(c) == "Cc" for c in s):
        return None
    s = s.replace("_", "").replace("&", "").strip()
    s = re.sub(r"\s+", " ", s)
    if not (2 <= len(s) <= 90) or _BAD.search(s) or s.endswith(":"):
        return None
    return s.rstrip(":").strip() or None


_CACHE_VERSION = "1"


def _cache_dir() -> str:
    return os.environ.get("HYOCR_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hyocr"))


@functools.cache
def gettext_catalogue(code: str) -> dict[str, str]:
    """English msgid -> cleaned translation in language `code`, over all installed catalogues.

    For English this maps each usable msgid to itself (taken from all catalogues). The cleaned
    catalogue is cached on disk (keyed by the .mo files' paths, sizes and mtimes) because reading
    some 80 catalogues per language takes about a second.
    """
    lang = language(code)
    dirs = lang.locales if code != "en" else ("de", "fr", "es")
    paths = [
        p for loc in dirs for p in sorted(glob.glob(os.path.join(LOCALE_ROOT, loc, "LC_MESSAGES", "*.mo")))
    ]
    key = hashlib.sha1(
        json.dumps(
            [_CACHE_VERSION, code, [(p, os.path.getsize(p), int(os.path.getmtime(p))) for p in paths]]
        ).encode()
    ).hexdigest()[:16]
    cache = os.path.join(_cache_dir(), "gettext", f"{code}-{key}.json")
    try:
        with open(cache, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    out = _build_catalogue(lang, paths)
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, cache)
    except OSError:
        pass
    return out


def _build_catalogue(lang: Language, paths: list[str]) -> dict[str, str]:
    code = lang.code
    out: dict[str, str] = {}
    for path in paths:
        for k, v in _read_mo(path).items():
            ck = _clean(k)
            if ck is None or ck in out or script_fraction(ck, "latn") < 0.9:
                continue
            if code == "en":
                out[ck] = ck
                continue
            cv = _clean(v)
            if cv is None or cv == ck or script_fraction(cv, lang.script) < 0.6:
                continue
            out[ck] = cv
    return out


@functools.cache
def _catalogue_values(code: str) -> tuple[str, ...]:
    return tuple(sorted(set(gettext_catalogue(code).values())))


@functools.cache
def _catalogue_keys(code: str) -> tuple[str, ...]:
    return tuple(sorted(gettext_catalogue(code)))


def parallel_pairs(source: str, target: str) -> list[tuple[str, str]]:
    """(text in `source`, its human translation in `target`) pairs, pivoting on English msgids.

    Example: parallel_pairs("de", "en") -> [("Datei öffnen", "Open File"), ...]
    """
    src = gettext_catalogue(source)
    tgt = gettext_catalogue(target)
    return [(src[k], tgt[k]) for k in sorted(src.keys() & tgt.keys()) if src[k] != tgt[k]]


# ----------------------------------------------------------------------------- word lists, Faker


@functools.cache
def _wordlist(name: str) -> tuple[str, ...]:
    path = os.path.join(DICT_ROOT, name)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"word list {path} is missing: apt-get install the matching w* package (e.g. wamerican)"
        )
    with open(path, encoding="utf-8", errors="ignore") as f:
        words = [w.strip() for w in f if w.strip() and "'" not in w and 2 <= len(w.strip()) <= 16]
    return tuple(words)


@functools.cache
def _faker(locale: str):
    from faker import Faker

    return Faker(locale)


# ----------------------------------------------------------------------------- numbers, dates, amounts

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def date_string(rng, style: str | None = None) -> str:
    """A random date in one of the formats seen on receipts and documents."""
    y, m, d = rng.randint(1995, 2026), rng.randint(1, 12), rng.randint(1, 28)
    style = style or rng.choice(["dmy/", "dmy-", "ymd-", "mdy/", "dmy.", "dMy", "Mdy", "ymd/", "dmyy/"])
    return {
        "dmy/": f"{d:02d}/{m:02d}/{y}",
        "dmy-": f"{d:02d}-{m:02d}-{y}",
        "ymd-": f"{y}-{m:02d}-{d:02d}",
        "mdy/": f"{m:02d}/{d:02d}/{y}",
        "dmy.": f"{d:02d}.{m:02d}.{y}",
        "dMy": f"{d:02d} {_MONTHS[m - 1]} {y}",
        "Mdy": f"{_MONTHS[m - 1]} {d}, {y}",
        "ymd/": f"{y}/{m:02d}/{d:02d}",
        "dmyy/": f"{d:02d}/{m:02d}/{y % 100:02d}",
        "zh": f"{y}年{m}月{d}日",
    }[style]


def time_string(rng) -> str:
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice(
        [
            f"{h:02d}:{mi:02d}",
            f"{h:02d}:{mi:02d}:{s:02d}",
            f"{(h % 12) or 12}:{mi:02d}:{s:02d} {'AM' if h < 12 else 'PM'}",
        ]
    )


def amount(rng, lo: float = 0.1, hi: float = 500.0, decimals: int = 2) -> str:
    """A price like '12.50' (log-uniform between lo and hi)."""
    import math

    v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return f"{v:,.{decimals}f}" if v >= 1000 and rng.random() < 0.5 else f"{v:.{decimals}f}"


# ----------------------------------------------------------------------------- the sampler


class TextSource:
    """Text in one language: words, phrases, sentences, paragraphs, names, addresses.

    Example:
        >>> import random
        >>> src = text_source("de")
        >>> line = src.line(random.Random(0), max_chars=40)
    """

    def __init__(self, code: str) -> None:
        self.lang = language(code)
        self.code = code
        self._cat = _catalogue_values(code) if code != "en" else _catalogue_keys("en")
        self._words = _wordlist(self.lang.wordlist) if self.lang.wordlist else ()
        if not self._cat and not self._words and not (self.lang.faker and self.lang.faker_lorem):
            raise RuntimeError(
                f"no text source for language '{code}': install gettext catalogues for {self.lang.locales} "
                "(e.g. apt-get install iso-codes libglib2.0-data)"
            )

    # -- internals
    def _fake(self, rng):
        if not self.lang.faker:
            return None
        f = _faker(self.lang.faker)
        f.random = rng
        return f

    def _joiner(self) -> str:
        return " " if self.lang.spaces else ""

    def _lorem(self, rng, max_chars: int) -> str | None:
        f = self._fake(rng)
        if f is None or not self.lang.faker_lorem:
            return None
        s = f.text(max_nb_chars=max(20, max_chars))
        if not self.lang.spaces and self.lang.script in ("hans", "hant", "jpan"):
            # Faker joins a text's sentences with spaces and its paragraphs with line breaks;
            # Chinese and Japanese write neither between sentences
            return "".join(s.split()).replace(".", "。")
        return s.replace("\n", " ")

    # -- public API
    def word(self, rng) -> str:
        if self._words and rng.random() < 0.7:
            return rng.choice(self._words)
        s = self.phrase(rng, 16)
        return s.split(" ")[0] if self.lang.spaces else s[: rng.randint(2, 6)]

    def phrase(self, rng, max_chars: int = 30) -> str:
        """A short string (UI label, heading, item name) of at most max_chars characters."""
        for _ in range(20):
            r = rng.random()
            if self._cat and r < 0.7:
                s = rng.choice(self._cat)
            elif self._words and r < 0.9:
                s = " ".join(rng.choice(self._words) for _ in range(rng.randint(1, 4)))
            else:
                s = self._lorem(rng, max_chars) or (
                    rng.choice(self._cat) if self._cat else rng.choice(self._words)
                )
                s = self._truncate(s, max_chars)
            if 0 < len(s) <= max_chars:
                return s
        return self._truncate(s, max_chars)

    def _truncate(self, s: str, max_chars: int) -> str:
        if len(s) <= max_chars:
            return s
        if self.lang.spaces:
            cut = s[:max_chars].rsplit(" ", 1)[0]
            return cut if cut else s[:max_chars]
        cut = s[:max_chars]
        while cut and _is_mark(cut[-1]):  # never cut between a base and its combining mark
            cut = cut[:-1]
        return cut

    def sentence(self, rng, max_chars: int = 120) -> str:
        parts: list[str] = []
        target = rng.randint(min(max_chars, max(10, max_chars // 3)), max(1, max_chars))
        while len(self._joiner().join(parts)) < target:
            r = rng.random()
            if r < 0.35 and (lor := self._lorem(rng, target)):
                parts.append(lor)
            elif r < 0.45:
                parts.append(self.number_token(rng))
            else:
                parts.append(self.phrase(rng, 40))
        return self._truncate(self._joiner().join(parts), max_chars)

    def line(self, rng, max_chars: int = 40) -> str:
        """One line of text (what a text-line renderer draws)."""
        r = rng.random()
        if r < 0.45:
            s = self.phrase(rng, max_chars)
        elif r < 0.9:
            s = self.sentence(rng, max_chars)
        else:
            s = self.number_token(rng)
        return s.strip() or self.word(rng)

    def characters(self, rng, max_chars: int = 12) -> str:
        """1 to `max_chars` characters drawn independently: each of the script's `inventory` as
        likely as any other (a rare one as often as a common one), one in `ODD_SHARE` a digit or
        a mark of `ODD_CHARACTERS`; spaced as the language is. No word and no sentence, so a
        reader learns every character's look rather than which one the context makes likely.

        >>> import random
        >>> s = text_source("zh-Hans").characters(random.Random(3), 8)
        >>> 1 <= len(s) <= 8 and script_fraction(s, "hans") == 1.0
        True
        """
        chars = inventory(self.code)
        n = rng.randint(1, max(1, max_chars))
        picked = [
            rng.choice(ODD_CHARACTERS) if rng.random() < ODD_SHARE else rng.choice(chars) for _ in range(n)
        ]
        if self.lang.spaces:  # words of 1-8 characters
            words, i = [], 0
            while i < n:
                k = rng.randint(1, 8)
                words.append("".join(picked[i : i + k]))
                i += k
            return " ".join(words)
        return "".join(picked)

    def paragraph(self, rng, max_chars: int = 600) -> str:
        sents: list[str] = []
        target = rng.randint(max_chars // 3, max_chars)
        while sum(len(s) for s in sents) < target:
            sents.append(self.sentence(rng, 140))
        return self._joiner().join(sents)[:max_chars].strip()

    def number_token(self, rng) -> str:
        r = rng.random()
        if r < 0.3:
            return date_string(
                rng, "zh" if self.lang.script in ("hans", "hant") and rng.random() < 0.5 else None
            )
        if r < 0.5:
            return amount(rng)
        if r < 0.65:
            return time_string(rng)
        if r < 0.8:
            return str(rng.randint(0, 10 ** rng.randint(1, 7)))
        return f"{rng.randint(1, 99)}%"

    def name(self, rng) -> str:
        f = self._fake(rng) or _en_fake(rng)
        return f.name()

    def company(self, rng) -> str:
        f = self._fake(rng) or _en_fake(rng)
        return f.company()

    def address_lines(self, rng) -> list[str]:
        f = self._fake(rng) or _en_fake(rng)
        return [p.strip() for p in f.address().replace("\n", ", ").split(", ") if p.strip()]

    def phone(self, rng) -> str:
        f = self._fake(rng) or _en_fake(rng)
        return f.phone_number()


def _en_fake(rng):
    f = _faker("en_US")
    f.random = rng
    return f


def _is_mark(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


# `TextSource.characters`: the share of digits and marks among the characters, and which
ODD_SHARE = 0.1
ODD_CHARACTERS = "0123456789.,:-%/()"
# `inventory`: lines drawn from the language's sources, and how often a character must be in them
INVENTORY_LINES = 100000
INVENTORY_MIN_COUNT = 2


@functools.cache
def inventory(code: str) -> str:
    """The characters of the language's script that its text sources write at least
    `INVENTORY_MIN_COUNT` times in `INVENTORY_LINES` lines (drawn with seed 0: the same on every
    machine with the same sources), in code point order. A character seldom written there is left
    out, as a tokenizer trained on the sources would leave it (session 41's Chinese reader took the
    characters of its lines written at least twice)."""
    import collections
    import random

    src, rx = text_source(code), _SCRIPT_RE[language(code).script]
    rng = random.Random(0)
    counts = collections.Counter(c for _ in range(INVENTORY_LINES) for c in src.line(rng, 40) if rx.match(c))
    chars = "".join(sorted(c for c, k in counts.items() if k >= INVENTORY_MIN_COUNT))
    if not chars:
        raise RuntimeError(f"no characters of its script in the text sources of '{code}'")
    return chars


@functools.cache
def text_source(code: str) -> TextSource:
    """The cached sampler of one language."""
    return TextSource(code)
