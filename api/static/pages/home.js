// Home: "For you" pushed by the server as the stream learns your ratings, rows of films like the
// ones you rated highly, and what is trending.
import { $, api, card, esc, fill, label, session } from "/static/app.js";

function showRecommendations(body) {
  const list = $("recs");
  $("for-you-model").textContent = `model: ${body.model}`;
  fill(list, body.items, (m) => card(m, esc(m.reason)), "rate a few films to get suggestions");
  list.dataset.updates = String(Number(list.dataset.updates) + 1);
  list.dataset.updatedAt = String(performance.timeOrigin + performance.now());  // when it changed (ms since the epoch)
}

// Server-sent events: the first message is the current list, each later one follows a rating the
// workers applied. A closed stream (an expired session) is refreshed through the API and reopened.
function follow() {
  const source = new EventSource("/api/me/live?k=10");
  source.addEventListener("recommendations", (e) => showRecommendations(JSON.parse(e.data)));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      api("/api/me").then(() => setTimeout(follow, 500), () => {});
    }
  });
}

async function becauseYouRated() {
  const { items } = await api("/api/me/history?limit=100");
  const liked = [];
  for (const e of items) {
    if (e.type === "rating" && e.rating >= 4 && !liked.some((m) => m.movieId === e.movieId)) liked.push(e);
    if (liked.length === 2) break;
  }
  const rows = await Promise.all(liked.map((m) => api(`/api/movies/${m.movieId}/similar?k=8`)));
  $("because").innerHTML = rows.map((row, i) => `<section class="panel" aria-labelledby="because-${i}">
      <h2 id="because-${i}">Because you rated ${label(liked[i])} ${liked[i].rating}★</h2>
      <ol class="cards grid">${row.items.map((m) => card(m)).join("")}</ol></section>`).join("");
}

async function trending() {
  const body = await api("/api/trending?k=12");
  fill($("trending"), body.items, (m) => card(m), "nothing trending yet: no events in the last hours");
}

const person = await session();
if (person) {
  $("for-you").hidden = false;
  follow();
  becauseYouRated().catch(() => {});
} else {
  $("welcome").hidden = false;
}
trending().catch(() => {});
setInterval(() => trending().catch(() => {}), 30000);
