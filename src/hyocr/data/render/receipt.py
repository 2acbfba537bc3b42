"""Shop receipts in the style of scanned Malaysian receipts (SROIE-like), with key fields.

What real scans of such receipts show, and how each is produced here:
- thermal or dot-matrix print: text is drawn into an ink-coverage mask, then printed onto the
  paper with a smooth fade field (faded columns run along the paper feed), random dropouts that
  break strokes, and, for dot-matrix, a dot-grid screen in blue/purple/black ink;
- monospace or narrow sans faces, bold (stroke) and double-height lines for the shop name and total;
- layout: centred header (shop name, registration no., address, phone, GST/SST id, title), a block of
  key/value meta (doc no, date, time, cashier), item rows in 2–4 columns, totals with right-aligned
  amounts, footer lines, separators (dashes, not ground-truth text), barcodes;
- the paper is then scanned: `degrade` with a scanner-bed background, slight skew, folds and curl
  (recipes choose the strength), sometimes a pen circle around the total, and sometimes a red or
  blue rubber stamp (PAID, RECEIVED, a date) pressed over the print (not ground truth, as in SROIE);
- faces: mono for till printers, serif and sans for laser/inkjet slips.
Ground truth is segment-level like SROIE's (a key and its value are separate boxes). Fields follow
SROIE's four keys (company, address, date, total) plus time, cashier, invoice_no, phone, subtotal,
tax, change, item_count; values are the exact strings printed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from hyocr.data.fonts import Font, pick_font
from hyocr.data.render.background import lowfreq_noise
from hyocr.data.render.base import Render, TextLine, box_quad, cut_out
from hyocr.data.text import amount, date_string, script_fraction, text_source, time_string

__all__ = [
    "render_receipt",
    "render_receipt_free_line",
    "render_receipt_line",
    "render_receipt_line_varied",
    "render_receipt_ruled_line",
    "render_receipt_title_line",
    "render_receipt_varied",
]

_SHOP_WORDS = (
    "SAM SAM", "YONGFATT", "FUYI", "HOME MASTER", "SYARIKAT", "GOLDEN", "KEDAI", "UNIHAKKA", "RESTORAN", "MR. DIY",
    "BOOK TA.K", "GARDENIA", "SANYU", "WAN YANG", "PERNIAGAAN", "LIAN HIN", "TEO HENG", "HAI KEE", "OJC",
    "SOON HUAT", "MYDIN", "SEN HENG", "AIK HUAT", "CHOP", "NEW", "KIM", "HUA", "BEE", "LEE", "TAN", "SIN",
    "MAJU", "JAYA", "SETIA", "MUTIARA", "BINTANG", "CAHAYA", "SRI", "PERMATA", "INDAH", "WAWASAN",
)  # fmt: skip
_SHOP_SUFFIX = (
    "SDN BHD", "SDN. BHD.", "ENTERPRISE", "TRADING", "(M) SDN BHD", "TRADING CO", "HARDWARE", "STATIONERY",
    "RESTAURANT", "BAKERY", "PHARMACY", "MINI MARKET", "HARDWARE & ELECTRICAL", "BOOK STORE", "FOOD COURT",
    "MARKETING SDN BHD", "CAFE", "SUPERMARKET", "(TAMAN DAYA) SDN BHD", "GIFT SHOP",
)  # fmt: skip
_ITEMS = (
    "NASI LEMAK", "TEH TARIK", "MEE GORENG", "AYAM GORENG", "ROTI CANAI", "MILO AIS", "KOPI O", "NASI GORENG",
    "CHICKEN RICE", "WANTAN MEE", "CHAR KUEY TEOW", "LAKSA", "TEH O AIS", "BIHUN SUP", "ROTI TELUR",
    "A4 PAPER 80GSM", "GLUE STICK 21G", "BALL PEN BLUE", "SCISSORS 8IN", "CORRECTION TAPE", "FILE FOLDER",
    "KF MODELLING CLAY", "SCH TR BAG 15", "M.ONE TAPE 24MM", "SUMMER CUP 48X230ML", "PVC PIPE 1/2IN",
    "LED BULB 9W", "EXTENSION CORD 3M", "SCREW 8X1", "CABLE TIE 200MM", "PAINT BRUSH 2IN", "SPANNER SET",
    "MINERAL WATER 1.5L", "GARDENIA BREAD", "DUTCH LADY MILK", "MAGGI CURRY 5S", "SUGAR 1KG", "EGG GRADE A",
    "DETERGENT 2KG", "TISSUE ROLL 10S", "SHAMPOO 400ML", "TOOTHPASTE 175G", "RICE 5KG", "COOKING OIL 2KG",
    "PLASTIC BAG", "UNICORN SUPER GLUE", "CYBER COLOR PAPER", "HIGHLIGHTER SET", "STAPLER NO.10",
)  # fmt: skip
_TITLES = (
    "TAX INVOICE",
    "SIMPLIFIED TAX INVOICE",
    "CASH BILL",
    "RECEIPT",
    "OFFICIAL RECEIPT",
    "INVOICE",
    "CASH SALES",
)
_FOOTERS = (
    ("Thank you", "Please come again"),
    ("Goods sold are not returnable",),
    ("Thank you for shopping", "Goods sold are not returnable."),
    ("*** Thank you ***",),
    ("Goods sold are not returnable or", "exchangeable", "Thank you", "Please come again !"),
    ("Thank you & have a nice day",),
    ("Thank You & Come Again!",),
    ("Like and Follow Us on Facebook!", "Facebook.com/{shop}"),
    ("Exchange are allowed within", "7 days with receipt.", "Strictly no cash refund."),
    ("Please keep this receipt", "for exchange purposes"),
    ("(Price Inclusive Of GST)", "Thank You"),
    ("Goods Sold Are Not Returnable", "Thank You, Please Come Again"),
    ("The item(s) sold are subject", "to GST (Goods & Services Tax)."),
)
# extra key/value lines of the meta block (the key in its printed case)
_META_KEYS = (
    "Salesperson",
    "Served by",
    "Receipt #",
    "Terminal",
    "Counter",
    "Member",
    "Table",
    "Pax",
    "Order No",
)
# a receipt prints its words in one of these cases ("as written": footers and keys as above,
# names in capitals); many real slips are all capitals, many are not
_CASES = ("upper", "upper", "title", "as written", "sentence")


def _cased(text: str, case: str) -> str:
    """`text` in a receipt's case. Words with digits, and short all-capital words (GST, RM, SDN),
    keep their capitals in every case, as printers keep codes and abbreviations."""
    if case == "upper":
        return text.upper()
    if case == "as written":
        return text

    def word(w: str, first: bool) -> str:
        if any(c.isdigit() for c in w) or (w.isupper() and len(w.strip(".,:()")) <= 3):
            return w
        low = w.lower()
        if case == "title" or first:
            i = next((k for k, c in enumerate(low) if c.isalpha()), None)
            return low if i is None else low[:i] + low[i].upper() + low[i + 1 :]
        return low

    return " ".join(word(w, k == 0) for k, w in enumerate(text.split(" ")))


@dataclass
class _Seg:
    text: str
    x: float  # anchor x in px
    align: str  # left | center | right
    role: str = "body"


@dataclass
class _Row:
    segs: list[_Seg]
    scale: float = 1.0
    bold: bool = False
    kind: str = "text"  # text | rule | barcode | gap


def _company(rng, src) -> str:
    if rng.random() < 0.5:
        words = " ".join(rng.sample(_SHOP_WORDS, rng.randint(1, 2)))
    else:  # words from the language's word list: a reader must read names, not recall a short list
        words = " ".join(src.word(rng).upper() for _ in range(rng.randint(1, 2)))
    return f"{words} {rng.choice(_SHOP_SUFFIX)}"


_UNITS = ("G", "KG", "ML", "L", "PCS", "S", "MM", "CM", "IN", "W", "M", "PKT", "BTL")


# product codes of letters and digits with zeros among them, where a reader's language prior
# writes "O": a hardware shop's "WD40 27ML", "EY20 STARTER HANDLE", "HC03-7"
_CODE_HEADS = ("WD", "EY", "YE", "HD", "HC", "A", "B", "SK", "TL", "KF", "M", "GP")
_CODE_TAILS = ("0", "10", "20", "30", "40", "03", "05", "06", "100", "50", "60", "500", "0-7")


def _item(rng, src, varied: bool = False) -> str:
    """An item name: half from the list of real-looking items, half made of words, sizes and codes;
    `varied` (`render_receipt_varied`): 40% of them with a product code of letters and zeros."""
    if varied and rng.random() < 0.4:
        code = f"{rng.choice(_CODE_HEADS)}{rng.choice(_CODE_TAILS)}"
        rest = rng.choice(_ITEMS) if rng.random() < 0.5 else " ".join(src.word(rng).upper() for _ in range(2))
        return f"{code} {rest}" if rng.random() < 0.7 else f"{rest} {code}"
    if rng.random() < 0.5:
        return rng.choice(_ITEMS)
    words = [src.word(rng).upper() for _ in range(rng.randint(1, 3))]
    extra = rng.choice(
        [
            "",
            "",
            f"{rng.randint(1, 999)}{rng.choice(_UNITS)}",
            f"{rng.choice(['A', 'B', 'KF', 'M', 'SR', 'TL', 'XL', 'NO.'])}{rng.randint(1, 99)}",
            f"{rng.randint(2, 48)}X{rng.randint(10, 500)}{rng.choice(_UNITS)}",
            f"{rng.randint(1000, 99999)}",
        ]
    )
    if extra:
        words.insert(rng.randint(0, len(words)) if rng.random() < 0.3 else len(words), extra)
    return " ".join(words)


def _ms_address(rng) -> list[str]:
    """Malaysian-style address parts (English receipts are modelled on Malaysian ones)."""
    from hyocr.data.text import _faker

    f = _faker("en_MS")
    f.random = rng
    return [p.strip() for p in f.address().replace("\n", ", ").split(", ") if p.strip()]


def _reg_no(rng) -> str:
    n = rng.randint(10000, 1999999)
    return rng.choice(
        [
            f"({n}-{rng.choice('AKWXTDUVHPM')})",
            f"CO. REG. NO: {n}-{rng.choice('AKWXTDUV')}",
            f"({rng.choice(['JM', 'SA', 'CA', 'KT'])}{rng.randint(100000, 999999):07d})",
            f"ROC NO: {n}-{rng.choice('AKWXTDUV')}",
        ]
    )


def _money(v: float) -> str:
    return f"{v:,.2f}" if v >= 1000 else f"{v:.2f}"


# scripts whose characters are about twice as wide as a Latin letter (and not Latin)
_WIDE_SCRIPTS = ("hans", "hant", "jpan", "kore")


def _layout(rng, lang: str, width: int, cw: float, varied: bool = False):
    """Rows of the receipt (as data) and the fields/QA they determine; `varied`: see
    `render_receipt_varied`."""
    src = text_source(lang)
    latin = src.lang.script == "latn"
    L, R, C = 0.0, float(width), width / 2
    rows: list[_Row] = []
    up = (lambda s: s.upper()) if rng.random() < 0.85 else (lambda s: s)
    case = rng.choice(_CASES) if latin else "as written"

    company = _company(rng, src) if latin else src.company(rng)
    if case in ("title", "sentence") and rng.random() < 0.4:
        company = _cased(company, "title")
    company = company[
        : max(8, int(width / cw / (2 if src.lang.script in _WIDE_SCRIPTS else 1) / 1.7))
    ].strip()
    rows.append(
        _Row(
            [_Seg(company, C, "center", "company")],
            scale=rng.choice([1.0, 1.2, 1.4, 1.6]),
            bold=rng.random() < 0.7,
        )
    )
    if rng.random() < 0.8:
        rows.append(_Row([_Seg(_reg_no(rng), C, "center")]))
    addr = [up(p) for p in (_ms_address(rng) if lang == "en" else src.address_lines(rng))]
    # regroup address parts into 2-4 printed lines that fit
    maxc = max(12, int(width / cw) - 2)
    if src.lang.script in _WIDE_SCRIPTS:
        maxc //= 2  # full-width characters take two columns
    addr_lines: list[str] = []
    for p in addr:
        if addr_lines and len(addr_lines[-1]) + len(p) + 2 <= maxc and rng.random() < 0.6:
            addr_lines[-1] += ", " + p
        else:
            addr_lines.append(p)
    addr_lines = [a[:maxc] for a in addr_lines[:4]]
    for a in addr_lines:
        rows.append(_Row([_Seg(a, C, "center", "address")]))
    phone = f"{rng.choice(['0', '03-', '07-', '04-', '06-'])}{rng.randint(1000000, 99999999)}"
    if rng.random() < 0.8:
        rows.append(
            _Row([_Seg(f"{rng.choice(['TEL', 'TEL:', 'TEL :', 'TEL/FAX :', 'Tel:'])} {phone}", C, "center")])
        )
    if rng.random() < 0.7:
        rows.append(
            _Row(
                [
                    _Seg(
                        f"{rng.choice(['GST ID', 'GST REG NO', 'GST ID No', 'SST ID'])}: {rng.randint(10**11, 10**12 - 1):012d}",
                        C,
                        "center",
                    )
                ]
            )
        )
    rows.append(_Row([], kind="gap"))
    title = rng.choice(_TITLES)
    if case != "upper" and rng.random() < 0.3:
        title = _cased(title, "title")
    rows.append(_Row([_Seg(title, C, "center")], bold=rng.random() < 0.6, scale=rng.choice([1.0, 1.0, 1.2])))
    rows.append(_Row([], kind="rule"))

    # meta block
    date = date_string(rng, rng.choice(["dmy/", "dmy/", "dmy-", "dMy", "ymd-", "dmyy/"]))
    time = time_string(rng)
    inv = f"{rng.choice(['CS', 'INV', 'TD', 'OR', 'R', ''])}{rng.randint(1, 99999999):08d}"
    cashier = rng.choice(["USER", "CASHIER", "ADMIN", "01", src.name(rng).split(" ")[0].upper()])
    vx = L + cw * rng.randint(10, 14)
    meta_rows = [
        (rng.choice(["Doc No", "Invoice No", "Receipt No", "Bill No", "No"]), inv),
        ("Date", date if rng.random() < 0.6 else f"{date} {time}"),
        ("Time", time),
        ("Cashier", cashier),
    ]
    if "Date" in meta_rows[1][0] and " " in meta_rows[1][1] and meta_rows[1][1].endswith(time):
        meta_rows.pop(2)
    if rng.random() < 0.35:
        meta_rows.append((rng.choice(_META_KEYS), rng.choice([cashier, str(rng.randint(1, 40)), inv[-5:]])))
    rng.shuffle(meta_rows)
    colon = rng.choice([":", " :", ""])
    # capitals in a proportional face are wider than the digit cell: keep the values clear of the keys
    vx = max(vx, L + cw * (1.35 * max(len(k) + len(colon) for k, _ in meta_rows) + 1))
    for k, v in meta_rows:
        k = up(k) if rng.random() < 0.5 else k
        rows.append(_Row([_Seg(f"{k}{colon}", L, "left", "key"), _Seg(v, vx, "left", "value")]))
    rows.append(_Row([], kind="rule"))

    # items
    style = rng.choice(["one", "two", "table"])
    if style == "table":
        hdr = [
            ("ITEM", L, "left"),
            ("QTY", R * 0.55, "right"),
            ("PRICE", R * 0.75, "right"),
            ("AMOUNT", R, "right"),
        ]
        rows.append(_Row([_Seg(t, x, a, "key") for t, x, a in hdr]))
        rows.append(_Row([], kind="rule"))
    items: list[tuple[str, int, float, float]] = []
    for _ in range(rng.randint(1, 7)):
        name = _cased(_item(rng, src, varied), case) if latin else src.phrase(rng, 14)
        qty = rng.choice([1, 1, 1, 2, 3, 4, 5, 10])
        price = float(amount(rng, 0.5, 120).replace(",", ""))
        items.append((name, qty, price, round(qty * price, 2)))
    for name, qty, price, amt in items:
        if style == "one":
            rows.append(_Row([_Seg(name[: maxc - 12], L, "left"), _Seg(_money(amt), R, "right")]))
            if qty > 1:
                rows.append(_Row([_Seg(f"{qty} X {_money(price)}", L + cw * 2, "left")]))
        elif style == "two":
            if rng.random() < 0.4:
                rows.append(_Row([_Seg(str(rng.randint(10**12, 10**13 - 1)), L, "left")]))
            rows.append(_Row([_Seg(name[:maxc], L, "left")]))
            rows.append(
                _Row(
                    [
                        _Seg(f"{qty} X", L + cw * 2, "left"),
                        _Seg(_money(price), R * 0.6, "right"),
                        _Seg(_money(amt), R, "right"),
                    ]
                )
            )
        else:
            rows.append(
                _Row(
                    [
                        _Seg(name[: int(maxc * 0.45)], L, "left"),
                        _Seg(str(qty), R * 0.55, "right"),
                        _Seg(_money(price), R * 0.75, "right"),
                        _Seg(_money(amt), R, "right"),
                    ]
                )
            )
    rows.append(_Row([], kind="rule"))

    # totals
    subtotal = round(sum(i[3] for i in items), 2)
    tax_rate = rng.choice([0, 0, 6, 6, 10])
    tax = round(subtotal * tax_rate / 100, 2)
    gross = subtotal + tax
    rounded = round(round(gross / 0.05) * 0.05, 2)
    rounding = round(rounded - gross, 2)
    ax = R
    kx = R * rng.uniform(0.35, 0.55)
    tot_rows: list[tuple[str, str, bool]] = [
        (
            rng.choice(["Sub Total", "Subtotal", "SUB-TOTAL", "Total Sales (Excluding GST)"]),
            _money(subtotal),
            False,
        )
    ]
    if tax_rate:
        tot_rows.append(
            (
                rng.choice(
                    [f"GST {tax_rate}%", f"SST {tax_rate}%", f"Service Charge {tax_rate}%", "Total GST"]
                ),
                _money(tax),
                False,
            )
        )
    if abs(rounding) > 0.001 or rng.random() < 0.4:
        tot_rows.append(
            (
                rng.choice(["Rounding Adj", "Rounding", "Rounding Adjustment"]),
                _money(rounding) if rounding >= 0 else f"-{_money(-rounding)}",
                False,
            )
        )
    total_label = rng.choice(
        ["TOTAL", "Total", "TOTAL (RM)", "Rounded Total (RM)", "Total Amount", "GRAND TOTAL", "NETT TOTAL"]
    )
    total_str = _money(rounded)
    total_printed = total_str if rng.random() < 0.7 else f"RM {total_str}"
    # indent + label and colon (capitals at 1.25x) + amount at 1.25x
    if (5 + (len(total_label) + 2) * 1.4 + len(total_printed) * 1.25) * cw > width:
        total_label = "TOTAL"  # a narrow slip has no room for a long label beside a large amount
    tot_rows.append((total_label, total_printed, True))
    note = rng.choice([0.05, 1, 5, 10, 50])
    cash = round(max(rounded, math.ceil(rounded / note) * note), 2)
    change = round(cash - rounded, 2)
    tot_rows.append(("CASH" if rng.random() < 0.6 else "Cash", _money(cash), False))
    tot_rows.append(("CHANGE" if rng.random() < 0.6 else "Change", _money(change), False))
    total_row_index = -1
    for k, v, big in tot_rows:
        if big:
            total_row_index = len(rows)
        rows.append(
            _Row(
                [
                    _Seg(
                        f"{k}{colon}" if rng.random() < 0.7 else k,
                        kx if not big else L + cw * rng.randint(0, 4),
                        "left" if big else rng.choice(["left", "right"]),
                        "key",
                    ),
                    _Seg(v, ax, "right", "total" if big else "value"),
                ],
                scale=1.25 if big and rng.random() < 0.6 else 1.0,
                bold=big,
            )
        )
        key = rows[-1].segs[0]
        if key.align == "right":  # right-aligned keys end where the amounts column begins
            key.x = R - cw * 11
        elif not big:  # a long left-aligned key starts early enough not to run into its amount
            est = len(key.text) * cw * 1.2  # capitals of proportional faces are wider than "0"
            key.x = max(L, min(key.x, R - cw * 11 - est))
    rows.append(_Row([], kind="rule"))
    shop = "".join(w for w in company.title().split() if w.isalpha())[:20] or "Shop"
    footer = [_cased(f.replace("{shop}", shop), case) for f in rng.choice(_FOOTERS)]
    for f in footer:
        rows.append(_Row([_Seg(f if rng.random() < 0.9 else f.title(), C, "center")]))
    if rng.random() < 0.4:
        rows.append(_Row([], kind="barcode"))

    fields = {
        "company": company,
        "address": " ".join(addr_lines),
        "date": date,
        "total": total_str,
        "time": time,
        "cashier": cashier,
        "invoice_no": inv,
        "subtotal": _money(subtotal),
        "change": _money(change),
        "item_count": str(len(items)),
    }
    if tax_rate:
        fields["tax"] = _money(tax)
    qa = [
        ("What is the total amount?", "总金额是多少？", total_str),
        ("What is the name of the store?", "商店名称是什么？", company),
        ("What is the date on the receipt?", "收据上的日期是什么？", date),
        ("How many items are listed?", "列出了多少件商品？", str(len(items))),
        ("What is the sum of the item amounts?", "商品金额合计是多少？", _money(subtotal)),
        ("How much change was given?", "找零多少？", _money(change)),
    ]
    if varied:
        _vary(rng, rows)
    return rows, fields, qa, total_row_index


_AMOUNT = re.compile(r"-?\d[\d,]*\.\d\d")


def _vary(rng, rows: list[_Row]) -> None:
    """What real receipts print that the plain layout does not (`render_receipt_varied`): amounts
    with a dollar sign one receipt in three ("$8.20", "-$0.02"), and on half of them the meta
    block's colons set in a column ("Date       :", a run of spaces the label writes as one)."""
    if rng.random() < 1 / 3:
        for row in rows:
            for seg in row.segs:
                if _AMOUNT.fullmatch(seg.text):
                    seg.text = f"-${seg.text[1:]}" if seg.text.startswith("-") else f"${seg.text}"
    # the meta block's keys (their values are set left, at a column clear of the longest key
    # with its colon: a padded key still ends before it)
    keys = [
        row.segs[0]
        for row in rows
        if len(row.segs) == 2
        and row.segs[0].role == "key"
        and row.segs[0].text.endswith(":")
        and row.segs[1].align == "left"
    ]
    if keys and rng.random() < 0.5:
        bare = [seg.text[:-1].rstrip() for seg in keys]
        column = max(len(b) for b in bare) + rng.randint(1, 2)
        for seg, b in zip(keys, bare, strict=True):
            seg.text = b + " " * (column - len(b)) + ":"


