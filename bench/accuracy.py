"""Our recommenders next to the libraries a practitioner would pick, on one split, in one run.

    python -m bench.accuracy --dataset ml-latest-small      # or ml-100k, ml-1m (after `data fetch`)

Prints RMSE, MAE, P@10, R@10, NDCG@10 (and more) and fit time per model, then our figures as
ratios against the references measured in the same run: best rating RMSE against Surprise SVD,
best NDCG@10 against implicit's ALS, and our ALS fit time against implicit's. Writes the table
as JSON and the precision–recall curves of all models as one PNG (shown in the web app).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress

from bench.references import ImplicitLibraryALS, RiverBiasedMF, SurpriseKNNBaseline, SurpriseSVD
from cinestream.settings import get_settings
from evaluation.datasets import load_documents, load_ratings
from evaluation.lineup import Factory, content_vectors, genre_vectors, our_models
from evaluation.report import save, table
from evaluation.splits import random_split, temporal_split
from evaluation.suite import RankingTask, Result, evaluate
from recommenders.als import ImplicitALS
from recommenders.base import Recommender
from recommenders.data import Ratings
from recommenders.hybrid import Hybrid

REFERENCES = {"Surprise SVD": SurpriseSVD, "Surprise KNNBaseline": SurpriseKNNBaseline,
              "river BiasedMF": RiverBiasedMF, "implicit ALS (library)": ImplicitLibraryALS}


def warm_up() -> None:
    """Load numba's compiled ALS kernel (cached on disk after the first run) before anything is timed."""
    tiny, _, _ = Ratings.from_ids([1, 1, 2], [1, 2, 1], [4.0, 3.0, 5.0])
    ImplicitALS(factors=2, iterations=1).fit(tiny)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--split", choices=["random", "temporal"], default="random")
    parser.add_argument("--test-share", type=float, default=0.2, help="random split: share of ratings held out")
    parser.add_argument("--last", type=int, default=5, help="temporal split: each user's last N ratings held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="run only these models (names as printed)")
    args = parser.parse_args()
    console = Console(width=None if Console().is_terminal else 170)
    settings = get_settings()

    frame = load_ratings(settings.data_dir, args.dataset)
    documents = load_documents(settings.data_dir, args.dataset)
    data, _, item_ids = Ratings.from_ids(frame.userId, frame.movieId, frame.rating, frame.timestamp)
    train, test = (random_split(data, args.test_share, args.seed) if args.split == "random"
                   else temporal_split(data, args.last))
    console.print(f"{args.dataset}: {len(data):,} ratings, {data.n_users:,} users, {data.n_items:,} movies; "
                  f"{args.split} split seed {args.seed}: train {len(train):,}, test {len(test):,}")
    vectors, genres = content_vectors(item_ids, documents), genre_vectors(item_ids, documents)
    warm_up()

    factories: dict[str, Factory] = {**our_models(vectors, args.seed), **REFERENCES}
    names = [n for n in factories if not args.only or n in args.only]
    task = RankingTask.from_split(train, test)
    results: list[Result] = []
    fitted: dict[str, Recommender] = {}
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("evaluating", total=len(names))
        for name in names:
            bar.update(job, description=f"fitting and scoring {name}")
            model = factories[name]()
            started = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - started
            result = evaluate(model, train, test, item_vectors=genres, fitted=True, fit_seconds=seconds, task=task)
            result.name = name
            results.append(result)
            fitted[name] = model
            bar.advance(job)

    console.print(table(results, f"{args.dataset}, {args.split} split (seed {args.seed}); relevant = rated ≥ 4"))
    by_name = {r.name: r for r in results}
    ours = [r for r in results if r.name not in REFERENCES and r.name != "popularity"]
    ratios: dict[str, float] = {}
    raters = [r for r in ours if r.rmse is not None]
    if raters and "Surprise SVD" in by_name:
        best = min(raters, key=lambda r: r.rmse or 9)
        ratios["rmse_best_over_surprise_svd"] = (best.rmse or 0) / (by_name["Surprise SVD"].rmse or 1)
        console.print(f"best rating model: {best.name} RMSE {best.rmse:.4f}; Surprise SVD "
                      f"{by_name['Surprise SVD'].rmse:.4f}; ratio {ratios['rmse_best_over_surprise_svd']:.3f} "
                      f"(goal ≤ 0.97)")
    if ours and "implicit ALS (library)" in by_name:
        best = max(ours, key=lambda r: r.ranking["NDCG@10"])
        reference = by_name["implicit ALS (library)"]
        ratios["ndcg_best_over_implicit"] = best.ranking["NDCG@10"] / reference.ranking["NDCG@10"]
        console.print(f"best ranking model: {best.name} NDCG@10 {best.ranking['NDCG@10']:.4f}; implicit ALS "
                      f"{reference.ranking['NDCG@10']:.4f}; ratio {ratios['ndcg_best_over_implicit']:.3f} (goal ≥ 1)")
        library = fitted["implicit ALS (library)"]
        if "implicit ALS" in by_name and isinstance(library, ImplicitLibraryALS):
            ratios["als_fit_over_implicit"] = by_name["implicit ALS"].fit_seconds / library.seconds
            console.print(f"ALS fit time: ours {by_name['implicit ALS'].fit_seconds:.3f}s, implicit "
                          f"{library.seconds:.3f}s (same factors and iterations); ratio "
                          f"{ratios['als_fit_over_implicit']:.2f} (goal ≤ 2)")
    hybrid = fitted.get("hybrid")
    if isinstance(hybrid, Hybrid):
        console.print(f"hybrid weights: ratings {np.round(hybrid.rating_weights, 3).tolist()} "
                      f"(intercept, SVD, ALS, item-kNN, content); ranking "
                      f"{list(hybrid.ranking_weights)} (implicit ALS, popularity, content)")
    stem = f"accuracy-{args.dataset}-{args.split}"
    data_path, png = save(results, settings.reports_dir, stem,
                          {"dataset": args.dataset, "split": args.split, "seed": args.seed, "ratios": ratios})
    console.print(f"wrote {data_path} and {png}")


if __name__ == "__main__":
    main()
