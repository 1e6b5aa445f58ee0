"""Where the online MF model lives in Redis: its keys, grouped into shards a Redis Cluster can spread.

A Redis script may only touch keys of one slot on a cluster, so the model's keys carry hash tags
that group them into ``SHARDS`` user shards, ``SHARDS`` item shards and one commit shard:

- user shard ``{mu<s>}`` (``s = user % SHARDS``): ``mf:u:{mu<s>}:<user>`` (the row), ``mf:seen:…``
  (hash movie -> the latest rating: excluded from suggestions, and the "because you rated …"),
  ``mf:seen-v:…`` (changes whenever that hash does, so readers re-read it only then),
  ``mf:h:…`` (recent MF errors, for the residual correction) and ``mf:applied:{mu<s>}``;
- item shard ``{mi<s>}`` (``s = movie % SHARDS``): ``mf:i:{mi<s>}:<movie>``, the shard's members
  ``mf:items:{mi<s>}`` (the recommendation candidates) and ``mf:applied:{mi<s>}``;
- the commit shard ``{mf}``: ``{mf}:stats`` (the ratings' ``n`` and ``sum``, and the prequential
  ``sse`` and ``sae``), ``{mf}:applied`` (where each partition resumes), ``{mf}:curve``,
  ``{mf}:drifts`` and the item rows' change log (``storage.item_log``).

Each ``…:applied`` hash maps ``<topic>:<partition>`` to the last Kafka offset whose effect is in
that shard: that is what makes a batch exactly once shard by shard (``storage.model_store``).
``SHARDS`` (``storage.shards``) is fixed for a deployment: the keys encode it.
"""

from __future__ import annotations

from storage.shards import SHARDS, tag

USER, ITEM, COMMIT = "mu", "mi", "mf"
STATS, COMMIT_APPLIED, CURVE, DRIFTS = "{mf}:stats", "{mf}:applied", "{mf}:curve", "{mf}:drifts"
# the key prefixes, written here only: the shard scripts get them as Lua constants (``LUA_CONSTANTS``)
# and the API's Redis permissions are built from them (``storage.redis_acl``)
USER_ROW, SEEN, SEEN_VERSION, HISTORY = "mf:u:", "mf:seen:", "mf:seen-v:", "mf:h:"
ITEM_ROW, ITEMS, APPLIED = "mf:i:", "mf:items:", "mf:applied:"
PERSONAL = (USER_ROW, SEEN, SEEN_VERSION, HISTORY)  # a person's own keys, which erasing them deletes
LUA_CONSTANTS = (("USER_ROW", USER_ROW), ("SEEN", SEEN), ("SEEN_VERSION", SEEN_VERSION), ("HISTORY", HISTORY),
                 ("ITEM_ROW", ITEM_ROW), ("ITEMS", ITEMS))


def user_shard(user: int) -> int:
    return user % SHARDS


def item_shard(movie: int) -> int:
    return movie % SHARDS


def user_key(user: int) -> str:
    return f"{USER_ROW}{tag(USER, user % SHARDS)}:{user}"


def seen_key(user: int) -> str:
    return f"{SEEN}{tag(USER, user % SHARDS)}:{user}"


def seen_version_key(user: int) -> str:
    return f"{SEEN_VERSION}{tag(USER, user % SHARDS)}:{user}"


def history_key(user: int) -> str:
    return f"{HISTORY}{tag(USER, user % SHARDS)}:{user}"


def item_key(movie: int) -> str:
    return f"{ITEM_ROW}{tag(ITEM, movie % SHARDS)}:{movie}"


def items_key(shard: int) -> str:
    return f"{ITEMS}{tag(ITEM, shard)}"


ITEM_SETS = [items_key(s) for s in range(SHARDS)]


def applied_key(kind: str, shard: int) -> str:
    """A shard's ``<topic>:<partition>`` -> offset hash (the commit shard's is ``COMMIT_APPLIED``)."""
    return COMMIT_APPLIED if kind == COMMIT else f"{APPLIED}{tag(kind, shard)}"
