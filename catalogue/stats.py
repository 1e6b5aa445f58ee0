"""Rating statistics: per movie (count, mean, Bayesian-shrunk mean) and per user (mean, std).

The shrunk mean ``(C·μ + Σr) / (C + n)`` pulls a movie with few ratings towards the global
mean μ, so a film rated 5★ once does not outrank one rated 4.6★ by two hundred people.
Per-user centring and z-scores remove each user's habit of rating high or low.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def movie_stats(ratings: pd.DataFrame, prior_weight: float) -> pd.DataFrame:
    mu = float(ratings["rating"].mean()) if len(ratings) else 0.0
    grouped = ratings.groupby("movieId")["rating"].agg(["count", "sum", "mean"])
    grouped["bayes_mean"] = (prior_weight * mu + grouped["sum"]) / (prior_weight + grouped["count"])
    return grouped.drop(columns="sum")


def user_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    # ddof=0: a user with one rating has std 0, not NaN.
    return ratings.groupby("userId")["rating"].agg(count="count", mean="mean", std=lambda r: r.std(ddof=0))


def normalise(ratings: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Add ``centred`` (r − user mean) and ``z`` ((r − mean) / std; 0 where std is 0)."""
    mean = users["mean"].reindex(ratings["userId"]).to_numpy()
    std = users["std"].reindex(ratings["userId"]).to_numpy()
    centred = ratings["rating"].to_numpy() - mean
    z = np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)
    return ratings.assign(centred=centred, z=z)
