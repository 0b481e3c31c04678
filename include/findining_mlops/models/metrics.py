"""Model quality metrics, computed the same way at training, gating and monitoring time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def ranking_metrics(groups: pd.Series, relevance: np.ndarray, scores: np.ndarray, k: int = 10) -> dict:
    """NDCG@k and hit rate@k over requests with at least one engagement (binary relevance)."""
    frame = pd.DataFrame({"g": groups.to_numpy(), "rel": np.asarray(relevance, float), "s": np.asarray(scores, float)})
    frame = frame[frame.groupby("g")["rel"].transform("max") > 0]
    if frame.empty:
        return {f"ndcg_at_{k}": float("nan"), f"hit_rate_at_{k}": float("nan"), "ranked_requests": 0}
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    by_score = frame.sort_values(["g", "s"], ascending=[True, False], kind="mergesort")
    rank = by_score.groupby("g").cumcount().to_numpy()
    top = rank < k
    dcg = pd.Series(by_score["rel"].to_numpy()[top] * discount[rank[top]]).groupby(by_score["g"].to_numpy()[top]).sum()
    ideal = frame.sort_values(["g", "rel"], ascending=[True, False], kind="mergesort")
    irank = ideal.groupby("g").cumcount().to_numpy()
    itop = irank < k
    idcg = pd.Series(ideal["rel"].to_numpy()[itop] * discount[irank[itop]]).groupby(ideal["g"].to_numpy()[itop]).sum()
    hits = pd.Series(by_score["rel"].to_numpy()[top]).groupby(by_score["g"].to_numpy()[top]).max()
    return {
        f"ndcg_at_{k}": float((dcg / idcg.loc[dcg.index]).mean()),
        f"hit_rate_at_{k}": float((hits > 0).mean()),
        "ranked_requests": int(len(idcg)),
    }


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict:
    """AUC and expected calibration error of engagement probabilities."""
    labels = np.asarray(labels, int)
    probabilities = np.asarray(probabilities, float)
    auc = float(roc_auc_score(labels, probabilities)) if len(np.unique(labels)) == 2 else float("nan")
    edges = np.minimum((probabilities * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = edges == b
        if mask.any():
            ece += mask.mean() * abs(probabilities[mask].mean() - labels[mask].mean())
    return {"auc": auc, "calibration_error": float(ece), "positive_rate": float(labels.mean())}


def classification_metrics(labels, predictions) -> dict:
    return {
        "macro_f1": float(f1_score(labels, predictions, average="macro")),
        "accuracy": float(accuracy_score(labels, predictions)),
    }
