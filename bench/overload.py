"""Past capacity without failing: recommendations at 2× and 4× what the API serves, with events flowing.

The capacity is measured first, in the same run: the highest rate of a ladder (``--ladder``) at which
the API refused under 1 % and answered 99 % within ``CAPACITY_P99_MS``. Then for each multiple of it,
vegeta drives recommendations open-loop for ``--seconds`` while a second vegeta POSTs events to the
batch endpoint (distinct ids, ``EVENTS_PER_REQUEST`` a request) at ``--events`` events/s throughout,
as a platform keeps sending while its people pile in. When the overload ends, a probe at
``PROBE_RATE`` requests/s measures the recovery: from the overload's last request to the first probe
from which every answer is a 200 within ``RECOVERED_MS``.

Checked, and the bench stops with the reason when one fails: the event load ran throughout (vegeta
still running when the overload ended, and every POST answered); then printed per multiple: requests
sent and their answers (200, 503, timeouts, other), the slowest answer, recovery; and at the end that
every event the API accepted was applied by every agent (``storage.applied_counts``), within
``LEARN_WAIT_S``.

Usage (with ``bash scripts/main.sh`` running, and nothing else sending events):
``python -m bench.overload [--capacity N] [--multiples 2,4] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from rich.console import Console
from rich.table import Table

from bench import record
from bench.api_latency import PEOPLE, POPULAR, WARM_RATE, service_key
from bench.tools import vegeta
from bench.whole_system import EVERY_EVENT, role_applied
from core.settings import get_settings
from storage import applied_counts

EVENTS_PER_REQUEST = 10
CAPACITY_P99_MS = 100.0
PROBE_RATE, PROBE_S = 50, 10
RECOVERED_MS = 100.0
ANSWER_WITHIN_S = 1.0
LEARN_WAIT_S = 60.0
console = Console(width=160)


@dataclass
class Results:
    """Every answer of one vegeta run: when it was sent (s, epoch), status (0: none), latency (s), body."""

    sent: np.ndarray
    codes: np.ndarray
    latency: np.ndarray
    bodies: list[bytes]

    def summary(self) -> dict[str, float]:
        served = self.codes == 200
        return {"sent": len(self.codes), "requests/s": len(self.codes) / max(np.ptp(self.sent), 1e-9),
                "200": int(served.sum()), "503": int((self.codes == 503).sum()),
                "timeouts": int((self.codes == 0).sum()),
                "other": int((~np.isin(self.codes, (0, 200, 503))).sum()),
                "p50 ms 200": float(np.percentile(self.latency[served], 50) * 1e3) if served.any() else np.nan,
                "p99 ms 200": float(np.percentile(self.latency[served], 99) * 1e3) if served.any() else np.nan,
                "max ms": float(self.latency.max() * 1e3)}


def decode(raw: bytes) -> Results:
    """vegeta's results, one JSON object a request (``vegeta encode``)."""
    lines = [json.loads(line) for line in subprocess.run([str(vegeta()), "encode"], input=raw, capture_output=True,
                                                         check=True).stdout.splitlines() if line]
    sent = pd.to_datetime([r["timestamp"] for r in lines], utc=True).astype("int64").to_numpy() / 1e9
    return Results(np.asarray(sent), np.array([r["code"] for r in lines]),
                   np.array([r["latency"] for r in lines]) / 1e9,
                   [base64.b64decode(r["body"] or b"") for r in lines])


