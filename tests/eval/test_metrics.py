"""Metrics: hand-computed cases, published reference values, degenerate inputs, [0, 1] properties."""

import math

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from hyocr.eval import metrics as M
from hyocr.tasks.parsers import SpotItem

# ------------------------------------------------------------------ edit distances


def _dp_levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcé中 ", max_size=80), st.text(alphabet="abcé中 ", max_size=80))
def test_levenshtein_both_implementations_equal_textbook_dp(a, b):
    for lev in (M.levenshtein, M._levenshtein_py):  # rapidfuzz and the pure-Python bit-parallel one
        assert lev(a, b) == _dp_levenshtein(a, b)
        assert lev(a.split(), b.split()) == _dp_levenshtein(a.split(), b.split())


def test_levenshtein_long_strings_cross_word_boundaries():
    a = "x" * 70 + "abc" * 30
    b = "y" + "x" * 69 + "abd" * 30
    assert M.levenshtein(a, b) == M._levenshtein_py(a, b) == _dp_levenshtein(a, b) == 31


def test_ned_by_hand():
    assert M.ned("kitten", "sitting") == pytest.approx(3 / 7)
    assert M.ned("", "") == 0.0
    assert M.ned("abc", "") == 1.0
    assert M.ned(None, "a") == 1.0
    assert M.ned(123, "123") == 0.0


def test_normalisations_are_explicit_and_optional():
    a, b = "Ｈello,\t  World!", "hello world"
    assert M.ned(a, b) > 0.3
    assert M.ned(a, b, M.TextNorm(nfkc=True, casefold=True, whitespace=True, punctuation=True)) == 0.0
    assert M.normalize_text("Ｈ ﬁ", M.TextNorm(nfkc=True)) == "H fi"
    assert M.normalize_text("a ,b.", M.TextNorm(punctuation=True)) == "a b"
    assert M.normalize_text(" a \n b ", M.TextNorm(whitespace=True)) == "a b"


def test_cer_wer_by_hand():
    assert M.cer("abd", "abc") == pytest.approx(1 / 3)
    assert M.cer("abcdef", "ab", clip=False) == 2.0
    assert M.cer("abcdef", "ab") == 1.0
    assert M.cer("", "") == 0.0 and M.cer("x", "") == 1.0
    assert M.wer("the bat sat", "the cat sat") == pytest.approx(1 / 3)
    assert M.wer("the cat", "the cat sat") == pytest.approx(1 / 3)


def test_word_prf_by_hand():
    w = M.word_prf("a b b c", "a b d")
    assert (w.tp, w.n_pred, w.n_gt) == (2, 4, 3)
    assert (w.precision, w.recall) == (0.5, pytest.approx(2 / 3))
    assert w.f1 == pytest.approx(4 / 7)


# ------------------------------------------------------------------ IoU


def test_iou_by_hand_and_degenerate_boxes():
    assert M.box_iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert M.polygon_iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert M.polygon_iou([0, 0, 2, 0, 2, 2, 0, 2], [1, 1, 3, 1, 3, 3, 1, 3]) == pytest.approx(1 / 7)
    # zero-area boxes give 0, not NaN
    assert M.box_iou((0, 0, 0, 5), (0, 0, 0, 5)) == 0.0
    assert M.polygon_iou((0, 0, 0, 5), (0, 0, 0, 5)) == 0.0
    assert M.polygon_iou((0, 0, math.nan, 5), (0, 0, 1, 1)) == 0.0
    assert M.polygon_iou("garbage", (0, 0, 1, 1)) == 0.0
    assert M.polygon_iou((0, 0, 1, 1), (5, 5, 6, 6)) == 0.0


def test_iou_of_rotated_and_non_convex_quads():
    diamond = [(1, 0), (2, 1), (1, 2), (0, 1)]  # area 2 inside the 2x2 square
    assert M.polygon_iou(diamond, (0, 0, 2, 2)) == pytest.approx(0.5)
    assert M.polygon_iou(diamond, diamond[::-1]) == pytest.approx(1.0)  # orientation does not matter
    bowtie = [(0, 0), (2, 2), (2, 0), (0, 2)]  # self-intersecting: read as its bounding rectangle
    assert M.polygon_iou(bowtie, (0, 0, 2, 2)) == pytest.approx(1.0)


