// Steering the map with the pointer and the keyboard: drag pans (turns in 3-D), the wheel and + / -
// zoom, hovering names a point, a click or Enter picks one. The tooltip belongs to the map drawn now:
// it is hidden whenever the map changes, so no name from the previous feature stays on screen.
import { $, fmt, shown, state } from "./common.js";
import { draw, nearest, resetView } from "./map.js";

export function hideTooltip() {
  $("tooltip").hidden = true;
  state.hover = -1;
}

// onPick(value): a click, or Enter on the focused map, chose this value
export function wireMap(onPick) {
  const canvas = $("map-canvas"), tip = $("tooltip");
  let drag = null, frame = 0;
  const redraw = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); }); };
  canvas.addEventListener("pointerdown", (e) => {
    if (state.keyboard) { state.keyboard = false; redraw(); } // a pointer user needs no keyboard cursor
    drag = { x: e.offsetX, y: e.offsetY, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      if (state.three) turn(dx / 150, dy / 150);
      else { state.view.tx += dx; state.view.ty += dy; }
      drag.x = e.offsetX; drag.y = e.offsetY;
      hideTooltip();
      redraw();
      return;
    }
    if (!state.map) return;
    const i = nearest(e.offsetX, e.offsetY);
    if (i !== state.hover) { state.hover = i; redraw(); }
    tip.hidden = i < 0;
    if (i >= 0) {
      const m = state.map;
      tip.textContent = `${shown(m.feature, m.values[i])} · count ${m.counts[i].toLocaleString()} · effect ${fmt(m.effect[i])}`;
      tip.dataset.feature = m.feature;
      // kept inside the map: near the right or bottom edge the tooltip opens to the other side
      const box = $("map").getBoundingClientRect(), width = tip.offsetWidth || 160;
      tip.style.left = `${e.offsetX + 14 + width > box.width ? Math.max(0, e.offsetX - 14 - width) : e.offsetX + 14}px`;
      tip.style.top = `${e.offsetY + 34 > box.height ? e.offsetY - 30 : e.offsetY + 10}px`;
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    const moved = drag?.moved;
    drag = null;
    if (!moved && state.map) {
      const i = nearest(e.offsetX, e.offsetY);
      if (i >= 0) onPick(state.map.values[i]);
    }
  });
  canvas.addEventListener("pointerleave", () => { hideTooltip(); redraw(); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
    redraw();
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const w = canvas.clientWidth / 2, h = canvas.clientHeight / 2, step = 40;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    state.keyboard = true;
    if (moves[e.key] && state.three) turn(-moves[e.key][0] / 200, -moves[e.key][1] / 200);
    else if (moves[e.key]) { state.view.tx += moves[e.key][0]; state.view.ty += moves[e.key][1]; }
    else if (e.key === "+" || e.key === "=") zoom(1.25, w, h);
    else if (e.key === "-") zoom(0.8, w, h);
    else if (e.key === "Enter") { const i = nearest(w, h, 40); if (i >= 0) onPick(state.map.values[i]); }
    else return;
    e.preventDefault();
    hideTooltip();
    redraw();
  });
  canvas.addEventListener("blur", () => { state.keyboard = false; redraw(); });
  $("reset-view").addEventListener("click", () => { resetView(); draw(); });
  window.addEventListener("resize", () => { if (state.map) draw(); });
}

function turn(yaw, pitch) {
  state.view.yaw += yaw;
  state.view.pitch = Math.max(-1.5, Math.min(1.5, state.view.pitch + pitch));
}

function zoom(factor, cx, cy) {
  const v = state.view;
  v.tx = cx - (cx - v.tx) * factor;
  v.ty = cy - (cy - v.ty) * factor;
  v.scale *= factor;
}
