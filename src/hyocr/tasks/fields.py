"""Key fields picked from a page's read lines, for models that read lines (the shipped hyocr-tiny).

The release answers the fields and key instructions itself, from the whole image. A line reader
cannot: it reads one segment at a time. For it, hyocr reads the page segment by segment (as for
spotting) and `pick_fields` then finds the asked-for keys in the page's rows (the cutter's rows,
or `rows_of` a spotting result's lines) by layout rules:

- `company`: in the shop's header block (the rows before its first title, contact, tax id, date
  or amount), the first row with a business suffix (SDN BHD, S/B, ENTERPRISE, TRADING, LTD, INC,
  CO., MART, STORE, RESTAURANT, ...; a row holding only the suffix takes the row above it), else the
  first row of words that is not a title nor begins as an address does ("2, LORONG 8", "JALAN
  1/6", a postcode and town: the name's row was lost, and no name is better than a street); a name
  whose row ends open ("&", "AND", an unclosed parenthesis) runs on to the next row, unless that
  row begins as an address does (a name cut short, "PLAIT (M", over "6H-32, JLN 2O"); a
  registration number at the end of its row is cut off, and so are rules or stars around it; a
  row in small letters only (a name written or stamped over the header) is never the name;
- `address`: the rows after the company (registration numbers skipped, and a date, tax id or row of
  words without digits when a street row follows within three rows) up to the first row of
  phone, tax id, registration number, title, date, amount or key: value (a row that starts with a
  unit or lot number or names a street word is address even when its numbers look like a date or
  an amount or it holds a colon, and so is a house number alone on its row above a street row,
  "938" over "JALAN 7");
- `date` and `time`: the first date (d/m/y, y-m-d, "5 MAR 2018", "MAR 5, 2018"; one the calendar
  has, not a unit number's "43-45-47") or time, rows with the key first;
- `total`: the amount of the row whose key says total (grand, nett, rounded, amount due ...; not
  sub-total, quantity, items, tax or discount), the strongest key winning and then the larger
  amount; else the largest amount of the page. As printed without a currency code (RM 9.00 -> 9.00;
  a glued $ stays). But when the receipt's own arithmetic gives another amount twice over, sub-total
  (+ tax) + rounding and cash - change agreeing, that amount: the total's row was misread (a bold
  "57.28" for 57.25) or lost;
- `subtotal`, `tax`, `cash`, `change`, `phone`: the amount or number of the row with that key;
  `invoice_no`: what follows "invoice / receipt / bill / doc ... no";
- `item_count`: the number a row states ("No. of items: 3"), else the rows priced with an amount
  up to the first sum or payment row ("2 X 3.50" under an item's row not counted);
- any other key: the rest of the row that begins with the key (its words in any case, then
  ":" or spaces), or the next row when the key stands alone.

A key that is not found is None. The rules are what receipts print in general, made on the data
engine's synthetic receipts; five of them (the header block, rows that end open, a bare SDN,
registration numbers in parentheses, address rows with numbers) were added after reading where the
rules failed on ../shared/realdev's ground-truth lines or version 8's readings of them, so
realdev's figures flatter them somewhat. They are not a
model: a key that no row names (e.g. "buyer") is found only when a row says "buyer: ...".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hyocr.tasks.results import TextLine

__all__ = ["pick_fields", "rows_of"]


def rows_of(lines: Sequence[TextLine]) -> list[str]:
    """Lines (of a spotting result) grouped into printed rows, each row's lines joined left to right:
    a line joins the row above when they overlap by half the smaller height. (A segmented page has
    its cutter's rows, which hold on a skewed page too.)"""
    rows: list[tuple[float, float, list[TextLine]]] = []
    for ln in sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2):
        y0, y1 = ln.box[1], ln.box[3]
        if rows:
            top, bottom, members = rows[-1]
            if min(y1, bottom) - max(y0, top) >= 0.5 * min(y1 - y0, bottom - top):
                rows[-1] = (min(top, y0), max(bottom, y1), members + [ln])
                continue
        rows.append((y0, y1, [ln]))
    return [" ".join(t.text for t in sorted(m, key=lambda t: t.box[0])) for _, _, m in rows]


