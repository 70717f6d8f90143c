"""Scene clusters: the finest groups HDBSCAN finds in the clusterer's UMAP map (its leaves),
where the shots of one place gather."""

import hdbscan
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from hueroute.run import NOISE


class SceneClusterer(ClusterMixin, BaseEstimator):
    """HDBSCAN's leaf clusters of small reduced embeddings; noise is -1, a scene of its own.

    Attributes: `labels_` (0, 1, ... from the largest scene), `n_scenes_`.
    """

    def __init__(self, min_cluster_size: int = 2, min_samples: int = 1) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples

    def fit(self, X: np.ndarray, y: None = None) -> "SceneClusterer":
        n = len(X)
        density = hdbscan.HDBSCAN(
            min_cluster_size=max(2, min(self.min_cluster_size, n)),
            min_samples=self.min_samples,
            cluster_selection_method="leaf",
        ).fit(np.asarray(X, np.float64))
        found, sizes = np.unique(density.labels_[density.labels_ != NOISE], return_counts=True)
        self.labels_ = np.full(n, NOISE)
        for new, old in enumerate(found[np.argsort(-sizes, kind="stable")]):
            self.labels_[density.labels_ == old] = new
        self.n_scenes_ = len(found)
        return self


def scene_groups(scenes: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """A group name per image: its scene, or its original where it is noise; copies of one
    original take the scene of the first of them, so they never part."""
    first: dict[str, str] = {}
    for scene, original in zip(scenes, originals, strict=True):
        first.setdefault(original, f"scene{scene}" if scene != NOISE else f"photo{original}")
    return np.array([first[original] for original in originals])
