// catembed explorer: a 2-D map of each feature's learned vectors, a card per value, a what-if form.
// Plain ES modules, no dependencies: every request goes to this page's own origin.
import { $, el, enc, fmt, json, pair, plain, say, shown, state } from "./common.js";
import { compareVersions, wireCompare } from "./compare.js";
import { draw, resetView } from "./map.js";
import { colourOptions, restore, wireMetadata } from "./metadata.js";
import { hideTooltip, wireMap } from "./steering.js";
import { buildForm, predictNow, showImportance, wireWhatIf } from "./whatif.js";

// ---------- start-up ----------

// Optional routes are probed only when the service's own schema lists them: a 404 probe would
// put an error in the console of every service without them.
async function start() {
  const params = new URLSearchParams(location.search);
  const paths = (await plain("/openapi.json").then((r) => r.json()).catch(() => ({}))).paths || {};
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
  plain(link.href).then((r) => { link.hidden = r.status !== 200; r.body?.cancel(); }).catch(() => {});
}

async function pickModel(wanted) {
  let listing;
  try {
    const response = await plain("/models");
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
  const figures = Object.entries(metrics).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
  $("model-info").textContent = `${model.name} v${model.version} · ${model.task} on ${model.target}` + (figures ? ` · holdout ${figures}` : "");
  const names = Object.keys(model.coverage || {});
  for (const select of [$("feature"), $("sweep-feature")]) select.replaceChildren(...names.map((n) => new Option(n, n)));
  buildForm();
  predictNow();
  showImportance(model.importance);
}

// ---------- feature picker and the map ----------

async function selectFeature(feature, value) {
  const changed = feature !== state.feature;
  state.feature = feature;
  $("feature").value = feature;
  $("sweep-feature").value = feature;
  hideTooltip(); // nothing of the previous map stays on screen
  say(`loading the map of ${feature}…`);
  const started = performance.now();
  const method = changed ? "pca" : state.method;
  const map = await json(`/embeddings/${enc(feature)}/projection?method=${enc(method)}`);
  state.map = map;
  state.method = map.method;
  state.three = state.three && map.z !== null;
  state.selected = -1;
  state.neighbours = [];
  state.index = new Map(map.values.map((v, i) => [v, i]));
  const names = { pca: "PCA", tsne: "t-SNE" };
  $("method").replaceChildren(...map.methods.map((m) => new Option(names[m] || m, m)));
  $("method").value = map.method;
  $("view-dim").value = state.three ? "3" : "2";
  $("view-dim").options[1].disabled = map.z === null;
  showStats(feature, map);
  $("search-values").replaceChildren(...map.values.slice(0, 500).map((v) => new Option(v)));
  restore(feature);
  if (changed) { state.moved = null; compareVersions(state.compared !== true).then(() => { state.compared = true; redraw(); }); }
  colourOptions();
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
    ["values seen in training", c.values_seen.toLocaleString()],
    ["embedding size", c.embedding_dim],
    ["values with own vector", c.vocabulary_size.toLocaleString()],
    ["values folded into unknown", c.values_folded.toLocaleString()],
    ["training rows folded", rate(c.folded_row_rate)],
    ["unseen rate (served)", rate(c.served_unknown_rate)],
    ["map", describeMap(map)],
  ];
  $("feature-stats").replaceChildren(...rows.map(pair));
}

function describeMap(map) {
  if (map.projection === "raw") return "raw 2-D vectors";
  const when = map.stored ? "computed at training" : "computed by the service";
  if (map.projection === "tsne") return `t-SNE (cosine), ${when}`;
  const share = (k) => (100 * map.explained_variance.slice(0, k).reduce((a, b) => a + b, 0)).toFixed(1);
  return `PCA, ${share(2)} % of variance (3 axes: ${share(3)} %), ${when}`;
}

// a redraw that keeps the colour options in step with metadata and comparisons
function redraw() {
  if (!state.map) return;
  colourOptions();
  draw();
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
  const k = Math.max(1, Math.min(50, Number($("neighbour-count").value) || 10));
  const found = await json(`/embeddings/${enc(feature)}/${enc(vector.canonical_value)}/neighbors?k=${k}`);
  if (feature !== state.feature) return;
  const i = state.index.get(vector.canonical_value) ?? -1;
  state.selected = i;
  state.neighbours = found.neighbors.map((n) => state.index.get(n.value) ?? -1).filter((j) => j >= 0);
  if (state.isolate) resetView();
  draw();
  $("card").hidden = false;
  $("card").dataset.value = vector.canonical_value;
  $("card-title").textContent = `${feature} = ${shown(feature, vector.canonical_value)}`;
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
  const meta = state.metadata[feature];
  $("card-meta").replaceChildren(...(meta?.rows.get(vector.canonical_value) ? Object.entries(meta.rows.get(vector.canonical_value)).map(pair) : []));
  $("neighbors").replaceChildren(...found.neighbors.map((n) => {
    const button = el("button", shown(feature, n.value), { type: "button", "data-value": n.value });
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

const currentValue = () => (state.selected >= 0 ? state.map.values[state.selected] : null);

// "Find a value" also takes a metadata label ("United Airlines" finds UA)
function byLabel(text) {
  const meta = state.metadata[state.feature];
  if (!meta?.label || state.index.has(text)) return text;
  const wanted = text.toLowerCase();
  for (const [value, row] of meta.rows) if ((row[meta.label] || "").toLowerCase() === wanted) return value;
  return text;
}

wireMap(showValue);
wireWhatIf();
wireCompare(showValue, redraw);
wireMetadata(() => Object.keys(state.model?.coverage || {}), (feature, name) => {
  if (feature === state.feature) { colourOptions(); if (name) $("colour-by").value = `meta:${state.metadata[feature].columns.at(-1)}`; draw(); }
  say(name ? `metadata for ${feature} read from ${name} (kept in this browser tab only)` : `metadata for ${feature} forgotten`);
  if (state.selected >= 0 && feature === state.feature) showValue(state.map.values[state.selected]);
});
$("feature").addEventListener("change", (e) => selectFeature(e.target.value, null));
$("method").addEventListener("change", (e) => { state.method = e.target.value; selectFeature(state.feature, currentValue()); });
$("view-dim").addEventListener("change", (e) => { state.three = e.target.value === "3"; hideTooltip(); resetView(); draw(); });
$("colour-by").addEventListener("change", () => draw());
$("isolate").addEventListener("change", (e) => { state.isolate = e.target.checked; hideTooltip(); resetView(); draw(); });
$("neighbour-count").addEventListener("change", () => { if (state.selected >= 0) showValue(state.map.values[state.selected]); });
$("search-form").addEventListener("submit", (e) => { e.preventDefault(); showValue(byLabel($("search").value.trim())); });
start().catch((err) => say(`could not start: ${err.message}`));
