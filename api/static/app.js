// What every page shares: calling the API as the signed-in person, the session, cards and stars.
// The pages only call the public REST API, as any client app would.

export const $ = (id) => document.getElementById(id);
export const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
export const label = (m) => `${esc(m.title ?? `movie ${m.movieId}`)}${m.year ? ` (${m.year})` : ""}`;

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function csrf() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("cs_csrf="));
  return found ? decodeURIComponent(found.slice(8)) : "";
}

let refreshing = null;
async function refreshSession() {
  // One refresh at a time: a refresh token spent twice ends the whole session (reuse detection).
  refreshing ??= fetch("/api/auth/refresh", {method: "POST", headers: {"X-CSRF-Token": csrf()}})
    .then((r) => r.ok).finally(() => { refreshing = null; });
  return refreshing;
}

// fetch as the person (session cookies + the CSRF echo); an expired access token is refreshed once.
export async function api(url, {method = "GET", body, retry = true} = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (response.status === 401 && retry && !url.startsWith("/api/auth/") && await refreshSession()) {
    return api(url, {method, body, retry: false});
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.error?.message ?? data.detail ?? response.statusText;
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

let me;
// The signed-in person ({user_id, roles}), or null; shows the navigation that fits. Asks a route
// that answers everyone, refreshing an expired session first, so a visitor's console stays clean.
export async function session() {
  if (me === undefined) {
    let state = await api("/api/auth/session");
    if (!state.signed_in && state.refreshable && await refreshSession()) state = await api("/api/auth/session");
    me = state.signed_in ? {user_id: state.user_id, roles: state.roles} : null;
    const shown = me ? (me.roles.includes("admin") ? ["person", "admin"] : ["person"]) : ["anonymous"];
    document.querySelectorAll("[data-when]").forEach((el) => { el.hidden = !shown.includes(el.dataset.when); });
  }
  return me;
}

// The page's person, sending a visitor without a session (or the right role) to log in.
export async function required() {
  const person = await session();
  const needs = document.body.dataset.needs;
  if (!person) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return new Promise(() => {});  // the page is going away
  }
  if (needs === "admin" && !person.roles.includes("admin")) {
    notice("This area is for admins.");
    return new Promise(() => {});
  }
  return person;
}

export function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = !text;
}

// One film as a card: a link to its page, and what to say under it.
export function card(m, extra = "") {
  const genres = m.genres?.length ? `<span class="genres">${esc(m.genres.slice(0, 3).join(" · "))}</span>` : "";
  return `<li data-movie-id="${m.movieId}"><a href="/movies/${m.movieId}">${label(m)}</a>${genres}` +
    (extra ? `<span class="why">${extra}</span>` : "") + "</li>";
}

export function fill(list, items, line = (m) => card(m), empty = "nothing yet") {
  list.innerHTML = items.length ? items.map(line).join("") : `<li class="muted">${esc(empty)}</li>`;
}

export const STEPS = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5];
// Half stars as ten radio buttons (keyboard: arrows move, the choice is announced as "3.5 stars").
export function stars(fieldset, name, onPick) {
  fieldset.insertAdjacentHTML("beforeend", `<div class="star-row">${STEPS.map((v) =>
    `<label class="${v % 1 ? "half left" : "half right"}"><input type="radio" name="${name}" value="${v}"
      aria-label="${v} stars"><span aria-hidden="true">★</span></label>`).join("")}</div>`);
  const show = (value) => fieldset.querySelectorAll("label").forEach((l, i) => l.classList.toggle("on", STEPS[i] <= value));
  fieldset.addEventListener("change", (e) => { show(Number(e.target.value)); onPick(Number(e.target.value)); });
  return (value) => {
    show(value ?? 0);
    fieldset.querySelectorAll("input").forEach((i) => { i.checked = Number(i.value) === value; });
  };
}

export const rate = (movieId, rating) => api("/api/events/ratings", {method: "POST", body: {movie_id: movieId, rating}});

export function when(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
}

const logout = $("logout");
logout?.addEventListener("click", async () => {
  await api("/api/auth/logout", {method: "POST"}).catch(() => {});
  location.assign("/");
});
