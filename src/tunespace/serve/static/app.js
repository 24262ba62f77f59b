// tunespace explorer: plain JavaScript, no build step, nothing fetched but this server's API.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
};

const state = {
  info: null,
  kinds: {},            // property -> kind
  query: null,          // {kind: "id", id} or {kind: "upload", file}
  offset: 0,
  map: null,            // {index, ids, x, y, labels}
  mapRequest: 0,
  playing: null,
};

// 20 distinguishable colours for categories, then grey for unknown values.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
  "#dbdb8d", "#9edae5", "#393b79"];
const UNKNOWN = "#cfcfcf";
// viridis at 5 stops, interpolated linearly
const GRADIENT = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

async function api(path, options) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok && r.status !== 202) {
    let msg = body && body.detail !== undefined ? body.detail : r.statusText;
    if (Array.isArray(msg)) msg = msg.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return {status: r.status, body};
}

function mb(bytes) {
  const x = bytes / 1048576;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(1)} MB`;
}

function showError(msg) {
  const box = $("#error");
  if (!msg) { box.hidden = true; return; }
  box.textContent = msg;
  box.hidden = false;
}

function fmt(prop, v) {
  if (v === null || v === undefined) return "?";
  const kind = state.kinds[prop];
  if (kind === "tempo") return `${Math.round(v)} BPM`;
  if (kind === "continuous") return Number(v).toFixed(2);
  if (Array.isArray(v)) return v.join(", ");
  return String(v);
}

function chips(labels, matches) {
  const box = el("span", {class: "chips"});
  for (const prop of Object.keys(state.kinds)) {
    const v = labels[prop];
    if (v === null || v === undefined) continue;
    const on = matches && matches.includes(prop);
    box.append(el("span", {class: "chip" + (on ? " match" : ""), title: prop, "data-prop": prop,
      text: fmt(prop, v)}));
  }
  return box;
}

function audioUrl(id) {
  return "api/audio/" + encodeURIComponent(id);
}

function play(id, title, startS) {
  const audio = $("#audio");
  audio.src = typeof id === "string" ? audioUrl(id) : id.url;
  if (startS) {  // a passage: start where the upload lies in the track (the server supports ranges)
    audio.addEventListener("loadedmetadata", () => { audio.currentTime = startS; }, {once: true});
  }
  state.playing = typeof id === "string" ? id : null;
  $("#now-playing").textContent = (title || id) + (startS ? ` from ${startS.toFixed(1)} s` : "");
  audio.play().catch((e) => showError(`cannot play ${title || id}: ${e.message}`));
  document.querySelectorAll(".playing").forEach((n) => n.classList.remove("playing"));
  if (state.playing) {
    document.querySelectorAll(`[data-id="${CSS.escape(state.playing)}"]`).forEach((n) => n.classList.add("playing"));
  }
}

function playButton(id, hasAudio, startS) {
  const what = startS ? `play ${id} from ${startS.toFixed(1)} s` : `play ${id}`;
  return el("button", {class: "play", type: "button", title: hasAudio ? what : "no audio",
    disabled: !hasAudio, "aria-label": what, text: "▶",
    onclick: (ev) => { ev.stopPropagation(); play(id, undefined, startS); }});
}

// ------------------------------------------------------------------ search
function filterParams() {
  const p = new URLSearchParams();
  const q = $("#search").value.trim();
  if (q) p.set("q", q);
  const prop = $("#filter-prop").value, value = $("#filter-value").value;
  if (prop && value) p.append("where", `${prop}=${value}`);
  return p;
}

async function search(append = false) {
  const p = filterParams();
  state.offset = append ? state.offset + 50 : 0;
  p.set("offset", state.offset);
  p.set("limit", 50);
  try {
    const {body} = await api("api/tracks?" + p.toString());
    const list = $("#results");
    if (!append) list.replaceChildren();
    for (const t of body.tracks) {
      list.append(el("li", {class: "track", "data-id": t.id, onclick: () => setQuery(t.id)},
        playButton(t.id, t.has_audio), el("span", {class: "id", text: t.id}), chips(t.labels)));
    }
    $("#result-count").textContent = `${body.total} track${body.total === 1 ? "" : "s"}`;
    $("#more").hidden = state.offset + body.tracks.length >= body.total;
    showError(null);
  } catch (e) { showError(e.message); }
}

function fillFilterValues() {
  const prop = $("#filter-prop").value;
  const sel = $("#filter-value");
  sel.replaceChildren(el("option", {value: "", text: "any value"}));
  const p = state.info.properties.find((x) => x.name === prop);
  sel.disabled = !p || !p.values;
  if (p && p.values) for (const v of p.values) sel.append(el("option", {value: v, text: v}));
}

// ------------------------------------------------------------------ query and neighbours
async function setQuery(id) {
  state.query = {kind: "id", id};
  const box = $("#query");
  box.replaceChildren(el("p", {class: "muted", text: `loading ${id}…`}));
  try {
    const {body: t} = await api("api/tracks/" + encodeURIComponent(id));
    box.replaceChildren(el("div", {class: "query-head", "data-id": t.id},
      playButton(t.id, t.has_audio), el("strong", {class: "id", text: t.id}), chips(t.labels)));
  } catch (e) { box.replaceChildren(el("p", {class: "error", text: e.message})); }
  markMapQuery();
  refreshColumns();
}

function setUpload(file) {
  if (file.size > state.info.max_upload_bytes) {
    showError(`${file.name} is ${mb(file.size)}; this server takes files up to ` +
      `${mb(state.info.max_upload_bytes)} (tunespace serve --max-upload-mb)`);
    return;
  }
  showError(null);
  state.query = {kind: "upload", file, url: URL.createObjectURL(file)};
  $("#query").replaceChildren(el("div", {class: "query-head"},
    el("button", {class: "play", type: "button", text: "▶", "aria-label": "play your file",
      onclick: () => play({url: state.query.url}, file.name)}),
    el("strong", {class: "id", text: file.name}), el("span", {class: "muted", text: ` your file, ${mb(file.size)}`})));
  markMapQuery();
  refreshColumns();
}

function refreshColumns() {
  for (const side of ["a", "b"]) loadColumn(side);
}

async function loadColumn(side) {
  const col = $(`#column-${side}`);
  const index = $(`#index-${side}`).value;
  const list = col.querySelector(".neighbours"), agree = col.querySelector(".agreement");
  const info = state.info.indexes.find((x) => x.name === index);
  col.querySelector(".index-desc").textContent = info ? `${info.description} · ${info.n} tracks · ${info.method || ""}` : "";
  list.replaceChildren();
  agree.replaceChildren();
  col.classList.toggle("off", !index);
  if (!index || !state.query) return;
  const k = $("#k").value;
  const token = Symbol();
  col.token = token;
  agree.append(el("p", {class: "muted", text: state.query.kind === "upload" ? "embedding your file…" : "searching…"}));
  try {
    let r;
    if (state.query.kind === "id") {
      r = await api(`api/indexes/${encodeURIComponent(index)}/neighbours?id=${encodeURIComponent(state.query.id)}&k=${k}`);
    } else {
      const form = new FormData();
      form.append("file", state.query.file, state.query.file.name);
      r = await api(`api/indexes/${encodeURIComponent(index)}/neighbours?k=${k}`, {method: "POST", body: form});
    }
    if (col.token !== token) return;
    renderColumn(col, r.body);
    showError(null);
  } catch (e) {
    if (col.token !== token) return;
    agree.replaceChildren(el("p", {class: "error", text: e.message}));
  }
}

