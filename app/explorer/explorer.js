// catembed explorer: a 2-D map of each feature's learned vectors, a card per value, a what-if form.
// Plain ES module, no dependencies: every request goes to this page's own origin.

const $ = (id) => document.getElementById(id);
const state = {
  base: "", // "" for the single served model, "/models/<name>" when the service holds several
  model: null,
  feature: null,
  map: null, // the projection of the current feature
  view: { scale: 1, tx: 0, ty: 0 },
  selected: -1,
  hover: -1,
  record: {},
  askedKey: false,
};

// ---------- requests: same origin, bearer key asked once on 401 ----------

async function api(path, options = {}) {
  const send = () => {
    const headers = { ...(options.headers || {}) };
    const key = sessionStorage.getItem("catembed-key");
    if (key) headers.Authorization = `Bearer ${key}`;
    return fetch(state.base + path, { ...options, headers });
  };
  let response = await send();
  if (response.status === 401 && !state.askedKey) {
    state.askedKey = true;
    if (await askKey()) response = await send();
  }
  return response;
}

async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body?.error?.message || `${path}: HTTP ${response.status}`);
  return body;
}

function askKey() {
  const dialog = $("key-dialog");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = $("api-key").value.trim();
      if (dialog.returnValue === "ok" && key) {
        sessionStorage.setItem("catembed-key", key);
        resolve(true);
      } else resolve(false);
    }, { once: true });
    dialog.showModal();
  });
}

const enc = (value) => encodeURIComponent(value);
const say = (text) => { $("status").textContent = text; };
const fmt = (x, digits = 4) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

// ---------- start-up ----------

// Optional routes are probed only when the service's own schema lists them: a 404 probe would
// put an error in the console of every service without them.
async function start() {
  const params = new URLSearchParams(location.search);
  const paths = (await fetch("/openapi.json").then((r) => r.json()).catch(() => ({}))).paths || {};
  if (paths["/models"]) await pickModel(params.get("model"));
  await loadModel();
  if (paths["/report"]) fetch("/report").then((r) => { $("report-link").hidden = r.status !== 200; r.body?.cancel(); }).catch(() => {});
  const features = Object.keys(state.model.coverage || {});
  const wanted = params.get("feature");
  await selectFeature(features.includes(wanted) ? wanted : features[0], params.get("value"));
}

async function pickModel(wanted) {
  let listing;
  try {
    const response = await fetch("/models");
    if (response.status !== 200) return;
    listing = await response.json();
  } catch {
    return;
  }
  const models = (Array.isArray(listing) ? listing : listing.models || []).map((m) => (typeof m === "string" ? m : m.name));
  if (models.length < 2) return;
  const picker = $("model-picker");
  picker.replaceChildren(...models.map((name) => new Option(name, name)));
  picker.value = models.includes(wanted) ? wanted : models[0];
  state.base = `/models/${enc(picker.value)}`;
  $("model-picker-box").hidden = false;
  picker.addEventListener("change", async () => {
    state.base = `/models/${enc(picker.value)}`;
    await loadModel();
    await selectFeature(Object.keys(state.model.coverage)[0], null);
  });
}

async function loadModel() {
  const model = await json("/model");
  state.model = model;
  state.record = { ...(model.example || {}) };
  const metrics = model.metrics?.holdout || {};
  const shown = Object.entries(metrics).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
  $("model-info").textContent = `${model.name} v${model.version} · ${model.task} on ${model.target}` + (shown ? ` · holdout ${shown}` : "");
  const names = Object.keys(model.coverage || {});
  for (const select of [$("feature"), $("sweep-feature")]) select.replaceChildren(...names.map((n) => new Option(n, n)));
  buildForm();
  predictNow();
}

// ---------- feature picker and the map ----------

