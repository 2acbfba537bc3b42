"""Fonts by script, found at run time among the system's Debian font packages.

Non-obvious choices:
- The catalogue below names font *files* (relative to /usr/share/fonts) and the Debian package that
  installs them. Nothing is downloaded: a family the caller needs but the machine lacks raises
  `FontMissingError` with one line naming the package to `apt-get install`.
- Collections (.ttc, e.g. Noto Sans CJK) are resolved by face *name*, not by a hard-coded index, so
  a repacked collection with another face order still gives the right regional glyph variants.
- No tofu: `Font.covers(text)` checks every non-space, non-format code point against the face's cmap
  (read once with fontTools and cached). Shaping-only glyphs (Arabic joining forms, Indic conjuncts)
  are not in the cmap and need not be: HarfBuzz (Pillow's raqm layout) derives them from base
  characters, which must be present.
- Held-out faces: a few Latin faces (`HELDOUT_FACES`, one or two per style so that every style
  keeps faces on both sides) are never drawn for training data. A recipe says which side it draws
  from (`fonts = "train"`, the default, `"heldout"` for evaluation sets, or `"all"`); the data
  engine sets it around each render with `font_split`. Other scripts have too few faces to split:
  both sides use all of them.
- Styles are coarse tags used by renderers: sans, serif, mono (receipts, code), hand (handwriting-like),
  display (ads, scenes), bold, italic (slanted faces: real receipts print item lines and headers
  in Arial/Times italics, which upright faces alone never taught the reader).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import unicodedata
from dataclasses import dataclass, field

from PIL import ImageFont

__all__ = [
    "FONT_ROOTS",
    "FONT_SPLITS",
    "HELDOUT_FACES",
    "Font",
    "FontMissingError",
    "FontSpec",
    "SCRIPTS",
    "covers",
    "font_split",
    "fonts_for",
    "in_split",
    "pick_font",
    "pil_font",
]

FONT_ROOTS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/texmf/fonts",
)  # TeX Gyre lives in texmf

# script tags used across the data engine (ISO 15924-like, lower case)
SCRIPTS = (
    "latn",
    "cyrl",
    "grek",
    "arab",
    "hebr",
    "deva",
    "beng",
    "taml",
    "thai",
    "hans",
    "hant",
    "jpan",
    "kore",
)


class FontMissingError(RuntimeError):
    """A font family the data engine needs is not installed; the message names the Debian package."""


@dataclass(frozen=True)
class FontSpec:
    """One catalogue entry: a font file pattern, the faces inside, and what it is good for."""

    pattern: str  # glob relative to a font root
    package: str  # Debian package that installs it
    scripts: tuple[str, ...]
    styles: tuple[str, ...]
    face: str | None = None  # face name inside a .ttc collection
    weight: float = 1.0  # relative sampling weight within a (script, style) pool


_LAT = ("latn", "cyrl", "grek")
_NOTO = "fonts-noto-core"
_CJK = "fonts-noto-cjk"

CATALOGUE: tuple[FontSpec, ...] = (
    # --- Latin / Cyrillic / Greek
    FontSpec("truetype/noto/NotoSans-Regular.ttf", _NOTO, _LAT, ("sans",), weight=2),
    FontSpec("truetype/noto/NotoSans-Bold.ttf", _NOTO, _LAT, ("sans", "bold")),
    FontSpec("truetype/noto/NotoSans-Condensed.ttf", _NOTO, _LAT, ("sans", "narrow")),
    FontSpec("truetype/noto/NotoSans-SemiCondensedMedium.ttf", _NOTO, _LAT, ("sans", "narrow")),
    FontSpec("truetype/noto/NotoSans-Light.ttf", _NOTO, _LAT, ("sans",)),
    FontSpec("truetype/noto/NotoSerif-Regular.ttf", _NOTO, _LAT, ("serif",), weight=2),
    FontSpec("truetype/noto/NotoSerif-Bold.ttf", _NOTO, _LAT, ("serif", "bold")),
    FontSpec("truetype/noto/NotoSerif-Italic.ttf", _NOTO, _LAT, ("serif",)),
    FontSpec("truetype/noto/NotoSansMono-Regular.ttf", _NOTO, _LAT, ("mono",)),
    FontSpec("truetype/noto/NotoSansMono-Bold.ttf", _NOTO, _LAT, ("mono", "bold")),
    FontSpec("truetype/noto/NotoSansMono-Condensed.ttf", _NOTO, _LAT, ("mono", "narrow")),
    FontSpec("truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core", _LAT, ("sans",)),
    FontSpec("truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core", _LAT, ("sans", "bold")),
    FontSpec("truetype/dejavu/DejaVuSerif.ttf", "fonts-dejavu-core", _LAT, ("serif",)),
    FontSpec("truetype/dejavu/DejaVuSansMono.ttf", "fonts-dejavu-core", _LAT, ("mono",)),
    FontSpec("truetype/dejavu/DejaVuSansMono-Bold.ttf", "fonts-dejavu-core", _LAT, ("mono", "bold")),
    FontSpec(
        "truetype/liberation2/LiberationSans-Regular.ttf", "fonts-liberation2", _LAT, ("sans",), weight=2
    ),
    FontSpec("truetype/liberation2/LiberationSans-Bold.ttf", "fonts-liberation2", _LAT, ("sans", "bold")),
    FontSpec("truetype/liberation2/LiberationSerif-Regular.ttf", "fonts-liberation2", _LAT, ("serif",)),
    FontSpec("truetype/liberation2/LiberationSerif-Bold.ttf", "fonts-liberation2", _LAT, ("serif", "bold")),
    FontSpec(
        "truetype/liberation2/LiberationSans-Italic.ttf",
        "fonts-liberation2",
        _LAT,
        ("sans", "italic"),
        weight=0.5,
    ),
    FontSpec(
        "truetype/liberation2/LiberationSans-BoldItalic.ttf",
        "fonts-liberation2",
        _LAT,
        ("sans", "italic", "bold"),
        weight=0.5,
    ),
    FontSpec(
        "truetype/liberation2/LiberationSerif-Italic.ttf",
        "fonts-liberation2",
        _LAT,
        ("serif", "italic"),
        weight=0.5,
    ),
    FontSpec(
        "truetype/liberation2/LiberationSerif-BoldItalic.ttf",
        "fonts-liberation2",
        _LAT,
        ("serif", "italic", "bold"),
        weight=0.5,
    ),
    FontSpec(
        "truetype/dejavu/DejaVuSans-Oblique.ttf", "fonts-dejavu-extra", _LAT, ("sans", "italic"), weight=0.5
    ),
    FontSpec(
        "truetype/dejavu/DejaVuSans-BoldOblique.ttf",
        "fonts-dejavu-extra",
        _LAT,
        ("sans", "italic", "bold"),
        weight=0.5,
    ),
    FontSpec(
        "truetype/liberation2/LiberationMono-Regular.ttf", "fonts-liberation2", _LAT, ("mono",), weight=2
    ),
    FontSpec("truetype/liberation2/LiberationMono-Bold.ttf", "fonts-liberation2", _LAT, ("mono", "bold")),
    FontSpec("truetype/freefont/FreeMono.ttf", "fonts-freefont-ttf", _LAT, ("mono",)),
    FontSpec("truetype/freefont/FreeMonoBold.ttf", "fonts-freefont-ttf", _LAT, ("mono", "bold")),
    FontSpec("truetype/freefont/FreeSans.ttf", "fonts-freefont-ttf", _LAT, ("sans",)),
    FontSpec("truetype/freefont/FreeSerif.ttf", "fonts-freefont-ttf", _LAT, ("serif",)),
    FontSpec("opentype/urw-base35/NimbusMonoPS-Regular.otf", "fonts-urw-base35", ("latn", "cyrl"), ("mono",)),
    FontSpec(
        "opentype/urw-base35/NimbusMonoPS-Bold.otf", "fonts-urw-base35", ("latn", "cyrl"), ("mono", "bold")
    ),
    FontSpec("opentype/urw-base35/NimbusSans-Regular.otf", "fonts-urw-base35", ("latn", "cyrl"), ("sans",)),
    FontSpec(
        "opentype/urw-base35/NimbusSans-Bold.otf", "fonts-urw-base35", ("latn", "cyrl"), ("sans", "bold")
    ),
    FontSpec(
        "opentype/urw-base35/NimbusSansNarrow-Regular.otf",
        "fonts-urw-base35",
        ("latn",),
        ("sans", "narrow"),
        weight=2,
    ),
    FontSpec(
        "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
        "fonts-urw-base35",
        ("latn",),
        ("sans", "narrow", "bold"),
    ),
    FontSpec("opentype/urw-base35/NimbusRoman-Regular.otf", "fonts-urw-base35", ("latn", "cyrl"), ("serif",)),
    FontSpec("opentype/urw-base35/URWGothic-Book.otf", "fonts-urw-base35", ("latn",), ("display",)),
    FontSpec("opentype/urw-base35/URWBookman-Light.otf", "fonts-urw-base35", ("latn",), ("serif", "display")),
    FontSpec("opentype/courier-prime/Courier Prime.otf", "fonts-courier-prime", ("latn",), ("mono",)),
    FontSpec(
        "opentype/courier-prime/Courier Prime Bold.otf", "fonts-courier-prime", ("latn",), ("mono", "bold")
    ),
    FontSpec("truetype/inconsolata/Inconsolata.otf", "fonts-inconsolata", ("latn",), ("mono", "narrow")),
    FontSpec("truetype/anonymous-pro/Anonymous Pro.ttf", "fonts-anonymous-pro", ("latn",), ("mono",)),
    FontSpec("truetype/jetbrains-mono/JetBrainsMono-Regular.ttf", "fonts-jetbrains-mono", _LAT, ("mono",)),
    FontSpec(
        "truetype/roboto/unhinted/RobotoTTF/Roboto-Regular.ttf", "fonts-roboto-unhinted", _LAT, ("sans",)
    ),
    FontSpec(
        "truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf", "fonts-roboto-unhinted", _LAT, ("sans", "bold")
    ),
    FontSpec(
        "truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
        "fonts-roboto-unhinted",
        _LAT,
        ("sans", "narrow"),
    ),
    FontSpec("truetype/open-sans/OpenSans-Regular.ttf", "fonts-open-sans", _LAT, ("sans",)),
    FontSpec("truetype/open-sans/OpenSans-Bold.ttf", "fonts-open-sans", _LAT, ("sans", "bold")),
    FontSpec("truetype/lato/Lato-Regular.ttf", "fonts-lato", ("latn",), ("sans",)),
    FontSpec("truetype/lato/Lato-Black.ttf", "fonts-lato", ("latn",), ("display", "bold", "heavy")),
    # printer and terminal faces (session 16): real receipts are printed in a thermal or
    # dot-matrix printer's own bitmap faces (Epson's 12x24 "font A" and the like), which the faces
    # above (made for screens and offices) only approximate; "printer" marks the pixel and dot ones
    FontSpec("opentype/spleen/spleen-12x24.otf", "fonts-spleen", ("latn",), ("mono", "printer")),
    FontSpec("opentype/spleen/spleen-8x16.otf", "fonts-spleen", ("latn",), ("mono", "bold", "printer")),
    FontSpec("opentype/spleen/spleen-16x32.otf", "fonts-spleen", ("latn",), ("mono", "printer")),
    FontSpec("opentype/unifont/unifont.otf", "fonts-unifont", ("latn",), ("mono", "printer")),
    FontSpec(
        "truetype/dotgothic16/DotGothic16-Regular.ttf", "fonts-dotgothic16", ("latn",), ("mono", "printer")
    ),
    FontSpec("truetype/3270/3270-Regular.ttf", "fonts-3270", ("latn",), ("mono", "printer")),
    FontSpec(
        "truetype/3270/3270SemiCondensed-Regular.ttf", "fonts-3270", ("latn",), ("mono", "narrow", "printer")
    ),
    FontSpec("truetype/hack/Hack-Regular.ttf", "fonts-hack", _LAT, ("mono",)),
    FontSpec("truetype/hack/Hack-Bold.ttf", "fonts-hack", _LAT, ("mono", "bold")),
    FontSpec("truetype/mononoki/mononoki-Regular.ttf", "fonts-mononoki", ("latn",), ("mono",)),
    FontSpec(
        "opentype/league-mono/LeagueMono-Condensed.otf", "fonts-league-mono", ("latn",), ("mono", "narrow")
    ),
    FontSpec(
        "opentype/league-mono/LeagueMono-CondensedBold.otf",
        "fonts-league-mono",
        ("latn",),
        ("mono", "narrow", "bold"),
    ),
    FontSpec("truetype/agave/agave-r-autohinted.ttf", "fonts-agave", ("latn",), ("mono",)),
    FontSpec("truetype/paratype/PTM55F.ttf", "fonts-paratype", _LAT, ("mono",)),
    FontSpec("truetype/paratype/PTS55F.ttf", "fonts-paratype", _LAT, ("sans",)),
    FontSpec("truetype/paratype/PTS75F.ttf", "fonts-paratype", _LAT, ("sans", "bold")),
    FontSpec("truetype/paratype/PTN57F.ttf", "fonts-paratype", _LAT, ("sans", "narrow")),
    FontSpec("truetype/paratype/PTN77F.ttf", "fonts-paratype", _LAT, ("sans", "narrow", "bold")),
    FontSpec("truetype/crosextra/Carlito-Regular.ttf", "fonts-crosextra-carlito", _LAT, ("sans",)),
    FontSpec("truetype/crosextra/Carlito-Bold.ttf", "fonts-crosextra-carlito", _LAT, ("sans", "bold")),
    FontSpec("opentype/b612/B612Mono-Regular.otf", "fonts-b612", ("latn",), ("mono",)),
    FontSpec("truetype/oxygen/OxygenMono-Regular.ttf", "fonts-oxygen", ("latn",), ("mono",)),
    FontSpec("truetype/firacode/FiraCode-Regular.ttf", "fonts-firacode", _LAT, ("mono",)),
    FontSpec("truetype/tlwg/TlwgMono.ttf", "fonts-tlwg-mono-ttf", ("latn",), ("mono",)),
    FontSpec("truetype/tlwg/TlwgMono-Bold.ttf", "fonts-tlwg-mono-ttf", ("latn",), ("mono", "bold")),
    FontSpec("truetype/monoid/Monoid-Regular.ttf", "fonts-monoid", ("latn",), ("mono",), weight=0.5),
    FontSpec("fonts-go/Go-Mono.ttf", "fonts-go", ("latn",), ("mono",)),
    FontSpec("fonts-go/Go-Regular.ttf", "fonts-go", ("latn",), ("sans",)),
    FontSpec("fonts-go/Go-Bold.ttf", "fonts-go", ("latn",), ("sans", "bold")),
    FontSpec(
        "opentype/public/tex-gyre/texgyreheroscn-regular.otf", "fonts-texgyre", ("latn",), ("sans", "narrow")
    ),
    FontSpec(
        "opentype/public/tex-gyre/texgyreheroscn-bold.otf",
        "fonts-texgyre",
        ("latn",),
        ("sans", "narrow", "bold"),
    ),
    FontSpec("opentype/public/tex-gyre/texgyreheros-regular.otf", "fonts-texgyre", ("latn",), ("sans",)),
    FontSpec("opentype/public/tex-gyre/texgyrecursor-regular.otf", "fonts-texgyre", ("latn",), ("mono",)),
    FontSpec("opentype/public/tex-gyre/texgyrecursor-bold.otf", "fonts-texgyre", ("latn",), ("mono", "bold")),
    # heading faces (session 38): real receipts print the shop's name in black or condensed-black
    # display faces ("TEO HENG STATIONERY & BOOKS" read "TED HENB STATIONERY B BIDIKS", "HOME
    # MASTER" read "HOWE WASTER"), heavier and narrower than the office bolds above; "heavy" marks
    # them for headings. Not tagged "sans": body text keeps its faces
    FontSpec("truetype/noto/NotoSans-Black.ttf", "fonts-noto-extra", _LAT, ("heavy", "bold")),
    FontSpec(
        "truetype/noto/NotoSans-CondensedBlack.ttf", "fonts-noto-extra", _LAT, ("heavy", "bold", "narrow")
    ),
    FontSpec(
        "truetype/noto/NotoSans-ExtraCondensedBlack.ttf",
        "fonts-noto-extra",
        _LAT,
        ("heavy", "bold", "narrow"),
    ),
    FontSpec(
        "truetype/noto/NotoSans-ExtraCondensedBold.ttf", "fonts-noto-extra", _LAT, ("heavy", "bold", "narrow")
    ),
    FontSpec(
        "truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
        "fonts-dejavu-extra",
        _LAT,
        ("heavy", "bold", "narrow"),
    ),
    FontSpec(
        "opentype/league-spartan/LeagueSpartan-Black.otf",
        "fonts-league-spartan",
        ("latn",),
        ("heavy", "bold"),
    ),
    FontSpec(
        "opentype/league-spartan/LeagueSpartan-Bold.otf", "fonts-league-spartan", ("latn",), ("heavy", "bold")
    ),
    FontSpec("truetype/roadgeek/RG2014C.ttf", "fonts-roadgeek", ("latn",), ("heavy", "narrow"), weight=0.5),
    # more text faces (session 55): the serifs above were mostly Times clones, and held-out faces
    # were misread (URW Bookman: 33 of 126 held-out page lines wrong, "%" read "96"). Book serifs,
    # humanist and geometric sans, more weights. No clone of a held-out face (TeX Gyre Bonum is URW
    # Bookman; DejaVu Sans Condensed Bold Oblique is DejaVu Sans Bold Oblique)
    *(
        FontSpec(f"opentype/urw-base35/{name}.otf", "fonts-urw-base35", ("latn",), styles, weight=0.5)
        for name, styles in (
            ("C059-Roman", ("serif",)),
            ("C059-Bold", ("serif", "bold")),
            ("P052-Roman", ("serif",)),
            ("P052-Bold", ("serif", "bold")),
            ("NimbusRoman-Bold", ("serif", "bold")),
            ("URWGothic-Demi", ("sans", "bold")),
        )
    ),
    *(
        FontSpec(pattern, package, ("latn",), ("serif", "italic"), weight=0.25)
        for pattern, package in (
            ("opentype/urw-base35/C059-Italic.otf", "fonts-urw-base35"),
            ("opentype/urw-base35/P052-Italic.otf", "fonts-urw-base35"),
            ("opentype/urw-base35/NimbusRoman-Italic.otf", "fonts-urw-base35"),
            ("truetype/dejavu/DejaVuSerif-Italic.ttf", "fonts-dejavu-extra"),
        )
    ),
    FontSpec("truetype/noto/NotoSans-Italic.ttf", _NOTO, _LAT, ("sans", "italic"), weight=0.25),
    *(
        FontSpec(f"opentype/public/tex-gyre/{name}.otf", "fonts-texgyre", ("latn",), styles, weight=0.5)
        for name, styles in (
            ("texgyrepagella-regular", ("serif",)),
            ("texgyreschola-regular", ("serif",)),
            ("texgyreschola-bold", ("serif", "bold")),
            ("texgyreadventor-regular", ("sans",)),
            ("texgyreheros-bold", ("sans", "bold")),
        )
    ),
    *(
        FontSpec(f"truetype/noto/{name}.ttf", _NOTO, _LAT, styles, weight=0.5)
        for name, styles in (
            ("NotoSerif-Light", ("serif",)),
            ("NotoSerif-Medium", ("serif",)),
            ("NotoSerif-SemiBold", ("serif", "bold")),
            ("NotoSerif-Condensed", ("serif", "narrow")),
            ("NotoSerif-SemiCondensed", ("serif", "narrow")),
            ("NotoSans-Medium", ("sans",)),
            ("NotoSans-SemiBold", ("sans", "bold")),
            ("NotoSans-SemiCondensed", ("sans", "narrow")),
        )
    ),
    *(
        FontSpec(f"truetype/dejavu/{name}.ttf", "fonts-dejavu-extra", _LAT, styles, weight=0.5)
        for name, styles in (
            ("DejaVuSerif-Bold", ("serif", "bold")),
            ("DejaVuSerifCondensed", ("serif", "narrow")),
            ("DejaVuSansCondensed", ("sans", "narrow")),
        )
    ),
    *(
        FontSpec(pattern, package, ("latn",), styles, weight=0.5)
        for pattern, package, styles in (
            ("opentype/linux-libertine/LinLibertine_R.otf", "fonts-linuxlibertine", ("serif",)),
            ("opentype/linux-libertine/LinLibertine_RB.otf", "fonts-linuxlibertine", ("serif", "bold")),
            ("opentype/linux-libertine/LinBiolinum_R.otf", "fonts-linuxlibertine", ("sans",)),
            ("opentype/ebgaramond/EBGaramond12-Regular.otf", "fonts-ebgaramond", ("serif",)),
            ("truetype/charis/CharisSIL-Regular.ttf", "fonts-sil-charis", ("serif",)),
            ("truetype/charis/CharisSIL-Bold.ttf", "fonts-sil-charis", ("serif", "bold")),
            ("truetype/gentiumplus/GentiumBookPlus-Regular.ttf", "fonts-sil-gentiumplus", ("serif",)),
            ("truetype/crosextra/Caladea-Regular.ttf", "fonts-crosextra-caladea", ("serif",)),
            ("truetype/crosextra/Caladea-Bold.ttf", "fonts-crosextra-caladea", ("serif", "bold")),
            ("opentype/quattrocento/Quattrocento-Regular.otf", "fonts-quattrocento", ("serif",)),
            ("opentype/cantarell/Cantarell-Regular.otf", "fonts-cantarell", ("sans",)),
            ("opentype/cantarell/Cantarell-Bold.otf", "fonts-cantarell", ("sans", "bold")),
            ("opentype/cabin/Cabin-Regular.otf", "fonts-cabin", ("sans",)),
            ("opentype/cabin/Cabin-Bold.otf", "fonts-cabin", ("sans", "bold")),
            ("truetype/karla/Karla-Regular.otf", "fonts-karla", ("sans",)),
            ("truetype/karla/Karla-Bold.otf", "fonts-karla", ("sans", "bold")),
        )
    ),
    # handwriting-like
    FontSpec("truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting", ("latn",), ("hand",)),
    FontSpec("truetype/humor-sans/Humor-Sans.ttf", "fonts-humor-sans", ("latn",), ("hand",)),
    FontSpec(
        "opentype/dancingscript/DancingScript-Regular.otf",
        "fonts-dancingscript",
        ("latn",),
        ("hand", "display"),
    ),
    FontSpec("opentype/comic-neue/ComicNeue-Regular.otf", "fonts-comic-neue", ("latn",), ("hand",)),
    FontSpec(
        "opentype/comic-neue/ComicNeue-Bold.otf", "fonts-comic-neue", ("latn",), ("hand", "display", "bold")
    ),
    # --- Arabic, Hebrew, Indic, Thai
    FontSpec("truetype/noto/NotoNaskhArabic-Regular.ttf", _NOTO, ("arab",), ("serif",), weight=2),
    FontSpec("truetype/noto/NotoNaskhArabic-Bold.ttf", _NOTO, ("arab",), ("serif", "bold")),
    FontSpec("truetype/noto/NotoSansArabic-Regular.ttf", _NOTO, ("arab",), ("sans",), weight=2),
    FontSpec("truetype/noto/NotoSansArabic-Bold.ttf", _NOTO, ("arab",), ("sans", "bold")),
    FontSpec("truetype/noto/NotoKufiArabic-Regular.ttf", _NOTO, ("arab",), ("display", "sans")),
    FontSpec("truetype/noto/NotoSansHebrew-Regular.ttf", _NOTO, ("hebr",), ("sans",), weight=2),
    FontSpec("truetype/noto/NotoSansHebrew-Bold.ttf", _NOTO, ("hebr",), ("sans", "bold")),
    FontSpec("truetype/noto/NotoSerifHebrew-Regular.ttf", _NOTO, ("hebr",), ("serif",)),
    FontSpec("truetype/noto/NotoRashiHebrew-Regular.ttf", _NOTO, ("hebr",), ("hand",)),
    # broad faces that also carry Latin digits and letters: the only choice for mixed-script lines
    # (the Noto faces of these scripts have no Latin)
    FontSpec("truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core", ("arab", "hebr"), ("sans",), weight=0.5),
    FontSpec(
        "truetype/dejavu/DejaVuSans-Bold.ttf",
        "fonts-dejavu-core",
        ("arab", "hebr"),
        ("sans", "bold"),
        weight=0.3,
    ),
    FontSpec(
        "truetype/freefont/FreeSans.ttf",
        "fonts-freefont-ttf",
        ("hebr", "deva", "beng"),
        ("sans",),
        weight=0.5,
    ),
    FontSpec(
        "truetype/freefont/FreeSerif.ttf",
        "fonts-freefont-ttf",
        ("arab", "hebr", "thai", "deva", "beng", "taml"),
        ("serif",),
        weight=0.5,
    ),
    FontSpec("truetype/noto/NotoSansDevanagari-Regular.ttf", _NOTO, ("deva",), ("sans",), weight=2),
    FontSpec("truetype/noto/NotoSansDevanagari-Bold.ttf", _NOTO, ("deva",), ("sans", "bold")),
    FontSpec("truetype/noto/NotoSerifDevanagari-Regular.ttf", _NOTO, ("deva",), ("serif",)),
    FontSpec("truetype/noto/NotoSansBengali-Regular.ttf", _NOTO, ("beng",), ("sans",)),
    FontSpec("truetype/noto/NotoSerifBengali-Regular.ttf", _NOTO, ("beng",), ("serif",)),
    FontSpec("truetype/noto/NotoSansTamil-Regular.ttf", _NOTO, ("taml",), ("sans",)),
    FontSpec("truetype/noto/NotoSerifTamil-Regular.ttf", _NOTO, ("taml",), ("serif",)),
    FontSpec("truetype/noto/NotoSansThai-Regular.ttf", _NOTO, ("thai",), ("sans",), weight=2),
    FontSpec("truetype/noto/NotoSansThai-Bold.ttf", _NOTO, ("thai",), ("sans", "bold")),
    FontSpec("truetype/noto/NotoSerifThai-Regular.ttf", _NOTO, ("thai",), ("serif",)),
    FontSpec("truetype/noto/NotoLoopedThai-Regular.ttf", _NOTO, ("thai",), ("sans", "display")),
    # --- CJK (regional variants selected by face name)
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("hans",), ("sans",), face="Noto Sans CJK SC", weight=2
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Bold.ttc", _CJK, ("hans",), ("sans", "bold"), face="Noto Sans CJK SC"
    ),
    FontSpec("opentype/noto/NotoSerifCJK-Regular.ttc", _CJK, ("hans",), ("serif",), face="Noto Serif CJK SC"),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("hans",), ("mono",), face="Noto Sans Mono CJK SC"
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("hant",), ("sans",), face="Noto Sans CJK TC", weight=2
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Bold.ttc", _CJK, ("hant",), ("sans", "bold"), face="Noto Sans CJK TC"
    ),
    FontSpec("opentype/noto/NotoSerifCJK-Regular.ttc", _CJK, ("hant",), ("serif",), face="Noto Serif CJK TC"),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("hant",), ("mono",), face="Noto Sans Mono CJK TC"
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("jpan",), ("sans",), face="Noto Sans CJK JP", weight=2
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Bold.ttc", _CJK, ("jpan",), ("sans", "bold"), face="Noto Sans CJK JP"
    ),
    FontSpec("opentype/noto/NotoSerifCJK-Regular.ttc", _CJK, ("jpan",), ("serif",), face="Noto Serif CJK JP"),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("jpan",), ("mono",), face="Noto Sans Mono CJK JP"
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("kore",), ("sans",), face="Noto Sans CJK KR", weight=2
    ),
    FontSpec(
        "opentype/noto/NotoSansCJK-Bold.ttc", _CJK, ("kore",), ("sans", "bold"), face="Noto Sans CJK KR"
    ),
    FontSpec("opentype/noto/NotoSerifCJK-Regular.ttc", _CJK, ("kore",), ("serif",), face="Noto Serif CJK KR"),
    FontSpec(
        "opentype/noto/NotoSansCJK-Regular.ttc", _CJK, ("kore",), ("mono",), face="Noto Sans Mono CJK KR"
    ),
    FontSpec("truetype/klee/KleeOne-Regular.ttf", "fonts-klee", ("jpan",), ("hand",)),
    FontSpec("truetype/kiloji/kiloji.ttf", "fonts-kiloji", ("jpan",), ("hand",)),
    FontSpec("truetype/arphic/ukai.ttc", "fonts-arphic-ukai", ("hant",), ("hand",), face="AR PL UKai TW"),
    FontSpec("truetype/arphic/ukai.ttc", "fonts-arphic-ukai", ("hans",), ("hand",), face="AR PL UKai CN"),
)


@dataclass(frozen=True)
class Font:
    """A concrete face on disk: path + index inside a collection."""

    path: str
    index: int
    package: str
    styles: tuple[str, ...] = field(default=())
    weight: float = 1.0

    @property
    def name(self) -> str:
        base = os.path.basename(self.path)
        return base if self.index == 0 else f"{base}#{self.index}"

    def covers(self, text: str) -> bool:
        """True when every visible character of `text` has a glyph in this face."""
        return covers(self, text)

    def pil(self, size: int) -> ImageFont.FreeTypeFont:
        return pil_font(self.path, self.index, size)


def _find(pattern: str) -> str | None:
    for root in FONT_ROOTS:
        hits = sorted(glob.glob(os.path.join(root, pattern)))
        if hits:
            return hits[0]
    return None


@functools.cache
def _face_index(path: str, face: str | None) -> int:
    if face is None or not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    coll = TTCollection(path, lazy=True)
    names = [f["name"].getDebugName(4) or "" for f in coll.fonts]
    full = [f["name"].getDebugName(1) or "" for f in coll.fonts]
    for i, (n4, n1) in enumerate(zip(names, full, strict=True)):
        if face in (n1, n4) or n1.startswith(face) and n1[len(face) :].strip() in ("", "Regular", "Bold"):
            return i
    raise FontMissingError(f"face '{face}' not found in {path} (faces: {', '.join(full)})")


@functools.cache
def _codepoints(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index, lazy=True)
    cmap = font.getBestCmap() or {}
    return frozenset(cmap)


def _visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs")


def covers(font: Font, text: str) -> bool:
    """True when every visible code point of `text` is in the font's cmap (no tofu)."""
    cps = _codepoints(font.path, font.index)
    return all(ord(ch) in cps for ch in text if _visible(ch))


