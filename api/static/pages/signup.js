// Sign up; a new account goes on to onboarding.
import { $, api, session } from "/static/app.js";

await session();
$("signup").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signup-error").textContent = "";
  const form = e.target;
  try {
    await api("/api/auth/register", {method: "POST", body: {display_name: form.display_name.value,
      email: form.email.value, password: form.password.value}});
    location.assign("/onboarding");
  } catch (err) { $("signup-error").textContent = err.message; }
});