async function selectFeature(feature, value) {
  state.feature = feature;
  $("feature").value = feature;
  $("sweep-feature").value = feature;
  say(`loading the map of ${feature}…`);
  const started = performance.now();
  const map = await json(`/embeddings/${enc(feature)}/projection?method=pca`);
  state.map = map;
  state.selected = -1;
  state.index = new Map(map.values.map((v, i) => [v, i]));
  showStats(feature, map);
  $("search-values").replaceChildren(...map.values.slice(0, 500).map((v) => new Option(v)));
  resetView();
  const painting = performance.now();
  const drawn = draw();
  const now = performance.now();
  // test and benchmark hooks: canvas points have no selectors, so the page says what it drew
  const box = $("map");
  box.dataset.paintMs = (now - painting).toFixed(1); // the canvas drawing alone
  box.dataset.drawMs = String(Math.round(now - started)); // request + parse + drawing
  box.dataset.drawnAtMs = String(Math.round(now)); // since navigation start
  box.dataset.feature = feature;
  box.dataset.pointCount = String(drawn);
  say(`${feature}: ${drawn.toLocaleString()} values drawn in ${box.dataset.drawMs} ms`);
  if (value !== null && value !== undefined && value !== "") await showValue(value);
  else $("card").hidden = true;
}

function showStats(feature, map) {
  const c = state.model.coverage[feature];
  const rate = (x) => (x === null || x === undefined ? "none served yet" : `${(100 * x).toFixed(2)} %`);
  const rows = [
    ["vocabulary size", c.vocabulary_size.toLocaleString()],
    ["embedding size", c.embedding_dim],
    ["values with own vector", c.values_with_vector.toLocaleString()],
    ["values folded into unknown", c.values_folded.toLocaleString()],
    ["training rows folded", rate(c.folded_row_rate)],
    ["unseen rate (served)", rate(c.served_unknown_rate)],
    ["map", map.projection === "raw" ? "raw 2-D vectors" : `PCA, ${(100 * (map.explained_variance[0] + map.explained_variance[1])).toFixed(1)} % of variance`],
  ];
  $("feature-stats").replaceChildren(...rows.map(pair));
}

function pair([term, value]) {
  const box = el("div");
  box.append(el("dt", term), el("dd", String(value)));
  return box;
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function resetView() {
  const { x, y } = state.map;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < x.length; i++) {
    if (x[i] < x0) x0 = x[i];
    if (x[i] > x1) x1 = x[i];
    if (y[i] < y0) y0 = y[i];
    if (y[i] > y1) y1 = y[i];
  }
  if (!x.length) [x0, x1, y0, y1] = [-1, 1, -1, 1];
  const canvas = $("map-canvas");
  const w = canvas.clientWidth, h = canvas.clientHeight, pad = 24;
  const scale = Math.min((w - 2 * pad) / (x1 - x0 || 1), (h - 2 * pad) / (y1 - y0 || 1));
  state.view = { scale, tx: w / 2 - scale * (x0 + x1) / 2, ty: h / 2 + scale * (y0 + y1) / 2 };
}

const sx = (x) => state.view.tx + state.view.scale * x;
const sy = (y) => state.view.ty - state.view.scale * y;

// colour ramps: counts on a log scale (light to dark blue), effects diverging (blue < 0 < red)
const BUCKETS = 24;
function colours(mode) {
  const ramp = [];
  for (let b = 0; b < BUCKETS; b++) {
    const t = b / (BUCKETS - 1);
    if (mode === "effect") {
      const s = 2 * t - 1, a = Math.abs(s);
      const [r, g, bl] = s < 0 ? [255 - 200 * a, 255 - 150 * a, 255 - 40 * a] : [255 - 40 * a, 255 - 190 * a, 255 - 200 * a];
      ramp.push(`rgb(${r | 0},${g | 0},${bl | 0})`);
    } else ramp.push(`hsl(${210 - 20 * t},70%,${80 - 52 * t}%)`);
  }
  return ramp;
}

