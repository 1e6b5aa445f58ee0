// Least privilege in MongoDB (docker-compose): run once by the mongo image when it initialises its
// data (as the root user), it gives each CineStream role a user of its own in the cinestream
// database, allowed the collections that role touches and nothing else. Passwords come from the
// environment (docker-compose.yml); operator commands (`cinestream users …`, `keys …`, `model …`)
// use the root user.
const name = process.env.CINESTREAM_MONGO_DB || "cinestream";
const app = db.getSiblingDB(name);
const on = (collections, actions) => collections.map((c) => ({resource: {db: name, collection: c}, actions}));
const owns = ["find", "insert", "update", "remove", "createIndex", "dropIndex", "listIndexes"];
const reads = ["find", "listIndexes"];
const listing = [{resource: {db: name, collection: ""}, actions: ["listCollections"]}];

const roles = {
  // the archive (every event into `events`), the catalogue's changes (titles added, changed, retired)
  // and its ids every worker checks events against; the scheduler's refits read every rating
  cinestreamWorker: [...on(["events", "movies", "retired_titles"], owns), ...on(["meta", "ratings"], reads),
                     ...listing],
  // accounts, sessions, service keys, the audit trail and prepared exports; a person's events and
  // ratings for export and erasure; the catalogue for the movie pages
  cinestreamApi: [...on(["users", "user_emails", "refresh_tokens", "token_families", "api_keys", "counters",
                         "audit", "exports"], owns),
                  ...on(["events", "ratings"], ["find", "update", "remove", "listIndexes"]),
                  ...on(["movies", "retired_titles", "meta", "user_stats"], reads), ...listing],
  // the catalogue build and the batch jobs (model publish, evaluate, repair)
  cinestreamImport: [...on(["movies", "meta", "ratings", "user_stats", "users", "counters"], owns),
                     ...on(["events", "retired_titles"], reads), ...listing],
};
const users = {cinestreamWorker: ["cinestream-worker", "CINESTREAM_MONGO_WORKER_PASSWORD"],
               cinestreamApi: ["cinestream-api", "CINESTREAM_MONGO_API_PASSWORD"],
               cinestreamImport: ["cinestream-import", "CINESTREAM_MONGO_IMPORT_PASSWORD"]};
for (const [role, privileges] of Object.entries(roles)) {
  app.createRole({role, privileges, roles: []});
  const [user, variable] = users[role];
  app.createUser({user, pwd: process.env[variable], roles: [{role, db: name}]});
}