_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|SEPT|OCT|NOV|DEC"
_DATE = re.compile(
    r"(?<![\d/.-])(?:"
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
    rf"|\d{{1,2}}[ -]?(?:{_MONTHS})[A-Z]*[ ,-]*\d{{4}}"
    rf"|(?:{_MONTHS})[A-Z]*\.? \d{{1,2}},? \d{{4}}"
    r")(?![\d/])",
    re.IGNORECASE,
)
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AP]\.?M\b\.?)?(?!\d)", re.IGNORECASE)
_AMOUNT = re.compile(
    r"(?<![\w.,])(\$|RM|MYR|USD|S\$|€|£)?\s?(-?\d{1,3}(?:,\d{3})*\.\d{2}|-?\d+\.\d{2})(?!\.?\d|%)"
)
_UNIT_NO = r"(?:NO|LOT|UNIT|BLK|BLOCK|SUITE)\b\.?\s*:?\s*\d"  # a unit or lot number: "NO. 17", "LOT 3"
# a row that prints a street address: a unit or lot number first, or a street word. Its numbers
# ("NO.53 55.57 & 59", "NO 43-45-47G") can look like amounts or dates and must not end the address
_ADDRESS_ROW = re.compile(
    rf"^\W*{_UNIT_NO}"
    r"|\b(?:JALAN|JLN|TAMAN|TMN|LORONG|PERSIARAN|STREET|ROAD|RD|AVENUE|AVE|LANE|DRIVE|BOULEVARD|FLOOR"
    r"|FLR|LEVEL|BANDAR|KAWASAN)\b",
    re.IGNORECASE,
)
# a row that begins as an address does ("2, LORONG 8", "3-2, JLN 4/1", "NO. 17-6, JALAN ...",
# "JALAN 1/6", a postcode and town): not a shop's name when the name row was lost
_STREET_START = re.compile(
    rf"^\W*(?:\d[\d/-]*[A-Z]?\s*,|\d{{5}}\s|{_UNIT_NO}|(?:JALAN|JLN|LORONG|PERSIARAN)\b)",
    re.IGNORECASE,
)
# a unit's code before its street ("6H-32, JLN 2O", "J-08-78, JALAN 7/61", "U-58-06, ..."), and a
# house number alone on its row above the street ("938" over "JALAN 7"), which `_REG` would take
# for a registration number
_UNIT_CODE = re.compile(r"^\W*(?=[A-Z\d/-]*\d)[A-Z\d]{1,4}(?:[/-][A-Z\d]{1,4})+\s*,", re.IGNORECASE)
_HOUSE_NO = re.compile(r"\W*\d{1,4}[A-Z]?\W*", re.IGNORECASE)
_PHONE = re.compile(r"\+?\(?\d[\d ()-]{6,}\d")
_SUFFIX = re.compile(
    r"\b(?:SDN\.?\s?BHD|SDN|BHD|S/B|ENTERPRISES?|TRADING|CO\b\.?|COMPANY|LTD|LIMITED|INC|LLC|CORP|CORPORATION"
    r"|PLC|PLT|PTE|GMBH|GROUP|HOLDINGS|MART|MARKET|SUPERMARKET|STORES?|SHOP|RESTAURANTS?|RESTORAN|CAFE"
    r"|BAKERY|PHARMACY|HARDWARE|STATIONERY|BOOKSTORE)\b\.?",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"^\W*(?:TAX INVOICE|SIMPLIFIED TAX INVOICE|INVOICE|RECEIPT|OFFICIAL RECEIPT|CASH (?:SALES|BILL|RECEIPT)"
    r"|BILL|SALES RECEIPT|WELCOME\b.*|THANK YOU\b.*)\W*$",
    re.IGNORECASE,
)
# rows that end an address: contact, tax ids, titles, dates, keys with values
_STOP = re.compile(
    r"\b(?:TEL|TELEPHONE|PHONE|FAX|H/?P|HP|MOBILE|EMAIL|E-MAIL|WEBSITE|WWW|GST|SST|TAX|VAT|INVOICE|RECEIPT"
    r"|DATE|TIME|CASHIER|BILL|DOC|DOCUMENT|TABLE|ORDER)\b",
    re.IGNORECASE,
)
_REG = re.compile(
    r"^\W*(?:\(?[A-Z]{0,3}\d{3,}[- ]?[A-Z]?\)?|\(.*\d{3,}.*\)"
    r"|.*(?:\b(?:CO\.?\s*REG|REG\.?\s*NO|ROC|BR\.?\s*NO|COMPANY NO|CO\.? NO)\b|\b\d{5,}-[A-Z]\b).*)\W*$",
    re.IGNORECASE,
)
# total keys, strongest first; rows naming what a total is not
_TOTAL_KEYS = (
    re.compile(
        r"\bROUNDED\s+TOTAL|\bTOTAL\s+ROUNDED|\bNET+\s+TOTAL|\bGRAND\s+TOTAL|\bTOTAL\s+(?:PAYABLE|DUE)"
        r"|\bAMOUNT\s+(?:DUE|PAYABLE)|\bTOTAL\s+AMOUNT|\bTOTAL\s+INCL",
        re.IGNORECASE,
    ),
    re.compile(r"\bTOTAL\b", re.IGNORECASE),
)
_NOT_TOTAL = re.compile(
    r"SUB[\s-]*TOTAL|\bTOTAL\s+(?:QTY|QUANTITY|ITEMS?|DISCOUNT|SAVINGS?|GST|SST|TAX|VAT|EXCL|UNITS?)"
    r"|\bEXCL|\bITEMS?\b|\bQTY\b|\bDISCOUNT|\bSAVING",
    re.IGNORECASE,
)
_PAYMENT = re.compile(r"\b(?:CASH|CHANGE|TENDER(?:ED)?|PAID|BALANCE|CARD|VISA|MASTER)\b", re.IGNORECASE)
_ALIASES = {
    "store": "company",
    "shop": "company",
    "merchant": "company",
    "seller": "company",
    "vendor": "company",
    "company_name": "company",
    "amount": "total",
    "total_amount": "total",
    "grand_total": "total",
    "sub_total": "subtotal",
    "invoice": "invoice_no",
    "invoice_number": "invoice_no",
    "receipt_no": "invoice_no",
    "bill_no": "invoice_no",
    "telephone": "phone",
    "tel": "phone",
    "items": "item_count",
    "item_number": "item_count",
    "number_of_items": "item_count",
    "num_items": "item_count",
}
_KEYED = {  # key -> the words a row starts with
    "subtotal": r"SUB[\s-]*TOTAL|TOTAL\s+SALES\s*\(?EXCL\w*(?:\s+(?:OF\s+)?(?:GST|SST|TAX|VAT))?\)?",
    "tax": r"(?:TOTAL\s+)?(?:GST|SST|TAX|VAT|SERVICE\s+CHARGE)",
    "cash": r"CASH|TENDER(?:ED)?|PAID",
    "change": r"CHANGE|BALANCE",
}
# the number of the receipt itself (an order or table number is not it), most telling key first;
# a bare "No" only before a code with digits
_INVOICE_KEYS = (
    r"(?:TAX\s+)?(?:INVOICE|INV)\.?\s*(?:NO|NUMBER|#)\.?",
    r"(?:RECEIPT|BILL|SLIP|TRANS|TRANSACTION)\.?\s*(?:NO|NUMBER|#)\.?",
    r"(?:DOC|DOCUMENT|REF)\.?\s*(?:NO|NUMBER|#)\.?",
    r"NO\.?(?=\W*[A-Z]{0,4}\d{4,}\b)",
)


