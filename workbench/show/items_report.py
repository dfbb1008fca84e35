"""What a reviewer reads about an eval-set pilot: a confusion matrix that stays readable with
long labels, the worst failures, and the items where a candidate and the baseline disagree.

Pure rendering of :mod:`workbench.measure.items` results (DataFrames and matplotlib figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..measure.items.scoring import short_labels

__all__ = ["confusion_frame", "confusion_figure", "per_class", "disagreements", "side_by_side", "intervals"]


def confusion_frame(quality: Any, *, width: int = 24) -> pd.DataFrame:
    """Counts, expected labels as rows and answers as columns (plus ``(error)``), labels
    numbered and shortened so a wide table stays legible."""
    labels = list(quality.labels)
    short = short_labels(labels, width)
    return pd.DataFrame([list(r) for r in quality.confusion], index=pd.Index(short, name="expected"),
                        columns=pd.Index([*short, "(error)"], name="answered"))


def per_class(quality: Any) -> pd.DataFrame:
    """Precision, recall, F1, support and times predicted per class, rarest class last."""
    frame = pd.DataFrame(quality.per_class).T
    frame.index.name = "class"
    return frame[["precision", "recall", "f1", "support", "predicted"]].sort_values("support", ascending=False)


def confusion_figure(quality: Any, *, title: str = "", max_labels: int = 30) -> Any:
    """A heatmap with numbered ticks (1..n) and the full labels in a legend beside it; with
    more than ``max_labels`` classes, the most frequent ones (the rest pooled as "other")."""
    import matplotlib.pyplot as plt
    import numpy as np

    labels = list(quality.labels)
    matrix = np.array([list(r) for r in quality.confusion], dtype=float)
    if len(labels) > max_labels:  # keep the classes with most items, pool the rest
        keep = [int(i) for i in np.argsort(-matrix.sum(axis=1), kind="stable")[: max_labels - 1]]
        rest = [i for i in range(len(labels)) if i not in keep]
        rows = np.vstack([matrix[keep], matrix[rest].sum(axis=0, keepdims=True)])
        matrix = np.column_stack([rows[:, keep], rows[:, rest].sum(axis=1), rows[:, len(labels)]])
        labels = [*(labels[i] for i in keep), "(other classes)"]
    n = len(labels)
    fig, (ax, legend) = plt.subplots(1, 2, figsize=(9, max(3.0, 0.28 * n + 1.5)), width_ratios=[3, 2],
                                     layout="constrained")
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n + 1), [str(i) for i in range(1, n + 1)] + ["err"], fontsize=8)
    ax.set_yticks(range(n), [str(i) for i in range(1, n + 1)], fontsize=8)
    ax.set_xlabel("answered")
    ax.set_ylabel("expected")
    if n <= 12:
        for (r, c), v in np.ndenumerate(matrix):
            if v:
                ax.text(c, r, f"{int(v)}", ha="center", va="center", fontsize=8,
                        color="white" if v > matrix.max() / 2 else "black")
    ax.set_title(title or "Confusion matrix")
    legend.axis("off")
    legend.text(0, 1, "\n".join(short_labels(labels, 40)), va="top", fontsize=8, family="monospace")
    return fig


def disagreements(candidate: pd.DataFrame, baseline: pd.DataFrame, *, texts: Mapping[str, str] | None = None,
                  n: int = 20) -> pd.DataFrame:
    """Items where the candidate's and the baseline's answers differ, with who was right;
    ``texts``: item id -> input text, shown shortened."""
    both = candidate[["item_id", "expected", "output", "correct"]].merge(
        baseline[["item_id", "output", "correct"]], on="item_id", suffixes=("", "_baseline"))
    differ = both[both["output"].astype("string").fillna("(error)")
                  != both["output_baseline"].astype("string").fillna("(error)")].copy()
    if texts is not None:
        differ.insert(1, "text", [_short(texts.get(str(i), "")) for i in differ["item_id"]])
    # the baseline right and the candidate wrong first: what a GO would break
    differ["_order"] = (~differ["correct"]) & differ["correct_baseline"]
    return differ.sort_values("_order", ascending=False).drop(columns="_order").head(n).reset_index(drop=True)


def side_by_side(runs: Mapping[str, Any]) -> pd.DataFrame:
    """One column per model, one row per metric (slices left out)."""
    table = pd.DataFrame({name: r.metrics() for name, r in runs.items()})
    return table.loc[[m for m in table.index if not m.startswith("slice.")]]


def intervals(comparisons: Mapping[str, Any]) -> pd.DataFrame:
    """One row per candidate and compared metric: its value, today's, and the paired difference
    with its 95 % interval (:func:`workbench.measure.items.compare.compare_items` results)."""
    rows = []
    for name, cmp in comparisons.items():
        for metric, d in cmp.diffs.items():
            rows.append({"candidate": name, "metric": metric, "candidate value": d.candidate,
                         f"{cmp.reference_label}": d.reference,
                         "difference [95 % interval]": d.text(), "method": d.method, "items": d.n})
    return pd.DataFrame(rows)


def _short(text: str, width: int = 120) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
