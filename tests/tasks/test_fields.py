"""Key fields picked from read rows by layout rules (hyocr.tasks.fields), for line readers."""

from __future__ import annotations

import random

from hyocr.data.render.base import quad_bounds
from hyocr.data.render.receipt import render_receipt
from hyocr.tasks.fields import pick_fields, rows_of
from hyocr.tasks.results import TextLine
from hyocr.tasks.segment import SegmentAnswer, assemble, find_segments


def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text=text, box=[x0, y0, x1, y1], box_norm=[0, 0, 0, 0], polygon=[], confidence=None)


def test_synthetic_receipts_ground_truth_lines_give_their_fields():
    # the receipt renderer knows what it printed; with its lines read perfectly the rules must find
    # the four SROIE keys and the items' count (measured on 40 renders: company, address, date 1.00,
    # total 0.95-1.00; item_count 1.00 on 60 other renders)
    hits = {"company": 0, "address": 0, "date": 0, "total": 0, "item_count": 0}
    n = 40
    for seed in range(n):
        r = render_receipt(random.Random(f"fields-test:{seed}"), lang="en")
        lines = []
        for ln in r.lines:
            if ln.text.strip() and ln.quad:
                lines.append(_line(ln.text, *quad_bounds(ln.quad)))
        got = pick_fields(rows_of(lines), list(hits))
        for k in hits:
            hits[k] += " ".join((got[k] or "").upper().split()) == " ".join(r.fields[k].upper().split())
    rates = {k: v / n for k, v in hits.items()}
    assert all(v >= 0.9 for v in rates.values()), rates


def test_rules_of_the_four_receipt_keys():
    rows = [
        "TAN AH KOW",  # a name stamped above the shop: no business suffix
        "SUNRISE BOOKS & GIFTS",
        "SDN. BHD.",  # the suffix on a row of its own
        "CO. REG. NO: 123456-A",  # a registration number is neither company nor address
        "NO. 12, JALAN MAJU 3,",
        "81100 JOHOR BAHRU, JOHOR.",
        "TEL: 07-3324455",
        "TAX INVOICE",
        "DATE : 05 MAR 2018  TIME 14:05",
        "ITEM QTY TOTAL",
        "PEN 2 3.00",
        "SUB-TOTAL 25.00",
        "TOTAL QTY: 2",
        "ROUNDING -0.02",
        "GRAND TOTAL RM 26.50",
        "CASH 50.00",
        "CHANGE 23.50",
        "Cashier: Ali Baba",
    ]
    got = pick_fields(
        rows, ["company", "address", "date", "time", "total", "subtotal", "change", "cashier", "buyer"]
    )
    assert got == {
        "company": "SUNRISE BOOKS & GIFTS SDN. BHD.",
        "address": "NO. 12, JALAN MAJU 3, 81100 JOHOR BAHRU, JOHOR.",
        "date": "05 MAR 2018",
        "time": "14:05",
        "total": "26.50",  # the grand total, not the cash given nor the sub-total; RM dropped
        "subtotal": "25.00",
        "change": "23.50",
        "cashier": "Ali Baba",
        "buyer": None,  # nothing names it
    }


def test_total_amount_under_its_key_a_glued_dollar_and_no_keyed_total():
    assert pick_fields(
        ["SHOP MART", "Date: 2018-03-05", "TOTAL", "$8.20", "THANK YOU"], ["total", "date"]
    ) == {
        "total": "$8.20",
        "date": "2018-03-05",
    }
    # no row says total: the largest amount that is not a payment
    assert pick_fields(["KEDAI MAJU", "Tea 1.20", "Rice 6.80", "Cash 10.00"], ["total"]) == {"total": "6.80"}
    # a date's digits are not an amount, nor is a percentage
    assert pick_fields(["Date 25.12.2018", "GST 6%"], ["total", "date"]) == {
        "total": None,
        "date": "25.12.2018",
    }


def test_rules_and_stars_around_the_company_name_are_cut_off():
    rows = ["------- Permata Hardware", "NO. 5, JALAN TUGU 1W", "TEL 03-4406031"]
    assert pick_fields(rows, ["company"]) == {"company": "Permata Hardware"}
    assert pick_fields(["*** KEDAI MAJU ***", "2, LORONG 8"], ["company"]) == {"company": "KEDAI MAJU"}