_coord = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.tuples(_coord, _coord, _coord, _coord), st.tuples(_coord, _coord, _coord, _coord))
def test_polygon_iou_agrees_with_box_iou_on_rectangles(a, b):
    def box(t):
        return (min(t[0], t[2]), min(t[1], t[3]), max(t[0], t[2]), max(t[1], t[3]))

    ba, bb = box(a), box(b)
    quad = [(ba[0], ba[1]), (ba[2], ba[1]), (ba[2], ba[3]), (ba[0], ba[3])]
    assert M.polygon_iou(quad, bb) == pytest.approx(M.box_iou(ba, bb), abs=1e-9)
    assert 0.0 <= M.polygon_iou(a, b) <= 1.0


# ------------------------------------------------------------------ spotting

A, A2 = (0, 0, 100, 20), (2, 1, 101, 21)  # IoU ≈ 0.85
B, B2 = (0, 40, 100, 60), (0, 41, 99, 61)
C = (0, 100, 50, 120)


def test_spotting_prf_and_reward_by_hand():
    gt = [("HELLO", A), ("WORLD", B)]
    pred = [("HELLO", A2), ("W0RLD", B2), ("extra", C)]
    s = M.spotting_prf(pred, gt)
    assert (s.tp, s.n_pred, s.n_gt) == (1, 3, 2)
    assert (s.precision, s.recall, s.f1) == (pytest.approx(1 / 3), 0.5, pytest.approx(0.4))
    assert s.soft_tp == pytest.approx(1.8)  # 1 + (1 - 1/5)
    assert (s.ned_precision, s.ned_recall, s.ned_f1) == (
        pytest.approx(0.6),
        pytest.approx(0.9),
        pytest.approx(0.72),
    )
    # reward: two matches (1 + 0.8) over 2 matches + 1 unmatched prediction + 0 unmatched gt
    assert M.spotting_reward(pred, gt) == pytest.approx(1.8 / 3)


def test_spotting_needs_iou_half():
    gt = [("a", (0, 0, 2, 2))]
    pred = [("a", (1, 0, 3, 2))]  # IoU 1/3
    assert M.spotting_reward(pred, gt) == 0.0
    assert M.spotting_prf(pred, gt).f1 == 0.0
    assert M.spotting_reward(pred, gt, iou_threshold=0.3) == 1.0


def test_spotting_reward_is_greedy_in_prediction_order():
    # P1 overlaps G2 more than G1 and takes it (DESIGN.md §4), leaving P2 nothing: 1 / 3,
    # although the optimal assignment would score 1.
    g1, g2 = (0, 0, 10, 10), (2, 0, 12, 10)
    p1, p2 = (1.5, 0, 11.5, 10), (4, 0, 14, 10)
    assert M.polygon_iou(p1, g2) > M.polygon_iou(p1, g1) >= 0.5
    assert M.polygon_iou(p2, g1) < 0.5 <= M.polygon_iou(p2, g2)
    assert M.spotting_reward([("a", p1), ("a", p2)], [("a", g1), ("a", g2)]) == pytest.approx(1 / 3)


def test_spotting_accepts_model_text_dicts_and_spot_items():
    gt = [{"text": "ATLANTA (AP)", "poly": [10, 20, 30, 20, 30, 40, 10, 40]}]
    assert M.spotting_reward("ATLANTA (AP)(10,20),(30,40)", gt) == 1.0
    assert M.spotting_reward("<ref>ATLANTA (AP)</ref><quad>(10,20),(30,40)</quad>", gt) == 1.0
    assert M.spotting_prf([SpotItem("ATLANTA (AP)", [(10, 20), (30, 40)])], gt).f1 == 1.0


def test_spotting_degenerate_cases():
    assert M.spotting_reward([], []) == 1.0
    assert M.spotting_reward([], [("a", A)]) == 0.0
    assert M.spotting_reward([("a", A)], []) == 0.0
    s = M.spotting_prf([], [])
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert M.spotting_prf([], [("a", A)]).f1 == 0.0
    assert M.spotting_reward([("a", (0, 0, 0, 0))], [("a", (0, 0, 0, 0))]) == 0.0


