// semhash serve: the page's behaviour. Plain JavaScript, no build step.
//
// Every view is a real address rendered by the server (reload and links work without this
// script). The script only makes moving between views smooth: it fetches the part of the
// page that changes (header X-Semhash-Fragment: 1), swaps it in and records the address
// with history.pushState, so back, forward and reload show the same view. Uploads (an
// image, or a text file or long text) are posted and their results shown in place; the
// selection of duplicate groups or outliers is kept per tab (sessionStorage) and saved as
// the JSON file `semhash dedup --selection` / `semhash outliers --selection` accept.
"use strict";

const ROOT = document.body.dataset.root || "";
const FRAGMENT = { "X-Semhash-Fragment": "1" };
const LONG_TEXT = 1500; // characters: longer text is posted, not put in the address
const $ = (id) => document.getElementById(id);
const here = () => ($("view") ? $("view").dataset : {});

let upload = null; // the current uploaded query: {image: File, label} | {text, label}
let generation = 0; // answers to an older request are dropped

function showError(text) {
  const box = $("error");
  if (!box) return;
  box.hidden = !text;
  box.textContent = text || "";
}

function setStatus(text) {
  const status = $("status");
  if (status) status.textContent = text;
}

function detail(body, status) {
  try {
    return JSON.parse(body).detail || `error ${status}`;
  } catch (e) {
    return `the server answered ${status}.`;
  }
}

// -- moving between views ---------------------------------------------------------------
async function go(url, push = true, keepScroll = false) {
  const mine = ++generation;
  document.body.classList.add("busy");
  let resp, body;
  try {
    resp = await fetch(url, { headers: FRAGMENT });
    body = await resp.text();
  } catch (e) {
    if (mine === generation) {
      document.body.classList.remove("busy");
      showError(`the server could not be reached (${e.message}).`);
      lookAgain(); // a view being computed keeps looking
    }
    return false;
  }
  if (mine !== generation) return false;
  document.body.classList.remove("busy");
  if (!resp.ok) {
    showError(detail(body, resp.status));
    return false;
  }
  upload = null;
  $("page").innerHTML = body;
  if (here().title) document.title = here().title;
  const shown = resp.url || url;
  if (push) history.pushState({}, "", shown);
  else history.replaceState({}, "", shown);
  if (!keepScroll) window.scrollTo(0, 0);
  afterSwap();
  return true;
}

window.addEventListener("popstate", () => go(location.href, false));

function workspaceUrl(params) {
  const url = new URL(`${ROOT}/c/${encodeURIComponent(here().collection)}`, location.href);
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null) url.searchParams.set(k, v);
  return url.href;
}

function controlParams() {
  const form = $("controls");
  if (!form) return {};
  const out = { k: $("k").value, strategy: $("strategy").value };
  if (Number($("radius").value) >= 0) out.radius = $("radius").value;
  if ($("asymmetric").checked) out.asym = "1";
  if ($("baseline").checked) out.baseline = "1";
  if (out.k === "20") delete out.k;
  return out;
}

