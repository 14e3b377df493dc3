// The map: a canvas-2D scatter of one feature's values, with pan, zoom, hover and pick.
// One Path2D per colour bucket, not one fill per point: 50,000 points are 24 fills.
import { $, fmt, state } from "./common.js";

export function resetView() {
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

export function draw() {
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

// onPick(value): a click, or Enter on the focused map, chose this value
export function wireMap(onPick) {
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
      if (i >= 0) onPick(state.map.values[i]);
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
    else if (e.key === "Enter") { const i = nearest(w, h, 40); if (i >= 0) onPick(state.map.values[i]); }
    else return;
    e.preventDefault();
    redraw();
  });
  canvas.addEventListener("focus", redraw);
  canvas.addEventListener("blur", redraw);
  $("reset-view").addEventListener("click", () => { resetView(); draw(); });
  $("colour-by").addEventListener("change", () => draw());
  window.addEventListener("resize", () => { if (state.map) draw(); });
}

function zoom(factor, cx, cy) {
  const v = state.view;
  v.tx = cx - (cx - v.tx) * factor;
  v.ty = cy - (cy - v.ty) * factor;
  v.scale *= factor;
}