# ------------------------------------------------------------------ TEDS

# The example of the PubTabNet reference implementation (ibm-aur-nlp/PubTabNet, src/demo.ipynb),
# whose published output is "TEDS score: 0.9781765018607124".
PUBTABNET_PRED = (
    "<html><body><table><thead><tr><td><b>Name of algori</b></td><td><b>Notablefeatures</b></td></tr></thead>"
    "<tbody><tr><td>MACS [23]</td><td>Uses both a control library and local statistics to minimize bias</td></tr>"
    "<tr><td>SICER [15]</td><td>Designed for detecting diffusely enriched regions; for example, histone "
    "modification</td></tr><tr><td>PeakSEQ [24]</td><td>Corrects for reference genome mappability and local "
    "statistics</td></tr><tr><td>SISSRs [25]</td><td>High resolution, precise identification of binding-site "
    "location</td></tr><tr><td>F-seq [26]</td><td>Uses kernel density estimation</td></tr></tbody></table>"
    "</body></html>"
)
PUBTABNET_TRUE = (
    PUBTABNET_PRED.replace("Name of algori<", "Name of algorithm<")
    .replace("Notablefeatures", "Notable features")
    .replace("SICER [15]", "SICER [14]")
    .replace("PeakSEQ", "PeakSeq")
)


def test_teds_matches_the_published_pubtabnet_example():
    assert M.teds(PUBTABNET_PRED, PUBTABNET_TRUE) == pytest.approx(0.9781765018607124, abs=1e-12)
    assert M.teds_s(PUBTABNET_PRED, PUBTABNET_TRUE) == 1.0


def _t(cells):
    return "<table>" + "".join("<tr>" + "".join(cells_row) + "</tr>" for cells_row in cells) + "</table>"


def test_teds_by_hand():
    gt = _t([["<td>a</td>", "<td>b</td>"]])  # tr, td, td: 3 nodes
    assert M.teds(gt, gt) == 1.0
    assert M.teds(_t([["<td>a</td>", "<td>c</td>"]]), gt) == pytest.approx(1 - 1 / 3)  # rename b→c
    assert M.teds_s(_t([["<td>a</td>", "<td>c</td>"]]), gt) == 1.0
    assert M.teds(_t([["<td>a</td>"]]), gt) == pytest.approx(1 - 1 / 3)  # one cell deleted
    assert M.teds(_t([["<td>ab</td>"]]), _t([["<td>ac</td>"]])) == pytest.approx(1 - 0.5 / 2)
    # a colspan-2 cell instead of two cells: one rename (span differs) + one insertion, over 3 nodes
    assert M.teds(_t([['<td colspan="2">a</td>']]), gt) == pytest.approx(1 / 3)
    assert M.teds_s(_t([['<td colspan="2">a</td>']]), gt) == pytest.approx(1 / 3)


def test_teds_counts_inline_tags_like_the_reference():
    # gt: tr, td, b (3 elements); cell tokens ['<b>', 'a', '</b>'] vs ['a'] → rename 2/3
    assert M.teds(_t([["<td>a</td>"]]), _t([["<td><b>a</b></td>"]])) == pytest.approx(1 - (2 / 3) / 3)


def test_teds_degenerate_and_th_as_td():
    assert M.teds(_t([["<th>a</th>"]]), _t([["<td>a</td>"]])) == 1.0
    assert M.teds("no table", "none either") == 1.0
    assert M.teds("", _t([["<td>a</td>"]])) == 0.0
    assert M.teds(None, _t([["<td>a</td>"]])) == 0.0
    assert M.teds("<table></table>", "<table></table>") == 1.0
    broken = "<table><tr><td>a<td>b"  # omitted end tags read like a browser would
    assert M.teds(broken, _t([["<td>a</td>", "<td>b</td>"]])) == 1.0


def test_teds_is_symmetric():
    a = _t([["<td>x</td>", "<td>yy</td>"], ['<td colspan="2">z</td>']])
    b = _t([["<td>x</td>"], ["<td>q</td>", "<td>z</td>"]])
    assert M.teds(a, b) == pytest.approx(M.teds(b, a))


