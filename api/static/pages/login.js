// Log in; then back to where the visitor was going.
import { $, api, session } from "/static/app.js";

const next = new URLSearchParams(location.search).get("next");
const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
if (await session()) location.replace(target);

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("/api/auth/login", {method: "POST", body: {email: e.target.email.value, password: e.target.password.value}});
    location.assign(target);
  } catch (err) { $("login-error").textContent = err.message; }
});
