// What the explorer's modules share: the page state, DOM helpers, and same-origin requests.

export const $ = (id) => document.getElementById(id);
export const state = {
  base: "", // "" for the single served model, "/models/<name>" when the service holds several
  model: null,
  feature: null,
  map: null, // the projection of the current feature
  method: "pca", // which stored map: pca or tsne (the bundle's `methods`)
  view: { scale: 1, tx: 0, ty: 0, yaw: 0.6, pitch: 0.35 },
  three: false, // the 3-D view (PCA's three axes)
  selected: -1,
  hover: -1,
  neighbours: [], // map indices of the selected value's nearest values, nearest first
  isolate: false, // draw only the selected value and its neighbours
  keyboard: false, // the keyboard's cursor is shown only while the keyboard steers the map
  metadata: {}, // feature -> {columns, rows: Map(value -> {column: text}), label}: from a dropped CSV, never uploaded
  moved: null, // {from, to, feature, distance: Map(value -> distance)} from the version comparison
  record: {},
  askedKey: false,
};

// Every call is marked as the explorer's own: the service leaves it out of the served-traffic
// metrics and the unseen rates (app/traffic.py), so looking around does not move the drift figures.
export const MARK = { "X-Catembed-Client": "explorer" };

// ---------- requests: same origin, bearer key asked once on 401 ----------

export async function api(path, options = {}) {
  const send = () => {
    const headers = { ...MARK, ...(options.headers || {}) };
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

// a same-origin call outside the current model's prefix (/openapi.json, /models), also marked
export const plain = (url) => fetch(url, { headers: MARK });

// the name a value is shown by: its metadata label when a dropped CSV gave one
export function shown(feature, value) {
  const meta = state.metadata[feature];
  const label = meta && meta.label ? meta.rows.get(value)?.[meta.label] : "";
  return label ? `${value} · ${label}` : value;
}

export async function json(path, options) {
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

export const enc = (value) => encodeURIComponent(value);
export const say = (text) => { $("status").textContent = text; };
export const fmt = (x, digits = 4) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

export function pair([term, value]) {
  const box = el("div");
  box.append(el("dt", term), el("dd", String(value)));
  return box;
}

export function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
