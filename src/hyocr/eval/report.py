"""Scores per item, aggregates per category, and the Markdown report with PNG plots.

An item is scored on every kind of ground truth it carries (`text`, `boxes`, `fields`, `html`,
`latex`) against the prediction field of the same name; a prediction without that field scores as
empty (so an engine that cannot read fields gets 0 there rather than being silently skipped).
Categories are the ground truth's `task` (kie, table, …). Aggregates are plain means of per-item
scores (macro over items), except `sroie_f1`, which is micro over all fields of the category as
SROIE defines it; the report says so.

Text comparisons use NFKC + whitespace collapsing (line breaks count as spaces, so reading order
within a line and across lines is compared, layout is not). Boxes are compared in pixels.

Plots use matplotlib's Agg backend (no display) and are written next to the report.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyocr.eval import metrics as M

__all__ = ["TEXT_NORM", "METRICS", "score_item", "CategorySummary", "summarize", "write_report"]

TEXT_NORM = M.TextNorm(nfkc=True, whitespace=True)

# metric name -> (one-line meaning, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "text_ned": ("full-text normalised edit distance (NFKC, whitespace collapsed)", False),
    "cer": ("character error rate (clipped to 1)", False),
    "wer": ("word error rate (clipped to 1)", False),
    "word_f1": ("bag-of-words F1 (multiset of whitespace-separated words)", True),
    "spot_f1": ("spotting F1: IoU >= 0.5 and identical text", True),
    "spot_ned_f1": ("spotting F1 weighted by 1 - NED of matched texts (IoU >= 0.5)", True),
    "spot_score": ("spotting reward of DESIGN.md §4 (greedy IoU >= 0.5, 1 - NED, unmatched = 0)", True),
    "field_f1": ("field-level F1, exact value match after NFKC + whitespace", True),
    "fields_reward": ("fields reward of DESIGN.md §4 (mean 1 - NED over the union of keys)", True),
    "teds": ("TEDS of the table HTML", True),
    "teds_s": ("TEDS on structure only", True),
    "latex_sim": ("1 - NED of normalised LaTeX", True),
    "latex_exact": ("normalised LaTeX identical (1) or not (0)", True),
    "md_ned": ("NED of the page's Markdown (NFKC, whitespace collapsed)", False),
    "md_formula_sim": (
        "the Markdown's display formulas: 1 - NED of normalised LaTeX, matched, over the more of "
        "written and true (on pages with a formula on either side)",
        True,
    ),
    "md_table_teds": ("the Markdown's tables: TEDS, matched, over the more of written and true", True),
    "seconds": ("wall-clock seconds per item", False),
}


def score_item(gt: dict[str, Any], pred: dict[str, Any]) -> dict[str, float]:
    """All metrics that apply to this item's ground truth, as {name: value}."""
    s: dict[str, float] = {}
    if isinstance(gt.get("text"), str) and gt["text"].strip():
        p = pred.get("text") or ""
        s["text_ned"] = M.ned(p, gt["text"], TEXT_NORM)
        s["cer"] = M.cer(p, gt["text"], TEXT_NORM)
        s["wer"] = M.wer(p, gt["text"], TEXT_NORM)
        s["word_f1"] = M.word_prf(p, gt["text"], TEXT_NORM).f1
    if isinstance(gt.get("boxes"), list) and gt["boxes"]:
        pb = pred.get("boxes") or []
        sp = M.spotting_prf(pb, gt["boxes"], norm=TEXT_NORM)
        s["spot_f1"] = sp.f1
        s["spot_ned_f1"] = sp.ned_f1
        s["spot_score"] = M.spotting_reward(pb, gt["boxes"], norm=TEXT_NORM)
    if isinstance(gt.get("fields"), dict) and gt["fields"]:
        pf = pred.get("fields") or {}
        s["field_f1"] = M.field_prf(pf, gt["fields"]).f1
        s["fields_reward"] = M.fields_reward(pf, gt["fields"])
    if isinstance(gt.get("html"), str) and gt["html"].strip():
        ph = pred.get("html") or ""
        s["teds"] = M.teds(ph, gt["html"])
        s["teds_s"] = M.teds_s(ph, gt["html"])
    if isinstance(gt.get("latex"), str) and gt["latex"].strip():
        p, g = M.normalize_latex(pred.get("latex")), M.normalize_latex(gt["latex"])
        s["latex_sim"] = 1.0 - M.ned(p, g)
        s["latex_exact"] = float(p == g)
    if isinstance(gt.get("markdown"), str) and gt["markdown"].strip():
        s["md_ned"] = M.ned(pred.get("markdown") or "", gt["markdown"], TEXT_NORM)
        doc = M.document_score(pred.get("markdown") or "", gt["markdown"])
        if doc.formula_score is not None:
            s["md_formula_sim"] = doc.formula_score
        if doc.table_teds is not None:
            s["md_table_teds"] = doc.table_teds
    sec = pred.get("seconds")
    if isinstance(sec, int | float) and math.isfinite(sec):
        s["seconds"] = float(sec)
    return s


@dataclass
class CategorySummary:
    category: str
    n: int
    means: dict[str, float] = field(default_factory=dict)
    sroie: M.FieldScores | None = None  # micro P/R/F1 over the 4 SROIE keys, for kie items


