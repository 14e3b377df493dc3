// The map: a canvas-2D scatter of one feature's values, flat (two axes) or turning in 3-D (PCA's three
// axes, drawn with a mild perspective), with pan, zoom, rotate, hover and pick. One Path2D per colour
// bucket, not one fill per point: 50,000 points are a few dozen fills.
import { $, fmt, shown, state } from "./common.js";
import { colouring, drawColourBar } from "./colours.js";
import { placeLabels } from "./labels.js";

const LABELLED = 12; // the most frequent values are named when there is room
let px = new Float64Array(0), py = new Float64Array(0), depth = new Float64Array(0); // screen positions of the last draw
let unknownAt = null;

// the points drawn: every value, or, isolated, the selected one and its neighbours
function visible() {
  if (!state.isolate || state.selected < 0) return null;
  return new Set([state.selected, ...state.neighbours]);
}

// centred (and in 3-D rotated) coordinates before the view's scale and shift
function place(i) {
  const m = state.map, c = state.centre;
  const x = (i < 0 ? m.unknown.x : m.x[i]) - c[0], y = (i < 0 ? m.unknown.y : m.y[i]) - c[1];
  if (!state.three) return [x, y, 0];
  const z = (i < 0 ? m.unknown.z : m.z[i]) - c[2], { yaw, pitch } = state.view;
  const x1 = x * Math.cos(yaw) + z * Math.sin(yaw), z1 = -x * Math.sin(yaw) + z * Math.cos(yaw);
  return [x1, y * Math.cos(pitch) - z1 * Math.sin(pitch), y * Math.sin(pitch) + z1 * Math.cos(pitch)];
}

export function resetView() {
  const m = state.map, keep = visible(), n = m.x.length;
  const ids = keep ? [...keep] : [...Array(n).keys(), -1]; // -1: the unknown vector is part of the picture
  const mean = (key) => ids.reduce((s, i) => s + (i < 0 ? m.unknown[key] || 0 : m[key][i]), 0) / (ids.length || 1);
  state.centre = [mean("x"), mean("y"), state.three ? mean("z") : 0];
  const radii = [];
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const i of ids) {
    const [x, y, z] = place(i);
    radii.push(Math.hypot(x, y, z));
    [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
  }
  if (!ids.length) [x0, x1, y0, y1] = [-1, 1, -1, 1];
  const canvas = $("map-canvas"), w = canvas.clientWidth, h = canvas.clientHeight, pad = 36;
  // 3-D: the sphere holding all points fills the view, or 98 % of them on a big map (a few far values
  // among thousands need not shrink it)
  radii.sort((a, b) => a - b);
  state.reach = radii[Math.floor((radii.length > 200 ? 0.98 : 1) * (radii.length - 1))] || 1;
  const scale = state.three ? Math.min(w, h) / 2.1 / state.reach : Math.min((w - 2 * pad) / (x1 - x0 || 1), (h - 2 * pad) / (y1 - y0 || 1));
  const [cx, cy] = state.three ? [0, 0] : [(x0 + x1) / 2, (y0 + y1) / 2];
  Object.assign(state.view, { scale, tx: w / 2 - scale * cx, ty: h / 2 + scale * cy });
}

function project(n) {
  if (px.length !== n) [px, py, depth] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const { scale, tx, ty } = state.view;
  const at = (i) => {
    const [x, y, z] = place(i), s = state.three ? 1 / (1 - 0.3 * Math.max(-2, Math.min(2, z / state.reach))) : 1; // nearer is bigger
    return [tx + scale * x * s, ty - scale * y * s, s];
  };
  for (let i = 0; i < n; i++) [px[i], py[i], depth[i]] = at(i);
  unknownAt = at(-1);
}

// the biggest point shrinks as the map fills up: 50,000 discs of 6 px would be one blot
function radius(i) {
  const { counts } = state.map, n = counts.length, biggest = n > 10000 ? 2.5 : n > 1000 ? 4 : 6.5;
  return (1.2 + (biggest - 1.2) * Math.sqrt(Math.log1p(counts[i]) / Math.log1p(counts[0] || 1))) * depth[i];
}

