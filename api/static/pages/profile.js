// Profile and privacy: your name, your data as a file, deleting your account.
import { $, api, required } from "/static/app.js";

await required();
const person = await api("/api/me");
$("display_name").value = person.display_name;
$("email").textContent = person.email;
if (person.demographics) {  // an imported MovieLens user: what the release said about them (stored encrypted)
  const d = person.demographics;
  $("demographics").textContent = `From the dataset: ${d.gender}, age ${d.age}, occupation ${d.occupation}, zip ${d.zip}`;
  $("demographics").hidden = false;
}

$("profile").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/api/me", {method: "PATCH", body: {display_name: e.target.display_name.value}});
    $("profile-status").textContent = "Saved.";
  } catch (err) { $("profile-status").textContent = err.message; }
});

$("delete").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!confirm("Delete your account and everything CineStream keeps about you?")) return;
  try {
    await api("/api/me", {method: "DELETE", body: {password: e.target.password.value}});
    location.assign("/?deleted=1");
  } catch (err) { $("delete-error").textContent = err.message; }
});