function formUrl(form) {
  const url = new URL(form.action, location.href);
  for (const [k, v] of new FormData(form)) if (v !== "") url.searchParams.set(k, v);
  return url.href;
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute("download") || a.hasAttribute("data-plain")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${ROOT}/c/`)) return;
  e.preventDefault();
  if (url.searchParams.has("q") && $("controls")) { // a new search keeps the controls
    for (const [k, v] of Object.entries(controlParams())) if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  }
  go(url.href);
});

// -- the controls and the toolbars ----------------------------------------------------------
function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

const research = debounce(() => {
  const q = $("controls") && $("controls").elements.q.value;
  if (upload) postUpload(upload);
  else if (q) go(workspaceUrl({ q, ...controlParams() }), true, true);
}, 200);

const regroup = debounce((form) => go(formUrl(form), true, true), 250);

document.addEventListener("input", (e) => {
  const t = e.target;
  if (t.id === "k") { $("k-out").textContent = t.value; research(); }
  if (t.id === "radius") {
    const r = Number(t.value);
    $("radius-out").textContent = r < 0 ? "off (top-k)" : `≤ ${r} bits`;
    research();
  }
  if (t.id === "threshold") {
    $("threshold-out").textContent = Number(t.value).toFixed(2);
    regroup(t.form);
  }
});

document.addEventListener("change", (e) => {
  const t = e.target;
  if (t.id === "collection") go(`${ROOT}/c/${encodeURIComponent(t.value)}`);
  else if (["strategy", "asymmetric", "baseline"].includes(t.id)) research();
  else if (t.form && ["browse-bar", "recon-bar", "dedup-bar"].includes(t.form.id) && t.id !== "threshold") {
    const url = new URL(formUrl(t.form));
    url.searchParams.delete("page"); // a new order starts at its first page
    go(url.href, true, true);
  } else if (t.id === "file") useImage(t.files[0]);
  else if (t.id === "text-file") useTextFile(t.files[0]);
  else if (t.classList.contains("group-box") || t.classList.contains("dup-box") || t.classList.contains("pick-box")) {
    picked(t);
  }
});

document.addEventListener("submit", (e) => {
  const form = e.target;
  if (form.id === "text-form") {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    if (text.length > LONG_TEXT) postUpload({ text, label: "pasted text" });
    else go(workspaceUrl({ q: text, ...controlParams() }));
  } else if (["controls", "browse-bar", "recon-bar", "dedup-bar", "picker"].includes(form.id)) {
    e.preventDefault();
    go(formUrl(form));
  }
});

// -- uploads --------------------------------------------------------------------------------
function useImage(file) {
  if (!file) return;
  const img = $("query-img");
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $("drop-hint").hidden = true;
  postUpload({ image: file, label: file.name });
}

async function useTextFile(file) {
  if (!file) return;
  let text;
  try {
    text = await file.text();
  } catch (e) {
    showError(`${file.name} cannot be read (${e.message}).`);
    return;
  }
  postUpload({ text, label: file.name });
}

async function postUpload(query) {
  if (!$("controls")) { // from another view: to the workspace first
    if (!(await go(workspaceUrl({})))) return;
  }
  upload = query;
  const mine = ++generation;
  const data = new FormData();
  if (query.image) data.append("image", query.image, query.label || "query.png");
  else data.append("text", query.text);
  data.append("label", query.label || "");
  for (const [k, v] of Object.entries(controlParams())) data.append(k, v);
  $("controls").elements.q.value = "";
  showError(null);
  setStatus("searching…");
  document.body.classList.add("busy");
  let resp, body;
  try {
    resp = await fetch(`${ROOT}/c/${encodeURIComponent(here().collection)}/upload`, { method: "POST", body: data, headers: FRAGMENT });
    body = await resp.text();
  } catch (e) {
    resp = null;
    body = JSON.stringify({ detail: `the server could not be reached (${e.message}).` });
  }
  if (mine !== generation) return;
  document.body.classList.remove("busy");
  if (!resp || !resp.ok) {
    setStatus("the search failed: see above."); // never "searching…" beside an error
    showError(detail(body, resp ? resp.status : 0));
    return;
  }
  $("results").outerHTML = body;
  $("query-name").textContent = `${query.label || "text"} (uploaded)`;
  if (query.text !== undefined && $("query-doc")) $("query-doc").hidden = true;
  history.replaceState({}, "", workspaceUrl({})); // an upload has no address of its own
}

document.addEventListener("click", (e) => {
  const drop = e.target.closest("#drop");
  if (drop && e.target.id !== "file") $("file").click();
});
document.addEventListener("keydown", (e) => {
  if (e.target.id === "drop" && (e.key === "Enter" || e.key === " ")) {
    e.preventDefault();
    $("file").click();
  }
});
["dragenter", "dragover"].forEach((type) => document.addEventListener(type, (e) => {
  const drop = e.target.closest && e.target.closest("#drop");
  if (!drop) return;
  e.preventDefault();
  drop.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => document.addEventListener(type, (e) => {
  const drop = e.target.closest && e.target.closest("#drop");
  if (!drop) return;
  drop.classList.remove("over");
  if (type === "drop") {
    e.preventDefault();
    useImage(e.dataTransfer.files[0]);
  }
}));

// -- the selection to act on with the command line -------------------------------------------
function selectionKey() {
  const box = $("duplicates") || $("outliers");
  if (!box) return null;
  const v = here();
  const extra = box.dataset.job === "dedup" ? `:${box.dataset.threshold}:${box.dataset.keep}` : "";
  return { key: `semhash-selection:${v.collection}:${v.fingerprint}:${box.dataset.job}${extra}`, job: box.dataset.job };
}

function loadSelection() {
  const where = selectionKey();
  if (!where) return null;
  let state = null;
  try {
    state = JSON.parse(sessionStorage.getItem(where.key));
  } catch (e) { state = null; }
  return { ...where, state: state || { groups: {}, items: {}, sha256: {} } };
}

function saveSelection(sel) {
  sessionStorage.setItem(sel.key, JSON.stringify(sel.state));
  showSelection(sel);
}

function picked(box) {
  const sel = loadSelection();
  if (!sel) return;
  const s = sel.state;
  if (box.classList.contains("pick-box")) { // an outlier
    const id = box.dataset.id;
    if (box.checked) { s.items[id] = true; s.sha256[id] = box.dataset.sha256; } else delete s.items[id];
  } else { // a group: all its duplicates (also those not drawn), or the ticked ones
    const keep = box.dataset.keep;
    const group = box.closest(".group");
    const members = JSON.parse(group.dataset.members); // every duplicate's id -> sha256
    const all = Object.keys(members).map(Number);
    const boxes = [...group.querySelectorAll(".dup-box")];
    let chosen;
    if (box.classList.contains("group-box")) {
      boxes.forEach((d) => { d.checked = box.checked; });
      chosen = box.checked ? all : [];
    } else {
      const drawn = new Set(boxes.map((d) => Number(d.dataset.id)));
      const before = new Set(s.groups[keep] || []);
      chosen = all.filter((i) => (drawn.has(i)
        ? boxes.find((d) => Number(d.dataset.id) === i).checked : before.has(i)));
    }
    const groupBox = group.querySelector(".group-box");
    groupBox.checked = chosen.length === all.length;
    groupBox.indeterminate = chosen.length > 0 && chosen.length < all.length;
    if (chosen.length) {
      s.groups[keep] = chosen;
      s.sha256[keep] = groupBox.dataset.sha256;
      chosen.forEach((i) => { s.sha256[i] = members[i]; });
    } else delete s.groups[keep];
  }
  saveSelection(sel);
}

let again = null; // a view still being computed looks again shortly
function lookAgain() {
  clearTimeout(again);
  const box = $("warming");
  if (box) again = setTimeout(() => go(location.href, false, true), Number(box.dataset.again));
}

function restoreSelection() {
  const sel = loadSelection();
  if (!sel) return;
  const s = sel.state;
  document.querySelectorAll(".pick-box").forEach((b) => { b.checked = Boolean(s.items[b.dataset.id]); });
  document.querySelectorAll(".group").forEach((g) => {
    const chosen = new Set(s.groups[g.dataset.keep] || []);
    g.querySelectorAll(".dup-box").forEach((d) => { d.checked = chosen.has(Number(d.dataset.id)); });
    const box = g.querySelector(".group-box");
    const all = Object.keys(JSON.parse(g.dataset.members)).length;
    box.checked = chosen.size === all && all > 0;
    box.indeterminate = chosen.size > 0 && chosen.size < all;
  });
  $("selection").hidden = false;
  showSelection(sel);
}

function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

function selectionFile(sel) {
  const v = here();
  const s = sel.state;
  const out = { semhash_selection: 1, job: sel.job, collection: v.collection, model_fingerprint: v.fingerprint };
  let ids;
  if (sel.job === "dedup") {
    out.groups = Object.entries(s.groups).map(([keep, dups]) => ({ keep: Number(keep), duplicates: dups }));
    ids = out.groups.flatMap((g) => [g.keep, ...g.duplicates]);
  } else {
    out.items = Object.keys(s.items).map(Number);
    ids = out.items;
  }
  out.sha256 = Object.fromEntries(ids.map((i) => [String(i), s.sha256[i] || ""]).filter(([, h]) => h));
  return out;
}

function showSelection(sel) {
  const file = selectionFile(sel);
  const download = $("sel-download");
  const name = download.getAttribute("download");
  const path = shellQuote(here().path);
  let count, command;
  if (sel.job === "dedup") {
    const n = file.groups.reduce((a, g) => a + g.duplicates.length, 0);
    count = `${file.groups.length} groups, ${n} duplicates selected`;
    command = `semhash dedup ${path} --selection ${name} --move-to DUPLICATES-FOLDER --dry-run\n` +
      "# then the same without --dry-run (or --link-to FOLDER to link instead of moving)";
  } else {
    count = `${file.items.length} items selected`;
    command = `semhash outliers ${path} --selection ${name} --paths\n` +
      `# e.g. | xargs -d '\\n' mv -t FOLDER --`;
  }
  const empty = sel.job === "dedup" ? !file.groups.length : !file.items.length;
  $("sel-count").textContent = empty ? "nothing selected: tick what to act on" : count;
  $("sel-command").textContent = command;
  if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([JSON.stringify(file, null, 1)], { type: "application/json" }));
  download.classList.toggle("off", empty);
  $("selection").classList.toggle("empty", empty);
  $("sel-copy").disabled = empty;
}

document.addEventListener("click", (e) => {
  const t = e.target;
  if (t.id === "sel-page") {
    document.querySelectorAll(".group-box, .pick-box").forEach((b) => {
      if (!b.checked) { b.checked = true; picked(b); }
    });
  } else if (t.id === "sel-clear") {
    const sel = loadSelection();
    sel.state = { groups: {}, items: {}, sha256: {} };
    saveSelection(sel);
    restoreSelection();
  } else if (t.id === "sel-copy") {
    const text = $("sel-command").textContent;
    const done = () => { t.textContent = "copied"; setTimeout(() => { t.textContent = "copy the command"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => selectText());
    else selectText();
  } else if (t.id === "sel-download" && t.classList.contains("off")) {
    e.preventDefault();
  }
});

function selectText() { // no clipboard here: select the command to copy it by hand
  const range = document.createRange();
  range.selectNodeContents($("sel-command"));
  const s = window.getSelection();
  s.removeAllRanges();
  s.addRange(range);
}

function afterSwap() { // what a newly shown view needs
  lookAgain();
  restoreSelection();
}

afterSwap();