export function draw() {
  const canvas = $("map-canvas"), box = $("map");
  const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const map = state.map;
  if (!map) return 0;
  const n = map.x.length, keep = visible(), mode = $("colour-by").value;
  project(n);
  const { fills, bucket, scale } = colouring(mode);
  const paths = fills.map(() => new Path2D());
  let drawn = 0;
  for (let i = n - 1; i >= 0; i--) { // rarest first, so the frequent values stay on top
    if (keep && !keep.has(i)) continue;
    const r = radius(i), p = paths[bucket[i]];
    p.moveTo(px[i] + r, py[i]);
    p.arc(px[i], py[i], r, 0, 2 * Math.PI);
    drawn++;
  }
  ctx.globalAlpha = 0.85;
  paths.forEach((p, b) => { ctx.fillStyle = fills[b]; ctx.fill(p); });
  ctx.globalAlpha = 1;
  ctx.lineWidth = 0.5;
  ctx.strokeStyle = "rgba(0,0,0,0.35)";
  if (drawn <= 2000) paths.forEach((p) => ctx.stroke(p));
  if (state.three) axes(ctx, w, h);
  drawUnknown(ctx);
  const s = state.selected;
  if (s >= 0) { // the neighbours: a line from the selected value and a ring each
    ctx.strokeStyle = "rgba(214,39,40,0.55)";
    ctx.lineWidth = 1.2;
    for (const j of state.neighbours) { ctx.beginPath(); ctx.moveTo(px[s], py[s]); ctx.lineTo(px[j], py[j]); ctx.stroke(); }
    ctx.strokeStyle = "#d62728";
    for (const j of state.neighbours) { ctx.beginPath(); ctx.arc(px[j], py[j], radius(j) + 3, 0, 2 * Math.PI); ctx.stroke(); }
  }
  for (const [i, colour] of [[state.hover, "#444"], [s, "#d62728"]]) {
    if (i < 0 || i >= n || (keep && !keep.has(i))) continue;
    ctx.beginPath();
    ctx.arc(px[i], py[i], radius(i) + 4, 0, 2 * Math.PI);
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  const labels = placeLabels(ctx, labelItems(n, keep), w, h);
  if (state.keyboard && document.activeElement === canvas) { // the keyboard's cursor: Enter opens the value under it
    ctx.strokeStyle = "#1f6feb";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(w / 2, h / 2, 9, 0, 2 * Math.PI);
    ctx.moveTo(w / 2 - 14, h / 2); ctx.lineTo(w / 2 + 14, h / 2);
    ctx.moveTo(w / 2, h / 2 - 14); ctx.lineTo(w / 2, h / 2 + 14);
    ctx.stroke();
  }
  drawColourBar(scale);
  legend(mode);
  // test hooks: canvas points have no selectors, so the page says what it drew and where
  Object.assign(box.dataset, {
    labels: JSON.stringify(labels.map((l) => ({ text: l.text, value: l.value, kind: l.kind, x: l.x, y: l.y, w: l.w, h: l.h, px: l.px, py: l.py }))),
    width: String(w), height: String(h), pointCount: String(drawn),
    neighbours: String(s >= 0 ? state.neighbours.length : 0),
    unknown: unknownAt ? `${unknownAt[0].toFixed(1)},${unknownAt[1].toFixed(1)}` : "",
    colour: mode, dim: state.three ? "3" : "2", method: state.method, cursor: state.keyboard && document.activeElement === canvas ? "shown" : "hidden",
  });
  return drawn;
}

function labelItems(n, keep) {
  const m = state.map, f = m.feature, items = [];
  const item = (i, kind, must) => ({ text: shown(f, m.values[i]), value: m.values[i], x: px[i], y: py[i], r: radius(i), kind, must });
  if (state.selected >= 0) items.push(item(state.selected, "selected", true));
  for (const j of state.neighbours) if (state.selected >= 0) items.push(item(j, "neighbour", true));
  if (!keep && unknownAt) items.push({ text: "unknown vector", value: "", x: unknownAt[0], y: unknownAt[1], r: 6, kind: "unknown", must: true });
  for (let i = 0; i < Math.min(LABELLED, n); i++) if (!items.some((it) => it.value === m.values[i]) && (!keep || keep.has(i))) items.push(item(i, "frequent", false));
  return items;
}

// the unknown vector (unseen, rare and missing values all use it): a boxed ×, not a category's disc
function drawUnknown(ctx) {
  if (!unknownAt || visible()) return;
  const [x, y] = unknownAt;
  ctx.fillStyle = "#fff";
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 1.5;
  ctx.fillRect(x - 5, y - 5, 10, 10);
  ctx.strokeRect(x - 5, y - 5, 10, 10);
  ctx.beginPath();
  ctx.moveTo(x - 3, y - 3); ctx.lineTo(x + 3, y + 3); ctx.moveTo(x + 3, y - 3); ctx.lineTo(x - 3, y + 3);
  ctx.stroke();
}

function axes(ctx, w, h) { // which way PC1, PC2 and PC3 point, in the corner
  const { yaw, pitch } = state.view, ox = 48, oy = h - 48;
  for (const [name, v] of [["PC1", [1, 0, 0]], ["PC2", [0, 1, 0]], ["PC3", [0, 0, 1]]]) {
    const x1 = v[0] * Math.cos(yaw) + v[2] * Math.sin(yaw), z1 = -v[0] * Math.sin(yaw) + v[2] * Math.cos(yaw);
    const y2 = v[1] * Math.cos(pitch) - z1 * Math.sin(pitch);
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(ox, oy); ctx.lineTo(ox + 32 * x1, oy - 32 * y2); ctx.stroke();
    ctx.fillStyle = "#555";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(name, ox + 40 * x1 - 10, oy - 40 * y2);
  }
}

function legend(mode) {
  const map = state.map;
  const sized = " Size: training count. The boxed × is the unknown vector: unseen, rare and missing values all use it.";
  $("legend").textContent = mode === "effect"
    ? `Colour: change of ${map.effect_of} when only ${map.feature} takes the value, on the example record `
      + `(which gives ${fmt(map.reference_output)}); blue lowers it, red raises it.${sized}`
    : `Colour: ${$("colour-by").selectedOptions[0]?.textContent || mode}.${sized}`;
}

export function nearest(mx, my, within = 12) {
  const n = state.map ? state.map.x.length : 0, keep = visible();
  let best = -1, bestD = within * within;
  for (let i = 0; i < n && i < px.length; i++) {
    if (keep && !keep.has(i)) continue;
    const dx = px[i] - mx, dy = py[i] - my, d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}