def _barcode(rng, d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    x, y0, h = int(x0), int(y0), int(h)
    while x < x0 + w:
        bw = rng.choice([1, 1, 2, 2, 3, 4])
        if rng.random() < 0.55:
            d.rectangle((x, y0, x + bw - 1, y0 + h), fill=255)
        x += bw


def _till_face(rng) -> str:
    """The style of a till printer's face: a printer's own pixel or dot face one time in three
    (`fonts` style "printer": Spleen, Unifont, DotGothic16, IBM 3270), else any monospaced face."""
    return "printer" if rng.random() < 1 / 3 else "mono"


def render_receipt_varied(rng, lang: str = "en") -> Render:
    """`render_receipt` with what the plain layout (whose draws the held-out sets are made of) does
    not print: product codes of letters and zeros ("WD40"), dollar amounts, colons in a column
    (session 31: the shipped reader wrote "$8.20" as "58.20", "WD40" as "WD4O", and read a colon
    apart from its key as "1"). Labels write a run of spaces as one."""
    return render_receipt(rng, lang, varied=True)


def render_receipt_line_varied(rng, lang: str = "en") -> Render:
    """`render_receipt_line` cut out of a `render_receipt_varied` receipt."""
    return render_receipt_line(rng, lang, varied=True)


def render_receipt(rng, lang: str = "en", varied: bool = False) -> Render:
    """A receipt as printed on its paper (un-warped; recipes apply `degrade` with a scanner bed).

    Example:
        >>> import random
        >>> r = render_receipt(random.Random(0))
        >>> r.fields["total"] in [ln.text for ln in r.lines]
        True
    """
    src = text_source(lang)
    script = src.lang.script
    mono = rng.random() < 0.55
    # mono for till printers (a third of them in a printer's own pixel or dot face); serif
    # (Times/Courier-like laser and inkjet slips) and sans otherwise
    style = _till_face(rng) if mono else rng.choice(["sans", "narrow", "sans", "serif", "serif", "italic"])
    needed = "TOTAL 0123456789.:,-()/&" + ("$" if varied else "")
    face: Font = pick_font(rng, script, style, needed)
    # shop name and titles are often printed in a face of their own (bold, serif, italic), and some
    # printers strike every glyph heavily
    head: Font = face
    if rng.random() < 0.5:
        head = pick_font(rng, script, rng.choice(["bold", "serif", "italic", "sans"]), needed)
    heavy = rng.random() < 0.2
    size = rng.randint(15, 24)
    font = face.pil(size)
    cw = font.getlength("0")
    chars = rng.randint(32, 46)
    width = int(cw * chars)
    rows, fields, qa, total_row = _layout(rng, lang, width, cw, varied)
    margin = int(cw * rng.uniform(1.0, 3.0))
    asc, desc = font.getmetrics()
    lh = (asc + desc) * rng.uniform(1.05, 1.35)
    # ink layer: coverage mask at the paper's size
    est_h = int(sum(lh * (r.scale if r.kind == "text" else 0.8) for r in rows) + 2 * margin + lh * 4)
    W = width + 2 * margin
    ink = Image.new("L", (W, est_h), 0)
    d = ImageDraw.Draw(ink)
    lines: list[TextLine] = []
    y = float(margin + rng.randint(0, int(lh * 2)))
    total_box = None
    for ri, row in enumerate(rows):
        if row.kind == "gap":
            y += lh * 0.5
            continue
        if row.kind == "rule":
            ch = rng.choice(["-", "=", "-", "."])
            yy = y + lh * 0.35
            x = margin
            step = cw * (1 if ch != "." else 0.5)
            seglen = cw * (0.6 if ch == "-" else 0.8 if ch == "=" else 0.15)
            while x < margin + width:
                if ch == "=":
                    d.line((x, yy - 1.5, x + seglen, yy - 1.5), fill=255, width=1)
                    d.line((x, yy + 1.5, x + seglen, yy + 1.5), fill=255, width=1)
                else:
                    d.line((x, yy, x + seglen, yy), fill=255, width=max(1, size // 12))
                x += step
            y += lh * 0.8
            continue
        if row.kind == "barcode":
            _barcode(rng, d, margin + width * 0.15, y, width * 0.7, lh * 2)
            y += lh * 2.4
            continue
        row_face = head if row.bold or row.scale > 1.05 else face
        f = f_draw = row_face.pil(int(size * row.scale))
        sw = 1 if (row.bold or (heavy and size >= 16)) and row.scale < 1.3 else 0
        row_boxes = []
        for s in row.segs:
            if not s.text:
                continue
            tw = f.getlength(s.text)
            laid = s.text  # as laid out, before it is cut to fit
            while tw > W - 2 and len(s.text) > 1:  # never print past the paper's edge
                s.text = s.text[:-1].rstrip()
                tw = f.getlength(s.text)
            if s.text != laid:  # a field or answer is what is printed (a wide head face cut a shop's name)
                fields = {k: v.replace(laid, s.text) for k, v in fields.items()}
                qa = [(q, qz, a.replace(laid, s.text)) for q, qz, a in qa]
            x = margin + (s.x if s.align == "left" else s.x - tw if s.align == "right" else s.x - tw / 2)
            x = min(max(x, 1), W - tw - 1)
            anchor_y = y
            d.text(
                (x, anchor_y), s.text, font=f_draw, fill=255, anchor="la", stroke_width=sw, stroke_fill=255
            )
            bb = d.textbbox((x, anchor_y), s.text, font=f_draw, anchor="la", stroke_width=sw)
            label = " ".join(s.text.split()) if varied else s.text
            lines.append(TextLine(label, box_quad(*bb), s.role, lang, ri))
            row_boxes.append(bb)
        if ri == total_row and row_boxes:
            total_box = row_boxes[-1]
        y += lh * row.scale
    H = int(min(est_h, y + margin + lh))
    ink = ink.crop((0, 0, W, H))
    img = _print(rng, ink, mono)
    if total_box is not None and rng.random() < 0.15:
        _pen_circle(rng, img, total_box)
    if rng.random() < 0.2:
        _stamp(rng, img, size)
    # drop lines whose box fell outside the cropped paper (cannot happen unless est_h was short)
    lines = [ln for ln in lines if ln.quad[5] <= H]
    return Render(
        img,
        lines,
        "receipt",
        lang,
        fields=fields,
        qa=qa,
        meta={"font": face.name, "size": size, "mono": mono},
    )


def render_receipt_line(rng, lang: str = "en", varied: bool = False) -> Render:
    """One printed segment of a receipt cut out with a little paper around it: line recognition in
    receipt print (thermal fades, dot-matrix, mono faces, capitals and amounts), the way a reader
    meets a receipt's lines after a detector. From a receipt in a wide script (Chinese, Japanese,
    Korean), three cuts in four are one of its lines in that script, not its Latin labels.

    Example:
        >>> import random
        >>> r = render_receipt_line(random.Random(0))
        >>> len(r.lines)
        1
    """
    r = render_receipt(rng, lang, varied)
    lines = [t for t in r.lines if t.text.strip()]
    # a receipt in a script of its own has only a few lines in it (shop, address, items) among its
    # Latin labels and amounts: three cuts in four are one of those
    script = text_source(lang).lang.script
    own = [t for t in lines if script_fraction(t.text, script) > 0] if script in _WIDE_SCRIPTS else []
    if own and rng.random() < 0.75:
        lines = own
    ln = rng.choice(lines)
    crop, quad = cut_out(rng, r.image, ln.quad)
    return Render(
        crop, [TextLine(ln.text, quad, "body", lang)], "line", lang, meta={**r.meta, "role": ln.role}
    )


# what joins the words of a free line, and what a receipt's codes are made of
_JOINS = (" ", " ", " ", " ", " ", ", ", " & ", " - ", " / ", ": ", ". ", " (", "-")
_CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ANY_CHARS = _CODE_CHARS + "abcdefghijklmnopqrstuvwxyz0123456789.,:;-/()&#*%@!'+="


def _free_text(rng, src) -> str:
    """A line a receipt could print that its layout never does: any words of the word list, names,
    codes, key/value pairs, or characters at random. The model read real lines it had never seen
    (a shop name, a footer) as the receipt text it knew: the same strings drawn with this
    renderer's own print were read at CER 0.25 against 0.07 for strings the layout prints."""
    r = rng.random()
    if r < 0.35:  # words
        s = src.word(rng)
        for _ in range(rng.randint(0, 5)):
            j = rng.choice(_JOINS)
            s += j + src.word(rng) + (")" if j == " (" else "")
        if rng.random() < 0.3:
            s += rng.choice(["!", ".", ":", ",", " :", " !", "?", " *", ")"])
    elif r < 0.5:  # codes: groups of letters and digits, sometimes after a key
        groups = ["".join(rng.choices(_CODE_CHARS, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 5))]
        s = rng.choice([" ", " ", "-", "/", ", ", ": "]).join(groups)
        if rng.random() < 0.4:
            s = f"{src.word(rng)}{rng.choice([':', ' :', ' NO:', ' ID:', ' #'])} {s}"
    elif r < 0.65:  # names, companies, addresses, phones
        s = rng.choice(
            [src.name, src.company, src.phone, lambda g: ", ".join(src.address_lines(g)[: rng.randint(1, 3)])]
        )(rng)
    elif r < 0.85:  # key: value
        key = " ".join(src.word(rng) for _ in range(rng.randint(1, 2)))
        value = rng.choice(
            [src.number_token, src.word, lambda g: "".join(g.choices(_CODE_CHARS, k=g.randint(2, 8)))]
        )(rng)
        s = f"{key}{rng.choice([':', ' :', ' : ', ' ', ' - ', '  '])}{' ' if rng.random() < 0.5 else ''}{value}"
    else:  # characters at random, in words
        s = " ".join("".join(rng.choices(_ANY_CHARS, k=rng.randint(1, 8))) for _ in range(rng.randint(1, 5)))
    return _printed(s, rng.choice(_CASES), 46)


def _printed(s: str, case: str, n: int) -> str:
    """`s` as a receipt line prints it: in `case` (`_cased`), its spaces collapsed, cut to at most
    `n` characters at its last word space (mid-word if it has none)."""
    s = " ".join(_cased(s, case).split())
    return s if len(s) <= n else s[:n].rsplit(" ", 1)[0] or s[:n]


# column headings of receipts' item and tax tables, and what follows them
_HEADINGS = (
    "ITEM", "QTY", "PRICE", "AMOUNT", "TOTAL", "DESCRIPTION", "DISC", "TAX", "GST", "U/PRICE",
    "UNIT PRICE", "AMT", "NO", "CODE", "SUBTOTAL", "SUMMARY", "PAYMENT", "S/N", "RATE", "UOM", "NETT",
    "DETAILS", "PARTICULARS", "QTY/UOM", "TAX CODE", "GST SUMMARY", "SERVICE CHARGE", "CHANGE",
)  # fmt: skip
_HEADING_UNITS = (" (RM)", "(RM)", " RM", "($)", " ($)", " (%)", ":", " :", "")


def _ruled_text(rng, src) -> str:
    """What a receipt underlines or prints a rule over: a column heading ("Tax (RM)", "QTY"; a
    third of them any word), an amount, or any line (`_free_text`)."""
    r = rng.random()
    if r < 0.45:
        words = [
            rng.choice(_HEADINGS) if rng.random() < 0.67 else src.word(rng) for _ in range(rng.randint(1, 2))
        ]
        return _printed(" ".join(words) + rng.choice(_HEADING_UNITS), rng.choice(_CASES), 46)
    if r < 0.7:
        s = amount(rng, 0.05, 2000)
        return rng.choice([s, s, f"RM{s}", f"RM {s}", f"${s}", f"{s} *", f"-{s}"])
    return _free_text(rng, src)


def _rule(rng, d: ImageDraw.ImageDraw, box, size: int, width: int) -> tuple[str, float]:
    """Draw a rule at the printed text's `box` on `d`: an underline (solid, double or dashed) at or
    just through the glyphs' feet, or a rule over it (a sum line over an amount, a table's rule)
    that may touch the glyphs' tops and runs past them. Real receipts' column headings ("Tax (RM)",
    "Qty", underlined) were read "TALAN" and "City". `width` is the paper's. Returns the kind and
    the lowest row drawn (the box's bottom for a rule over)."""
    kind = rng.choices(("under", "double", "dashed", "over"), (40, 10, 20, 30))[0]
    thick = max(1, round(size * rng.uniform(0.04, 0.1)))
    if kind == "over":
        y = box[1] - size * rng.uniform(-0.05, 0.3) - thick
        x0, x1 = box[0] - size * rng.uniform(0, 3), box[2] + size * rng.uniform(0, 3)
    else:
        y = box[3] + size * rng.uniform(-0.08, 0.15)
        x0, x1 = box[0] - size * rng.uniform(0, 0.3), box[2] + size * rng.uniform(0, 0.3)
    x0, x1 = max(1.0, x0), min(width - 2.0, x1)
    ys = [y, y + thick + max(1, size * rng.uniform(0.08, 0.15))] if kind == "double" else [y]
    dashed = kind == "dashed" or (kind == "over" and rng.random() < 0.6)
    seg, step = size * rng.uniform(0.25, 0.45), size * rng.uniform(0.5, 0.65)
    for yy in ys:
        if not dashed:
            d.line((x0, yy, x1, yy), fill=255, width=thick)
            continue
        x = x0
        while x < x1:
            d.line((x, yy, min(x + seg, x1), yy), fill=255, width=thick)
            x += step
    return kind, box[3] if kind == "over" else ys[-1] + thick


def render_receipt_free_line(rng, lang: str = "en", ruled: bool = False) -> Render:
    """One line of free text (`_free_text`) printed like a receipt's (mono, narrow, sans or serif
    faces at 15-24 px, bold or double height now and then, thermal or dot-matrix print) and cut out
    loosely or tightly, with slivers of the lines printed above and below it, as `render_receipt_line`
    cuts a receipt's: the reader must read what is printed, not recall what receipts say.
    `ruled`: the line is `render_receipt_ruled_line`'s (a column heading, an amount or free text,
    underlined or under a rule); the renders of `ruled=False` do not depend on it.

    Example:
        >>> import random
        >>> r = render_receipt_free_line(random.Random(0))
        >>> len(r.lines)
        1
    """
    src = text_source(lang)
    script = src.lang.script
    mono = rng.random() < 0.55
    style = (
        _till_face(rng)
        if mono
        else rng.choice(["sans", "narrow", "sans", "serif", "serif", "italic", "bold"])
    )
    texts = [_free_text(rng, src) for _ in range(3)]
    if ruled:
        texts[1] = _ruled_text(rng, src)
    face: Font = pick_font(rng, script, style, "".join(texts))
    size = int(rng.randint(15, 24) * (rng.uniform(1.3, 2.0) if rng.random() < 0.1 else 1.0))
    font = face.pil(size)
    sw = 1 if rng.random() < 0.2 else 0
    asc, desc = font.getmetrics()
    lh = (asc + desc) * rng.uniform(1.05, 1.35)
    margin = int(size * 1.5)
    W = int(max(font.getlength(t) for t in texts)) + 2 * margin + 2 * sw
    H = int(3 * lh + 2 * margin)
    ink = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(ink)
    neighbours = (rng.random() < 0.6, rng.random() < 0.6)  # a line printed above / below
    box = None
    for k, t in enumerate(texts):
        if k != 1 and not neighbours[k // 2]:
            continue
        x = margin + rng.uniform(0, W - 2 * margin - font.getlength(t))
        y = margin + k * lh
        d.text((x, y), t, font=font, fill=255, anchor="la", stroke_width=sw, stroke_fill=255)
        if k == 1:
            box = d.textbbox((x, y), t, font=font, anchor="la", stroke_width=sw)
    meta = {"font": face.name, "size": size, "mono": mono, "role": "free"}
    if ruled:
        meta["role"], meta["rule"], low = "ruled", *_rule(rng, d, box, size, W)
        box = (box[0], box[1], box[2], max(box[3], low))  # a detector's box holds an underline
    crop, quad = cut_out(rng, _print(rng, ink, mono), box_quad(*box))
    return Render(crop, [TextLine(texts[1], quad, "body", lang)], "line", lang, meta=meta)


def render_receipt_ruled_line(rng, lang: str = "en") -> Render:
    """A receipt's line (`_ruled_text`: a column heading, an amount or any line) underlined or under
    a rule (`_rule`), printed and cut out as `render_receipt_free_line`'s.

    Example:
        >>> import random
        >>> r = render_receipt_ruled_line(random.Random(0))
        >>> r.meta["rule"] in ("under", "double", "dashed", "over")
        True
    """
    return render_receipt_free_line(rng, lang, ruled=True)


def _title_text(rng, src) -> str:
    """What a receipt prints large: a shop's name (half of them made of the word list's words, so
    that names are read, not recalled), a company or person, a title, or any words; mostly capitals."""
    r = rng.random()
    if r < 0.4:
        s = _company(rng, src)
    elif r < 0.55:
        s = rng.choice(_TITLES)
    elif r < 0.7:
        s = rng.choice([src.company, src.name])(rng)
    else:
        s = " ".join(src.word(rng) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            s += rng.choice([" (M)", " SDN BHD", " S/B", " & CO", " (" + src.word(rng) + ")"])
    return _printed(s, rng.choice(("upper", "upper", "upper", "title", "as written")), 36)


def render_receipt_title_line(rng, lang: str = "en") -> Render:
    """A receipt's heading (`_title_text`) in a heavy face (black, condensed black, road-sign
    condensed; `fonts` style "heavy") 1.2-2.2 times the body's size, sometimes with its letters
    spaced out or reversed out of a dark banner ("SIMPLIFIED TAX INVOICE" on real slips), printed
    like a receipt (`_print`) and cut out with slivers of the body lines around it. Real receipts'
    shop names in such faces were read "HOWE WASTER" (HOME MASTER) and "BIDIKS" (BOOKS).

    Example:
        >>> import random
        >>> r = render_receipt_title_line(random.Random(0))
        >>> len(r.lines)
        1
    """
    src = text_source(lang)
    script = src.lang.script
    mono = rng.random() < 0.4
    title = _title_text(rng, src)
    face: Font = pick_font(rng, script, "heavy", title)
    around = [_free_text(rng, src) if rng.random() < 0.6 else "" for _ in range(2)]  # body lines over, under
    body_style = _till_face(rng) if mono else rng.choice(["sans", "narrow", "serif"])
    body: Font = pick_font(rng, script, body_style, "".join(around) or None)
    size = rng.randint(15, 24)
    big = int(size * rng.uniform(1.2, 2.2))
    font, small = face.pil(big), body.pil(size)
    spacing = big * rng.uniform(0.1, 0.35) if rng.random() < 0.15 else 0.0
    sw = 1 if rng.random() < 0.15 else 0

    def width(t: str) -> float:
        return font.getlength(t) + spacing * (len(t) - 1) + 2 * sw

    margin = int(big * 1.5)
    W = int(max([width(title)] + [small.getlength(t) for t in around])) + 2 * margin
    asc, desc = font.getmetrics()
    sasc, sdesc = small.getmetrics()
    lead = rng.uniform(0.1, 0.5) * size
    H = int(2 * margin + asc + desc + 2 * (sasc + sdesc + lead))
    ink = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(ink)
    x = margin + rng.uniform(0, W - 2 * margin - width(title))
    y = margin + sasc + sdesc + lead
    for t, ty in zip(around, (margin, y + asc + desc + lead), strict=True):
        if t:
            d.text(
                (margin + rng.uniform(0, W - 2 * margin - small.getlength(t)), ty), t, font=small, fill=255
            )
    if spacing:  # letters spaced out, drawn one by one
        boxes, cx = [], x
        for ch in title:
            d.text((cx, y), ch, font=font, fill=255, stroke_width=sw, stroke_fill=255)
            if ch.strip():
                boxes.append(d.textbbox((cx, y), ch, font=font, stroke_width=sw))
            cx += font.getlength(ch) + spacing
        box = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    else:
        d.text((x, y), title, font=font, fill=255, stroke_width=sw, stroke_fill=255)
        box = d.textbbox((x, y), title, font=font, stroke_width=sw)
    reversed_out = rng.random() < 0.15
    if reversed_out:  # reversed out of a banner: paper-coloured print on the ink
        pad = big * rng.uniform(0.15, 0.4)
        banner = (box[0] - pad * 2, box[1] - pad, box[2] + pad * 2, box[3] + pad)
        print_box = tuple(int(v) for v in box)
        glyphs = ink.crop(print_box)
        d.rectangle(banner, fill=255)
        ink.paste(0, print_box, glyphs)
        box = banner
    crop, quad = cut_out(rng, _print(rng, ink, mono), box_quad(*box))
    return Render(
        crop,
        [TextLine(title, quad, "title", lang)],
        "line",
        lang,
        meta={
            "font": face.name,
            "size": big,
            "mono": mono,
            "role": "title",
            "spaced": bool(spacing),
            "reversed": reversed_out,
        },
    )


def _print(rng, ink: Image.Image, mono: bool) -> Image.Image:
    """Put the ink mask on paper: thermal fade and dropouts, or a dot-matrix screen."""
    W, H = ink.size
    g = np.random.default_rng(rng.getrandbits(64))
    m = np.asarray(ink, np.float32) / 255.0
    dot = mono and rng.random() < 0.3
    if dot:
        period = rng.choice([2, 3])
        yy, xx = np.mgrid[0:H, 0:W]
        screen = ((xx % period == 0) | (yy % period == 0)).astype(np.float32) * 0.6 + 0.4
        m = m * screen
        m = (
            np.asarray(
                Image.fromarray((m * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6)), np.float32
            )
            / 255.0
        )
        ink_rgb = np.array(
            rng.choice(
                [(40, 40, 120), (70, 40, 110), (30, 30, 40), (50, 50, 90), (70, 90, 180), (90, 110, 190)]
            ),
            np.float32,
        )
    else:
        # near-black, or the grey of a worn thermal head / a faint scan
        grey = rng.randint(10, 70) if rng.random() < 0.75 else rng.randint(70, 120)
        ink_rgb = np.array([grey] * 3, np.float32) + np.array([0, 0, rng.randint(0, 15)], np.float32)
    # fade: smooth field, stretched along the feed direction (vertical), never below 0.45
    fade = lowfreq_noise(rng, W, H, rng.randint(3, 8))
    cols = lowfreq_noise(rng, W, 4, rng.randint(6, 20))[0]
    fade = 1.0 - rng.uniform(0.0, 0.45) * fade - rng.uniform(0.0, 0.25) * cols[None, :]
    fade = np.clip(fade, 0.45, 1.0)
    # dropouts: speckles that break strokes (thermal head wear)
    if rng.random() < 0.7:
        drop = g.random((H, W)) < rng.uniform(0.02, 0.12)
        m = np.where(drop, m * rng.uniform(0.0, 0.5), m)
    a = (m * fade)[..., None]
    if not dot and rng.random() < 0.15:
        # a bilevel scan (fax, black-and-white scanner mode): pure ink or pure paper, jagged edges
        a = (a > rng.uniform(0.3, 0.55)).astype(np.float32)
        ink_rgb = np.array([rng.randint(0, 30)] * 3, np.float32)
    paper_rgb = np.array([rng.randint(238, 255), rng.randint(236, 253), rng.randint(228, 250)], np.float32)
    paper_arr = paper_rgb[None, None, :] + g.normal(0, rng.uniform(1, 4), (H, W, 1)).astype(np.float32)
    out = paper_arr * (1 - a) + ink_rgb[None, None, :] * a
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


_STAMP_WORDS = ("PAID", "RECEIVED", "CANCELLED", "PAID CASH", "COPY", "DUPLICATE", "POSTED", "VERIFIED")


def _stamp(rng, img: Image.Image, size: int) -> None:
    """A rubber stamp (word in a box or an oval, often with a date) in red or blue ink, pressed at an
    angle anywhere on the receipt, over the print. Stamps are not ground truth, as in SROIE."""
    word = rng.choice(_STAMP_WORDS)
    face = pick_font(rng, "latn", rng.choice(["sans", "serif"]), word + " 0123456789-")
    f = face.pil(int(size * rng.uniform(1.2, 2.4)))
    small = face.pil(max(8, int(size * rng.uniform(0.6, 0.9))))
    date = f"{rng.randint(1, 28):02d} {rng.choice(['JAN', 'MAR', 'JUN', 'SEP', 'DEC'])} {rng.randint(2015, 2019)}"
    tw, th = f.getlength(word), size * 2.4
    w, h = int(tw + size * 2), int(th + size * (2.2 if rng.random() < 0.6 else 1.0))
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    lw = rng.randint(2, 4)
    if rng.random() < 0.5:
        d.rectangle((lw, lw, w - lw - 1, h - lw - 1), outline=255, width=lw)
    else:
        d.ellipse((lw, lw, w - lw - 1, h - lw - 1), outline=255, width=lw)
    d.text((w / 2, size * 0.9), word, font=f, fill=255, anchor="mt")
    if h > th + size * 1.5:
        d.text((w / 2, h - size * 0.5), date, font=small, fill=255, anchor="mb")
    layer = layer.rotate(rng.uniform(-25, 25), expand=True, resample=Image.BILINEAR)
    # uneven pressure: parts of the stamp print faintly
    g = np.random.default_rng(rng.getrandbits(64))
    a = np.asarray(layer, np.float32) / 255.0 * rng.uniform(0.5, 0.9)
    a = a * np.clip(0.55 + 0.45 * g.random((1, a.shape[1])) + 0.2 * g.standard_normal(a.shape), 0, 1)
    x0 = rng.randint(0, max(0, img.width - layer.width // 2)) - layer.width // 4
    y0 = rng.randint(0, max(0, img.height - layer.height))
    colour = np.array(rng.choice([(200, 40, 50), (180, 30, 70), (40, 60, 170), (60, 40, 150)]), np.float32)
    # the stamp's coverage on a canvas of the receipt's size (Pillow clips what falls off the paper)
    canvas = Image.new("L", img.size, 0)
    canvas.paste(Image.fromarray((a * 255).astype(np.uint8)), (x0, y0))
    al = np.asarray(canvas, np.float32)[..., None] / 255.0  # (H, W, 1)
    # ink multiplies with what is below it (a stamp darkens print, it does not cover it)
    arr = np.asarray(img, np.float32) * (1 - al * (1 - colour / 255.0))
    img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))


def _pen_circle(rng, img: Image.Image, box) -> None:
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = (x1 - x0) * rng.uniform(0.7, 1.0), (y1 - y0) * rng.uniform(1.2, 2.0)
    col = rng.choice([(30, 50, 170), (20, 20, 120), (180, 30, 40)])
    pts = []
    a0 = rng.uniform(0, 2 * math.pi)
    for i in range(60):
        a = a0 + 2 * math.pi * 1.1 * i / 59
        pts.append(
            (cx + rx * math.cos(a) * rng.uniform(0.97, 1.03), cy + ry * math.sin(a) * rng.uniform(0.97, 1.03))
        )
    d.line(pts, fill=col, width=rng.randint(1, 3))