def test_a_note_in_small_letters_over_the_header_is_not_the_company():
    rows = ["tan woon yann", "INDAH GIFT & HOME DECO", "27, JALAN DEDAP 13,", "TEL:07-3507405"]
    assert pick_fields(rows, ["company"]) == {"company": "INDAH GIFT & HOME DECO"}


def test_the_receipts_arithmetic_corrects_a_misread_or_lost_total():
    # a bold total misread (57.25 as 57.28): excl. sales + GST + rounding and cash - change agree
    rows = ["Total Sales (Excluding GST) : 54.00", "GST 6% : 3.24", "Rounding Adjustment : 0.01"]
    rows += ["Total Amount: 57.28", "Cash : 60.00", "CHANGE : 2.75"]
    assert pick_fields(rows, ["total"]) == {"total": "57.25"}
    # the total's row lost: sub-total + rounding and cash - change still say what it was
    rows = ["SUB-TOTAL 296.42", "Rounding Adjustment -0.02", "Cash 300.00", "CHANGE 3.60"]
    assert pick_fields(rows, ["total"]) == {"total": "296.40"}
    rows = ["SUB TOTAL 1,236.37", "ROUNDING -0.02", "TOTAL 1,296.35", "CASH 1,300.00", "CHANGE 63.65"]
    assert pick_fields(rows, ["total"]) == {"total": "1,236.35"}  # printed with a comma, kept so
    # a total the arithmetic confirms, or one it cannot check (one sum only, or the two disagree),
    # is kept as read
    rows = ["SUB-TOTAL 10.00", "GST 0.60", "TOTAL RM 10.60", "CASH 20.00", "CHANGE 9.40"]
    assert pick_fields(rows, ["total"]) == {"total": "10.60"}
    assert pick_fields(["SUB-TOTAL 10.00", "TOTAL 10.60", "CASH 20.00"], ["total"]) == {"total": "10.60"}
    rows = ["SUB-TOTAL 844.79", "Rounding 0.01", "TOTAL 844.86", "CASH 344.80", "CHANGE 0.00"]
    assert pick_fields(rows, ["total"]) == {"total": "844.86"}


def test_rows_of_joins_a_key_and_its_amount_of_another_height():
    lines = [
        _line("TOTAL", 10, 100, 80, 118),  # a key with descenders is taller than its amount
        _line("9.00", 300, 102, 350, 116),
        _line("THANK YOU", 10, 140, 120, 156),
        _line("ABC TRADING", 20, 10, 200, 40),
    ]
    assert rows_of(lines) == ["ABC TRADING", "TOTAL 9.00", "THANK YOU"]


def test_a_segmented_page_answers_fields_and_key_from_its_read_rows():
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (420, 200), "white")
    d = ImageDraw.Draw(page)
    for y, (left, right) in enumerate(
        [("KEDAI ABC ENTERPRISE", ""), ("DATE: 01/02/2019", ""), ("TOTAL", "12.30")]
    ):
        d.text((10, 20 + 55 * y), left, fill=0, font_size=24)
        if right:
            d.text((320, 20 + 55 * y), right, fill=0, font_size=24)
    segs = find_segments(page)
    assert len(segs) == 4
    # the answers a reader would give for the four segments, in reading order
    answers = [
        SegmentAnswer(t, [-0.01]) for t in ("KEDAI ABC ENTERPRISE", "DATE: 01/02/2019", "TOTAL", "12.30")
    ]
    r = assemble("fields", page.size, segs, answers, fields=["company", "date", "total", "phone"])
    assert r.fields == {
        "company": "KEDAI ABC ENTERPRISE",
        "date": "01/02/2019",
        "total": "12.30",
        "phone": None,
    }
    assert r.valid_json and any("layout rules" in w for w in r.warnings)
    k = assemble("key", page.size, segs, answers, key="total")
    assert (k.key, k.value) == ("total", "12.30")


