// Onboarding: favourite genres, then at least five films you like from the most rated ones (of
// those genres once some are chosen); they are posted as ratings and home shows what follows.
import { $, api, esc, label, rate, required } from "/static/app.js";

const NEEDED = 5;
const picked = new Map();  // movieId -> card

await required();
const genres = Object.keys(await api("/api/movies/genres")).filter((g) => g !== "(no genres listed)").slice(0, 18);
$("genres").insertAdjacentHTML("beforeend", genres.map((g, i) =>
  `<label class="chip"><input type="checkbox" name="genre" value="${esc(g)}" id="genre-${i}"> ${esc(g)}</label>`).join(""));

function chosenGenres() {
  return [...document.querySelectorAll("#genres input:checked")].map((i) => i.value);
}

async function showFilms() {
  const chosen = chosenGenres();
  const lists = chosen.length
    ? await Promise.all(chosen.map((g) => api(`/api/movies?genre=${encodeURIComponent(g)}&limit=${Math.ceil(36 / chosen.length)}`)))
    : [await api("/api/movies?limit=36")];
  const films = [...picked.values()];
  for (let i = 0; films.length < 36 + picked.size && lists.some((l) => i < l.length); i++) {
    for (const list of lists) if (list[i] && !films.some((m) => m.movieId === list[i].movieId)) films.push(list[i]);
  }
  $("films").innerHTML = films.map((m) => `<li><button type="button" class="poster" data-movie-id="${m.movieId}"
      aria-pressed="${picked.has(m.movieId)}">${label(m)}<span class="genres">${esc((m.genres || []).slice(0, 3).join(" · "))}</span></button></li>`).join("");
  for (const button of $("films").querySelectorAll("button")) {
    const movie = films.find((m) => m.movieId === Number(button.dataset.movieId));
    button.addEventListener("click", () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(on));
      if (on) picked.set(movie.movieId, movie); else picked.delete(movie.movieId);
      $("picked").textContent = `${picked.size} of ${NEEDED} chosen`;
      $("done").disabled = picked.size < NEEDED;
    });
  }
}

$("genres").addEventListener("change", () => showFilms().catch((err) => { $("onboarding-error").textContent = err.message; }));
$("done").addEventListener("click", async () => {
  $("done").disabled = true;
  try {
    await api("/api/me", {method: "PATCH", body: {favourite_genres: chosenGenres()}});
    await Promise.all([...picked.keys()].map((id) => rate(id, 5)));
    location.assign("/");
  } catch (err) {
    $("onboarding-error").textContent = err.message;
    $("done").disabled = false;
  }
});
await showFilms();
