# structure-only check of the table cutter (no model): TEDS-S of table_cells' grid vs the ground truth
import json, re, sys
from PIL import Image
from hyocr.tasks import tables as T
from hyocr.eval.metrics import teds_s
def shape(h):
    rows = re.findall(r"<tr>(.*?)</tr>", h)
    return len(rows), max((sum(int(x or 1) for x in re.findall(r'<td(?: colspan="(\d+)")?', r)) for r in rows), default=0)
d = sys.argv[1]; verbose = "-v" in sys.argv
tot = ok = 0
for j in map(json.loads, open(f"{d}/gt.jsonl")):
    cells = T.table_cells(Image.open(f"{d}/{j['image']}").convert("RGB"))
    html, _ = T.table_html(cells, ["x"] * len(cells))
    s = teds_s(html, j["html"]); tot += s; ok += shape(html) == shape(j["html"])
    if verbose and shape(html) != shape(j["html"]): print(j["image"], shape(j["html"]), shape(html), round(s, 3))
n = sum(1 for _ in open(f"{d}/gt.jsonl"))
print(f"{d}: TEDS-S {tot/n:.4f}, shape right {ok}/{n}")
