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

// The export is gathered in the background (it reads the whole event archive): ask, wait, then download.
$("export").addEventListener("click", async () => {
  const button = $("export"), status = $("export-status");
  button.disabled = true;
  try {
    let state = await api("/api/me/export", {method: "POST"});
    status.textContent = "Gathering your data…";
    for (let waited = 0; state.state === "preparing" && waited < 300; waited++) {
      await new Promise((done) => setTimeout(done, 1000));
      state = await api("/api/me/export");
    }
    if (state.state !== "ready") throw new Error(state.reason ?? "the export is taking too long; try again later");
    const link = Object.assign(document.createElement("a"), {href: state.file, download: "cinestream-export.json"});
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = "Your data is downloading.";
  } catch (err) { status.textContent = `Export failed: ${err.message}`; }
  button.disabled = false;
});

$("delete").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!confirm("Delete your account and everything CineStream keeps about you?")) return;
  try {
    await api("/api/me", {method: "DELETE", body: {password: e.target.password.value}});
    location.assign("/?deleted=1");
  } catch (err) { $("delete-error").textContent = err.message; }
});
