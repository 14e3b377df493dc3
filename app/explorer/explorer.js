// catembed explorer: a 2-D map of each feature's learned vectors, a card per value, a what-if form.
// Plain ES modules, no dependencies: every request goes to this page's own origin.
import { $, api, el, enc, fmt, json, pair, say, state } from "./common.js";
import { draw, resetView, wireMap } from "./map.js";

// ---------- start-up ----------

// Optional routes are probed only when the service's own schema lists them: a 404 probe would
// put an error in the console of every service without them.
async function start() {
  const params = new URLSearchParams(location.search);
  const paths = (await fetch("/openapi.json").then((r) => r.json()).catch(() => ({}))).paths || {};
  if (paths["/models"]) await pickModel(params.get("model"));
  await loadModel();
  if (paths["/report"]) showReportLink();
  const features = Object.keys(state.model.coverage || {});
  const wanted = params.get("feature");
  await selectFeature(features.includes(wanted) ? wanted : features[0], params.get("value"));
}

// the served model's training report, when its bundle has one (bundles trained before reports do not);
// with a model picker, the picked model's own report
function showReportLink() {
  const link = $("report-link");
  link.hidden = true;
  link.href = `${state.base}/report`;
  fetch(link.href).then((r) => { link.hidden = r.status !== 200; r.body?.cancel(); }).catch(() => {});
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
    showReportLink();
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
  const numeric = new Set(state.model.features.filter((f) => f.kind === "numeric").map((f) => f.name));
  for (const f of state.model.features) {
    if (f.kind === "categorical" && numeric.has(f.name)) continue; // a "both" column: one number field
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

wireMap(showValue);
$("feature").addEventListener("change", (e) => selectFeature(e.target.value, null));
$("search-form").addEventListener("submit", (e) => { e.preventDefault(); showValue($("search").value.trim()); });
$("sweep").addEventListener("click", () => sweep().catch((err) => say(err.message)));
start().catch((err) => say(`could not start: ${err.message}`));
