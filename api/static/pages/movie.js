// A film's page: what it is, how people rated it, your rating in half stars, "I watched it", and
// films like it.
import { $, api, card, esc, label, rate, session, stars } from "/static/app.js";

const id = Number($("movie").dataset.movieId);

function facts(m) {
  $("movie-title").innerHTML = label(m);
  document.title = `${m.title} · CineStream`;
  $("movie-facts").textContent = [(m.genres || []).join(" · "), m.runtime ? `${m.runtime} min` : ""].filter(Boolean).join(" — ");
  const rows = [["Director", m.directors], ["Cast", (m.cast || []).slice(0, 8)], ["Writers", m.writers]]
    .filter(([, names]) => names?.length);
  $("movie-people").innerHTML = rows.map(([name, names]) => `<dt>${name}</dt><dd>${esc(names.join(", "))}</dd>`).join("");
  $("movie-overview").textContent = m.overview || m.tagline || "";
  const s = m.stats || {};
  $("movie-rating-summary").textContent = s.count
    ? `Average rating ${s.mean.toFixed(1)} ★ from ${s.count.toLocaleString()} rating${s.count === 1 ? "" : "s"}`
    : "Not rated yet";
}

async function mine() {
  const show = stars($("stars"), "rating", async (value) => {
    $("stars").dataset.ratedAt = String(performance.timeOrigin + performance.now());  // when the person rated
    $("rating-status").textContent = "saving…";
    try {
      await rate(id, value);
      $("rating-status").textContent = `You rated it ${value} stars.`;
    } catch (err) { $("rating-status").textContent = err.message; }
  });
  const state = await api(`/api/me/movies/${id}`);
  show(state.rating);
  if (state.rating) $("rating-status").textContent = `You rated it ${state.rating} stars.`;
  const watched = $("watched");
  watched.setAttribute("aria-pressed", String(state.watched));
  watched.addEventListener("click", async () => {
    if (watched.getAttribute("aria-pressed") === "true") return;
    try {
      await api("/api/events/watches", {method: "POST", body: {movie_id: id, seconds_watched: 60 * ((await movie).runtime || 100),
                                                          completed: true}});
      watched.setAttribute("aria-pressed", "true");
      $("rating-status").textContent = "Marked as watched.";
    } catch (err) { $("rating-status").textContent = err.message; }
  });
  $("mine").hidden = false;
}

const movie = api(`/api/movies/${id}`);
try {
  facts(await movie);
} catch (err) {
  $("movie-title").textContent = err.status === 404 ? "No such film" : err.message;
}
if (await session()) mine().catch(() => {}); else $("sign-in-to-rate").hidden = false;
const similar = await api(`/api/movies/${id}/similar?k=10`).catch(() => ({items: [], basis: ""}));
$("similar-basis").textContent = similar.basis ? `by ${similar.basis}` : "";
$("similar").innerHTML = similar.items.map((m) => card(m)).join("") || "<li class='muted'>none yet</li>";
