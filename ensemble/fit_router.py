"""The route stage: the router's held-out routing accuracy and calibration, then the router."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from hueroute.ensemble.blend import blend_weights
from hueroute.ensemble.input_embeddings import run_embeddings
from hueroute.ensemble.plots import plot_calibration
from hueroute.ensemble.router import ClusterRouter
from hueroute.files import write_text_atomic
from hueroute.run import GLOBAL, Run, expert_of

CALIBRATION_BINS = 10


def make_router(run: Run) -> ClusterRouter:
    settings = run.config.route
    return ClusterRouter(
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves,
        min_child_samples=settings.min_child_samples,
        random_state=run.config.seed,
    )


def routed_table(run: Run) -> pd.DataFrame:
    """train.csv with each image's cluster and fold."""
    clusters = run.clusters()[["id", "cluster"]]
    folds = run.folds()
    return run.train_table().merge(clusters, on="id").merge(folds, on="id")


def held_out_probabilities(
    run: Run, X: np.ndarray, y: np.ndarray, folds: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """Each image's cluster probabilities from a router that did not see its fold."""
    out = np.zeros((len(y), len(classes)))
    for fold in np.unique(folds):
        held = folds == fold
        router = make_router(run).fit(X[~held], y[~held])
        columns = np.searchsorted(classes, router.classes_)
        out[np.ix_(held, columns)] = router.predict_proba(X[held])
    return out


def calibration_bins(confidence: np.ndarray, correct: np.ndarray) -> pd.DataFrame:
    """Images, mean confidence and accuracy in equal-width bins of top-1 confidence."""
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    frame = pd.DataFrame({"bin": index, "confidence": confidence, "correct": correct})
    bins = frame.groupby("bin").agg(
        images=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean")
    )
    bins["low"], bins["high"] = edges[bins.index], edges[bins.index + 1]
    return bins.reset_index(drop=True)


def routing_metrics(
    run: Run, y: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> tuple[dict, pd.DataFrame]:
    order = np.argsort(-probabilities, axis=1, kind="stable")
    truth = np.searchsorted(classes, y)
    top1 = order[:, 0] == truth
    top2 = (order[:, :2] == truth[:, None]).any(1)
    bins = calibration_bins(probabilities.max(1), top1)
    ece = float((bins["images"] * (bins["confidence"] - bins["accuracy"]).abs()).sum() / len(y))
    onehot = np.eye(len(classes))[truth]
    settings = run.config.route
    blends = blend_weights(probabilities, classes, settings.top_k, settings.min_probability)
    metrics = {
        "images": len(y),
        "classes": [int(c) for c in classes],
        "top1": float(top1.mean()),
        "top2": float(top2.mean()),
        "ece": ece,
        "brier": float(((probabilities - onehot) ** 2).sum(1).mean()),
        "log_loss": float(log_loss(truth, probabilities, labels=range(len(classes))))
        if len(classes) > 1
        else 0.0,
        "to_global_only": float(np.mean([b == {GLOBAL: 1.0} for b in blends])),
        "recall": {
            expert_of(int(c)): float(top1[truth == i].mean()) for i, c in enumerate(classes)
        },
    }
    return metrics, bins


def route_run(run: Run) -> dict:
    """Fit the router on the embeddings of train_input; write router/ with its metrics."""
    table = routed_table(run)
    X = run_embeddings(run, {"train_input": [Path(p) for p in table["input_path"]]})["train_input"]
    y, folds = table["cluster"].to_numpy(), table["fold"].to_numpy()
    classes = np.unique(y)
    probabilities = held_out_probabilities(run, X, y, folds, classes)
    metrics, bins = routing_metrics(run, y, probabilities, classes)
    folder = run.router_dir
    held_out = table[["id", "fold", "cluster"]].copy()
    for index, label in enumerate(classes):
        held_out[f"p_{label}"] = probabilities[:, index].round(6)
    write_text_atomic(folder / "oof.csv", held_out.to_csv(index=False))
    write_text_atomic(folder / "calibration.csv", bins.to_csv(index=False))
    plot_calibration(bins, metrics, folder / "calibration.png")
    make_router(run).fit(X, y).save(folder)
    write_text_atomic(run.router_metrics_json, json.dumps(metrics, indent=2) + "\n")
    return metrics
