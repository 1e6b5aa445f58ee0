"""Every knob of CineStream, read once from the environment (prefix ``CINESTREAM_``).

One module so that a deployment can be described by its environment alone: docker-compose,
the local stack, the tests and the benchmarks all read the same names. A server address that
the user sets explicitly (``CINESTREAM_KAFKA_BOOTSTRAP`` …) means "I run this one myself":
the local stack then starts nothing for that part (see :meth:`Settings.is_external`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ADDRESS_FIELD = {"kafka": "kafka_bootstrap", "mongo": "mongo_uri", "redis": "redis_url"}
REDIS_PRINCIPALS = ("admin", "worker", "api")  # the Redis ACL users (what each may do: storage/redis_acl.py)


def _home(*parts: str) -> Path:
    return Path.home().joinpath(*parts)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CINESTREAM_", env_file=".env", extra="ignore")

    # Datasets: a folder holding ml-latest-small/, ml-100k/, tmdb-5000/ … (the shared copy in
    # development and CI, or where `cinestream data fetch` unpacks archives).
    data_dir: Path = Field(default_factory=lambda: _home(".cache", "cinestream", "datasets"))
    dataset: str = "ml-latest-small"
    dataset_base_url: str = "https://files.grouplens.org/datasets/movielens/"

    # Local stack: server state (databases, logs, pid files) and cached builds.
    stack_dir: Path = Field(default_factory=lambda: _home(".local", "share", "cinestream"))
    cache_dir: Path = Field(default_factory=lambda: _home(".cache", "cinestream"))
    kafka_version: str = "4.1.1"
    ferretdb_version: str = "v1.24.2"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "768m"
    # Brokers of the local stack: one, or a cluster where every node is broker and controller, node
    # i (from 1) on kafka_port + 100 (i - 1) and kafka_controller_port + 100 (i - 1).
    kafka_brokers: int = Field(default=1, ge=1, le=9)
    # Replicas of every topic the project creates; 0: one per local broker, up to three. With three
    # or more, a write needs two in-sync replicas (min.insync.replicas=2) and producers wait for all
    # of them (acks=all): an acknowledged event survives the loss of any one broker.
    kafka_replication: int = Field(default=0, ge=0)
    # Who this process is to Kafka (SASL/SCRAM-SHA-256, see core/kafka_auth.py): unset, on for a
    # local cluster (kafka_brokers > 1) and off for a single node. ``kafka_user`` is one of admin
    # (topics and ACLs), worker, api, platform; its password ``kafka_password``, or in development the
    # local stack's generated one.
    kafka_sasl: bool | None = None
    kafka_user: str = "admin"
    kafka_password: SecretStr | None = None
    mongo_port: int = 27017
    ferretdb_debug_port: int = 8088
    redis_port: int = 6379

    # Server addresses used by every client (api, streams, simulators, tests).
    # Unset, they follow the local stack's ports (see the validator below).
    kafka_bootstrap: str = ""
    mongo_uri: str = ""
    mongo_db: str = "cinestream"
    # MongoDB durability, for a replica set (docker-compose sets majority / true / primaryPreferred): a
    # write acknowledged by a majority survives the primary's loss, and a write the driver retries
    # after a failover is applied once. FerretDB 1.x (the local stack) has neither sessions nor
    # replication, hence the defaults. The history's inserts stay idempotent under retries anyway.
    mongo_write_concern: Literal["1", "majority"] = "1"
    mongo_retry_writes: bool = False
    mongo_read_preference: Literal["primary", "primaryPreferred", "secondaryPreferred", "nearest"] = "primary"
    redis_url: str = ""
    # redis_url names one node of a Redis Cluster: clients follow its slot map (storage/model_keys.py:
    # the model's keys are sharded by hash tags so every script stays in one slot)
    redis_cluster: bool = False
    # Redis ACL users (storage/redis_acl.py): with redis_acl the local Redis refuses the default user and
    # a process connects as redis_user (admin, worker, api) with redis_password, or in development the
    # local stack's generated one; an unset redis_url then carries them.
    redis_acl: bool = False
    redis_user: str = "admin"
    redis_password: SecretStr | None = None

    # Streams.
    partitions: int = 8
    topic_ratings: str = "ratings"
    topic_watches: str = "watches"
    topic_dead_letter: str = "dead-letter"
    # Titles added, changed or retired while the system runs (contracts/catalogue.py): one partition,
    # so every change is applied in the order it was sent.
    topic_movies: str = "movies"
    # Lists served under a running experiment (contracts/exposures.py), keyed by person like their events.
    topic_exposures: str = "exposures"
    # Agents this worker runs (streams/agents/<name>.py). Run the learning path and the
    # heavier side models in separate worker processes when they compete for cores.
    agents: str = "online_mf,online_mf_watches,trending,similarity,recent,history,catalogue"
    # The worker's consumer group (faust app id). Workers of one role share it and split the
    # partitions; each role needs its own, or its workers would take partitions from the other's.
    worker_group: str = "cinestream"
    # Micro-batch of the learning agent (streams/take.py): up to this many messages; a batch closes
    # `batch_window_ms` after its last message, unless Kafka holds a backlog on a partition it reads,
    # in which case it keeps filling for up to `batch_busy_window_ms`: batches grow with load only.
    batch_max_messages: int = 2000
    batch_window_ms: float = 0.5  # a lone rating waits this long for company: freshness is the window plus a batch
    batch_busy_window_ms: float = 30.0
    batch_busy_messages: int = 20  # a backlog, not the next message already in flight under steady load
    # Rows a learning worker keeps from its last batches to skip their read (storage/row_cache.py):
    # a few hundred bytes each with 32 factors.
    model_cache_rows: int = 200_000
    # The side models (trending, similarity, history) are not read within milliseconds: longer batches.
    side_window_ms: float = 100.0
    # Similarity rewrites each touched movie's whole row per batch: a longer window sums more pairs
    # into each row, so Redis (and its AOF) writes each row less often; "watched together" lists need not
    # move within seconds. A window holds a trickle only: a batch that saw a backlog closes once it is
    # read (streams/take.py, side_batches).
    similarity_window_ms: float = 5000.0

    # The scheduler (jobs/scheduler.py) refits the ranker every list is served by when the
    # schedule says so, when the stream learned `refit_after_events` more events, or when a drift was
    # flagged, never sooner than `refit_min_gap_s` after the last; it checks every `refit_check_s`.
    # A candidate is judged on the newest `refit_holdout` share of ratings and goes live unless its
    # NDCG@10 is more than `refit_margin` (a share) worse than the live version's (online_models/gate.py).
    refit_every_s: float = 6 * 3600.0
    refit_after_events: int = 100_000
    refit_on_drift: bool = True
    refit_check_s: float = 30.0
    refit_min_gap_s: float = 600.0  # drift flags come in storms under a changing load: one refit answers them
    refit_holdout: float = Field(default=0.1, gt=0, lt=0.5)
    refit_margin: float = Field(default=0.05, ge=0, lt=1)
    # Events whose source starts with one of these are simulated people (`cinestream load`, the
    # benches' probes and soaks): left out of what a refit fits and judges, or a load of invented
    # people with current timestamps would be the whole holdout the gate judges on.
    refit_skip_sources: tuple[str, ...] = ("load", "probe", "soak")

    _external: frozenset[str] = PrivateAttr(default=frozenset())

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Server processes (uvicorn workers) sharing the port; each holds its own copy of the catalogue
    # and the item factors. 0: one per core, up to 4 (bench/api_latency.py measured 1 against 2).
    api_workers: int = Field(default=1, ge=0, le=64)
    # Past capacity (the event loop's ticks this many ms late, three in a row) the routes that rank and
    # search answer 503 with Retry-After (api/admission.py); 0: never refuse.
    api_shed_lag_ms: int = Field(default=50, ge=0)
    # ... and past this many of them in flight in one process; 0: no cap. Ranking is CPU work, so more at once
    # adds no throughput, only a longer turn of the event loop for every request, event intake included
    # (measured by bench/overload.py; docs/operate.md, "Past capacity").
    api_max_in_flight: int = Field(default=16, ge=0)
    # CPU priority (nice) of stream workers: where they share cores with the API, requests come
    # first and the stream catches up from Kafka (it loses nothing by waiting). 0 leaves it alone.
    worker_nice: int = Field(default=10, ge=0, le=19)
    # On one machine shared with the API (the main job): the stream workers and FerretDB under
    # SCHED_IDLE in an idle CPU cgroup (deploy/local/background.py), so they run only on CPU time the
    # API and Redis leave (niced, they still took turns from requests: docs/benchmarks.md, "Serving at
    # the speed of Redis"). Nothing is lost: Kafka holds what they have not read. Off where they have
    # machines of their own, and for the tests.
    background_idle: bool = False

    # Accounts and secrets. Outside "development" every secret must be set (start-up refuses
    # otherwise); in development each missing one is generated once and kept under the stack folder,
    # readable by its owner only (core/secrets.py).
    environment: Literal["development", "production"] = "development"
    jwt_secret: SecretStr | None = None
    # AES-256-GCM keys for personal fields, "kid:base64key" comma-separated; the first encrypts.
    data_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None  # HMAC key of the e-mail lookup index
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # Rate limits (Redis, fixed windows): attempts per window; log-in backs off by doubling windows.
    login_attempts_per_minute: int = 10
    registrations_per_hour: int = 20
    # A person's events (the web app's rating and watch routes): a person rates a few films a minute.
    events_per_minute: int = 600
    # A service key's events a second when its creator set none: a platform sends every member's events
    # through one key, tens of thousands a second at peak (the stream learns 50,000 a second).
    service_events_per_second: int = Field(default=20_000, ge=1)
    # Accounts created here get ids from this value up, above any MovieLens release's user ids
    # (ml-32m's largest is 200,948), so they never collide with imported users.
    first_account_id: int = 1_000_000_000

    # Show tracebacks of the `cinestream` command instead of its one-line errors.
    debug: bool = False

    # Catalogue statistics: prior weight of the Bayesian-shrunk mean (in ratings).
    shrinkage_ratings: float = 10.0

    @model_validator(mode="after")
    def _local_addresses_follow_ports(self) -> Settings:
        """Unset addresses point at the local stack, on whatever ports it was given."""
        self._external = frozenset(
            name for name in ("kafka", "mongo", "redis") if _ADDRESS_FIELD[name] in self.model_fields_set
        )
        if self.kafka_sasl is None:
            self.kafka_sasl = self.kafka_brokers > 1
        if "kafka_bootstrap" not in self.model_fields_set:
            self.kafka_bootstrap = ",".join(f"127.0.0.1:{port}" for port, _ in self.kafka_node_ports)
        if "mongo_uri" not in self.model_fields_set:
            self.mongo_uri = f"mongodb://127.0.0.1:{self.mongo_port}"
        if "redis_url" not in self.model_fields_set:
            self.redis_url = f"redis://{self._redis_credentials()}127.0.0.1:{self.redis_port}/0"
        return self

    def _redis_credentials(self) -> str:
        """``user:password@`` for the local Redis when it runs with ACL users, else nothing."""
        if not self.redis_acl:
            return ""
        from core import local_credentials

        secret = (self.redis_password.get_secret_value() if self.redis_password
                  else local_credentials.passwords(self.stack_dir, "redis", REDIS_PRINCIPALS)[self.redis_user])
        return f"{self.redis_user}:{quote(secret, safe='')}@"

    @property
    def kafka_node_ports(self) -> list[tuple[int, int]]:
        """(client, controller) port of each local Kafka node."""
        return [(self.kafka_port + 100 * i, self.kafka_controller_port + 100 * i) for i in range(self.kafka_brokers)]

    @property
    def topic_replication(self) -> int:
        return self.kafka_replication or min(3, self.kafka_brokers)

    @property
    def topic_min_insync(self) -> int:
        """In-sync replicas a write needs: two of three or more, so one broker may be down."""
        return 2 if self.topic_replication >= 3 else 1

    def is_external(self, server: str) -> bool:
        """True when the user pointed us at a server of theirs (so the stack must not start one)."""
        return server in self._external

    @property
    def generated_dir(self) -> Path:
        """Where ``cinestream data generate`` writes synthetic releases (the data dir may be a shared,
        read-only copy)."""
        return self.cache_dir / "generated"

    def release_dir(self, name: str) -> Path:
        """The folder of release ``name``: under the data dir, else a generated one, else where a fetch puts it."""
        for folder in (self.data_dir / name, self.generated_dir / name):
            if folder.is_dir():
                return folder
        return self.data_dir / name

    @property
    def reports_dir(self) -> Path:
        return self.stack_dir / "reports"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


# A server process (the API) runs one BLAS thread: a request's products are small, and OpenBLAS's second
# thread spinning after each of them took the core Redis and the other requests needed
# (docs/benchmarks.md, "Serving at the speed of Redis").
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