function bucketsOf(mode) {
  const { counts, effect } = state.map;
  const n = counts.length, out = new Uint8Array(n);
  if (mode === "effect") {
    let m = 0;
    for (const e of effect) m = Math.max(m, Math.abs(e));
    // square-root scale: the few strongest values do not wash every other one out to white
    for (let i = 0; i < n; i++) {
      const s = Math.sign(effect[i]) * Math.sqrt(Math.abs(effect[i]) / (m || 1));
      out[i] = Math.round((s + 1) / 2 * (BUCKETS - 1));
    }
  } else {
    const top = Math.log1p(counts[0] || 1);
    for (let i = 0; i < n; i++) out[i] = Math.round(Math.log1p(counts[i]) / top * (BUCKETS - 1));
  }
  return out;
}

// the biggest point shrinks as the map fills up: 50,000 discs of 6 px would be one blot
function radius(count, top) {
  const n = state.map.counts.length, biggest = n > 10000 ? 2.5 : n > 1000 ? 4 : 6.5;
  return 1.2 + (biggest - 1.2) * Math.sqrt(Math.log1p(count) / Math.log1p(top || 1));
}

// One path per colour bucket, not one fill per point: 50,000 points are 24 fills.
function draw() {
  const canvas = $("map-canvas");
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const map = state.map;
  if (!map) return 0;
  const mode = $("colour-by").value;
  const ramp = colours(mode), bucket = bucketsOf(mode);
  const { x, y, counts } = map, n = x.length, top = counts[0];
  const paths = ramp.map(() => new Path2D());
  let drawn = 0;
  for (let i = n - 1; i >= 0; i--) { // rarest first, so the frequent values stay on top
    const px = sx(x[i]), py = sy(y[i]), r = radius(counts[i], top);
    const p = paths[bucket[i]];
    p.moveTo(px + r, py);
    p.arc(px, py, r, 0, 2 * Math.PI);
    drawn++;
  }
  ctx.globalAlpha = 0.85;
  paths.forEach((p, b) => { ctx.fillStyle = ramp[b]; ctx.fill(p); });
  ctx.globalAlpha = 1;
  ctx.lineWidth = 0.5;
  ctx.strokeStyle = "rgba(0,0,0,0.35)";
  if (n <= 2000) paths.forEach((p) => ctx.stroke(p));
  for (const [i, colour] of [[state.hover, "#444"], [state.selected, "#d62728"]]) {
    if (i < 0) continue;
    ctx.beginPath();
    ctx.arc(sx(x[i]), sy(y[i]), radius(counts[i], top) + 4, 0, 2 * Math.PI);
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  // the most frequent values are named on the map (they come first in the vocabulary)
  for (let i = 0; i < Math.min(LABELLED, n); i++) if (i !== state.selected) label(ctx, i, "#555");
  if (state.selected >= 0) label(ctx, state.selected, "#111");
  if (document.activeElement === canvas) { // the keyboard's marker: Enter opens the value under it
    ctx.strokeStyle = "#1f6feb";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(w / 2 - 10, h / 2); ctx.lineTo(w / 2 + 10, h / 2);
    ctx.moveTo(w / 2, h / 2 - 10); ctx.lineTo(w / 2, h / 2 + 10);
    ctx.stroke();
  }
  legend(mode);
  return drawn;
}

const LABELLED = 12;
function label(ctx, i, colour) {
  ctx.font = colour === "#111" ? "bold 13px system-ui, sans-serif" : "11px system-ui, sans-serif";
  ctx.fillStyle = colour;
  ctx.fillText(state.map.values[i], sx(state.map.x[i]) + 9, sy(state.map.y[i]) - 9);
}

function legend(mode) {
  const map = state.map;
  $("legend").textContent = mode === "effect"
    ? `Colour: change of ${map.effect_of} when only ${map.feature} takes the value, on the example record `
      + `(which gives ${fmt(map.reference_output)}); blue lowers it, red raises it. Size: training count.`
    : `Colour and size: training count (log scale), from ${Math.min(...map.counts.slice(-1))} to ${map.counts[0]}.`;
}

function nearest(mx, my, within = 12) {
  const { x, y } = state.map || { x: [] };
  let best = -1, bestD = within * within;
  for (let i = 0; i < x.length; i++) {
    const dx = sx(x[i]) - mx, dy = sy(y[i]) - my, d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

function wireMap() {
  const canvas = $("map-canvas"), tip = $("tooltip");
  let drag = null, frame = 0;
  const redraw = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); }); };
  canvas.addEventListener("pointerdown", (e) => { drag = { x: e.offsetX, y: e.offsetY, moved: false }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      state.view.tx += dx; state.view.ty += dy;
      drag.x = e.offsetX; drag.y = e.offsetY;
      redraw();
      return;
    }
    const i = nearest(e.offsetX, e.offsetY);
    if (i !== state.hover) { state.hover = i; redraw(); }
    tip.hidden = i < 0;
    if (i >= 0) {
      const m = state.map;
      tip.textContent = `${m.values[i]} · count ${m.counts[i].toLocaleString()} · effect ${fmt(m.effect[i])}`;
      tip.style.left = `${e.offsetX + 14}px`;
      tip.style.top = `${e.offsetY + 10}px`;
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    const moved = drag?.moved;
    drag = null;
    if (!moved) {
      const i = nearest(e.offsetX, e.offsetY);
      if (i >= 0) showValue(state.map.values[i]);
    }
  });
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; state.hover = -1; redraw(); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
    redraw();
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const w = canvas.clientWidth / 2, h = canvas.clientHeight / 2, step = 40;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[e.key]) { state.view.tx += moves[e.key][0]; state.view.ty += moves[e.key][1]; }
    else if (e.key === "+" || e.key === "=") zoom(1.25, w, h);
    else if (e.key === "-") zoom(0.8, w, h);
    else if (e.key === "Enter") { const i = nearest(w, h, 40); if (i >= 0) showValue(state.map.values[i]); }
    else return;
    e.preventDefault();
    redraw();
  });
  canvas.addEventListener("focus", redraw);
  canvas.addEventListener("blur", redraw);
  $("reset-view").addEventListener("click", () => { resetView(); draw(); });
  $("colour-by").addEventListener("change", () => draw());
  $("feature").addEventListener("change", (e) => selectFeature(e.target.value, null));
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); showValue($("search").value.trim()); });
  window.addEventListener("resize", () => { if (state.map) draw(); });
}