def test_company_runs_on_over_an_open_row_and_stays_in_the_header():
    rows = ["LIM BROTHERS HARDWARE &", "ELECTRICAL", "(JM0325955-V)", "12, JALAN BESAR", "TEL: 03-1234567"]
    got = pick_fields(rows, ["company", "address"])
    assert got == {"company": "LIM BROTHERS HARDWARE & ELECTRICAL", "address": "12, JALAN BESAR"}
    # a business name printed under the header (a supplier, an item) is not the shop's
    rows = [
        "KEDAI WONG",
        "NO.9 JALAN MAWAR",
        "TEL 07-5551234",
        "TAX INVOICE",
        "ACME PAINTS SDN BHD",
        "TOTAL 5.00",
    ]
    assert pick_fields(rows, ["company", "address"]) == {
        "company": "KEDAI WONG",
        "address": "NO.9 JALAN MAWAR",
    }


def test_no_company_from_an_address_row_when_the_name_row_was_lost():
    # a shop name in a face the reader drops leaves the header to its address: no row is the name
    for first in (
        "2, LORONG 8, TAMAN LAKSAMANA",
        "3-2, JLN 4/1, LEMBAH BARU",
        "JALAN 1/6",
        "NO. 17, JALAN SETIA",
    ):
        rows = [first, "81100 JOHOR BAHRU", "TEL: 07-5551234", "TOTAL 5.00"]
        assert pick_fields(rows, ["company"]) == {"company": None}, first
    # a name that starts with a number is still one
    rows = ["7-ELEVEN MALAYSIA", "12, JALAN BESAR", "TEL: 07-5551234"]
    assert pick_fields(rows, ["company"]) == {"company": "7-ELEVEN MALAYSIA"}


def test_invoice_number_and_subtotal_keys():
    rows = [
        "Order No: 77297",
        "Receipt No: CS27977297",
        "Total Sales (Excluding GST) 1,108.92",
        "TOTAL 1,175.46",
    ]
    assert pick_fields(rows, ["invoice_no", "subtotal", "total"]) == {
        "invoice_no": "CS27977297",  # the receipt's number, not the order's
        "subtotal": "1,108.92",
        "total": "1,175.46",
    }
    # a bare "No" is the receipt's number only before a code with digits
    assert pick_fields(["No OR43168660", "No. 4-7, Jalan Besar"], ["invoice_no"]) == {
        "invoice_no": "OR43168660"
    }
    assert pick_fields(["NO. 4-7, JALAN BESAR"], ["invoice_no"]) == {"invoice_no": None}


def test_address_rows_whose_numbers_look_like_amounts_or_dates():
    # realdev's sroie_000 and sroie_022 printed so: the unit numbers "55.57" and "43-45-47" once
    # ended the address before its first row (an amount, a date)
    rows = [
        "BOOK TA .K SDN BHD",
        "789417-W",
        "NO.53 55.57 & 59, JALAN SAGU 18,",
        "TAMAN DAYA,",
        "DATE: 25/12/2018",
    ]
    assert pick_fields(rows, ["address"]) == {"address": "NO.53 55.57 & 59, JALAN SAGU 18, TAMAN DAYA,"}
    rows = ["FUYI MINI MARKET", "NO 43-45-47G,", "TAMAN SEJATI,", "25/01/2018 1:22:56 PM"]
    assert pick_fields(rows, ["address"]) == {"address": "NO 43-45-47G, TAMAN SEJATI,"}
    # an amount or a date on a row without a street still ends it
    rows = ["ABC TRADING", "12 MAIN AVE", "TOTAL 12.50"]
    assert pick_fields(rows, ["address"]) == {"address": "12 MAIN AVE"}
    rows = ["ABC TRADING", "12 MAIN AVE", "12.50 NO 5"]
    assert pick_fields(rows, ["address"]) == {"address": "12 MAIN AVE"}


