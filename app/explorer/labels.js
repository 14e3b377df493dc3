// Map labels that neither overlap one another nor leave the canvas: placed greedily, most important
// first (the selected value, its neighbours, the unknown vector, then the most frequent values), each
// at the first of six spots around its point that is free and inside; near an edge a label flips
// to the other side, and a crowded one moves further out. A must-show label with no free spot takes
// the inside spot that overlaps least.

const FONTS = { selected: "bold 13px system-ui, sans-serif", neighbour: "600 12px system-ui, sans-serif", unknown: "italic 12px system-ui, sans-serif", frequent: "11px system-ui, sans-serif" };
const INKS = { selected: "#111", neighbour: "#7a1f1f", unknown: "#222", frequent: "#555" };
const PAD = 2, HEIGHT = 14;

// six spots around the point, then the same six twice and three times as far out
function spots(x, y, r, w) {
  const out = [];
  for (const gap of [r + 3, 2 * r + 12, 3 * r + 24]) {
    out.push([x + gap, y - gap - HEIGHT], [x + gap, y + gap - 4], [x - gap - w, y - gap - HEIGHT], [x - gap - w, y + gap - 4],
      [x - w / 2, y - gap - HEIGHT - 2], [x - w / 2, y + gap + 2]);
  }
  return out;
}

const overlap = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) + PAD) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) + PAD);

// items: [{text, x, y, r, kind, must}] in priority order; returns the labels drawn, with their boxes
export function placeLabels(ctx, items, width, height) {
  const placed = [];
  for (const item of items) {
    ctx.textBaseline = "top";
    if (item.x < 0 || item.x > width || item.y < 0 || item.y > height) continue; // its point is off-screen
    ctx.font = FONTS[item.kind];
    const text = item.text.length > 28 ? `${item.text.slice(0, 27)}…` : item.text;
    const w = ctx.measureText(text).width + 2;
    const inside = spots(item.x, item.y, item.r, w)
      .map(([x, y]) => ({ x, y, w, h: HEIGHT }))
      .filter((b) => b.x >= PAD && b.y >= PAD && b.x + b.w <= width - PAD && b.y + b.h <= height - PAD);
    let box = inside.find((b) => placed.every((p) => overlap(b, p) === 0));
    if (!box && item.must) {
      const clamped = { x: Math.min(Math.max(item.x + item.r + 3, PAD), width - PAD - w), y: Math.min(Math.max(item.y - HEIGHT, PAD), height - PAD - HEIGHT), w, h: HEIGHT };
      const options = inside.length ? inside : [clamped];
      box = options.reduce((best, b) => (crowding(b, placed) < crowding(best, placed) ? b : best));
    }
    if (!box) continue;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)"; // a halo keeps the text readable over points and lines
    ctx.strokeText(text, box.x + 1, box.y + 1);
    ctx.fillStyle = INKS[item.kind];
    ctx.fillText(text, box.x + 1, box.y + 1);
    placed.push({ ...box, text, value: item.value, kind: item.kind, px: item.x, py: item.y });
  }
  return placed;
}

const crowding = (box, placed) => placed.reduce((sum, p) => sum + overlap(box, p), 0);