function zoom(factor, cx, cy) {
  const v = state.view;
  v.tx = cx - (cx - v.tx) * factor;
  v.ty = cy - (cy - v.ty) * factor;
  v.scale *= factor;
}

// ---------- the value card ----------

async function showValue(value) {
  if (!value) return;
  const feature = state.feature;
  let vector;
  try {
    vector = await json(`/embeddings/${enc(feature)}/${enc(value)}`);
  } catch (err) {
    say(err.message);
    return;
  }
  const found = await json(`/embeddings/${enc(feature)}/${enc(vector.canonical_value)}/neighbors?k=10`);
  const i = state.index.get(vector.canonical_value) ?? -1;
  state.selected = i;
  draw();
  $("card").hidden = false;
  $("card").dataset.value = vector.canonical_value;
  $("card-title").textContent = `${feature} = ${vector.canonical_value}`;
  const effect = i >= 0 ? state.map.effect[i] : null;
  $("card-stats").replaceChildren(...[
    ["training count", vector.count.toLocaleString()],
    ["table row", vector.index],
    [`effect on ${state.map.effect_of}`, fmt(effect)],
  ].map(pair));
  const top = Math.max(...vector.vector.map(Math.abs)) || 1;
  $("vector").replaceChildren(...vector.vector.map((v, j) => {
    const cell = el("span", fmt(v, 3), { title: `dimension ${j}` });
    cell.style.setProperty("--w", `${(50 * Math.abs(v)) / top}%`);
    cell.className = v < 0 ? "neg" : "pos";
    return cell;
  }));
  $("neighbors").replaceChildren(...found.neighbors.map((n) => {
    const button = el("button", n.value, { type: "button", "data-value": n.value });
    button.addEventListener("click", () => showValue(n.value));
    const item = el("li");
    item.append(button, el("span", ` cosine ${fmt(n.score, 3)}`, { class: "score" }));
    return item;
  }));
  const params = new URLSearchParams();
  if (state.base) params.set("model", $("model-picker").value);
  params.set("feature", feature);
  params.set("value", vector.canonical_value);
  const link = `${location.pathname}?${params}`;
  history.replaceState(null, "", link);
  $("share-link").href = link;
  say(`${feature} = ${vector.canonical_value}`);
}