def _amount(text: str) -> str | None:
    """The last amount of a row, as printed without a currency code (a glued $ stays)."""
    found = list(_AMOUNT.finditer(text))
    if not found:
        return None
    cur, value = found[-1].group(1), found[-1].group(2)
    return (
        f"{cur}{value}" if cur in ("$", "S$", "€", "£") and text[found[-1].start(2) - 1] == cur[-1] else value
    )


def _number(amount: str) -> float:
    return float(re.sub(r"[^\d.-]", "", amount) or 0)


def _header_end(rows: list[str]) -> int:
    """The first row after the shop's header block (its title, contact, tax id, date or amounts)."""
    for k, r in enumerate(rows[1:], 1):
        if _STOP.search(r) or _TITLE.match(r) or _DATE.search(r) or _AMOUNT.search(r):
            return k
    return len(rows)


_REG_IN_ROW = re.compile(r"\s*(?:\([^()]*\d{3,}[^()]*\)|\b\d{5,}-[A-Z])\W*$", re.IGNORECASE)


# rules and stars printed around a name ("------- Permata Hardware", "*** SHOP ***")
_DECORATION = re.compile(r"^[\s=*~#_-]+|[\s=*~#_-]+$")


def _without_reg(row: str) -> str:
    """A name row without the registration number printed after it ("99 SPEED MART S/B (519537-X)")."""
    return _REG_IN_ROW.sub("", row) or row


