"""Who may do what in Redis: the ACL users of a secured deployment (``CINESTREAM_REDIS_ACL``).

- ``worker``: the stream writes the model, similarity, trending and histories: every key, every
  command but the administrative and dangerous ones (no FLUSHALL, CONFIG, ACL, KEYS, DEBUG…);
- ``api``: reads every key, and writes only what a request owns: rate-limit counters (``rl:*``),
  revoked sessions (``auth:*``), claimed event ids (``evt:*``) and, to erase a person at once, that
  person's own rows. It cannot write a movie's row, the similarity rows, trending or the model's
  statistics, so a compromised API cannot poison what everyone is recommended; rolling a model back
  is the operator's (``cinestream model rollback``), and a ranker's promotion the scheduler's, which
  judges the versions admins ask for (``{live}:promotions``);
- ``admin``: everything (the stack, batch jobs, benches and tests).

The default user is off, so a client without credentials is refused. Key patterns follow the key
names the storage modules write (``storage/erasure.py`` lists a person's rows).
"""

from __future__ import annotations

from core.settings import REDIS_PRINCIPALS
from storage import (
    event_ids,
    experiment_store,
    live_model_store,
    model_keys,
    published_store,
    rate_limits,
    recent_history,
    refit_log,
    revocations,
    similarity_store,
)

PRINCIPALS = REDIS_PRINCIPALS

# what the API writes: its own counters and claims, and a person's rows when they delete their account
# (the prefixes are the storage modules' own, so a renamed key cannot leave the API without permission)
API_WRITES = (*(prefix + "*" for prefix in (
    rate_limits.PREFIX, revocations.PREFIX, event_ids.PREFIX, *model_keys.PERSONAL, recent_history.PREFIX,
    similarity_store.RECENT_PREFIX, published_store.RECS, live_model_store.GENRES, experiment_store.OPEN)),
    refit_log.PROMOTIONS)


def rules(passwords: dict[str, str]) -> list[str]:
    """The lines of an ACL file (``redis-server --aclfile``) for these passwords."""
    everything_but_admin = "&* +@all -@admin -@dangerous"
    return [
        "user default off",
        f"user admin on >{passwords['admin']} ~* &* +@all",
        f"user worker on >{passwords['worker']} ~* {everything_but_admin}",
        f"user api on >{passwords['api']} %R~* {' '.join('~' + p for p in API_WRITES)} {everything_but_admin}",
    ]
