// How the map is coloured, and its colour bar: training count, model effect, how far each value moved
// between two versions, or any column of a dropped metadata CSV (numbers on a ramp, text as categories).
import { $, el, fmt, state } from "./common.js";

const BUCKETS = 24;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const NONE = "#d5d9de"; // no metadata for the value, or not in the other version
const STOPS = { // sequential ramps as colour stops, light to dark
  count: [[222, 235, 247], [107, 174, 214], [8, 48, 107]],
  moved: [[255, 245, 190], [253, 141, 60], [165, 15, 21]],
  number: [[68, 1, 84], [33, 145, 140], [253, 231, 37]], // viridis' ends and middle
};

function ramp(kind) {
  const out = [];
  for (let b = 0; b < BUCKETS; b++) {
    const t = b / (BUCKETS - 1);
    if (kind === "effect") { // diverging: blue lowers, white none, red raises
      const s = 2 * t - 1, a = Math.abs(s);
      const [r, g, bl] = s < 0 ? [255 - 200 * a, 255 - 150 * a, 255 - 40 * a] : [255 - 40 * a, 255 - 190 * a, 255 - 200 * a];
      out.push(`rgb(${r | 0},${g | 0},${bl | 0})`);
      continue;
    }
    const stops = STOPS[kind], at = t * (stops.length - 1), i = Math.min(Math.floor(at), stops.length - 2), f = at - i;
    const mix = stops[i].map((c, j) => Math.round(c + (stops[i + 1][j] - c) * f));
    out.push(`rgb(${mix.join(",")})`);
  }
  return out;
}

const bucketOf = (t) => Math.max(0, Math.min(BUCKETS - 1, Math.round(t * (BUCKETS - 1))));

// {fills: colours, bucket: per value an index into fills, scale: what the colour bar shows}
export function colouring(mode) {
  const map = state.map, n = map.values.length, bucket = new Uint16Array(n);
  if (mode === "effect") {
    let m = 0;
    for (const e of map.effect) m = Math.max(m, Math.abs(e));
    // square-root scale: the few strongest values do not wash every other one out to white
    for (let i = 0; i < n; i++) bucket[i] = bucketOf((Math.sign(map.effect[i]) * Math.sqrt(Math.abs(map.effect[i]) / (m || 1)) + 1) / 2);
    return { fills: ramp("effect"), bucket, scale: { kind: "ramp", fills: ramp("effect"), min: -m, max: m, title: `change of ${map.effect_of} (square-root scale)` } };
  }
  if (mode === "moved" && state.moved) {
    const d = state.moved.distance, fills = [...ramp("moved"), NONE];
    let top = 0;
    for (const v of d.values()) top = Math.max(top, v);
    for (let i = 0; i < n; i++) {
      const x = d.get(map.values[i]);
      bucket[i] = x === undefined ? BUCKETS : bucketOf(x / (top || 1));
    }
    return { fills, bucket, scale: { kind: "ramp", fills: ramp("moved"), min: 0, max: top, title: `moved from version ${state.moved.from} to ${state.moved.to} (after alignment; grey: not in both)` } };
  }
  if (mode.startsWith("meta:")) return metadataColouring(mode.slice(5));
  const top = Math.log1p(map.counts[0] || 1);
  for (let i = 0; i < n; i++) bucket[i] = bucketOf(Math.log1p(map.counts[i]) / top);
  const low = n ? map.counts[n - 1] : 0;
  return { fills: ramp("count"), bucket, scale: { kind: "ramp", fills: ramp("count"), min: low, max: map.counts[0] || 0, title: "training count (log scale)", log: true } };
}

function metadataColouring(column) {
  const map = state.map, meta = state.metadata[map.feature], n = map.values.length;
  const texts = map.values.map((v) => meta?.rows.get(v)?.[column] ?? "");
  const bucket = new Uint16Array(n);
  const numbers = texts.map((t) => (t.trim() === "" ? NaN : Number(t)));
  const filled = texts.filter((t) => t.trim() !== "").length;
  if (filled && numbers.every((x, i) => texts[i].trim() === "" || Number.isFinite(x))) { // a numeric column: a ramp
    const present = numbers.filter(Number.isFinite), low = Math.min(...present), high = Math.max(...present);
    const fills = [...ramp("number"), NONE];
    numbers.forEach((x, i) => { bucket[i] = Number.isFinite(x) ? bucketOf((x - low) / (high - low || 1)) : BUCKETS; });
    return { fills, bucket, scale: { kind: "ramp", fills: ramp("number"), min: low, max: high, title: `${column} (metadata; grey: none)` } };
  }
  const tally = new Map();
  for (const t of texts) if (t.trim() !== "") tally.set(t, (tally.get(t) || 0) + 1);
  const top = [...tally.entries()].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length - 1).map(([t]) => t);
  const slot = new Map(top.map((t, i) => [t, i]));
  const other = top.length, none = top.length + 1;
  texts.forEach((t, i) => { bucket[i] = t.trim() === "" ? none : slot.get(t) ?? other; });
  const fills = [...PALETTE.slice(0, top.length), PALETTE[PALETTE.length - 1], NONE];
  const items = top.map((t, i) => ({ colour: fills[i], label: t, count: tally.get(t) }));
  const rest = [...tally.entries()].filter(([t]) => !slot.has(t)).reduce((s, [, c]) => s + c, 0);
  if (rest) items.push({ colour: fills[other], label: "other", count: rest });
  if (filled < n) items.push({ colour: NONE, label: "no metadata", count: n - filled });
  return { fills, bucket, scale: { kind: "categories", items, title: `${column} (metadata)` } };
}

// the colour bar under the map: a gradient with its ends and middle, or one swatch per category
export function drawColourBar(scale) {
  const bar = $("colour-bar");
  bar.dataset.kind = scale.kind;
  bar.dataset.title = scale.title;
  const title = el("span", scale.title, { class: "bar-title" });
  if (scale.kind === "categories") {
    bar.dataset.min = bar.dataset.max = "";
    bar.replaceChildren(title, ...scale.items.map((item) => {
      const swatch = el("span", undefined, { class: "swatch" });
      swatch.style.background = item.colour;
      const entry = el("span", undefined, { class: "category", "data-label": item.label });
      entry.append(swatch, el("span", `${item.label} (${item.count.toLocaleString()})`));
      return entry;
    }));
    return;
  }
  bar.dataset.min = String(scale.min);
  bar.dataset.max = String(scale.max);
  const gradient = el("span", undefined, { class: "gradient", role: "img", "aria-label": `colour scale from ${scale.min} to ${scale.max}` });
  gradient.style.background = `linear-gradient(to right, ${scale.fills.join(", ")})`;
  const middle = scale.log ? Math.round(Math.expm1((Math.log1p(scale.min) + Math.log1p(scale.max)) / 2)) : (scale.min + scale.max) / 2;
  const tick = (x) => (Number.isInteger(x) ? x.toLocaleString() : fmt(x, 3));
  const ticks = el("span", undefined, { class: "ticks" });
  ticks.append(el("span", tick(scale.min)), el("span", tick(middle)), el("span", tick(scale.max)));
  bar.replaceChildren(title, gradient, ticks);
}
