"""UMAP + HDBSCAN clustering of embeddings, as a scikit-learn estimator."""

import warnings

import hdbscan
import numpy as np
import umap
from sklearn.base import BaseEstimator, ClusterMixin

from hueroute.run import NOISE
from hueroute.threads import torch_threads_kept

MIN_IMAGES = 3  # the fewest embeddings UMAP can reduce


class EmbeddingClusterer(ClusterMixin, BaseEstimator):
    """Reduce embeddings with UMAP (cosine), then cluster the reduction with HDBSCAN.

    Clusters smaller than `min_size` (the number of folds, so each fold sees every cluster)
    are merged into noise. Clusters are renumbered 0, 1, ... from the largest; noise is -1.

    Attributes: `embedding_` (UMAP coordinates), `labels_`, `probabilities_` (HDBSCAN's
    membership strength, 0 for noise), `n_clusters_`, `merged_` (sizes of the clusters
    merged into noise).
    """

    def __init__(
        self,
        n_components: int = 5,
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        min_cluster_size: int = 50,
        min_samples: int | None = None,
        min_size: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.min_size = min_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> "EmbeddingClusterer":
        n = len(X)
        if n < MIN_IMAGES:
            raise ValueError(f"clustering needs at least {MIN_IMAGES} embeddings, got {n}")
        self.embedding_ = self.reduce(np.asarray(X, np.float32))
        density = hdbscan.HDBSCAN(
            min_cluster_size=min(self.min_cluster_size, n),
            min_samples=self.min_samples,
        ).fit(self.embedding_)
        labels, probabilities = density.labels_.copy(), density.probabilities_.copy()
        found, sizes = np.unique(labels[labels != NOISE], return_counts=True)
        small = sizes < self.min_size
        self.merged_ = sorted(sizes[small].tolist(), reverse=True)
        kept = found[~small][np.argsort(-sizes[~small], kind="stable")]
        self.labels_ = np.full(n, NOISE)
        for new, old in enumerate(kept):
            self.labels_[labels == old] = new
        self.probabilities_ = np.where(self.labels_ == NOISE, 0.0, probabilities)
        self.n_clusters_ = len(kept)
        return self

    def reduce(self, X: np.ndarray) -> np.ndarray:
        """UMAP coordinates of `X`; neighbourhood and dimensions shrink to fit tiny inputs."""
        n = len(X)
        reducer = umap.UMAP(
            n_components=max(2, min(self.n_components, n - 2)),
            n_neighbors=min(self.n_neighbors, n - 1),
            min_dist=self.min_dist,
            metric="cosine",
            random_state=self.random_state,
            init="spectral" if n > 4 * self.n_components else "random",
        )
        with warnings.catch_warnings(), torch_threads_kept():
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            return reducer.fit_transform(X)
