"""Decoding cost of the event formats, per event, over the ml-latest-small replay.

Decodes and validates the replay's messages into one batch of numpy columns, as the agents do
(``streams.micro_batch.collect``), in the columnar version 2 the replay writes and in version 1 (one
JSON object per event); the reference is the standard library's ``json.loads`` of the version-1
bytes, which parses without checking anything. Prints events/s and the ratios.
Usage: ``python -m bench.parse_events``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from bench import record
from contracts.events import EventLists, decode_message, encode_events
from core.settings import get_settings
from simulators.replay import envelopes, load_ratings
from streams.event_columns import EventColumns


def best_of(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def as_version_1(payload: bytes) -> bytes:
    columns = json.loads(payload)
    events = [{"type": "rating", "event_id": e, "user_id": u, "movie_id": m, "rating": r, "timestamp": t,
               "source": columns["source"]}
              for e, u, m, r, t in zip(columns["event_id"], columns["user_id"], columns["movie_id"],
                                       columns["rating"], columns["timestamp"], strict=True)]
    return encode_events(events)


def columns_of(messages: list[bytes]) -> EventColumns:
    parts = [decode_message(raw) for raw in messages]
    return EventColumns.of([p for p in parts if isinstance(p, EventLists)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--repeats", type=int, default=5)
    record.add_option(parser)
    args = parser.parse_args()
    ratings = load_ratings(get_settings().data_dir / args.dataset / "ratings.csv")
    v2 = [payload for _, payload, _ in envelopes(ratings, 200, "replay", 8)]
    v1 = [as_version_1(payload) for payload in v2]
    n = len(ratings)
    assert len(columns_of(v2)) == len(columns_of(v1)) == n
    rates = {
        "version 2 (columns), decoded and validated": n / best_of(args.repeats, lambda: columns_of(v2)),
        "version 1 (an object per event), decoded and validated": n / best_of(args.repeats, lambda: columns_of(v1)),
        "reference: json.loads of version 1, no validation": n / best_of(args.repeats,
                                                                         lambda: [json.loads(raw) for raw in v1]),
    }
    print(f"{n:,} events in {len(v2):,} messages; bytes: version 2 {sum(map(len, v2)):,}, "
          f"version 1 {sum(map(len, v1)):,}")
    for name, rate in rates.items():
        print(f"{name}: {rate:,.0f} events/s")
    reference = rates["reference: json.loads of version 1, no validation"]
    print("ratios to the reference: " + ", ".join(f"{name.split(' (')[0]} {rate / reference:.2f}"
                                                  for name, rate in list(rates.items())[:2]))
    if args.record:
        v2_rate, v1_rate = list(rates.values())[:2]
        record.write("parse-events", f"event decoding and validation, the {args.dataset} replay's {len(v2):,} "
                                     "messages", {"version 2 events/s": v2_rate, "version 1 events/s": v1_rate,
                                                  "json.loads events/s": reference,
                                                  "version 2 / json.loads": v2_rate / reference},
                     "json.loads: merely parsing version 1, no validation (best of the repeats)")


if __name__ == "__main__":
    main()
