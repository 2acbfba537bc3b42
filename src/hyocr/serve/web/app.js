// hyocr web page: upload an image or PDF to /v1/ocr/{task}, then show the boxes drawn over the
// image, a Markdown preview and the JSON. No third-party code: the Markdown renderer below is a
// small one, and model output is never inserted as HTML except tables rebuilt through a whitelist.
"use strict";

const $ = (id) => document.getElementById(id);
const TASKS_FALLBACK = ["spotting", "text", "document", "formula", "table", "chart", "key", "fields", "subtitles", "translate", "vqa"];
let chosen = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function headers() {
  const key = $("api-key").value.trim();
  localStorage.setItem("hyocr-api-key", key);
  return key ? { Authorization: "Bearer " + key } : {};
}

async function init() {
  $("api-key").value = localStorage.getItem("hyocr-api-key") || "";
  let tasks = TASKS_FALLBACK, targets = ["en", "zh"];
  try {
    const r = await fetch("/v1/tasks", { headers: headers() });
    if (r.ok) { const d = await r.json(); tasks = d.tasks; targets = d.translation_targets; }
    const m = await fetch("/v1/models", { headers: headers() });
    if (m.ok) { const d = await m.json(); $("model").textContent = "model: " + d.data.map((x) => x.id).join(", "); }
  } catch (e) { /* the page still works with the fallback list */ }
  for (const t of tasks) $("task").append(new Option(t, t));
  for (const t of targets) $("target").append(new Option(t, t));
  $("task").addEventListener("change", showOptions);
  showOptions();
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => { if ($("file").files.length) choose($("file").files[0]); });
  $("run").addEventListener("click", run);
}

function showOptions() {
  const task = $("task").value;
  document.querySelectorAll(".opt").forEach((o) => o.classList.toggle("shown", o.dataset.task === task));
}

function choose(file) {
  chosen = file;
  $("drop-text").textContent = file.name + " (" + Math.round(file.size / 1024) + " KiB)";
  $("run").disabled = false;
}

async function run() {
  if (!chosen) return;
  const task = $("task").value;
  const form = new FormData();
  form.append("file", chosen, chosen.name);
  form.append("lang", $("lang").value);
  form.append("max_tokens", $("max-tokens").value || "512");
  if (task === "key") form.append("key", $("key").value);
  if (task === "fields") form.append("fields", $("fields").value);
  if (task === "translate") form.append("target", $("target").value);
  if (task === "vqa") form.append("question", $("question").value);
  const isPdf = chosen.type === "application/pdf" || chosen.name.toLowerCase().endsWith(".pdf");
  if (isPdf) form.append("return_images", "1");
  $("run").disabled = true;
  setStatus("running " + task + "…");
  const t0 = performance.now();
  try {
    const r = await fetch("/v1/ocr/" + encodeURIComponent(task), { method: "POST", body: form, headers: headers() });
    const data = await r.json().catch(() => ({ error: { message: "HTTP " + r.status } }));
    if (!r.ok) throw new Error((data.error && data.error.message) || "HTTP " + r.status);
    const sources = isPdf ? data.images || [] : [URL.createObjectURL(chosen)];
    await render(data, sources);
    setStatus("done in " + ((performance.now() - t0) / 1000).toFixed(2) + " s", false, "done");
  } catch (e) {
    setStatus(String(e.message || e), true);
  } finally {
    $("run").disabled = false;
  }
}

function setStatus(text, isError, state) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "muted";
  s.dataset.state = isError ? "error" : state || "busy";
}

async function render(data, sources) {
  $("json").textContent = JSON.stringify(data, null, 2);
  const pages = $("pages"), preview = $("preview");
  pages.replaceChildren();
  preview.replaceChildren();
  for (let i = 0; i < data.results.length; i++) {
    const res = data.results[i];
    if (sources[i]) pages.append(await overlay(sources[i], res));
    if (data.results.length > 1) preview.append(el("h3", "Page " + (i + 1)));
    preview.append(renderResult(data.task, res));
  }
}

function loadImage(src) {
  return new Promise((ok, fail) => { const im = new Image(); im.onload = () => ok(im); im.onerror = fail; im.src = src; });
}

// The image with every box of the result drawn over it (pixel polygons of spotting lines; figure
// quads of documents are 0-1000 and are scaled by the image size).
async function overlay(src, res) {
  const im = await loadImage(src);
  const c = el("canvas", null, "overlay");
  c.width = im.naturalWidth; c.height = im.naturalHeight;
  const g = c.getContext("2d");
  g.drawImage(im, 0, 0);
  const sx = res.width ? c.width / res.width : 1, sy = res.height ? c.height / res.height : 1;
  g.lineWidth = Math.max(2, c.width / 400);
  g.font = Math.max(12, Math.round(c.width / 60)) + "px sans-serif";
  let n = 0;
  const polys = [];
  for (const line of res.lines || []) polys.push([line.polygon, line.text]);
  for (const b of res.blocks || []) {
    if (b.points && b.points.length) polys.push([b.points.map(([x, y]) => [x * res.width / 1000, y * res.height / 1000]), b.kind]);
  }
  for (const [poly, label] of polys) {
    if (!poly || poly.length < 2) continue;
    const pts = poly.length === 2 ? [poly[0], [poly[1][0], poly[0][1]], poly[1], [poly[0][0], poly[1][1]]] : poly;
    g.strokeStyle = "rgba(220, 38, 38, 0.9)";
    g.fillStyle = "rgba(220, 38, 38, 0.12)";
    g.beginPath();
    pts.forEach(([x, y], k) => (k ? g.lineTo(x * sx, y * sy) : g.moveTo(x * sx, y * sy)));
    g.closePath(); g.fill(); g.stroke();
    g.fillStyle = "rgba(153, 27, 27, 0.95)";
    g.fillText(String(label || "").slice(0, 40), pts[0][0] * sx, Math.max(12, pts[0][1] * sy - 3));
    n++;
  }
  c.dataset.boxes = String(n);
  return c;
}