def _words(row: str, digits: bool = False) -> bool:
    """A row of words that can be part of a name: letters (at least 4, and 0.6 of its print), not
    a title or a key, and no digits unless `digits`."""
    letters = sum(c.isalpha() for c in row)
    if letters < 4 or letters < 0.6 * len(row.replace(" ", "")) or (not digits and re.search(r"\d", row)):
        return False
    return not (_TITLE.match(row) or _STOP.search(row))


def _company(rows: list[str]) -> tuple[int, int] | None:
    """The rows (first, last) of the company's name: in the header block, the first row with a
    business suffix (a suffix alone on its row takes the row above), else the first row of words
    above the first row that begins as an address (a town or state below it is not the name);
    a name whose row ends open ("&", "AND", "-", ",", an unclosed parenthesis) runs on, but not
    into a row that begins as an address."""
    top = [_without_reg(r) for r in rows[: max(1, min(10, _header_end(rows)))]]
    # a row in small letters only is a note over the print (a name written or stamped on the slip),
    # not the shop's name, which receipts print in capitals or title case
    top = ["" if r == r.lower() else r for r in top]
    span = None
    for k, r in enumerate(top):
        if _SUFFIX.search(r) and sum(c.isalpha() for c in r) >= 3 and not _REG.match(r):
            bare = not _SUFFIX.sub("", r).strip(" .,()-")
            # a row that begins with its suffix ("ENTERPRISE (SETIA ALAM) SDN BHD") continues the
            # name on the row of words above it ("AIK HUAT HARDWARE")
            led = _SUFFIX.match(r) and k > 0 and _words(top[k - 1])
            span = (k - 1, k) if (bare or led) and k > 0 else (k, k)
            break
    if span is None:
        for k, r in enumerate(top):
            if _STREET_START.match(r):
                break  # the name is printed above its address: a town or state below it is not it
            if _words(r, digits=True) and not _REG.match(r):
                span = (k, k)
                break
    if span is None:
        return None
    first, last = span
    while last + 1 < len(rows) and last - first < 2:
        row, nxt = rows[last], rows[last + 1]
        open_end = row.count("(") > row.count(")") or re.search(r"(?:&|\bAND|-|,)$", row, re.IGNORECASE)
        bare_suffix = _SUFFIX.search(nxt) and not _SUFFIX.sub("", nxt).strip(" .,()-")
        led = _SUFFIX.match(nxt) and not _REG.match(row)  # "AIK HUAT HARDWARE" / "ENTERPRISE (SETIA"
        if not (open_end or bare_suffix or led) or _REG.match(nxt) or _STOP.search(nxt):
            break
        if not bare_suffix and (_STREET_START.match(nxt) or _UNIT_CODE.match(nxt)):
            break  # a name cut short ("MARIONETTES PLAIT (M") does not run on into its address
        last += 1
    return first, last


