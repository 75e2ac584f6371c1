// semhash serve: the page's behaviour. Plain JavaScript, no build step.
"use strict";

const body = document.body;
const NAME = body.dataset.collection;
const PICTURES = body.dataset.pictures === "yes"; // image queries and thumbnails (the kind's)
const API = `/api/collections/${encodeURIComponent(NAME)}`;
const $ = (id) => document.getElementById(id);
const BASELINE_NAME = document.getElementById("baseline-title").textContent;
const CODES_NAME = document.getElementById("codes-title").textContent;
const DISTANCE_NAMES = {
  "hamming": "d", "raw-l2": "L2", "hamming+asymmetric": "asym", "features-cosine": "1−cos",
};
const METHOD_NAMES = {
  "hamming+asymmetric": " · shortlist re-ranked by asymmetric distance",
  "hamming+tfidf": " · shortlist re-ranked by TF-IDF",
};

// the current query: {image: Blob, label} | {text} | {id, label}
let query = null;
let generation = 0; // answers to an older query are dropped

function controls() {
  const radius = Number($("radius").value);
  return {
    k: Number($("k").value),
    radius: radius < 0 ? null : radius,
    strategy: $("strategy").value || null,
    baseline: $("baseline").checked,
    asymmetric: $("asymmetric").checked,
  };
}

function form(how, baseline) {
  const data = new FormData();
  if (query.image) data.append("image", query.image, query.label || "query.png");
  if (query.text !== undefined) data.append("text", query.text);
  if (query.id !== undefined) data.append("id", String(query.id));
  data.append("k", String(how.k));
  if (baseline) {
    data.append("baseline", $("baseline").dataset.baseline || "raw");
  } else {
    if (how.radius !== null) data.append("radius", String(how.radius));
    if (how.strategy) data.append("strategy", how.strategy);
    if (how.asymmetric) data.append("asymmetric", "true");
  }
  return data;
}

async function post(data) {
  const started = performance.now();
  const resp = await fetch(`${API}/search`, { method: "POST", body: data });
  let payload;
  try {
    payload = await resp.json();
  } catch (e) {
    payload = { detail: `the server answered ${resp.status} without JSON.` };
  }
  if (!resp.ok) throw new Error(payload.detail || `error ${resp.status}`);
  payload.ms = performance.now() - started;
  return payload;
}

async function search() {
  if (!query) return;
  const mine = ++generation;
  const how = controls();
  const current = () => mine === generation;
  showError(null);
  body.classList.add("busy");
  $("status").textContent = "searching…";
  const failed = (err) => { if (current()) showError(err.message); };
  // each answer is shown as soon as it comes: the baseline may take longer
  const codes = post(form(how, false)).then((answer) => {
    if (!current()) return;
    render($("grid"), answer, how.radius);
    $("codes-title").textContent = CODES_NAME + (METHOD_NAMES[answer.method] || "");
    $("codes-col").hidden = false;
    const within = how.radius === null ? "" : ` within radius ${how.radius}`;
    $("status").textContent = `${answer.results.length} results${within} in ` +
      `${answer.ms.toFixed(0)} ms · click a result to search with it`;
  }, failed);
  $("baseline-col").hidden = !how.baseline;
  const raw = !how.baseline ? Promise.resolve() : post(form(how, true)).then((answer) => {
    if (!current()) return;
    render($("baseline-grid"), answer, null);
    $("baseline-title").textContent = `${BASELINE_NAME} · ${answer.ms.toFixed(0)} ms`;
  }, failed);
  if (how.baseline) {
    $("baseline-grid").replaceChildren();
    $("baseline-title").textContent = `${BASELINE_NAME} · searching…`;
  }
  await Promise.all([codes, raw]);
  if (current()) body.classList.remove("busy");
}

function render(grid, answer, radius) {
  grid.replaceChildren();
  grid.dataset.query = answer.query;
  if (!answer.results.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = radius === null ? "no results" : `nothing within radius ${radius}`;
    grid.append(p);
    return;
  }
  answer.results.forEach((hit, rank) => grid.append(card(hit, rank, answer.method)));
}

function card(hit, rank, method) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "card";
  el.dataset.id = hit.id;
  el.dataset.distance = hit.distance;
  el.title = `${hit.path}\nid ${hit.id} · click to search with this item`;
  if (query && query.id === hit.id) el.classList.add("self");
  if (PICTURES) {
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = hit.label || `item ${hit.id}`;
    img.src = `${API}/items/${hit.id}/thumbnail?size=128`;
    el.append(img);
  } else {
    const t = document.createElement("strong");
    t.className = "doc-title";
    t.textContent = hit.title || shortPath(hit.path);
    const p = document.createElement("p");
    p.className = "doc-lines";
    p.textContent = "…";
    el.append(t, p);
    fetch(`${API}/items/${hit.id}`)
      .then((r) => (r.ok ? r.json() : { preview: "" }))
      .then((row) => { p.textContent = row.preview || ""; })
      .catch(() => { p.textContent = ""; });
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const dist = document.createElement("span");
  dist.className = "distance";
  const d = hit.distance;
  const shown = Number.isInteger(d) ? d : Math.abs(d) < 0.01 ? d.toPrecision(2) : d.toFixed(2);
  dist.textContent = `${DISTANCE_NAMES[method] || "cos d"} ${shown}`;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = hit.label;
  const path = document.createElement("div");
  path.className = "path";
  path.textContent = shortPath(hit.path);
  meta.append(dist, label);
  el.append(meta, path);
  el.addEventListener("click", () => searchById(hit));
  return el;
}

function shortPath(path) {
  const parts = path.split("/").filter(Boolean);
  return parts.slice(-2).join("/");
}

function searchById(hit) {
  query = { id: hit.id, label: hit.path };
  showQuery(hit.id, `item ${hit.id} · ${shortPath(hit.path)}`, hit.title);
  search();
}

function showQuery(id, name, title) {
  $("query-name").textContent = name;
  if (PICTURES) {
    const img = $("query-img");
    if (id !== null) img.src = `${API}/items/${id}/thumbnail?size=256`;
    img.hidden = false;
    $("drop-hint").hidden = true;
  } else if (id !== null) {
    const doc = $("query-doc");
    doc.textContent = title || name;
    doc.hidden = false;
  }
}

function showError(text) {
  const box = $("error");
  box.hidden = !text;
  box.textContent = text || "";
}

function useFile(file) {
  if (!file) return;
  query = { image: file, label: file.name };
  const img = $("query-img");
  img.src = URL.createObjectURL(file);
  showQuery(null, `${file.name} (uploaded)`);
  search();
}

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

function setup() {
  const again = debounce(search, 150);
  $("k").addEventListener("input", () => { $("k-out").textContent = $("k").value; again(); });
  $("radius").addEventListener("input", () => {
    const r = Number($("radius").value);
    $("radius-out").textContent = r < 0 ? "off (top-k)" : `≤ ${r} bits`;
    again();
  });
  $("strategy").addEventListener("change", search);
  $("baseline").addEventListener("change", search);
  $("asymmetric").addEventListener("change", search);
  if (PICTURES) {
    const drop = $("drop");
    const file = $("file");
    drop.addEventListener("click", (e) => { if (e.target !== file) file.click(); });
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") file.click(); });
    file.addEventListener("change", () => useFile(file.files[0]));
    ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      useFile(e.dataTransfer.files[0]);
    });
  } else {
    $("text-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = $("text").value.trim();
      if (!text) return;
      query = { text };
      $("query-doc").hidden = true;
      $("query-name").textContent = "typed text";
      search();
    });
  }
}

setup();