def test_header_rows_between_the_company_and_its_address():
    # realdev's sroie_030 prints its date under the name, sroie_039 a tax id, sroie_009 a former
    # name: the address under them was lost (address None)
    rows = [
        "UNIHAKKA INTERNATIONAL SDN BHD",
        "05 MAR 2018 18:24",
        "(867388-U)",
        "12, JALAN TAMPOI 7/4,KAWASAN PERINDUSTRIAN",
        "TAMPOI,81200 JOHOR BAHRU,JOHOR",
        "TAX INVOICE",
    ]
    got = pick_fields(rows, ["address", "date"])
    assert got == {
        "address": "12, JALAN TAMPOI 7/4,KAWASAN PERINDUSTRIAN TAMPOI,81200 JOHOR BAHRU,JOHOR",
        "date": "05 MAR 2018",
    }
    rows = [
        "BREWERY S/B",
        "GST NO : 002108047360",
        "PLAZA ASTANA, LOT 11",
        "NO1.JALAN PJU 9/1",
        "TEL: 03-62629",
    ]
    assert pick_fields(rows, ["address"]) == {"address": "PLAZA ASTANA, LOT 11 NO1.JALAN PJU 9/1"}
    rows = [
        "ALAF RESTAURANTS SDN BHD",
        "FORMERLY KNOWN AS",
        "GOLDEN SDN BHD",
        "LEVEL 6, MENARA TH",
        "SELANGOR",
    ]
    assert pick_fields(rows, ["address"]) == {"address": "LEVEL 6, MENARA TH SELANGOR"}
    # with no street row close below, a row of words is the address's first row as before
    rows = ["KEDAI MAJU", "SETIA ALAM", "SELANGOR", "TEL 03-1234567"]
    assert pick_fields(rows, ["address"]) == {"address": "SETIA ALAM SELANGOR"}
    # a title still ends the header: no address is found past it
    rows = ["KEDAI MAJU", "TAX INVOICE", "12 JALAN BESAR"]
    assert pick_fields(rows, ["address"]) == {"address": None}
    # the document number and a phone printed with a comma end an address
    rows = ["KEDAI MAJU", "NO 5, JALAN BESAR,", "JOHOR.", "DOCUMENT NO : TD01167104"]
    assert pick_fields(rows, ["address"]) == {"address": "NO 5, JALAN BESAR, JOHOR."}
    rows = ["KEDAI MAJU", "NO 5, JALAN BESAR,", "03-3279 1851,", "GST NO.:001601310720"]
    assert pick_fields(rows, ["address"]) == {"address": "NO 5, JALAN BESAR,"}


def test_a_registration_number_after_the_company_name_on_its_row():
    rows = ["99 SPEED MART S/B (519537-X)", "LOT P.T. 2811, JALAN ANGSA,", "GST ID. NO : 000181747712"]
    assert pick_fields(rows, ["company", "address"]) == {
        "company": "99 SPEED MART S/B",
        "address": "LOT P.T. 2811, JALAN ANGSA,",
    }
    assert pick_fields(["AEON CO. (M) BHD 126926-H", "3RD FLR"], ["company"]) == {
        "company": "AEON CO. (M) BHD"
    }
    # a row that is only a registration number is still no name
    assert pick_fields(["(126926-H)", "AEON CO. (M) BHD"], ["company"]) == {"company": "AEON CO. (M) BHD"}


def test_item_count_stated_or_counted_from_the_priced_rows():
    rows = [
        "KEDAI MAJU",
        "GST ID: 001234567890",  # a tax id before the items does not end them
        "DATE: 12/03/2019",
        "ITEM QTY PRICE AMOUNT",
        "Milo Ais 1 2.50 2.50",
        "Roti Canai",  # an item's name over its priced row
        "3 X 1.20 3.60",
        "Kopi O 5.00",
        "2 X 2.50",  # the quantity under an item's row is not another item
        "Cashew Nuts 12.90",  # "Cashew" is not a cash payment
        "SUBTOTAL 24.00",
        "TOTAL 24.00",
        "CASH 50.00",
        "CHANGE 26.00",
    ]
    assert pick_fields(rows, ["item_count", "number of items"]) == {"item_count": "4", "number of items": "4"}
    # a count the receipt prints wins over counting
    assert pick_fields(rows[:5] + ["No. of Items: 7", "TOTAL 2.50"], ["item_count"]) == {"item_count": "7"}
    assert pick_fields(["SHOP", "TOTAL 3.00"], ["item_count"]) == {"item_count": None}


