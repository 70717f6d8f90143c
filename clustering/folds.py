"""Cross-validation folds stratified by cluster."""

import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold


def stratified_folds(
    labels: np.ndarray, n_folds: int, seed: int = 0, groups: np.ndarray | None = None
) -> np.ndarray:
    """The fold (0 .. n_folds-1) of each item; each cluster, noise included, spread evenly.

    Items that share a group (copies of one original photo) go to one fold, so no held-out
    image has its original among the training images.
    """
    if len(labels) < n_folds:
        raise ValueError(f"{n_folds} folds need at least {n_folds} images, got {len(labels)}")
    if np.unique(labels, return_counts=True)[1].max() < n_folds:
        labels = np.zeros(len(labels), dtype=int)  # no stratum fills the folds: split plainly
    grouped = groups is not None and len(set(groups)) < len(labels)
    if grouped and len(set(groups)) < n_folds:
        raise ValueError(f"{n_folds} folds need at least {n_folds} distinct originals")
    splitter = (
        StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        if grouped
        else StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    )
    folds = np.empty(len(labels), dtype=int)
    with warnings.catch_warnings():
        # a stratum smaller than n_folds (noise, for one) simply misses some folds
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, held_out) in enumerate(
            splitter.split(np.zeros(len(labels)), labels, groups if grouped else None)
        ):
            folds[held_out] = fold
    return folds


def unfoldable_clusters(labels: np.ndarray, folds: np.ndarray, n_folds: int) -> list[int]:
    """The clusters (noise aside) that some fold leaves with no training image or no held-out
    one: their expert could be neither trained nor scored on that fold."""
    found = []
    for label in np.unique(labels[labels >= 0]):
        held_out = np.bincount(folds[labels == label], minlength=n_folds)
        if (held_out == 0).any() or (held_out == held_out.sum()).any():
            found.append(int(label))
    return found


def without_clusters(labels: np.ndarray, dropped: list[int], noise: int) -> np.ndarray:
    """`labels` with the clusters `dropped` made `noise` and the others numbered 0, 1, ..."""
    kept = [int(c) for c in np.unique(labels[labels != noise]) if c not in dropped]
    number = {old: new for new, old in enumerate(kept)}
    return np.array([number.get(int(label), noise) for label in labels])
