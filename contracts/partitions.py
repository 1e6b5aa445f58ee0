"""The partition Kafka gives each user's events, so producers can pack one envelope per partition.

Kafka's default partitioner (aiokafka's and the Java client's) hashes the message key with murmur2;
events keyed by their user id (``str(id)``) go to ``murmur2(key) & 0x7FFFFFFF % partitions``. Sending
a user's events to that partition explicitly keeps them in order with everything else keyed by the
user (an erasure, the API's single events), while one message may carry many users' events: faust
pays its cost per message, and interleaved users packed per user made about one event per message.
"""

from __future__ import annotations

import numpy as np
from aiokafka.partitioner import murmur2


def partition_of(users: np.ndarray, partitions: int) -> np.ndarray:
    """The partition Kafka's default partitioner picks for each user id as a key (``str(id)``)."""
    unique, inverse = np.unique(users, return_inverse=True)
    hashed = np.array([(murmur2(str(u).encode()) & 0x7FFFFFFF) % partitions for u in unique.tolist()],
                      dtype=np.int64)
    return hashed[inverse] if len(unique) else np.zeros(0, dtype=np.int64)