def test_a_name_cut_short_does_not_run_on_into_its_address():
    # an unclosed parenthesis runs on over a row of words, not over a unit's code and street
    for unit in ("6H-32, JLN 2O, SEKSYEN 73", "J-08-78, JALAN 7/61", "12-3, JALAN MAWAR"):
        rows = ["MARIONETTES PLAIT (M", unit, "87015 ARA SURIA, LABUAN", "Tel: 03-92653164"]
        assert pick_fields(rows, ["company", "address"]) == {
            "company": "MARIONETTES PLAIT (M",
            "address": f"{unit} 87015 ARA SURIA, LABUAN",
        }
    rows = ["SYARIKAT JAYA (M)", "SDN BHD", "12, JALAN MAWAR", "TEL 03-1234567"]
    assert pick_fields(rows, ["company"]) == {"company": "SYARIKAT JAYA (M) SDN BHD"}
    rows = ["KEDAI BESAR (KL", "BRANCH)", "12, JALAN MAWAR", "TEL 03-1234567"]
    assert pick_fields(rows, ["company"]) == {"company": "KEDAI BESAR (KL BRANCH)"}


def test_a_house_number_alone_over_its_street_is_address_not_a_registration_number():
    rows = ["CHRISTINA HARDWARE & E", "ROC NO: 1903755-X", "938", "JALAN 7", "SEKSYEN 33M", "TEL 04-8947716"]
    assert pick_fields(rows, ["address"]) == {"address": "938 JALAN 7 SEKSYEN 33M"}
    # a registration number alone on its row is still skipped
    rows = ["CHRISTINA HARDWARE & E", "1903755-X", "12, JALAN 7", "TEL 04-8947716"]
    assert pick_fields(rows, ["address"]) == {"address": "12, JALAN 7"}


def test_an_address_ends_at_a_registration_row_and_keeps_a_street_row_with_a_colon():
    rows = [
        "HOME MASTER HARDWARE & ELECTRICAL",
        "NO.113G & 115G, JALAN SETIA GEMBILANG",
        "40170 BANDAR SETIA ALAM, SELANGOR.",
        "Company Reg No : SA03711651-P",
        "GST REG NO : 001525731328",
    ]
    assert pick_fields(rows, ["address"]) == {
        "address": "NO.113G & 115G, JALAN SETIA GEMBILANG 40170 BANDAR SETIA ALAM, SELANGOR."
    }
    rows = ["KEDAI JAYA", "NO: 28, JALAN ASTANA 1C,", "41050 KLANG", "ROC No : (1072825-A)", "TEL 03-1234567"]
    assert pick_fields(rows, ["address"]) == {"address": "NO: 28, JALAN ASTANA 1C, 41050 KLANG"}
    # a street row the reader wrote a colon into ("122.124." read as "12:12") is still the address
    rows = [
        "YONGFATT ENTERPRISE",
        "(JM0517726)",
        "NO 12:12 JALAN DEDAP 13",
        "81100 JOHOR BAHRU",
        "TEL 07-3523888",
    ]
    assert pick_fields(rows, ["address"]) == {"address": "NO 12:12 JALAN DEDAP 13 81100 JOHOR BAHRU"}


def test_a_date_is_one_the_calendar_has():
    # a unit number's "43-45-47" reads like d-m-y; the receipt's date is further down, unkeyed
    rows = ["FUYI MINI MARKET", "NO 43-45-47G, TAMAN SEJATI", "25/01/2018 10:00", "TOTAL 5.00"]
    assert pick_fields(rows, ["date"]) == {"date": "25/01/2018"}
    for date in ("12/31/2019", "2018-01-25", "5 MAR 2018"):
        assert pick_fields(["SHOP", f"X {date}"], ["date"]) == {"date": date}
    for not_date in ("31-13-2018", "2018-13-01", "00/00/00"):
        assert pick_fields(["SHOP", f"X {not_date}"], ["date"]) == {"date": None}


def test_a_date_read_apart_or_beside_another_number_like_a_date():
    # realdev's sroie_034 reads "Date: 09/03/20 18": the year read apart after its century is
    # joined again, but an hour after a two-digit year is not a year
    assert pick_fields(["SHOP", "Salesperson. Date: 09/03/20 18"], ["date"]) == {"date": "09/03/2018"}
    assert pick_fields(["SHOP", "Date: 09/03/20 18:49"], ["date"]) == {"date": "09/03/20"}
    # sroie_038: an order number read like a date stands before the date, which a time follows
    rows = ["SHOP", "Order No. 10/02/19 11/03/2018 06:20 PM"]
    assert pick_fields(rows, ["date"]) == {"date": "11/03/2018"}
    assert pick_fields(["SHOP", "10/02/19 11/03/2018"], ["date"]) == {"date": "10/02/19"}