def missing_glyphs(font: Font, text: str) -> list[str]:
    cps = _codepoints(font.path, font.index)
    return sorted({ch for ch in text if _visible(ch) and ord(ch) not in cps})


@functools.lru_cache(maxsize=1024)
def pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    """A cached Pillow font with the raqm layout (shaping + bidi)."""
    return ImageFont.truetype(path, size=max(4, int(size)), index=index, layout_engine=ImageFont.Layout.RAQM)


@functools.cache
def fonts_for(script: str, style: str | None = None) -> tuple[Font, ...]:
    """All installed faces for `script` (optionally with a style tag).

    Raises FontMissingError naming the Debian package when none is installed.
    """
    if script not in SCRIPTS:
        raise ValueError(f"unknown script '{script}' (known: {', '.join(SCRIPTS)})")
    specs = [s for s in CATALOGUE if script in s.scripts and (style is None or style in s.styles)]
    if not specs:
        raise ValueError(f"no catalogued font for script '{script}' with style '{style}'")
    found: list[Font] = []
    for spec in specs:
        path = _find(spec.pattern)
        if path is None:
            continue
        found.append(Font(path, _face_index(path, spec.face), spec.package, spec.styles, spec.weight))
    if not found:
        pkgs = sorted({s.package for s in specs})
        raise FontMissingError(
            f"no font for script '{script}'{f' style {style!r}' if style else ''} is installed: "
            f"apt-get install {' '.join(pkgs)}"
        )
    return tuple(found)