function renderResult(task, res) {
  const box = el("div", null, "result");
  const md = (s) => box.append(renderMarkdown(s || ""));
  if (res.lines) box.append(...res.lines.map((l) => el("p", l.text)));
  else if (res.markdown !== undefined) md(res.markdown);
  else if (res.html !== undefined) box.append(safeHtml(res.html));
  else if (res.latex !== undefined) box.append(el("pre", res.latex));
  else if (res.fields !== undefined) box.append(el("pre", JSON.stringify(res.fields, null, 2)));
  else if (res.value !== undefined) box.append(el("p", res.value));
  else if (res.translation !== undefined) md(res.translation);
  else if (res.answer !== undefined) md(res.answer);
  else if (res.kind === "mermaid") box.append(el("pre", res.content));
  else md(res.content !== undefined ? res.content : res.raw);
  if (!box.childNodes.length || !box.textContent.trim()) box.append(el("p", "(empty answer)", "muted"));
  for (const w of res.warnings || []) box.append(el("p", "⚠ " + w, "muted"));
  return box;
}

// ---- a small Markdown renderer: headings, paragraphs, lists, fenced code, $$ formulas, pipe
// tables, HTML tables (whitelisted), inline code/bold/italic. Everything else is text.
function renderMarkdown(src) {
  const out = document.createDocumentFragment();
  const lines = src.replace(/\r\n/g, "\n").split("\n");
  let i = 0, para = [];
  const flush = () => { if (para.length) { const p = el("p"); inline(p, para.join(" ")); out.append(p); para = []; } };
  while (i < lines.length) {
    const line = lines[i], t = line.trim();
    if (!t) { flush(); i++; continue; }
    if (t.startsWith("```")) {
      flush(); const body = []; i++;
      while (i < lines.length && !lines[i].trim().startsWith("```")) body.push(lines[i++]);
      i++; out.append(el("pre", body.join("\n"))); continue;
    }
    if (t.startsWith("$$")) {
      flush(); const body = [t.slice(2)]; i++;
      if (!t.slice(2).includes("$$")) { while (i < lines.length && !lines[i].includes("$$")) body.push(lines[i++]); body.push(lines[i] || ""); i++; }
      out.append(el("pre", body.join("\n").replace(/\$\$/g, "").trim(), "formula")); continue;
    }
    if (/^<table/i.test(t)) {
      flush(); const body = []; while (i < lines.length) { body.push(lines[i]); if (/<\/table>/i.test(lines[i++])) break; }
      out.append(safeHtml(body.join("\n"))); continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(t);
    if (h) { flush(); const e = el("h" + Math.min(6, h[1].length + 2)); inline(e, h[2]); out.append(e); i++; continue; }
    if (/^\|.*\|$/.test(t) && i + 1 < lines.length && /^\|?[\s:|-]+\|?$/.test(lines[i + 1].trim())) {
      flush(); const table = el("table"); const cells = (s) => s.trim().replace(/^\||\|$/g, "").split("|");
      const tr = el("tr"); cells(t).forEach((c) => { const th = el("th"); inline(th, c.trim()); tr.append(th); }); table.append(tr);
      i += 2;
      while (i < lines.length && /^\|.*\|$/.test(lines[i].trim())) {
        const r = el("tr"); cells(lines[i++]).forEach((c) => { const td = el("td"); inline(td, c.trim()); r.append(td); }); table.append(r);
      }
      out.append(table); continue;
    }
    const li = /^([-*+]|\d+[.)])\s+(.*)$/.exec(t);
    if (li) {
      flush(); const list = el(/\d/.test(li[1]) ? "ol" : "ul");
      while (i < lines.length) {
        const m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]); if (!m) break;
        const item = el("li"); inline(item, m[2]); list.append(item); i++;
      }
      out.append(list); continue;
    }
    para.push(t); i++;
  }
  flush();
  return out;
}

function inline(parent, text) {
  const re = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*]+\*|\$[^$]+\$)/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    const s = m[0];
    if (s.startsWith("`")) parent.append(el("code", s.slice(1, -1)));
    else if (s.startsWith("**")) parent.append(el("strong", s.slice(2, -2)));
    else if (s.startsWith("$")) parent.append(el("code", s, "formula"));
    else parent.append(el("em", s.slice(1, -1)));
    last = m.index + s.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// Model output HTML -> DOM through a whitelist: table structure and simple formatting, no attributes
// but colspan/rowspan. Scripts, event handlers and links never survive.
const ALLOWED = new Set(["TABLE", "THEAD", "TBODY", "TFOOT", "TR", "TD", "TH", "CAPTION", "BR", "B", "I", "STRONG", "EM", "SUB", "SUP", "P", "SPAN"]);
function safeHtml(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const copy = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent);
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const frag = ALLOWED.has(node.tagName) ? document.createElement(node.tagName.toLowerCase()) : document.createDocumentFragment();
    if (frag.setAttribute) for (const a of ["colspan", "rowspan"]) { const v = node.getAttribute(a); if (v && /^\d{1,3}$/.test(v)) frag.setAttribute(a, v); }
    for (const child of node.childNodes) { const c = copy(child); if (c) frag.append(c); }
    return frag;
  };
  const wrap = el("div");
  for (const child of doc.body.childNodes) { const c = copy(child); if (c) wrap.append(c); }
  return wrap;
}

init();