def test_a_key_whose_value_was_not_read_does_not_take_the_next_key_row():
    # held-out receipts whose cashier or receipt number was left out: the row below is another key's
    rows = ["SHOP", "CASHIER:", "DOC NO: CS45211514", "BILL NO", "Date 2015-07-08", "TOTAL 5.00"]
    assert pick_fields(rows, ["cashier", "invoice_no"]) == {"cashier": None, "invoice_no": "CS45211514"}
    assert pick_fields(["SHOP", "RECEIPT NO :", "DATE :"], ["invoice_no"]) == {"invoice_no": None}
    # a value on the row below its key is still taken
    assert pick_fields(
        ["SHOP", "Cashier :", "ADMIN", "RECEIPT NO :", "TD80358082"], ["cashier", "invoice_no"]
    ) == {
        "cashier": "ADMIN",
        "invoice_no": "TD80358082",
    }


def test_a_name_not_read_is_not_taken_from_below_the_street():
    # held-out 36b30e6b: the shop's name was left out; the state under its street is not its name,
    # and the address then begins at the top
    rows = [
        "(JM044-9876)",
        "43",
        "JALAN PAHANG, PJU47",
        "31622 ARA BRICKFIELDS",
        "PERAK DARUL RIDZUAN",
        "TEL 03-1234",
    ]
    assert pick_fields(rows, ["company", "address"]) == {
        "company": None,
        "address": "43 JALAN PAHANG, PJU47 31622 ARA BRICKFIELDS PERAK DARUL RIDZUAN",
    }
    # a name holding an address word is still a name
    rows = ["KEDAI HAI KEE (TAMAN", "ROC NO: 1328426-V", "967, JALAN 1/6P", "46897 TAMAN SEPUTEH"]
    assert pick_fields(rows, ["company"]) == {"company": "KEDAI HAI KEE (TAMAN"}


def test_a_former_name_read_with_a_digit_is_not_the_address():
    # realdev's sroie_009: "Golden Arches Restaurants Sdn Bhd", a former name under the company,
    # was read "Sdn 5ud"; its digit had made it the address's first row
    rows = [
        "Gerbang Alaf Restaurants Sdn Bhd",
        "(65351-M)",
        "formerly known as",
        "Golden Arches Restaurants Sdn 5ud",
        "Licensee of McJonald's",
        "Level 6, Bangunan TH, Damansara Uptown3",
        "No.3, Jalan SS21/39,47400 Petaling Jaya",
        "Selangor",
        "(GST ID No: 000504664064)",
    ]
    assert pick_fields(rows, ["address"]) == {
        "address": "Level 6, Bangunan TH, Damansara Uptown3 No.3, Jalan SS21/39,47400 Petaling Jaya Selangor"
    }


def test_the_rounded_total_under_the_rounding_row():
    # realdev's sroie_001: "Total Qty 2" read "Total Oby 2" is taken for the total's key over the
    # amount before rounding; the rounded total printed under the rounding row is the total
    rows = ["SHOP", "#Total Oby 2", "60.31", "ROUNDING ADJ -0.01", "RM 60.30 V", "CASH 70.30"]
    assert pick_fields(rows, ["total"]) == {"total": "60.30"}
    # an amount under the rounding row that is not the rounded total changes nothing
    rows = ["SHOP", "TOTAL 60.31", "ROUNDING ADJ -0.01", "CASH 70.00"]
    assert pick_fields(rows, ["total"]) == {"total": "60.31"}


def test_a_name_row_that_begins_with_its_suffix_continues_the_row_above():
    # realdev's sroie_011 prints "AIK HUAT HARDWARE" over "ENTERPRISE (SETIA" over "ALAM) SDN BHD"
    rows = [
        "4",
        "AIK HUAT HARDWARE",
        "ENTERPRISE (SETIA",
        "ALAM) SDN BHD",
        "022737-X",
        "NO. 17-G, JALAN SETIA",
    ]
    assert pick_fields(rows, ["company"]) == {"company": "AIK HUAT HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD"}
    # a row of digits or a title above it is not part of the name
    for above in ("12 34", "TAX INVOICE"):
        rows = [above, "ENTERPRISE TIONG SDN BHD", "NO. 5, JALAN 3"]
        assert pick_fields(rows, ["company"]) == {"company": "ENTERPRISE TIONG SDN BHD"}
