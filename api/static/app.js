// The page only calls the public REST API, like any client app would.
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const label = (m) => `${esc(m.title ?? m.movieId)}${m.year ? ` (${m.year})` : ""}`;

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail ? JSON.stringify(body.detail) : response.statusText);
  return body;
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

$("user").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const body = await getJSON(`/api/users/${encodeURIComponent(e.target.user.value)}/recommendations?k=10`);
    $("model").textContent = `model: ${body.model}`;
    fill($("recs"), body.items, (m) => `${label(m)}<span class="why">${esc(m.reason)}</span>`);
  } catch (err) { $("recs").innerHTML = `<li class="muted">${esc(err.message)}</li>`; }
});

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
refresh();
$("user").requestSubmit();
setInterval(refresh, 5000);
