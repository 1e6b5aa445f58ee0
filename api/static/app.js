// The page only calls the public REST API, like any client app would.
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const label = (m) => `${esc(m.title ?? m.movieId)}${m.year ? ` (${m.year})` : ""}`;

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

async function showMine() {
  const body = await getJSON("/api/me/recommendations?k=10");
  $("model").textContent = `model: ${body.model}`;
  fill($("recs"), body.items, (m) => `${label(m)}<span class="why">${esc(m.reason)}</span>`);
}

function fill(list, items, line) {
  list.innerHTML = items.length ? items.map((m) => `<li>${line(m)}</li>`).join("") : "<li class='muted'>nothing yet</li>";
}

$("search").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const movies = await getJSON(`/api/movies?q=${encodeURIComponent(e.target.q.value)}`);
    fill($("results"), movies, (m) => `${label(m)}<span class="why">${esc((m.directors || []).join(", "))}
      ${m.genres?.length ? "· " + esc(m.genres.join(", ")) : ""}</span>`);
  } catch (err) { $("results").innerHTML = `<li class="muted">${esc(err.message)}</li>`; }
});

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    // The session comes back as HttpOnly cookies; GETs need nothing more.
    await getJSON("/api/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: e.target.email.value, password: e.target.password.value})});
    $("login").hidden = true;
    await showMine();
  } catch (err) { $("recs").innerHTML = `<li class="muted">${esc(err.message)}</li>`; }
});

showMine().then(() => { $("login").hidden = true; }, () => {});

async function refresh() {
  try {
    const trending = await getJSON("/api/trending?k=10");
    fill($("trending"), trending.items, label);
    const m = await getJSON("/api/metrics/prequential");
    $("metrics").textContent = m.n
      ? `${m.n.toLocaleString()} ratings learned · prequential RMSE ${m.rmse.toFixed(3)} · MAE ${m.mae.toFixed(3)} · ${m.drifts} drift(s) in ${m.batches} batches`
      : "no events learned yet";
    $("curve").src = `/api/metrics/learning-curve.png?t=${Date.now()}`;
  } catch (err) { $("metrics").textContent = err.message; }
}
async function showEvaluation() {
  const { runs } = await getJSON("/api/evaluation");
  if (!runs.length) return;
  const run = runs[0];
  $("evaluation").textContent = `${run.run}: ${run.dataset}, ${run.split}; relevant = rated ≥ 4`;
  const cell = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(4));
  const columns = ["P@10", "R@10", "NDCG@10", "MAP@10", "coverage"];
  $("evaluation-table").innerHTML =
    `<tr><th>model</th><th>RMSE</th><th>MAE</th>${columns.map((c) => `<th>${c}</th>`).join("")}<th>fit s</th></tr>` +
    run.results.map((r) => `<tr><td>${esc(r.name)}</td><td>${cell(r.rmse)}</td><td>${cell(r.mae)}</td>` +
      columns.map((c) => `<td>${cell(r.ranking[c])}</td>`).join("") + `<td>${r.fit_seconds.toFixed(2)}</td></tr>`).join("");
  $("pr-curve").src = `/api/evaluation/${encodeURIComponent(run.run)}/precision-recall.png`;
  $("pr-curve").hidden = false;
}

refresh();
showEvaluation().catch((err) => { $("evaluation").textContent = err.message; });
$("user").requestSubmit();
setInterval(refresh, 5000);