# ------------------------------------------------------------------ BLEU / chrF


def test_bleu_by_hand_and_against_sacrebleu():
    # n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (BP = 1)
    hand = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert M.bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(hand)
    hyps = ["the cat sat on the mat", "a quick brown fox", "hello there world"]
    refs = ["the cat sat on a mat", "the quick brown fox jumps", "hello world"]
    assert M.bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score / 100)
    assert M.bleu(hyps, hyps) == pytest.approx(1.0)
    zh = sacrebleu.corpus_bleu(["我喜欢猫"], [["我喜欢狗"]], tokenize="zh").score / 100
    assert M.bleu("我喜欢猫", "我喜欢狗", tokenize="zh") == pytest.approx(zh)


def test_chrf_by_hand_and_against_sacrebleu():
    # char 1-grams P=R=2/3, 2-grams 1/2, 3-grams 0, no longer n-grams: mean 7/18; F2 of P=R is P
    assert M.chrf("abc", "abd") == pytest.approx(7 / 18)
    hyps, refs = ["Das ist gut.", "Hallo Welt"], ["Das ist sehr gut.", "Hallo, Welt!"]
    assert M.chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score / 100)
    assert M.chrf(hyps, refs, word_order=2) == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score / 100
    )
    assert M.chrf("", "") == 1.0 and M.chrf("", "abc") == 0.0


# ------------------------------------------------------------------ extraction, VQA


def test_field_prf_by_hand():
    s = M.field_prf({"a": "1", "b": "2", "c": ""}, {"a": "1", "b": "3", "d": "4"})
    assert (s.tp, s.n_pred, s.n_gt) == (1, 2, 3)
    assert (s.precision, s.recall, s.f1) == (0.5, pytest.approx(1 / 3), pytest.approx(0.4))
    assert s.wrong == ["b", "d"]
    assert M.flatten_fields({"items": [{"name": "x", "n": 2}], "t": None}) == {
        "items[0].name": "x",
        "items[0].n": "2",
        "t": "",
    }
    assert M.field_prf('```json\n{"a": "1"}\n```', {"a": " 1 "}).f1 == 1.0


def test_fields_reward_by_hand():
    assert M.fields_reward('{"a": "x", "b": "yz"}', {"a": "x", "b": "y"}) == pytest.approx(0.75)
    assert M.fields_reward({"a": "  X  Y"}, {"a": "x y"}) == 1.0  # normalised: case, spaces
    assert M.fields_reward("not json", {"a": "x"}) == 0.0  # unparseable JSON = {}
    assert M.fields_reward({"a": "x", "extra": "e"}, {"a": "x"}) == pytest.approx(0.5)
    assert M.fields_reward({}, {}) == 1.0
    assert M.fields_reward({"n": 12}, {"n": "12"}) == 1.0


def test_sroie_micro_f1_by_hand():
    gts = [
        {"company": "ACME SDN BHD", "date": "01/02/2018", "address": "1 ROAD", "total": "9.00"},
        {"company": "FOO", "date": "03/04/2018", "address": "2 ROAD", "total": "1.50"},
    ]
    preds = [
        {"company": "ACME  SDN BHD", "date": "01/02/2019", "total": "9.00"},  # 2 of 3 right
        {"company": "FOO", "date": "03/04/2018", "address": "2 ROAD", "total": "1.50"},  # 4 of 4
    ]
    s = M.sroie_f1(preds, gts)
    assert (s.tp, s.n_pred, s.n_gt) == (6, 7, 8)
    assert s.f1 == pytest.approx(2 * (6 / 7) * (6 / 8) / (6 / 7 + 6 / 8))


def test_anls_and_ocrbench_by_hand():
    assert M.anls(" Hello  ", ["hello"]) == 1.0
    assert M.anls("helo", "hello") == pytest.approx(0.8)
    assert M.anls("ab", "ac") == 0.0  # NED 0.5 is not < 0.5
    assert M.anls("abc", ["xyz", "abd"]) == pytest.approx(2 / 3)
    assert M.ocrbench_correct("The answer is PARIS.", "paris") == 1.0
    assert M.ocrbench_correct("Lyon", ["paris", " LYON "]) == 1.0
    assert M.ocrbench_correct("", "paris") == 0.0
    assert M.ocrbench_correct("anything", "") == 0.0


