"""What the stream costs Redis per event, against the running main job: AOF bytes and Redis CPU.

Drives ``cinestream load`` at a fixed rate for a bounded time and reads Redis' own counters: the
append-only file's growth (sampled every 0.25 s, so a rewrite that shrinks the file mid-run is not
counted against it), ``used_cpu_user + used_cpu_sys``, and ``INFO commandstats`` for the commands
that took most of Redis' time (commands run inside scripts count under their own names). The AOF
is what Redis writes and rewrites for every change; its CPU is time the API's reads wait behind.

Usage: ``python -m bench.redis_cost --rate 2000 --seconds 30`` (resets Redis' command statistics).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import redis

from bench import record
from bench.tools import still_running
from core.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s of the load generator")
    parser.add_argument("--seconds", type=int, default=30)
    record.add_option(parser)
    args = parser.parse_args()
    client = redis.Redis.from_url(get_settings().redis_url)
    with tempfile.TemporaryFile() as errors:  # the load's own words, should it stop early
        load = subprocess.Popen([sys.executable, "-m", "cli.main", "load", "--rate", f"{args.rate:g}",
                                 "--duration", str(args.seconds + 5)], stdout=subprocess.DEVNULL, stderr=errors)

        def load_running() -> None:
            still_running(load, errors, "the load")

        try:
            time.sleep(5)  # the generator's start-up
            load_running()
            client.config_resetstat()
            cpu = client.info("cpu")
            cpu0 = cpu["used_cpu_user"] + cpu["used_cpu_sys"]
            last, grown, started = client.info("persistence")["aof_current_size"], 0, time.monotonic()
            while time.monotonic() < started + args.seconds:
                time.sleep(0.25)
                size = client.info("persistence")["aof_current_size"]
                grown += max(size - last, 0)
                last = size
                load_running()
            elapsed = time.monotonic() - started
            cpu = client.info("cpu")
            busy = (cpu["used_cpu_user"] + cpu["used_cpu_sys"] - cpu0) / elapsed
            stats = client.info("commandstats")
        finally:
            load.wait()
    events = args.rate * elapsed
    print(f"{args.rate:g} events/s for {elapsed:.0f} s: AOF {grown / elapsed / 1e6:.2f} MB/s, "
          f"{grown / events:,.0f} B an event; Redis {busy:.1%} of a core")
    for name, figures in sorted(stats.items(), key=lambda kv: -kv[1]["usec"])[:6]:
        print(f"  {name.removeprefix('cmdstat_'):>10}: {figures['calls']:,} calls, "
              f"{figures['usec_per_call']:.1f} us a call, {figures['usec'] / 1e6 / elapsed:.1%} of a core")
    if args.record:
        record.write("redis-cost", f"what the stream costs Redis, `cinestream load` at {args.rate:g} events/s for "
                                   f"{elapsed:.0f} s against the main job",
                     {"AOF MB/s": grown / elapsed / 1e6, "AOF bytes an event": grown / events,
                      "Redis share of a core": busy},
                     "Redis' own counters: the append-only file's growth and its CPU time",
                     {name.removeprefix("cmdstat_"): {"calls": float(f["calls"]),
                                                      "µs a call": float(f["usec_per_call"]),
                                                      "share of a core": f["usec"] / 1e6 / elapsed}
                      for name, f in sorted(stats.items(), key=lambda kv: -kv[1]["usec"])[:6]})


if __name__ == "__main__":
    main()
