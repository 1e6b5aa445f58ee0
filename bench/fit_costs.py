"""Each model's fit on a whole release: wall time and peak memory, one process per model.

    python -m bench.fit_costs --dataset ml-25m-synthetic [--model NAME ...]

The release is read once; each model is then fitted on every rating in a process of its own (this
module with ``--one NAME``), so the peak RSS printed is that fit's: the ratings and content vectors it
needs are included and printed apart as the RSS before the fit. A model whose fit would need more memory than
the machine has left (``Recommender.memory_needed``: item- and user-kNN's dense matrices) is listed
as skipped with what it would need; the hybrid's ranking half, which ``model publish`` fits, is listed
beside the full hybrid. The reference, in the same run: the ``implicit`` library's ALS
(same factors and iterations as ours), beside our implicit ALS as a ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.table import Table

from bench import record
from bench.references import ImplicitLibraryALS
from core.settings import Settings
from evaluation.datasets import load_documents, load_ratings
from evaluation.lineup import our_models
from evaluation.run import too_big
from recommenders.base import Recommender
from recommenders.content import ContentBased
from recommenders.data import Ratings
from recommenders.production import content_vectors, hybrid, warm_up

REFERENCE = ImplicitLibraryALS.name
OURS = "implicit ALS"
PUBLISHED = "hybrid, ranking half (model publish)"


def prepare(dataset: str, folder: Path) -> None:
    """Read the release once and keep its ratings and content vectors in ``folder`` for the fits."""
    settings = Settings()
    where = settings.release_dir(dataset).parent
    frame = load_ratings(where, dataset)
    data, _, item_ids = Ratings.from_ids(frame.userId, frame.movieId, frame.rating, frame.timestamp)
    np.savez(folder / "ratings.npz", users=data.users, items=data.items, ratings=data.ratings,
             timestamps=data.timestamps, shape=np.array([data.n_users, data.n_items]))
    sp.save_npz(folder / "vectors.npz", content_vectors(item_ids, load_documents(where, dataset)))


def _lineup(folder: Path) -> tuple[Ratings, dict[str, Recommender]]:
    held = np.load(folder / "ratings.npz")
    n_users, n_items = (int(n) for n in held["shape"])
    data = Ratings(held["users"], held["items"], held["ratings"], held["timestamps"], n_users, n_items)
    vectors = sp.load_npz(folder / "vectors.npz").tocsr()
    models = {name: make() for name, make in our_models(vectors).items()}
    models[PUBLISHED] = hybrid(lambda: ContentBased(vectors), rate=False)
    models[REFERENCE] = ImplicitLibraryALS()
    return data, models


def _memory_gib(field: str) -> float:
    """This process' ``VmRSS`` or ``VmHWM`` (its peak) in GiB. Not ``ru_maxrss``: Linux carries it over
    from the parent through fork and exec, so every fit would show the parent's peak of reading the release."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def one(folder: Path, name: str) -> dict[str, float | str]:
    """Fit ``name`` here and say what it cost (run in a process of its own)."""
    data, models = _lineup(folder)
    model = models[name]
    before = _memory_gib("VmHWM")
    reason = too_big(model, data)
    if reason:
        return {"model": name, "skipped": reason}
    warm_up()
    started = time.perf_counter()
    model.fit(data)
    return {"model": name, "seconds": time.perf_counter() - started, "rss_before_gib": before,
            "peak_gib": _memory_gib("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--model", action="append", default=[], help="only these (repeatable)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--prepared", type=Path, help=argparse.SUPPRESS)
    record.add_option(parser)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.prepared, args.one)))
        return
    console = Console()
    with tempfile.TemporaryDirectory(prefix="fit-costs-") as scratch:
        with console.status(f"reading {args.dataset}…"):
            prepare(args.dataset, Path(scratch))
        rows = _fits(args, Path(scratch), console)
    _report(rows, args.dataset, console)
    if args.record:
        timed = {str(r["model"]): r for r in rows if "seconds" in r}
        record.write(f"fit-costs-{args.dataset}", f"each model's fit on all of {args.dataset}, a process each",
                     {f"{name}: s": float(r["seconds"]) for name, r in timed.items()}
                     | ({"our implicit ALS / implicit's time": float(timed[OURS]["seconds"])
                         / float(timed[REFERENCE]["seconds"])} if OURS in timed and REFERENCE in timed else {}),
                     "peak RSS is the process's own high-water mark, the data read included",
                     {str(r["model"]): {"fit s": float(r["seconds"]), "peak RSS GiB": float(r["peak_gib"]),
                                        "RSS before the fit GiB": float(r["rss_before_gib"])} if "seconds" in r
                      else {"skipped": str(r["skipped"])} for r in rows})


def _fits(args: argparse.Namespace, prepared: Path, console: Console) -> list[dict[str, float | str]]:
    names = args.model or [*our_models(sp.csr_matrix((0, 0))), PUBLISHED, REFERENCE]
    rows: list[dict[str, float | str]] = []
    with console.status("") as status:
        for name in names:
            status.update(f"fitting {name} on {args.dataset} in a process of its own…")
            done = subprocess.run([sys.executable, "-m", "bench.fit_costs", "--prepared", str(prepared),
                                   "--one", name], capture_output=True, text=True)
            if done.returncode:
                signal = {-9: " (killed: out of memory?)", -11: " (segmentation fault)"}.get(done.returncode, "")
                last = done.stderr.strip().splitlines()[-1:]
                rows.append({"model": name, "skipped": f"failed: exit {done.returncode}{signal}"
                                                       + (f": {last[0]}" if last else "")})
            else:
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            row = rows[-1]
            console.print(f"{name}: " + (f"skipped ({row['skipped']})" if "skipped" in row else
                                         f"{row['seconds']:.1f} s, peak RSS {row['peak_gib']:.2f} GiB"))
    return rows


def _report(rows: list[dict[str, float | str]], dataset: str, console: Console) -> None:
    table = Table("model", "fit", "peak RSS", "RSS before the fit", title=f"fits on all of {dataset}")
    for row in rows:
        if "skipped" in row:
            table.add_row(str(row["model"]), f"skipped: {row['skipped']}", "", "")
        else:
            table.add_row(str(row["model"]), f"{row['seconds']:.1f} s", f"{row['peak_gib']:.2f} GiB",
                          f"{row['rss_before_gib']:.2f} GiB")
    console.print(table)
    timed = {str(r["model"]): float(r["seconds"]) for r in rows if "seconds" in r}
    if OURS in timed and REFERENCE in timed:
        console.print(f"our implicit ALS / the implicit library's: {timed[OURS] / timed[REFERENCE]:.2f}× the time")


if __name__ == "__main__":
    main()