function renderColumn(col, data) {
  const list = col.querySelector(".neighbours"), agree = col.querySelector(".agreement");
  agree.replaceChildren();
  const n = data.neighbours.length;
  const upload = data.query.id === null;
  if (upload && data.query.embed_ms !== null) {
    agree.append(el("p", {class: "muted small",
      text: `${data.query.duration_s.toFixed(1)} s of audio embedded in ${Math.round(data.query.embed_ms)} ms`}));
  }
  if (upload && data.query.silent) {
    agree.append(el("p", {class: "warning", text: "This file is silent: these neighbours say nothing about its music."}));
  }
  const table = el("div", {class: "shares"});
  for (const a of data.agreement) {
    let count, text;
    if (!upload && a.shared !== null) {
      count = a.shared;
      text = `${a.property} ${fmt(a.property, a.query)}`;
    } else if (a.most_common !== null) {
      count = a.most_common_count;
      text = `${a.property}: ${a.most_common}`;
    } else continue;
    const frac = n ? count / n : 0;
    table.append(el("div", {class: "share", "data-prop": a.property, title: `${count} of ${n} neighbours`},
      el("span", {class: "share-label", text}),
      el("span", {class: "bar"}, el("span", {class: "fill", style: `width:${(100 * frac).toFixed(0)}%`})),
      el("span", {class: "share-count", text: `${count}/${n}`})));
  }
  agree.append(table);
  for (const nb of data.neighbours) {
    list.append(el("li", {class: "neighbour" + (nb.id === state.playing ? " playing" : ""), "data-id": nb.id,
      onclick: () => setQuery(nb.id), title: "click: make it the query"},
      el("span", {class: "rank", text: nb.rank}),
      playButton(nb.id, nb.has_audio, nb.start_s ?? null),
      el("span", {class: "id", text: nb.id}),
      ...(nb.start_s == null ? [] : [el("span", {class: "span", title: "where your file lies in this track",
        text: `${nb.start_s.toFixed(1)}–${nb.end_s.toFixed(1)} s`})]),
      el("span", {class: "sim", title: "cosine similarity", text: nb.similarity.toFixed(3)}),
      chips(nb.labels, nb.matches)));
  }
}

