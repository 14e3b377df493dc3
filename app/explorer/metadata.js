// Metadata for a feature's values, from a CSV or TSV the user drops on the map (or picks): the first
// column is the value, the others its attributes, e.g. "carrier,name,alliance" then "UA,United
// Airlines,Star". A column called label or name names the values on the map, in tooltips and cards;
// every column can colour the map. The file stays in the browser (this tab's sessionStorage): nothing
// is uploaded. If the first column is named after a feature, the file is for that feature.
import { $, el, say, state } from "./common.js";

const LIMIT = 20 * 1024 * 1024; // a 50,000-value table with a few columns is a few MB

// RFC 4180 fields: quotes, doubled quotes, separators and line breaks inside quotes
export function parseTable(text) {
  const sep = text.split(/\r?\n/, 1)[0].includes("\t") ? "\t" : ",";
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === sep) { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((f) => f.trim() !== ""));
}

// the parsed file for one feature: {feature, columns, rows: Map(value -> {column: text}), label}
export function tableFor(rows, features, current) {
  if (rows.length < 2 || rows[0].length < 2) throw new Error("a metadata file needs a header row, then one row per value, and at least two columns");
  const header = rows[0].map((h) => h.trim());
  const feature = features.includes(header[0]) ? header[0] : current;
  const columns = header.slice(1).map((h, i) => h || `column ${i + 2}`);
  const values = new Map();
  for (const r of rows.slice(1)) values.set(r[0].trim(), Object.fromEntries(columns.map((c, j) => [c, (r[j + 1] ?? "").trim()])));
  const label = columns.find((c) => ["label", "name"].includes(c.toLowerCase())) || "";
  return { feature, columns, rows: values, label };
}

const storageKey = (feature) => `catembed-metadata:${state.base}:${feature}`;

async function load(file, features, onChange) {
  if (file.size > LIMIT) { say(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB; metadata files are read up to 20 MB`); return; }
  try {
    const table = tableFor(parseTable(await file.text()), features, state.feature);
    state.metadata[table.feature] = table;
    try { // kept for this tab; a file too big for sessionStorage is still used, just not kept
      sessionStorage.setItem(storageKey(table.feature), JSON.stringify({ ...table, rows: [...table.rows] }));
    } catch { /* quota: fine */ }
    onChange(table.feature, file.name);
  } catch (err) {
    say(`${file.name}: ${err.message}`);
  }
}

// the metadata kept for a feature in this tab, if any
export function restore(feature) {
  if (state.metadata[feature]) return;
  try {
    const kept = JSON.parse(sessionStorage.getItem(storageKey(feature)) || "null");
    if (kept) state.metadata[feature] = { ...kept, rows: new Map(kept.rows) };
  } catch { /* unreadable: ignore */ }
}

// the colour-by options: the fixed ones, movement when a comparison is shown, one per metadata column
export function colourOptions() {
  const select = $("colour-by"), before = select.value, meta = state.metadata[state.feature];
  const options = [["count", "training count"], ["effect", "model effect"]];
  if (state.moved && state.moved.feature === state.feature) options.push(["moved", `moved from version ${state.moved.from} to ${state.moved.to}`]);
  for (const c of meta ? meta.columns : []) options.push([`meta:${c}`, `metadata: ${c}`]);
  select.replaceChildren(...options.map(([v, t]) => new Option(t, v)));
  select.value = options.some(([v]) => v === before) ? before : "count";
  const found = meta ? [...state.map.values].filter((v) => meta.rows.has(v)).length : 0;
  $("metadata-status").textContent = meta ? `${found.toLocaleString()} of ${state.map.values.length.toLocaleString()} values have metadata (${meta.columns.join(", ")})` : "";
  $("metadata-clear").hidden = !meta;
}

// onChange(feature, name): a file was read for this feature
export function wireMetadata(features, onChange) {
  const box = $("map");
  $("metadata-file").addEventListener("change", (e) => { if (e.target.files[0]) load(e.target.files[0], features(), onChange); e.target.value = ""; });
  box.addEventListener("dragover", (e) => { e.preventDefault(); box.classList.add("dropping"); });
  box.addEventListener("dragleave", () => box.classList.remove("dropping"));
  box.addEventListener("drop", (e) => {
    e.preventDefault();
    box.classList.remove("dropping");
    const file = e.dataTransfer?.files?.[0];
    if (file) load(file, features(), onChange);
  });
  $("metadata-clear").addEventListener("click", () => {
    delete state.metadata[state.feature];
    sessionStorage.removeItem(storageKey(state.feature));
    onChange(state.feature, "");
  });
  $("metadata-hint").replaceChildren(el("span", "Drop a CSV or TSV on the map: first column the value, then any attributes (a "), el("code", "label"), el("span", " column names the points). It stays in this browser tab."));
}
