// What if: a form generated from /model's features, prefilled with the manifest's example record,
// a prediction per edit, a sweep of one feature's most frequent values, and the feature importance
// training stored (permutation on the holdout).
import { $, api, el, enc, fmt, json, say, state } from "./common.js";

// ---------- what-if form and sweep ----------

export function buildForm() {
  const form = $("whatif");
  form.replaceChildren();
  const numeric = new Set(state.model.features.filter((f) => f.kind === "numeric").map((f) => f.name));
  for (const f of state.model.features) {
    if (f.kind === "categorical" && numeric.has(f.name)) continue; // a "both" column: one number field
    const id = `field-${f.name}`;
    const input = el("input", undefined, { id, name: f.name, autocomplete: "off" });
    const value = state.record[f.name];
    if (f.kind === "numeric") {
      input.type = "number";
      input.step = "any";
    } else {
      input.type = "text";
      input.setAttribute("list", `${id}-values`);
      const list = el("datalist", undefined, { id: `${id}-values` });
      form.append(list);
      json(`/embeddings/${enc(f.name)}?limit=200&offset=1`).then((t) => list.replaceChildren(...t.items.map((r) => new Option(r.value)))).catch(() => {});
    }
    input.value = value === null || value === undefined ? "" : String(value);
    input.addEventListener("input", () => {
      state.record[f.name] = input.value === "" ? null : f.kind === "numeric" ? Number(input.value) : input.value;
      schedulePredict();
    });
    const row = el("div", undefined, { class: "field" });
    row.append(el("label", f.name, { for: id }), input);
    form.append(row);
  }
}

let timer = 0;
function schedulePredict() {
  clearTimeout(timer);
  timer = setTimeout(predictNow, 250);
}

let sequence = 0;
export async function predictNow() {
  const mine = ++sequence;
  const response = await api("/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(state.record) });
  const body = await response.json();
  if (mine !== sequence) return; // a newer edit already asked
  const out = $("prediction");
  if (!response.ok) {
    out.textContent = body?.error?.message || `HTTP ${response.status}`;
    out.dataset.probability = "";
    return;
  }
  const p = body.predictions[0];
  const [text, value] = describePrediction(p);
  out.textContent = text;
  out.dataset.probability = value === null ? "" : String(value);
  $("warnings").replaceChildren(...p.warnings.map((w) => el("li", w.message)));
}

// the number the page shows for one prediction: P(second label) for binary, the top label's
// probability for multiclass, the value for regression
function describePrediction(p) {
  if (p.value !== undefined) return [`${state.model.target} = ${fmt(p.value)}`, p.value];
  const labels = Object.keys(p.probabilities);
  if (labels.length === 2) {
    const q = p.probabilities[labels[1]];
    return [`P(${state.model.target} = ${labels[1]}) = ${fmt(q)} · label ${p.label}`, q];
  }
  const q = p.probabilities[String(p.label)];
  return [`${p.label} (p = ${fmt(q)})`, q];
}

async function sweep() {
  const feature = $("sweep-feature").value;
  const count = Math.max(2, Math.min(100, Number($("sweep-count").value) || 20));
  const table = await json(`/embeddings/${enc(feature)}?offset=1&limit=${count}`);
  const values = table.items.map((r) => r.value);
  const records = values.map((v) => ({ ...state.record, [feature]: v }));
  const body = await json("/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ records }) });
  const numbers = body.predictions.map((p) => describePrediction(p)[1]);
  const top = Math.max(...numbers.map(Math.abs)) || 1;
  const chart = $("sweep-chart");
  chart.dataset.feature = feature;
  chart.replaceChildren(...values.map((v, i) => {
    const row = el("div", undefined, { class: "bar" });
    const bar = el("span", undefined, { class: "fill" });
    bar.style.width = `${(100 * Math.abs(numbers[i])) / top}%`;
    row.append(el("span", v, { class: "name" }), el("span", undefined, { class: "track" }), el("span", fmt(numbers[i]), { class: "num" }));
    row.children[1].append(bar);
    if (String(state.record[feature]) === v) row.classList.add("current");
    return row;
  }));
}


// permutation importance on the holdout (stored by training): the features the model leans on
export function showImportance(found) {
  $("importance-section").hidden = !found?.features?.length;
  if (!found?.features?.length) return;
  $("importance-note").textContent = `How much ${found.metric} (${fmt(found.score)} on ${found.rows.toLocaleString()} holdout rows) drops `
    + `when one feature's column is shuffled; mean ± sd of ${found.shuffles} shuffles. A large drop from a value known only afterwards is a leak.`;
  const top = Math.max(...found.features.map((f) => Math.abs(f.drop))) || 1;
  $("importance").replaceChildren(...found.features.map((f) => {
    const row = el("div", undefined, { class: "bar", "data-feature": f.name });
    const bar = el("span", undefined, { class: "fill" });
    bar.style.width = `${(100 * Math.max(f.drop, 0)) / top}%`;
    row.append(el("span", f.name, { class: "name" }), el("span", undefined, { class: "track" }), el("span", `${fmt(f.drop, 3)} ± ${fmt(f.sd, 3)}`, { class: "num" }));
    row.children[1].append(bar);
    return row;
  }));
}


export function wireWhatIf() {
  $("sweep").addEventListener("click", () => sweep().catch((err) => say(err.message)));
}
