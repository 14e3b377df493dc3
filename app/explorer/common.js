// What the explorer's modules share: the page state, DOM helpers, and same-origin requests.

export const $ = (id) => document.getElementById(id);
export const state = {
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

export async function api(path, options = {}) {
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
