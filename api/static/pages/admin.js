// Admin: the stream (events/s drawn from the learned count, consumer lag), the online model's
// learning curve, model versions with roll back, the ranker's refits and versions (promote through the
// gate), the online experiments with the newest one's curve, and the newest offline evaluation.
import { $, api, esc, notice, required, when } from "/static/app.js";

await required();
const samples = [];  // [seconds, events learned]
const WINDOW = 60;

function drawRate() {
  const rates = samples.slice(1).map(([t, n], i) => Math.max(0, (n - samples[i][1]) / (t - samples[i][0])));
  $("rate-now").textContent = rates.length ? `${Math.round(rates.at(-1)).toLocaleString()} events/s` : "—";
  const top = Math.max(1, ...rates);
  const points = rates.map((r, i) => `${(i / (WINDOW - 1)) * 300},${78 - (r / top) * 70}`).join(" ");
  $("rate-chart").innerHTML = `<line x1="0" y1="78" x2="300" y2="78" class="axis"/>` +
    `<polyline points="${points}" class="line"/><text x="2" y="10" class="label">${Math.round(top).toLocaleString()}/s</text>`;
}

async function stream() {
  const m = await api("/api/metrics/prequential");
  $("metrics").textContent = m.n
    ? `${m.n.toLocaleString()} ratings learned · prequential RMSE ${m.rmse.toFixed(3)} · MAE ${m.mae.toFixed(3)} · ${m.drifts} drift(s) in ${m.batches} batches`
    : "no events learned yet";
  if (samples.length % 5 === 0) $("curve").src = `/api/metrics/learning-curve.png?t=${Date.now()}`;  // a PNG is drawn per call
  try {
    const s = await api("/api/admin/stream");
    samples.push([performance.now() / 1000, s.learned]);
    if (samples.length > WINDOW) samples.shift();
    drawRate();
    $("lag").querySelector("tbody").innerHTML = s.groups.map((g) =>
      `<tr><td>${esc(g.group)}</td><td>${esc(g.topic)}</td><td>${g.lag.toLocaleString()}</td></tr>`).join("")
      || "<tr><td colspan='3'>no consumer group has committed yet</td></tr>";
  } catch (err) { notice(err.message); }
}

async function versions() {
  const { versions } = await api("/api/admin/models");
  $("versions").querySelector("tbody").innerHTML = versions.slice().reverse().map((v) =>
    `<tr><td>${v.version}${v.current ? " (serving)" : ""}</td><td>${esc(v.note)} · ${esc(when(v.created))}</td>
      <td>${(v.n ?? 0).toLocaleString()}</td><td>${v.current ? "" :
      `<button type="button" data-version="${v.version}">Roll back to ${v.version}</button>`}</td></tr>`).join("")
    || "<tr><td colspan='4'>no saved version yet: <code>cinestream model publish</code> saves one</td></tr>";
}

$("versions").addEventListener("click", async (e) => {
  const version = e.target.dataset?.version;
  if (!version || !confirm(`Serve model version ${version} again?`)) return;
  try {
    await api(`/api/admin/models/${version}/rollback`, {method: "POST"});
    $("versions-status").textContent = `Version ${version} is serving.`;
    await versions();
  } catch (err) { $("versions-status").textContent = err.message; }
});

const figure = (f) => (f ? `${f["ndcg@10"].toFixed(4)} (${f.people} people)` : "—");

async function rankers() {
  const { versions, runs, schedule, last } = await api("/api/admin/rankers");
  const hours = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s)} s`);
  $("schedule").textContent = `Refits every ${hours(schedule.every_s)}, after ${schedule.after_events.toLocaleString()} new events` +
    `${schedule.on_drift ? ", and on a drift flag" : ""}; a candidate goes live unless its NDCG@10 is more than ` +
    `${Math.round(schedule.margin * 100)}% below the live version's. ` +
    (last ? `Last refit ${when(last.at)}.` : "No refit yet: the scheduler (cinestream scheduler) runs its first on start.");
  $("refits").querySelector("tbody").innerHTML = runs.map((r) =>
    `<tr><td>${esc(when(r.started))}</td><td>${esc(r.trigger)}</td><td>${r.seconds}</td>` +
    `<td>${(r.ratings ?? 0).toLocaleString()}</td><td>${figure(r.candidate)}</td><td>${figure(r.live)}</td>` +
    `<td>${esc(r.decision)}${r.version ? ` v${r.version}` : ""}: ${esc(r.reason)}</td></tr>`).join("")
    || "<tr><td colspan='7'>no refit yet</td></tr>";
  $("rankers").querySelector("tbody").innerHTML = versions.map((v) =>
    `<tr><td>${v.version}${v.live ? " (serving)" : ""}</td><td>${esc(v.status ?? "")}</td>` +
    `<td>${esc(v.reason ?? v.trigger ?? "")} · ${esc(when(v.created))}</td><td>${v.live ? "" :
      `<button type="button" data-ranker="${v.version}">Promote ${v.version}</button>`}</td></tr>`).join("")
    || "<tr><td colspan='4'>no version yet</td></tr>";
}

