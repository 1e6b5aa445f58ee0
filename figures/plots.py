"""Figures people would rather see than read, rendered to PNG bytes (matplotlib, no display)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def learning_curve_png(points: Sequence[dict[str, Any]], title: str = "Online MF: prequential error") -> bytes:
    """Per-batch RMSE/MAE against events learned, a smoothed RMSE, and ADWIN's drift marks."""
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    if points:
        n = np.array([p["n"] for p in points], dtype=float)
        rmse = np.array([p["rmse"] for p in points])
        mae = np.array([p["mae"] for p in points])
        ax.plot(n, rmse, color="#9bbbe0", linewidth=0.8, label="RMSE per batch")
        ax.plot(n, mae, color="#f0c08a", linewidth=0.8, label="MAE per batch")
        window = max(1, len(points) // 50)
        smooth = np.convolve(rmse, np.ones(window) / window, mode="valid")
        ax.plot(n[window - 1:], smooth, color="#1f4e8c", linewidth=2, label=f"RMSE, mean of {window} batches")
        drifts = n[[bool(p["drift"]) for p in points]]
        for x in drifts:
            ax.axvline(x, color="#c0392b", alpha=0.35, linewidth=1)
        if len(drifts):
            ax.plot([], [], color="#c0392b", alpha=0.5, label=f"ADWIN drift ({len(drifts)})")
        ax.set_ylim(0, min(2.0, float(np.percentile(rmse, 99)) * 1.2))
    else:
        ax.text(0.5, 0.5, "no events learned yet", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, ax, "events learned", "error (stars)", title, legend_size=8 if points else None)


def precision_recall_png(curves: Sequence[dict[str, Any]], title: str = "Precision–recall, top 1…50") -> bytes:
    """One line per model: mean precision@k against mean recall@k for k = 1 … depth."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = plt.get_cmap("tab20")
    for j, curve in enumerate(curves):
        if not curve["recall"]:
            continue
        ax.plot(curve["recall"], curve["precision"], color=colours(j % 20), linewidth=1.6,
                label=curve["name"], marker="o", markevery=[9] if len(curve["recall"]) > 9 else None, markersize=4)
    return _finish(fig, ax, "recall@k", "precision@k", f"{title} (dot: k = 10)", legend_size=7)


def _finish(fig: Any, ax: Any, xlabel: str, ylabel: str, title: str, legend_size: int | None) -> bytes:
    """Labels, grid, legend, then the figure as PNG bytes (and closed: pyplot keeps every open figure)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend_size:
        ax.legend(loc="upper right", fontsize=legend_size)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