def _targets(lines: list[dict[str, Any]]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as f:
        f.write("\n".join(json.dumps(t) for t in lines) + "\n")
        return f.name


def attack(targets: str, rate: float, seconds: float, *extra: str) -> subprocess.Popen[bytes]:
    """vegeta open-loop over ``targets`` (JSON format), answers awaited at most 10 s."""
    return subprocess.Popen([str(vegeta()), "attack", "-format=json", f"-targets={targets}", f"-rate={rate:g}/s",
                             f"-duration={seconds:g}s", "-timeout=10s", "-keepalive=true", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(proc: subprocess.Popen[bytes], what: str) -> Results:
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"vegeta ({what}) failed: {err.decode(errors='replace')[-500:]}")
    return decode(out)


class Load:
    """The targets: people's lists, and event batches with ids unique to this run."""

    def __init__(self, base: str, key: str, events_rate: float) -> None:
        header = {"Authorization": [f"Bearer {key}"]}
        rng = np.random.default_rng(0)
        self.lists = _targets([{"method": "GET", "url": f"{base}/api/users/{u}/recommendations?k=10",
                                "header": header} for u in rng.integers(1, PEOPLE + 1, 5000).tolist()])
        self.base, self.header, self.events_rate = base, header, events_rate
        self.run, self.sent_batches = uuid.uuid4().hex[:8], 0
        self.rng = rng

    def event_targets(self, seconds: float) -> str:
        """Batches for ``seconds`` of the event load, with ids never sent before."""
        now = time.time()
        batches = []
        for r in range(self.sent_batches, self.sent_batches + int(self.events_rate / EVENTS_PER_REQUEST * seconds) + 1):
            events = [{"type": "rating", "event_id": f"overload-{self.run}-{r}-{j}",
                       "user_id": int(self.rng.integers(1, PEOPLE + 1)), "movie_id": int(self.rng.choice(POPULAR)),
                       "rating": float(self.rng.integers(1, 11)) / 2, "timestamp": now}
                      for j in range(EVENTS_PER_REQUEST)]
            batches.append({"method": "POST", "url": f"{self.base}/api/events/batch",
                            "header": {**self.header, "Content-Type": ["application/json"]},
                            "body": base64.b64encode(json.dumps({"events": events}).encode()).decode()})
        self.sent_batches += len(batches)
        return _targets(batches)

    @contextmanager
    def events_flowing(self, seconds: float) -> Iterator[list[Results]]:
        """Events POSTed for ``seconds`` around the block; the block must end before they do."""
        targets = self.event_targets(seconds)
        try:
            proc = attack(targets, self.events_rate / EVENTS_PER_REQUEST, seconds)
            out: list[Results] = []
            time.sleep(1)
            if proc.poll() is not None:
                said = proc.communicate()[1].decode(errors="replace")[-500:]
                raise SystemExit(f"the event load did not start: {said}")
            yield out
            if proc.poll() is not None:
                raise SystemExit("the event load stopped before the overload ended: the figures are not under load")
            out.append(finished(proc, "events"))
        finally:
            Path(targets).unlink(missing_ok=True)

    def cleanup(self) -> None:
        Path(self.lists).unlink(missing_ok=True)


def accepted(results: Results) -> int:
    """Events the API accepted (its answers' own counts)."""
    return sum(json.loads(b)["accepted"] for b, c in zip(results.bodies, results.codes, strict=True) if c == 200)


def recovery(overload: Results, probe: Results) -> float:
    """Seconds from the overload's last request to the first probe from which every answer is a quick 200."""
    good = (probe.codes == 200) & (probe.latency * 1e3 < RECOVERED_MS)
    bad = np.flatnonzero(~good)
    first = 0 if not len(bad) else bad[-1] + 1
    if first >= len(probe.codes):
        return float("inf")
    return max(0.0, float(probe.sent[first] - overload.sent.max()))


def step(load: Load, rate: float, seconds: float) -> tuple[Results, Results, Results]:
    """Recommendations at ``rate`` for ``seconds`` with events flowing, then the recovery probe."""
    with load.events_flowing(seconds + 3) as events:
        over = finished(attack(load.lists, rate, seconds), f"recommendations at {rate:g}/s")
        probe = finished(attack(load.lists, PROBE_RATE, PROBE_S), "probe") if rate else over
    time.sleep(0.5)
    return over, probe, events[0]


def measure_capacity(load: Load, ladder: list[float], seconds: float) -> float:
    capacity = 0.0
    for rate in ladder:
        over, _, _ = step(load, rate, seconds)
        s = over.summary()
        ok = s["503"] + s["timeouts"] + s["other"] < 0.01 * s["sent"] and s["p99 ms 200"] <= CAPACITY_P99_MS
        console.print(f"  {rate:g}/s: p99 {s['p99 ms 200']:.1f} ms, 503 {s['503']:,}, timeouts {s['timeouts']:,} "
                      f"-> {'within' if ok else 'past'} capacity")
        if not ok:
            break
        capacity = rate
    if not capacity:
        raise SystemExit(f"even {ladder[0]:g} requests/s is past capacity: is the main job running, and idle?")
    return capacity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=float, default=0, help="requests/s; 0: measured by the ladder first")
    parser.add_argument("--ladder", default="300,450,600,800,1000,1300")
    parser.add_argument("--multiples", default="2,4")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--events", type=float, default=2000, help="events/s POSTed throughout")
    record.add_option(parser)
    args = parser.parse_args()
    settings = get_settings()
    base = f"http://{settings.api_host}:{settings.api_port}"
    client = redis.Redis.from_url(settings.redis_url)
    before = applied_counts.read_sync(client)
    multiples = [float(m) for m in args.multiples.split(",")]
    load = Load(base, service_key(["recommendations:read", "events:write"]), args.events)
    sent_events = 0
    try:
        # each person's first list since the API started is ranked afresh: asked once before measuring
        with console.status(f"warm-up: every person's list once at {WARM_RATE} requests/s"):
            finished(attack(load.lists, WARM_RATE, 3000 / WARM_RATE), "warm-up")
        capacity = args.capacity
        if not capacity:
            console.print(f"capacity: recommendations for {args.seconds:g} s a step, {args.events:g} events/s beside")
            capacity = measure_capacity(load, [float(r) for r in args.ladder.split(",")], args.seconds)
        rows: dict[str, dict[str, float]] = {}
        for m in multiples:
            with console.status(f"{m:g}× capacity: {m * capacity:g} requests/s for {args.seconds:g} s…"):
                over, probe, events = step(load, m * capacity, args.seconds)
            if np.any(events.codes != 200):
                codes, counts = np.unique(events.codes, return_counts=True)
                raise SystemExit(f"event intake answered {dict(zip(codes.tolist(), counts.tolist(), strict=True))}: "
                                 "it must accept every batch whatever the reading load")
            sent_events += accepted(events)
            intake = events.summary()
            rows[f"{m:g}× ({m * capacity:g}/s)"] = {**over.summary(), "recovery s": recovery(over, probe),
                                                     "events accepted": accepted(events),
                                                     "intake p99 ms": intake["p99 ms 200"],
                                                     "intake max ms": intake["max ms"]}
    finally:
        load.cleanup()
    deadline = time.monotonic() + LEARN_WAIT_S
    while True:
        now = applied_counts.read_sync(client)
        since = {agent: count - before.get(agent, 0) for agent, count in now.items()}
        short = {role: sent_events - role_applied(since, role) for role in EVERY_EVENT}
        if max(short.values()) <= 0:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"accepted events not applied after {LEARN_WAIT_S:g} s, per role: {short}")
        time.sleep(0.2)
    table = Table(title=f"recommendations past capacity ({capacity:g} requests/s measured here), "
                        f"{args.events:g} events/s POSTed throughout")
    columns = list(next(iter(rows.values())))
    table.add_column("load")
    for c in columns:
        table.add_column(c, justify="right")
    for name, row in rows.items():
        table.add_row(name, *(f"{row[c]:,.1f}" if isinstance(row[c], float) else f"{row[c]:,}" for c in columns))
    console.print(table)
    agents = ", ".join(a for groups in EVERY_EVENT.values() for group in groups for a in group)
    console.print(f"every one of the {sent_events:,} events the API accepted was applied by every agent "
                  f"({agents}); a request counts as answered within {ANSWER_WITHIN_S:g} s: "
                  + ("all were" if all(r["max ms"] <= ANSWER_WITHIN_S * 1e3 for r in rows.values()) else "NOT all"))
    if args.record:
        shown = ("503", "timeouts", "max ms", "recovery s")
        record.write("overload", f"recommendations at {args.multiples.replace(',', '× and ')}× the capacity measured "
                                 f"in the same run, {args.events:g} events/s POSTed through the API throughout",
                     {"capacity requests/s": capacity}
                     | {f"{name.split(' ')[0]}: {column}": float(row[column]) for name, row in rows.items()
                        for column in shown}
                     | {"events accepted, all applied by every agent": sent_events},
                     rows={name: {c: float(v) for c, v in row.items()} for name, row in rows.items()},
                     notes=f"capacity: the highest rate of the ladder refusing under 1 % with p99 ≤ "
                           f"{CAPACITY_P99_MS:g} ms; "
                     f"recovery: seconds from the last overload request until every probe is a 200 within "
                     f"{RECOVERED_MS:g} ms")


if __name__ == "__main__":
    main()
