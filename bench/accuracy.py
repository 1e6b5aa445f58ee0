"""Our recommenders next to the libraries a practitioner would pick, on one split, in one run.

    python -m bench.accuracy --dataset ml-latest-small      # or ml-100k, ml-1m (after `data fetch`)
    python -m bench.accuracy --dataset ml-1m-synthetic      # after `cinestream data generate ml-1m-synthetic`
    python -m bench.accuracy --split temporal --last-share 0.2   # each person's last 20 % held out

Prints RMSE, MAE, P@10, R@10, NDCG@10 (and more) and fit time per model, then our figures as
ratios against the references measured in the same run: best rating RMSE against Surprise SVD,
best NDCG@10 against implicit's ALS, and our ALS fit time against implicit's. Writes the table
as JSON and the precision–recall curves of all models as one PNG (shown in the web app).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console

from bench import record
from bench.references import (
    CornacEASE,
    ImplicitLibraryALS,
    RiverBiasedMF,
    SurpriseKNNBaseline,
    SurpriseSVD,
    SurpriseSVDpp,
)
from core.settings import get_settings
from evaluation.lineup import our_models
from evaluation.report import save, table
from evaluation.run import prepare, run
from evaluation.suite import Result
from recommenders.base import Recommender
from recommenders.content import TEXT_WEIGHT
from recommenders.hybrid import Hybrid
from recommenders.production import Factory

REFERENCES: dict[str, Factory] = {"Surprise SVD": SurpriseSVD, "Surprise SVD++": SurpriseSVDpp,
                                  "Surprise KNNBaseline": SurpriseKNNBaseline,
                                  "river BiasedMF": RiverBiasedMF, "implicit ALS (library)": ImplicitLibraryALS,
                                  "Cornac EASE": CornacEASE}

SVDPP_MAX_RATINGS = 300_000  # one Python-speed pass per rating and epoch, each over the person's whole N(u)


def ratios(results: list[Result], fitted: dict[str, Recommender], console: Console) -> dict[str, float]:
    by_name = {r.name: r for r in results}
    ours = [r for r in results if r.name not in REFERENCES and r.name != "popularity"]
    out: dict[str, float] = {}
    raters = [r for r in ours if r.rmse is not None]
    svd = by_name.get("Surprise SVD")
    if raters and svd and svd.rmse:
        best = min(raters, key=lambda r: r.rmse or 9.0)
        out["rmse_best_over_surprise_svd"] = (best.rmse or 0.0) / svd.rmse
        console.print(f"best rating model: {best.name} RMSE {best.rmse:.4f}; Surprise SVD {svd.rmse:.4f}; "
                      f"ratio {out['rmse_best_over_surprise_svd']:.3f} (goal ≤ 0.93)")
        svdpp = by_name.get("Surprise SVD++")
        if svdpp and svdpp.rmse:
            out["rmse_best_over_surprise_svdpp"] = (best.rmse or 0.0) / svdpp.rmse
            console.print(f"Surprise SVD++ RMSE {svdpp.rmse:.4f}: ratio {out['rmse_best_over_surprise_svdpp']:.3f} "
                          "(goal ≤ 1)")
    reference = by_name.get("implicit ALS (library)")
    if ours and reference:
        best = max(ours, key=lambda r: r.ranking["NDCG@10"])
        out["ndcg_best_over_implicit"] = best.ranking["NDCG@10"] / reference.ranking["NDCG@10"]
        console.print(f"best ranking model: {best.name} NDCG@10 {best.ranking['NDCG@10']:.4f}; implicit ALS "
                      f"{reference.ranking['NDCG@10']:.4f}; ratio {out['ndcg_best_over_implicit']:.3f} (goal ≥ 1.15, "
                      "temporal ≥ 1.25)")
    cornac, ease = by_name.get("Cornac EASE"), by_name.get("EASE")
    if cornac and ease:
        out["ease_over_cornac_ease"] = ease.ranking["NDCG@10"] / cornac.ranking["NDCG@10"]
        console.print(f"EASE: ours NDCG@10 {ease.ranking['NDCG@10']:.4f}, Cornac's {cornac.ranking['NDCG@10']:.4f}; "
                      f"ratio {out['ease_over_cornac_ease']:.3f} (goal ≥ 0.98)")
    library, mine = fitted.get("implicit ALS (library)"), by_name.get("implicit ALS")
    if isinstance(library, ImplicitLibraryALS) and mine:
        out["als_fit_over_implicit"] = mine.fit_seconds / library.seconds
        console.print(f"ALS fit time: ours {mine.fit_seconds:.3f}s, implicit {library.seconds:.3f}s (same factors "
                      f"and iterations); ratio {out['als_fit_over_implicit']:.2f} (goal ≤ 2)")
    hybrid = fitted.get("hybrid")
    if isinstance(hybrid, Hybrid):
        console.print(f"hybrid weights: ratings {np.round(hybrid.rating_weights, 3).tolist()} (intercept, SVD, ALS, "
                      f"item-kNN, content); ranking {list(hybrid.ranking_weights)} (implicit ALS, popularity, "
                      f"content)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--split", choices=["random", "temporal"], default="random")
    parser.add_argument("--test-share", type=float, default=0.2, help="random split: share of ratings held out")
    parser.add_argument("--last", type=int, default=5, help="temporal split: each user's last N ratings held out")
    parser.add_argument("--last-share", type=float, default=None,
                        help="temporal split: each user's last share of ratings held out instead (0.2: the last 20%%)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="run only these models (names as printed)")
    parser.add_argument("--no-text", action="store_true", help="skip the overview-embedding content model")
    parser.add_argument("--text-weight", type=float, default=TEXT_WEIGHT)
    record.add_option(parser)
    args = parser.parse_args()
    console = Console(width=None if Console().is_terminal else 170)
    settings = get_settings()
    prepared = prepare(settings.data_dir, args.dataset, args.split, args.test_share, args.last, args.seed,
                       embed=not args.no_text, cache_dir=settings.cache_dir, text_weight=args.text_weight,
                       last_share=args.last_share, releases=settings.release_dir(args.dataset).parent)
    console.print(prepared.describe())
    factories = {n: f for n, f in {**our_models(prepared.vectors, args.seed, prepared.with_text), **REFERENCES}.items()
                 if not args.only or n in args.only}
    if len(prepared.train) > SVDPP_MAX_RATINGS and "Surprise SVD++" in factories:
        del factories["Surprise SVD++"]
        console.print(f"Surprise SVD++ not run: {len(prepared.train):,} training ratings (it runs up to "
                      f"{SVDPP_MAX_RATINGS:,}; Surprise's own table gives about 35 minutes a fit at ml-1m)")
    results, fitted = run(factories, prepared, console)
    console.print(table(results, f"{prepared.describe()}; relevant = rated ≥ 4"))
    figures = ratios(results, fitted, console)
    share = f"-last{round(args.last_share * 100)}pct" if args.last_share else ""
    name = f"accuracy-{args.dataset}-{args.split}{share}"
    written = save(results, settings.reports_dir, name,
                   {"dataset": args.dataset, "split": prepared.split, "ratios": figures})
    console.print(f"wrote {written[0]} and {written[1]}")
    if args.record:
        record.write(name, f"offline accuracy, {prepared.describe()}",
                     figures, "ratios: our best to Surprise SVD (RMSE), to implicit ALS (NDCG@10, fit time)",
                     {r.name: {k: float(v) for k, v in {"RMSE": r.rmse, "MAE": r.mae, **r.ranking,
                                                        "fit s": r.fit_seconds}.items() if v is not None}
                      for r in results})


if __name__ == "__main__":
    main()