# Latin faces reserved for held-out sets (file names): sans, bold and narrow (the Roboto family),
# serif and display (URW Bookman), mono (Anonymous Pro, JetBrains Mono), hand (Comic Neue), italic
# (DejaVu Sans Bold Oblique)
HELDOUT_FACES = frozenset(
    {
        "Roboto-Regular.ttf",
        "Roboto-Bold.ttf",
        "RobotoCondensed-Regular.ttf",
        "URWBookman-Light.otf",
        "Anonymous Pro.ttf",
        "JetBrainsMono-Regular.ttf",
        "ComicNeue-Regular.otf",
        "DejaVuSans-BoldOblique.ttf",
    }
)
FONT_SPLITS = ("train", "heldout", "all")
_split = ["all"]  # the side pick_font draws from; renderers called directly see every face


@contextlib.contextmanager
def font_split(split: str):
    """Within the block, `pick_font` draws Latin faces from one side of the held-out split."""
    if split not in FONT_SPLITS:
        raise ValueError(f"fonts must be one of {', '.join(FONT_SPLITS)}, not {split!r}")
    before = _split[0]
    _split[0] = split
    try:
        yield
    finally:
        _split[0] = before


def in_split(font: Font, script: str) -> bool:
    """Whether `font` is on the side of the held-out split that `font_split` chose."""
    split = _split[0]
    if split == "all" or script != "latn":
        return True
    return (font.name in HELDOUT_FACES) == (split == "heldout")


def pick_font(rng, script: str, style: str | None = None, text: str | None = None) -> Font:
    """Pick a face for `script`/`style` at random (by weight) that covers `text`, on the side of
    the held-out split that `font_split` chose (every face outside it).

    Falls back to any style of the script when no face of that style covers the text; raises
    FontMissingError when no installed face covers it at all.
    """
    for pool_style in (style, None) if style else (None,):
        try:
            pool = tuple(f for f in fonts_for(script, pool_style) if in_split(f, script))
        except ValueError:
            continue
        if text is not None:
            pool = tuple(f for f in pool if covers(f, text))
        if pool:
            weights = [f.weight for f in pool]
            return rng.choices(pool, weights=weights, k=1)[0]
    raise FontMissingError(f"no installed font for script '{script}' covers the text {text!r:.40}")