# ------------------------------------------------------------------ documents, other rewards


def test_normalize_latex():
    assert M.normalize_latex("$$ \\dfrac{a}{b} \\, + \\left( c \\right) .$$") == "\\frac{a}{b}+(c)"
    assert M.normalize_latex("\\[x^2\\]") == M.normalize_latex("$x ^ 2$") == "x^2"


def test_document_score_by_hand():
    gt = "# Title\n\nHello world\n\n$$x^2$$\n\n<table><tr><td>1</td></tr></table>"
    same = M.document_score(gt, gt)
    assert (same.text_ned, same.table_teds, same.formula_score, same.overall) == (0.0, 1.0, 1.0, 1.0)
    only_text = M.document_score("# Title\n\nHello world", gt)
    assert (only_text.table_teds, only_text.formula_score) == (0.0, 0.0)
    assert only_text.overall == pytest.approx(1 / 3)
    plain = M.document_score("Hello", "Hellp")
    assert plain.table_teds is None and plain.formula_score is None
    assert plain.overall == pytest.approx(1 - 1 / 5)
    formula = M.document_score("$$\\dfrac{1}{2}$$", "$$\\frac{1}{2}.$$")
    assert formula.formula_score == 1.0


def test_judge_to_reward_and_parsing_reward():
    assert [M.judge_to_reward(s) for s in (0, 2, 3, 4, 4.5, 5)] == pytest.approx([0, 0.2, 0.5, 0.8, 0.9, 1])
    assert (
        M.judge_to_reward("x") == 0.0 and M.judge_to_reward(9) == 1.0 and M.judge_to_reward(math.nan) == 0.0
    )
    assert M.parsing_reward("abc", "abd") == pytest.approx(2 / 3)


# ------------------------------------------------------------------ properties: never raise, stay in [0, 1]

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)
_html = st.lists(
    st.sampled_from(["<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", '<td colspan="2">',
                     "<td rowspan=x>", "<b>", "</b>", "a", "b", "<thead>", "<tbody>", " "]),
    max_size=25,
).map("".join)  # fmt: skip
_box = st.one_of(
    st.tuples(*[st.floats(allow_nan=True, allow_infinity=True)] * 4),
    st.lists(st.floats(-100, 100), min_size=0, max_size=9),
)


def _in01(x):
    return 0.0 <= x <= 1.0 and not math.isnan(x)


@settings(max_examples=150, deadline=None)
@given(_text, _text)
def test_text_metrics_stay_in_unit_interval(a, b):
    norm = M.TextNorm(True, True, True, True)
    for v in (M.ned(a, b), M.ned(a, b, norm), M.cer(a, b), M.wer(a, b, norm), M.anls(a, b),
              M.ocrbench_correct(a, b), M.fields_reward(a, b), M.parsing_reward(a, b), M.word_prf(a, b).f1,
              M.field_prf(a, b).f1, M.spotting_reward(a, b), M.spotting_prf(a, b).ned_f1,
              M.document_score(a, b).overall):  # fmt: skip
        assert _in01(v)


@settings(max_examples=60, deadline=None)
@given(_html, _html)
def test_teds_stays_in_unit_interval(a, b):
    assert _in01(M.teds(a, b)) and _in01(M.teds_s(a, b))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_text, _box), max_size=4), st.lists(st.tuples(_text, _box), max_size=4))
def test_spotting_metrics_stay_in_unit_interval(pred, gt):
    s = M.spotting_prf(pred, gt)
    assert all(_in01(v) for v in (s.precision, s.recall, s.f1, s.ned_precision, s.ned_recall, s.ned_f1))
    assert _in01(M.spotting_reward(pred, gt))
    for (_, a), (_, b) in zip(pred, gt, strict=False):
        assert _in01(M.polygon_iou(a, b))


@settings(max_examples=25, deadline=None)
@given(st.lists(_text, min_size=1, max_size=3), st.lists(_text, min_size=1, max_size=3))
def test_bleu_chrf_stay_in_unit_interval(h, r):
    assert _in01(M.bleu(h, r)) and _in01(M.chrf(h, r))