def _address(rows: list[str], company: tuple[int, int] | None) -> str | None:
    start = 0 if company is None else company[1] + 1
    out: list[str] = []
    for k in range(start, min(len(rows), start + 8)):
        r = rows[k]
        house = _HOUSE_NO.fullmatch(r) and k + 1 < len(rows) and _ADDRESS_ROW.search(rows[k + 1])
        if not out and not house and (_REG.match(r) or _before_address(r, rows[k + 1 : k + 4])):
            continue
        # a street row holds numbers like dates or amounts, and "NO: 28" a colon; a registration
        # row ends the address, so does another key: value row
        keyed = ":" in r and not re.search(r"\bNO\s*:", r, re.IGNORECASE)
        if (
            _STOP.search(r)
            or _TITLE.match(r)
            or (
                not _ADDRESS_ROW.search(r)
                and (_DATE.search(r) or _AMOUNT.search(r) or keyed or (_REG.match(r) and (out or ":" in r)))
            )
            or (_PHONE.fullmatch(r.strip(" ,.;")) and not re.search(r"[A-Za-z]", r))
        ):
            break
        out.append(r)
        if len(out) == 5:
            break
    return " ".join(out) or None


def _before_address(row: str, after: list[str]) -> bool:
    """A header row between the company and its address, skipped when a street row follows within
    three rows: a date, a tax id or other keyed row, a name (a business suffix: a former name read
    with a digit in it), or words without digits (a former name, "a licensee of ...", a second
    name line). Titles still end the header."""
    if _ADDRESS_ROW.search(row) or _TITLE.match(row) or not any(_ADDRESS_ROW.search(a) for a in after):
        return False
    return bool(_STOP.search(row) or _DATE.search(row) or _SUFFIX.search(row) or not re.search(r"\d", row))


def _first(rows: list[str], key: str, pick) -> str | None:
    """The first value `pick(row)` finds (None: none), in the rows that name `key` first, then in any."""
    keyed = re.compile(rf"\b{key}\b", re.IGNORECASE)
    for prefer in (True, False):
        for r in rows:
            if prefer and not keyed.search(r):
                continue
            value = pick(r)
            if value:
                return value
    return None


def _calendar(date: str) -> bool:
    """Whether a `_DATE` match can be a day of the calendar: "43-45-47" (a unit number, "NO
    43-45-47G") cannot. Day and month may come in either order (d/m/y, m/d/y); y-m-d has its
    month second."""
    parts = re.findall(r"\d+", date)
    nums = [int(n) for n in parts]
    if len(nums) < 3:  # a month written out: its day alone is a number
        return 1 <= nums[0] <= 31
    if len(parts[0]) == 4:
        return 1 <= nums[1] <= 12 and 1 <= nums[2] <= 31
    a, b = nums[0], nums[1]
    return 1 <= min(a, b) <= 12 and max(a, b) <= 31


# a year read apart after its century ("09/03/20 18"), not an hour ("09/03/20 18:49")
_SPLIT_YEAR = re.compile(r"(?<![\d/.-])(\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)) (\d{2})(?![\d:/.-])")


def _date_in(row: str) -> str | None:
    """A row's date: a day of the calendar (`_calendar`). A year read apart after its century is
    joined again; of the row's dates, one printed just before a time ("Order No. 10/02/19
    11/03/2018 06:20 PM") is taken first."""
    row = _SPLIT_YEAR.sub(r"\1\2", row)
    found = [m for m in _DATE.finditer(row) if _calendar(m.group(0))]
    timed = [m for m in found if _TIME.match(row[m.end() :].lstrip(" ,"))]
    return (timed or found)[0].group(0).strip() if found else None


