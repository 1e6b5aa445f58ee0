"""How the models' Redis keys are grouped into shards a Redis Cluster can spread: a Redis script or a
multi-key command may only touch keys of one slot, so each model's keys of one shard share a hash tag
(``{<kind><shard>}``). The number of shards is fixed for a deployment (the keys encode it); 16 spreads
over up to 16 masters. Each model's store names its own kinds (``storage.model_keys``: ``mu``, ``mi``;
``storage.similarity_store``: ``sim``).
"""

from __future__ import annotations

import numpy as np

SHARDS = 16


def tag(kind: str, shard: int) -> str:
    return f"{{{kind}{shard}}}"


def shard_groups(ids: np.ndarray, shards: int = SHARDS) -> list[tuple[int, np.ndarray]]:
    """Positions of ``ids`` grouped by shard (``id % shards``), ascending within each group: what one
    script or multi-key command may take together on a cluster.

    >>> [(shard, at.tolist()) for shard, at in shard_groups(np.array([35, 3, 19, 16]))]
    [(0, [3]), (3, [0, 1, 2])]
    """
    of = np.asarray(ids, dtype=np.int64) % shards
    order = np.argsort(of, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(of[order])) + 1)
    return [(int(of[group[0]]), group) for group in groups if len(group)]