$("rankers").addEventListener("click", async (e) => {
  const version = e.target.dataset?.ranker;
  if (!version || !confirm(`Ask the scheduler to judge ranker version ${version} and serve it if it passes?`)) return;
  try {
    await api(`/api/admin/rankers/${version}/promote`, {method: "POST"});
    $("rankers-status").textContent = `Version ${version}: asked; the scheduler judges it at its next check (see Refits).`;
  } catch (err) { $("rankers-status").textContent = err.message; }
});

async function evaluation() {
  const { runs } = await api("/api/evaluation");
  if (!runs.length) return;
  const run = runs[0];
  $("evaluation").textContent = `${run.run}: ${run.dataset}, ${run.split}; relevant = rated ≥ 4`;
  const cell = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(4));
  const columns = ["P@10", "R@10", "NDCG@10", "MAP@10", "coverage"];
  $("evaluation-table").innerHTML =
    `<tr><th scope="col">model</th><th scope="col">RMSE</th><th scope="col">MAE</th>${columns.map((c) => `<th scope="col">${c}</th>`).join("")}<th scope="col">fit s</th></tr>` +
    run.results.map((r) => `<tr><td>${esc(r.name)}</td><td>${cell(r.rmse)}</td><td>${cell(r.mae)}</td>` +
      columns.map((c) => `<td>${cell(r.ranking[c])}</td>`).join("") + `<td>${r.fit_seconds.toFixed(2)}</td></tr>`).join("");
  $("pr-curve").src = `/api/evaluation/${encodeURIComponent(run.run)}/precision-recall.png`;
  $("pr-curve").hidden = false;
}

// an arm's guardrail figures: list p99, share of lists that failed, distinct films shown
const guarded = (a) => `${a.p99_ms === null ? "—" : `${a.p99_ms.toFixed(0)} ms`}, ` +
  `${(a.error_rate * 100).toFixed(1)} % failed, ${a.films.toLocaleString()} films`;

async function experiments() {
  const { experiments } = await api("/api/admin/experiments");
  if (!experiments.length) return;
  $("experiments-status").textContent = "";
  const fixed = (x) => (Number.isFinite(x) ? x.toFixed(3) : "—");
  $("experiments").querySelector("tbody").innerHTML = experiments.slice().reverse().map((e) =>
    `<tr><td>${esc(e.name)}</td><td>${esc(e.mode)}: ${e.variants.map(esc).join(" vs ")}</td>
      <td>${esc(e.status)}${e.reason ? ` (${esc(e.reason)})` : ""}</td>
      <td>${e.arms.map((a) => a.people.toLocaleString()).join(" / ")}</td>
      <td>${fixed(e.effect_estimate)} [${fixed(e.interval[0])}, ${fixed(e.interval[1])}]</td>
      <td>${fixed(e.p)}${e.significant ? " ✓" : ""}</td>
      <td>${e.guardrails.map(guarded).join(" / ")}</td></tr>`).join("");
  const { curve } = await api(`/api/admin/experiments/${encodeURIComponent(experiments.at(-1).name)}`);
  if (curve.length < 2) return;
  const most = curve.at(-1).people || 1;
  const low = Math.min(0, ...curve.map((c) => c.low)), high = Math.max(0, ...curve.map((c) => c.high));
  const x = (c) => (c.people / most) * 300, y = (v) => 95 - ((v - low) / (high - low || 1)) * 85;
  const band = curve.map((c) => `${x(c)},${y(c.high)}`).concat(curve.slice().reverse().map((c) => `${x(c)},${y(c.low)}`));
  $("experiment-chart").innerHTML = `<line x1="0" y1="${y(0)}" x2="300" y2="${y(0)}" class="axis"/>` +
    `<polygon points="${band.join(" ")}" class="band"/>` +
    `<polyline points="${curve.map((c) => `${x(c)},${y(c.effect)}`).join(" ")}" class="line"/>` +
    `<polyline points="${curve.map((c) => `${x(c)},${95 - c.p * 85}`).join(" ")}" class="line dashed"/>` +
    `<text x="2" y="10" class="label">${fixed(high)}</text><text x="2" y="98" class="label">${fixed(low)}</text>` +
    `<text x="298" y="98" class="label" text-anchor="end">${most.toLocaleString()} people</text>`;
}

await Promise.all([stream(), versions().catch((err) => notice(err.message)),
                   rankers().catch((err) => { $("schedule").textContent = err.message; }),
                   evaluation().catch((err) => { $("evaluation").textContent = err.message; }),
                   experiments().catch((err) => { $("experiments-status").textContent = err.message; })]);
setInterval(() => stream().catch((err) => notice(err.message)), 2000);
setInterval(() => rankers().catch((err) => { $("schedule").textContent = err.message; }), 10000);
setInterval(() => experiments().catch((err) => { $("experiments-status").textContent = err.message; }), 5000);