# a rounding adjustment's row ("Rounding Adj", "ROUND OFF"; not a "ROUNDED TOTAL")
_ROUNDING = r"ROUNDING|ROUND\s*(?:ADJ\w*|OFF)"


def _derived_totals(rows: list[str]) -> tuple[set[float], float | None]:
    """What the receipt's other sums say its total is: (sub-total plus rounding, with and without
    the tax row; empty without a sub-total), and cash less change (None without both)."""
    amount = {key: _keyed(rows, words, _AMOUNT) for key, words in _KEYED.items()}
    rounding = _keyed(rows, _ROUNDING, _AMOUNT)
    r = _number(rounding) if rounding else 0.0
    sums: set[float] = set()
    if amount["subtotal"]:
        sub = _number(amount["subtotal"])
        sums = {round(sub + r, 2)}
        if amount["tax"]:
            sums.add(round(sub + _number(amount["tax"]) + r, 2))
    paid = None
    if amount["cash"] and amount["change"]:
        cash, change = _number(amount["cash"]), _number(amount["change"])
        paid = round(cash - change, 2) if cash >= change else None
    return sums, paid


def _total(rows: list[str]) -> str | None:
    """The total as `_total_row` finds it, unless the receipt's arithmetic says otherwise: when
    sub-total + (tax) + rounding and cash - change agree on an amount the found total is not (a
    misread digit, a total row lost or its amount dropped), that amount."""
    found = _total_row(rows)
    sums, paid = _derived_totals(rows)
    if paid is None or paid not in sums:
        return _rounded(rows, found)
    if found is not None and abs(_number(found) - paid) < 0.005:
        return found
    return f"{paid:,.2f}" if found is not None and "," in found else f"{paid:.2f}"  # as it prints


def _rounded(rows: list[str], found: str | None) -> str | None:
    """`found`, or the rounded total printed below a rounding row when the found total was the
    amount before rounding ("Total Qty 2" read "Total Oby 2" over 60.31, "ROUNDING ADJ -0.01",
    "RM 60.30")."""
    rounding = _keyed(rows, _ROUNDING, _AMOUNT)
    if found is None or rounding is None or abs(_number(rounding)) < 0.005:
        return found
    head = re.compile(rf"^\W*(?:{_ROUNDING})\b", re.IGNORECASE)
    after = next(k for k, r in enumerate(rows) if head.match(r) and _AMOUNT.search(r))
    want = round(_number(found) + _number(rounding), 2)
    for r in rows[after + 1 : after + 3]:
        value = _amount(r)
        if value is not None and abs(_number(value) - want) < 0.005:
            return value
    return found


def _total_row(rows: list[str]) -> str | None:
    best: tuple[int, float, str] | None = None  # (key strength, amount, amount as printed)
    for k, r in enumerate(rows):
        if _NOT_TOTAL.search(r):
            continue
        strength = next((len(_TOTAL_KEYS) - i for i, p in enumerate(_TOTAL_KEYS) if p.search(r)), 0)
        if not strength:
            continue
        value = _amount(r)
        if value is None and k + 1 < len(rows) and not re.search(r"[A-Za-z]{3}", rows[k + 1]):
            value = _amount(rows[k + 1])  # the amount printed under its key
        if value is None:
            continue
        if best is None or (strength, _number(value)) > best[:2]:
            best = (strength, _number(value), value)
    if best is not None:
        return best[2]
    amounts = [a for a in (_amount(r) for r in rows if not _PAYMENT.search(r)) if a is not None]
    return max(amounts, key=_number) if amounts else None


# a row that states the count of items; the rows that end a receipt's items: its sums and payment
# (the keyed amounts' words, and totals, rounding and discounts)
_ITEM_COUNT_KEY = r"NO\.?\s*OF\s+ITEMS?|TOTAL\s+ITEMS?|ITEMS?\s+(?:COUNT|SOLD)|ITEMS|ITEM\(S"
_SUMS = re.compile(
    rf"\b(?:{'|'.join(_KEYED.values())}|TOTAL|ROUNDING|ROUNDED|DISCOUNT)\b",
    re.IGNORECASE,
)
_QTY_TIMES_PRICE = re.compile(rf"^\W*\d+\s*[X@*]\s*{_AMOUNT.pattern}\W*$", re.IGNORECASE)


