// Your history: ratings and watches, newest first; a rating can be changed in place.
import { $, api, esc, label, rate, required, when, STEPS } from "/static/app.js";

await required();

async function show() {
  const { items } = await api("/api/me/history?limit=200");
  $("history-status").textContent = items.length ? "" : "Nothing yet: rate or watch a film.";
  $("history").querySelector("tbody").innerHTML = items.map((e, i) => {
    const what = e.type === "rating" ? `rated ${e.rating} ★` : `watched${e.completed ? " to the end" : ""}`;
    const change = e.type !== "rating" ? "" : `<label class="visually-hidden" for="change-${i}">New rating for ${label(e)}</label>
      <select id="change-${i}" data-movie-id="${e.movieId}">${STEPS.map((v) =>
        `<option value="${v}"${v === e.rating ? " selected" : ""}>${v} ★</option>`).join("")}</select>`;
    return `<tr><td><a href="/movies/${e.movieId}">${label(e)}</a></td><td>${esc(what)}</td>
      <td>${esc(when(e.timestamp))}</td><td>${change}</td></tr>`;
  }).join("");
}

$("history").addEventListener("change", async (e) => {
  const select = e.target;
  try {
    await rate(Number(select.dataset.movieId), Number(select.value));
    $("history-status").textContent = `Rating changed to ${select.value} stars.`;
    setTimeout(() => show().catch(() => {}), 1000);
  } catch (err) { $("history-status").textContent = err.message; }
});
await show();