// ---------- what-if form and sweep ----------

function buildForm() {
  const form = $("whatif");
  form.replaceChildren();
  for (const f of state.model.features) {
    const id = `field-${f.name}`;
    const input = el("input", undefined, { id, name: f.name, autocomplete: "off" });
    const value = state.record[f.name];
    if (f.kind === "numeric") {
      input.type = "number";
      input.step = "any";
    } else {
      input.type = "text";
      input.setAttribute("list", `${id}-values`);
      const list = el("datalist", undefined, { id: `${id}-values` });
      form.append(list);
      json(`/embeddings/${enc(f.name)}?limit=200&offset=1`).then((t) => list.replaceChildren(...t.items.map((r) => new Option(r.value)))).catch(() => {});
    }
    input.value = value === null || value === undefined ? "" : String(value);
    input.addEventListener("input", () => {
      state.record[f.name] = input.value === "" ? null : f.kind === "numeric" ? Number(input.value) : input.value;
      schedulePredict();
    });
    const row = el("div", undefined, { class: "field" });
    row.append(el("label", f.name, { for: id }), input);
    form.append(row);
  }
}

let timer = 0;
function schedulePredict() {
  clearTimeout(timer);
  timer = setTimeout(predictNow, 250);
}

let sequence = 0;
async function predictNow() {
  const mine = ++sequence;
  const response = await api("/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(state.record) });
  const body = await response.json();
  if (mine !== sequence) return; // a newer edit already asked
  const out = $("prediction");
  if (!response.ok) {
    out.textContent = body?.error?.message || `HTTP ${response.status}`;
    out.dataset.probability = "";
    return;
  }
  const p = body.predictions[0];
  const [text, value] = describePrediction(p);
  out.textContent = text;
  out.dataset.probability = value === null ? "" : String(value);
  $("warnings").replaceChildren(...p.warnings.map((w) => el("li", w.message)));
}

// the number the page shows for one prediction: P(second label) for binary, the top label's
// probability for multiclass, the value for regression
function describePrediction(p) {
  if (p.value !== undefined) return [`${state.model.target} = ${fmt(p.value)}`, p.value];
  const labels = Object.keys(p.probabilities);
  if (labels.length === 2) {
    const q = p.probabilities[labels[1]];
    return [`P(${state.model.target} = ${labels[1]}) = ${fmt(q)} · label ${p.label}`, q];
  }
  const q = p.probabilities[String(p.label)];
  return [`${p.label} (p = ${fmt(q)})`, q];
}

async function sweep() {
  const feature = $("sweep-feature").value;
  const count = Math.max(2, Math.min(100, Number($("sweep-count").value) || 20));
  const table = await json(`/embeddings/${enc(feature)}?offset=1&limit=${count}`);
  const values = table.items.map((r) => r.value);
  const records = values.map((v) => ({ ...state.record, [feature]: v }));
  const body = await json("/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ records }) });
  const numbers = body.predictions.map((p) => describePrediction(p)[1]);
  const top = Math.max(...numbers.map(Math.abs)) || 1;
  const chart = $("sweep-chart");
  chart.dataset.feature = feature;
  chart.replaceChildren(...values.map((v, i) => {
    const row = el("div", undefined, { class: "bar" });
    const bar = el("span", undefined, { class: "fill" });
    bar.style.width = `${(100 * Math.abs(numbers[i])) / top}%`;
    row.append(el("span", v, { class: "name" }), el("span", undefined, { class: "track" }), el("span", fmt(numbers[i]), { class: "num" }));
    row.children[1].append(bar);
    if (String(state.record[feature]) === v) row.classList.add("current");
    return row;
  }));
}

wireMap();
$("sweep").addEventListener("click", () => sweep().catch((err) => say(err.message)));
start().catch((err) => say(`could not start: ${err.message}`));