def summarize(
    gts: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]], scores: Sequence[dict[str, float]]
) -> list[CategorySummary]:
    """Per-category means (plus an 'all' row when there are several categories)."""
    cats: dict[str, list[int]] = {}
    for i, g in enumerate(gts):
        cats.setdefault(str(g.get("task") or "unknown"), []).append(i)
    if len(cats) > 1:
        cats["all"] = list(range(len(gts)))
    out = []
    for cat, idx in cats.items():
        means: dict[str, float] = {}
        for name in METRICS:
            vals = [scores[i][name] for i in idx if name in scores[i]]
            if vals:
                means[name] = sum(vals) / len(vals)
        summary = CategorySummary(cat, len(idx), means)
        kie = [i for i in idx if gts[i].get("task") == "kie" and isinstance(gts[i].get("fields"), dict)]
        if kie and cat != "all":
            summary.sroie = M.sroie_f1(
                [preds[i].get("fields") or {} for i in kie], [gts[i]["fields"] for i in kie]
            )
        out.append(summary)
    return out


def _plots(out_dir: Path, gts, scores, summaries) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    cats = sorted({str(g.get("task") or "unknown") for g in gts})
    # 1. distribution of the main per-item metrics, one panel per metric present
    names = [
        n
        for n in ("text_ned", "word_f1", "spot_score", "field_f1", "teds", "latex_sim")
        if any(n in s for s in scores)
    ]
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            for cat in cats:
                vals = [
                    s[name]
                    for g, s in zip(gts, scores, strict=True)
                    if name in s and str(g.get("task") or "unknown") == cat
                ]
                if vals:
                    ax.hist(vals, bins=20, range=(0, 1), alpha=0.6, label=cat)
            ax.set_title(name)
            ax.set_xlabel("per-item value")
        axes[0][0].set_ylabel("items")
        axes[0][-1].legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(out_dir / "metrics_hist.png", dpi=90)
        plt.close(fig)
        written.append("metrics_hist.png")
    # 2. seconds per item
    secs = [s["seconds"] for s in scores if "seconds" in s]
    if secs:
        fig, ax = plt.subplots(figsize=(4.5, 3.0))
        ax.hist(secs, bins=20)
        ax.set_xlabel("seconds per item")
        ax.set_ylabel("items")
        fig.tight_layout()
        fig.savefig(out_dir / "seconds_hist.png", dpi=90)
        plt.close(fig)
        written.append("seconds_hist.png")
    # 3. per-category means of the [0, 1] metrics
    bar_names = [n for n in METRICS if n != "seconds" and any(n in c.means for c in summaries)]
    rows = [c for c in summaries if c.category != "all"]
    if bar_names and rows:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(bar_names) * len(rows)), 3.2))
        width = 0.8 / len(rows)
        for k, c in enumerate(rows):
            xs = [i + k * width for i in range(len(bar_names))]
            ax.bar(xs, [c.means.get(n, 0.0) for n in bar_names], width=width, label=c.category)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(bar_names))])
        ax.set_xticklabels(bar_names, rotation=45, ha="right", fontsize="small")
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(out_dir / "category_means.png", dpi=90)
        plt.close(fig)
        written.append("category_means.png")
    return written


def _fmt(v: float | None, name: str) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if name == "seconds" else f"{v:.4f}"


def write_report(
    out_dir: str | Path,
    gts: Sequence[dict[str, Any]],
    preds: Sequence[dict[str, Any]],
    meta: dict[str, Any],
    errors: Sequence[str] = (),
) -> Path:
    """Score `preds` against `gts` (same order), write report.md + PNG plots into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = [score_item(g, p) for g, p in zip(gts, preds, strict=True)]
    summaries = summarize(gts, preds, scores)
    try:
        plots = _plots(out, gts, scores, summaries)
    except Exception as exc:  # a report without plots is still a report
        plots = []
        errors = [*errors, f"plots not written: {exc!r}"]
    lines = ["# hyocr evaluation report", ""]
    for k, v in meta.items():
        lines.append(f"- **{k}**: {v}")
    lines.append(
        f"- **machine**: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    )
    lines += ["", "## Results per category", ""]
    names = [n for n in METRICS if any(n in c.means for c in summaries)]
    if names:
        lines.append("| category | n | " + " | ".join(names) + " |")
        lines.append("|---|---:|" + "---:|" * len(names))
        for c in summaries:
            lines.append(
                f"| {c.category} | {c.n} | " + " | ".join(_fmt(c.means.get(n), n) for n in names) + " |"
            )
    else:
        lines.append("No item was scored.")
    for c in summaries:
        if c.sroie is not None:
            s = c.sroie
            lines += [
                "",
                f"SROIE key fields ({c.category}, micro over company/date/address/total, exact match): "
                f"P {s.precision:.4f}, R {s.recall:.4f}, F1 {s.f1:.4f} ({s.tp} correct of {s.n_gt} expected, "
                f"{s.n_pred} predicted).",
            ]
    lines += ["", "Means are over items (macro). Metrics:", ""]
    for n in names:
        desc, higher = METRICS[n]
        lines.append(f"- `{n}`: {desc}; {'higher' if higher else 'lower'} is better")
    worst_key = next(
        (n for n in ("text_ned", "teds", "spot_score", "field_f1") if any(n in s for s in scores)), None
    )
    if worst_key:
        higher = METRICS[worst_key][1]
        ranked = sorted(
            ((s[worst_key], g.get("image", "?")) for g, s in zip(gts, scores, strict=True) if worst_key in s),
            reverse=not higher,
        )[:5]
        lines += ["", f"## Worst items by `{worst_key}`", "", "| image | value |", "|---|---:|"]
        lines += [f"| {img} | {v:.4f} |" for v, img in ranked]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if errors:
        lines += ["", f"## Errors ({len(errors)})", ""] + [f"- {e}" for e in errors]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
