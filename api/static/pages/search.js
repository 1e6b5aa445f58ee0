// Search with autocomplete over titles, directors and cast (the ARIA combobox pattern: arrows move
// through suggestions, Enter opens one, Escape closes them), and genre and year filters.
import { $, api, esc, label, session } from "/static/app.js";

const q = $("q"), box = $("suggestions");
let active = -1, shown = [], typed = 0;

function query(text, limit) {
  const params = new URLSearchParams({limit: String(limit)});
  if (text.trim()) params.set("q", text.trim());
  if ($("genre").value) params.set("genre", $("genre").value);
  if ($("year").value) params.set("year", $("year").value);
  return api(`/api/movies?${params}`);
}

function people(m) {
  const parts = [];
  if (m.directors?.length) parts.push(`directed by ${m.directors.slice(0, 2).join(", ")}`);
  if (m.cast?.length) parts.push(`with ${m.cast.slice(0, 3).join(", ")}`);
  return parts.join(" · ");
}

function close() {
  box.hidden = true;
  q.setAttribute("aria-expanded", "false");
  q.removeAttribute("aria-activedescendant");
  active = -1;
}

function highlight(i) {
  active = i;
  box.querySelectorAll("[role=option]").forEach((o, j) => o.setAttribute("aria-selected", String(j === i)));
  if (i >= 0) q.setAttribute("aria-activedescendant", `suggestion-${i}`);
}

async function suggest() {
  const mine = ++typed;
  if (!/[A-Za-z0-9]/.test(q.value)) { close(); return; }
  const found = await query(q.value, 8).catch(() => []);
  if (mine !== typed) return;  // a later key press has asked again
  shown = found;
  box.innerHTML = found.map((m, i) => `<li role="option" id="suggestion-${i}" aria-selected="false"
      data-movie-id="${m.movieId}">${label(m)}<span class="why">${esc(people(m))}</span></li>`).join("");
  box.hidden = !found.length;
  q.setAttribute("aria-expanded", String(found.length > 0));
  active = -1;
}

let timer;
q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 120); });
q.addEventListener("keydown", (e) => {
  if (box.hidden) return;
  if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, shown.length - 1)); }
  else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
  else if (e.key === "Escape") close();
  else if (e.key === "Enter" && active >= 0) { e.preventDefault(); location.assign(`/movies/${shown[active].movieId}`); }
});
box.addEventListener("mousedown", (e) => {
  const option = e.target.closest("[role=option]");
  if (option) location.assign(`/movies/${option.dataset.movieId}`);
});
q.addEventListener("blur", () => setTimeout(close, 150));

async function search() {
  close();
  const params = new URLSearchParams();
  for (const name of ["q", "genre", "year"]) if ($(name).value) params.set(name, $(name).value);
  history.replaceState(null, "", `/search?${params}`);
  if (q.value && !/[A-Za-z0-9]/.test(q.value)) {  // the API would refuse it (422): say why without asking
    $("search-status").textContent = "Type at least one letter or digit (A–Z, 0–9).";
    $("results").innerHTML = "";
    return;
  }
  try {
    const found = await query(q.value, 50);
    $("search-status").textContent = `${found.length} film${found.length === 1 ? "" : "s"} found`;
    $("results").innerHTML = found.map((m) => `<li data-movie-id="${m.movieId}"><a href="/movies/${m.movieId}">${label(m)}</a>
        <span class="genres">${esc((m.genres || []).join(" · "))}</span><span class="why">${esc(people(m))}</span></li>`).join("");
  } catch (err) {
    $("search-status").textContent = err.message;
    $("results").innerHTML = "";
  }
}

$("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });

await session();
const genres = await api("/api/movies/genres");
$("genre").insertAdjacentHTML("beforeend", Object.keys(genres).map((g) => `<option>${esc(g)}</option>`).join(""));
const given = new URLSearchParams(location.search);
for (const name of ["q", "genre", "year"]) if (given.get(name)) $(name).value = given.get(name);
if (given.toString()) search();