// ------------------------------------------------------------------ map
async function loadMap() {
  const index = $("#map-index").value;
  const ticket = ++state.mapRequest;
  state.map = null;
  drawMap();
  if (!index) return;
  $("#map-status").textContent = "loading the map…";
  try {
    const r = await api(`api/indexes/${encodeURIComponent(index)}/map`);
    if (ticket !== state.mapRequest) return;
    if (r.status === 202) {
      $("#map-status").textContent = "computing the map (UMAP, once per index; cached on disk)…";
      setTimeout(() => { if (ticket === state.mapRequest) loadMap(); }, 2000);
      return;
    }
    state.map = r.body;
    $("#map-status").textContent = `${r.body.method.toUpperCase()} of ${r.body.n}` +
      (r.body.n < r.body.n_index ? ` of ${r.body.n_index} tracks (a seeded sample)` : " tracks") +
      " · hover for the track, click to query";
    drawMap();
  } catch (e) { if (ticket === state.mapRequest) $("#map-status").textContent = e.message; }
}

function colourOf(prop) {
  const m = state.map;
  const values = m.labels[prop] || [];
  const kind = state.kinds[prop];
  if (kind === "tempo" || kind === "continuous") {
    const nums = values.filter((v) => v !== null && v !== undefined);
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const f = (v) => {
      if (v === null || v === undefined) return UNKNOWN;
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      const x = t * (GRADIENT.length - 1), i = Math.min(GRADIENT.length - 2, Math.floor(x)), u = x - i;
      const c = GRADIENT[i].map((a, j) => Math.round(a + u * (GRADIENT[i + 1][j] - a)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    };
    return {colours: values.map(f), legend: {kind: "range", lo, hi, n: nums.length}};
  }
  const key = (v) => (Array.isArray(v) ? (v[0] === undefined ? null : v[0]) : v);
  const counts = new Map();
  for (const v of values) { const k = key(v); if (k !== null && k !== undefined) counts.set(k, (counts.get(k) || 0) + 1); }
  const order = [...counts.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
  const colour = new Map(order.map(([v], i) => [v, i < PALETTE.length ? PALETTE[i] : UNKNOWN]));
  return {colours: values.map((v) => colour.get(key(v)) || UNKNOWN),
          legend: {kind: "categories", entries: order.map(([v, c]) => [v, c, colour.get(v)])}};
}

function mapGeometry() {
  const canvas = $("#map");
  const m = state.map;
  const pad = 14;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  let x0 = Math.min(...m.x), x1 = Math.max(...m.x), y0 = Math.min(...m.y), y1 = Math.max(...m.y);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const sx = (w - 2 * pad) / (x1 - x0), sy = (h - 2 * pad) / (y1 - y0);
  return {px: (i) => pad + (m.x[i] - x0) * sx, py: (i) => h - pad - (m.y[i] - y0) * sy, w, h};
}

function drawMap() {
  const canvas = $("#map");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const legend = $("#legend");
  legend.replaceChildren();
  if (!state.map) return;
  const prop = $("#map-colour").value;
  const g = mapGeometry();
  const {colours, legend: lg} = prop ? colourOf(prop) : {colours: state.map.ids.map(() => "#4a6fa5"), legend: null};
  const r = state.map.n > 5000 ? 1.6 : 3;
  for (let i = 0; i < state.map.ids.length; i++) {
    ctx.fillStyle = colours[i];
    ctx.beginPath();
    ctx.arc(g.px(i), g.py(i), r, 0, 2 * Math.PI);
    ctx.fill();
  }
  const qi = state.query && state.query.kind === "id" ? state.map.ids.indexOf(state.query.id) : -1;
  if (qi >= 0) {
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(g.px(qi), g.py(qi), 8, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (!lg) return;
  legend.append(el("div", {class: "legend-title", text: prop}));
  if (lg.kind === "range") {
    const stops = GRADIENT.map((c, i) => `rgb(${c.join(",")}) ${(100 * i / (GRADIENT.length - 1)).toFixed(0)}%`);
    legend.append(el("div", {class: "legend-range"},
      el("span", {text: fmt(prop, lg.lo)}),
      el("span", {class: "ramp", style: `background: linear-gradient(90deg, ${stops.join(", ")})`}),
      el("span", {text: fmt(prop, lg.hi)})));
  } else {
    for (const [v, c, colour] of lg.entries) {
      legend.append(el("div", {class: "legend-entry", "data-value": v},
        el("span", {class: "swatch", style: `background:${colour || UNKNOWN}`}), el("span", {text: `${v} (${c})`})));
    }
  }
  const unknown = colours.filter((c) => c === UNKNOWN).length;
  if (unknown) {
    legend.append(el("div", {class: "legend-entry"}, el("span", {class: "swatch", style: `background:${UNKNOWN}`}),
      el("span", {text: `unknown or other (${unknown})`})));
  }
}

function markMapQuery() { if (state.map) drawMap(); }

function nearestPoint(ev) {
  if (!state.map) return -1;
  const canvas = $("#map");
  const rect = canvas.getBoundingClientRect();
  const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
  const g = mapGeometry();
  let best = -1, bestD = 64;  // within 8 px
  for (let i = 0; i < state.map.ids.length; i++) {
    const dx = g.px(i) - mx, dy = g.py(i) - my, d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

function hoverMap(ev) {
  const tip = $("#map-tip");
  const i = nearestPoint(ev);
  if (i < 0) { tip.hidden = true; return; }
  const id = state.map.ids[i];
  const labels = {};
  for (const p of Object.keys(state.map.labels)) labels[p] = state.map.labels[p][i];
  tip.replaceChildren(el("strong", {text: id}), chips(labels));
  const rect = $("#map").getBoundingClientRect();
  tip.style.left = `${ev.clientX - rect.left + 12}px`;
  tip.style.top = `${ev.clientY - rect.top + 12}px`;
  tip.hidden = false;
  tip.dataset.id = id;
}

function clickMap(ev) {
  const i = nearestPoint(ev);
  if (i >= 0) {
    setQuery(state.map.ids[i]);
    $("#query-panel").scrollIntoView({behavior: "smooth", block: "start"});
  }
}

// ------------------------------------------------------------------ start
async function init() {
  let info;
  try { info = (await api("api/info")).body; } catch (e) { showError(`cannot reach the server: ${e.message}`); return; }
  state.info = info;
  for (const p of info.properties) state.kinds[p.name] = p.kind;
  document.title = info.title;
  $("#title").textContent = info.title;
  $("#summary").textContent = `${info.n_tracks} tracks · ${info.indexes.length} index${info.indexes.length === 1 ? "" : "es"}` +
    (info.has_audio ? "" : " · no audio");
  $("#upload-limit").textContent = `up to ${mb(info.max_upload_bytes)}; embedded with each index's model`;
  for (const k of [5, 10, 20, 50]) $("#k").append(el("option", {value: k, text: k, selected: k === info.default_k}));
  const a = $("#index-a"), b = $("#index-b"), mi = $("#map-index");
  b.append(el("option", {value: "", text: "none"}));
  info.indexes.forEach((x, i) => {
    a.append(el("option", {value: x.name, text: x.name, selected: i === 0}));
    b.append(el("option", {value: x.name, text: x.name, selected: i === 1}));
    mi.append(el("option", {value: x.name, text: x.name, selected: i === 0}));
  });
  const colour = $("#map-colour");
  colour.append(el("option", {value: "", text: "nothing"}));
  info.properties.forEach((p, i) => {
    $("#filter-prop").append(el("option", {value: p.name, text: p.name}));
    colour.append(el("option", {value: p.name, text: p.name, selected: i === 0}));
  });

  let timer = null;
  $("#search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(), 200); });
  $("#filter-prop").addEventListener("change", () => { fillFilterValues(); search(); });
  $("#filter-value").addEventListener("change", () => search());
  $("#more").addEventListener("click", () => search(true));
  $("#k").addEventListener("change", refreshColumns);
  a.addEventListener("change", () => loadColumn("a"));
  b.addEventListener("change", () => loadColumn("b"));
  mi.addEventListener("change", loadMap);
  colour.addEventListener("change", drawMap);
  const canvas = $("#map");
  canvas.addEventListener("mousemove", hoverMap);
  canvas.addEventListener("mouseleave", () => { $("#map-tip").hidden = true; });
  canvas.addEventListener("click", clickMap);
  window.addEventListener("resize", drawMap);

  const input = $("#upload"), zone = $("#upload-zone");
  input.addEventListener("change", () => { if (input.files.length) setUpload(input.files[0]); });
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("drag"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("drag"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("drag");
    if (ev.dataTransfer.files.length) setUpload(ev.dataTransfer.files[0]);
  });
  search();
  loadMap();
  document.body.dataset.ready = "1";
}

init();