def _item_count(rows: list[str]) -> str | None:
    """The number of items: as a row states it ("No. of items: 3"), else counted: from the first
    row priced with an amount to the first sum or payment row, the rows with an amount, a row
    holding only "quantity X unit price" (under its item's row) not counted."""
    stated = _keyed(rows, _ITEM_COUNT_KEY, re.compile(r"(?<![\d.])\d{1,3}(?![\d.])"))
    if stated is not None:
        return stated
    n = 0
    for r in rows:
        if _SUMS.search(r):
            if n:
                break
            continue
        if _AMOUNT.search(r) and not _QTY_TIMES_PRICE.match(r):
            n += 1
    return str(n) if n else None


# a row that begins with a key of its own ("DATE :", "DOC NO: CS45211514", "Date 2015-07-08"): not
# the value of a key above it whose value was not read
_KEY_ROW = re.compile(rf"^\W*(?:[A-Z][A-Z .#/]{{0,24}}:|(?:{_STOP.pattern})\W)", re.IGNORECASE)


def _keyed(rows: list[str], words: str, value: re.Pattern | None) -> str | None:
    """The value of the first row that begins with `words` (a regex): its last match of `value`,
    or the rest of the row after the key (and a colon), or the next row when nothing follows and
    it is not a key row of its own."""
    sep = r"\W*" if value is None else r"(?:(?!-\d)\W)*"  # an amount keeps its minus sign
    head = re.compile(rf"^\W*(?:{words})\b{sep}", re.IGNORECASE)
    for k, r in enumerate(rows):
        m = head.match(r)
        if not m:
            continue
        rest = r[m.end() :].strip()
        if value is not None:
            found = [x.group(0) for x in value.finditer(rest)]
            if found:
                return _amount(found[-1]) or found[-1].strip()
            continue
        if rest:
            return rest
        if k + 1 < len(rows) and not _KEY_ROW.match(rows[k + 1]):
            return rows[k + 1].strip()
    return None


def pick_fields(rows: Sequence[str], keys: Sequence[str]) -> dict[str, str | None]:
    """{key: value or None} for every asked-for key, from a page's printed rows top to bottom
    (`rows_of` makes them from spotted lines; see the module)."""
    rows = [" ".join(r.split()) for r in rows if r.strip()]
    company = _company(rows)
    out: dict[str, str | None] = {}
    for key in keys:
        name = key.strip().lower().replace(" ", "_")
        name = _ALIASES.get(name, name)
        if name == "company":
            out[key] = (
                None
                if company is None
                else _DECORATION.sub("", " ".join(map(_without_reg, rows[company[0] : company[1] + 1])))
                or None
            )
        elif name == "address":
            out[key] = _address(rows, company)
        elif name == "date":
            out[key] = _first(rows, "DATE", _date_in)
        elif name == "time":
            out[key] = _first(rows, "TIME", lambda r: (m := _TIME.search(r)) and m.group(0).strip())
        elif name == "total":
            out[key] = _total(rows)
        elif name == "phone":
            out[key] = _keyed(rows, r".*?\b(?:TEL|TELEPHONE|PHONE|H/?P|MOBILE)\b\.?", _PHONE)
        elif name == "item_count":
            out[key] = _item_count(rows)
        elif name == "invoice_no":
            out[key] = next((v for w in _INVOICE_KEYS if (v := _keyed(rows, w, None))), None)
        elif name in _KEYED:
            out[key] = _keyed(rows, _KEYED[name], _AMOUNT)
        else:
            words = r"\s*[_-]?\s*".join(re.escape(w) for w in re.split(r"[\s_]+", key.strip()) if w)
            out[key] = _keyed(rows, words, None) if words else None
    return out
