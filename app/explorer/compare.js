// Compare versions: the current feature's tables of two versions aligned on their shared values by
// orthogonal Procrustes (the service does it: GET /embeddings/{feature}/compare), and the values that
// moved most between them. With the served version on the "to" side the map can be coloured by it.
import { $, el, enc, fmt, json, shown, state } from "./common.js";

let onValue = () => {};

// the versions on disk fill the two pickers; "from" defaults to the one before the served version
export async function compareVersions(firstTime = false) {
  const feature = state.feature;
  const query = new URLSearchParams();
  if (!firstTime && $("compare-from").value) query.set("from", $("compare-from").value);
  if (!firstTime && $("compare-to").value) query.set("to", $("compare-to").value);
  let body;
  try {
    body = await json(`/embeddings/${enc(feature)}/compare?${query}`);
  } catch (err) {
    $("compare-summary").textContent = err.message;
    return;
  }
  if (feature !== state.feature) return; // the user moved on
  fill($("compare-from"), body.versions, body.from);
  fill($("compare-to"), body.versions, body.to);
  const section = $("compare-section");
  section.dataset.from = body.from ?? "";
  section.dataset.to = body.to;
  if (body.from === null) {
    state.moved = null;
    $("compare-summary").textContent = body.versions.length < 2
      ? `Only version ${body.versions[0]} of this model is on disk: train again under the same name to compare two versions.`
      : "Pick two different versions.";
    $("moved").replaceChildren();
    return;
  }
  const servedTo = body.to === state.model.version;
  state.moved = servedTo ? { feature, from: body.from, to: body.to, distance: new Map(body.values.map((v, i) => [v, body.distance[i]])) } : null;
  $("compare-summary").textContent = `${feature}: ${body.shared.toLocaleString()} values in both versions`
    + ` (${body.only_from.toLocaleString()} only in ${body.from}, ${body.only_to.toLocaleString()} only in ${body.to}); `
    + `disparity after alignment ${fmt(body.disparity, 3)} (0: the same map up to a rotation). Distances are in units of a typical vector's length.`
    + (servedTo ? "" : " The map shows the served version, so it is not coloured by this comparison.");
  $("moved").replaceChildren(...body.values.slice(0, 15).map((value, i) => {
    const button = el("button", shown(feature, value), { type: "button", "data-value": value });
    button.addEventListener("click", () => onValue(value));
    const row = el("tr");
    const cell = el("td");
    cell.append(button);
    row.append(cell, el("td", fmt(body.distance[i], 3)), el("td", body.counts_from[i].toLocaleString()), el("td", body.counts_to[i].toLocaleString()));
    return row;
  }));
  $("moved-from-head").textContent = `count in ${body.from}`;
  $("moved-to-head").textContent = `count in ${body.to}`;
  section.dataset.top = body.values[0] ?? "";
}

function fill(select, versions, chosen) {
  select.replaceChildren(...versions.map((v) => new Option(`version ${v}`, String(v))));
  if (chosen !== null && chosen !== undefined) select.value = String(chosen);
}

// pick(value) opens a value's card; redraw() after a comparison changes the colour options
export function wireCompare(pick, redraw) {
  onValue = pick;
  $("compare").addEventListener("click", async () => {
    await compareVersions(false);
    redraw();
  });
}
