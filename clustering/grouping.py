"""Which images held-out folds keep together: each original (`view`, so a held-out image may
have sibling shots of its place in training) or each scene (`scene`, so it has none), chosen
so that the held-out images stand to the training images as the test inputs do."""

import numpy as np

from hueroute.clustering.folds import stratified_folds

GROUPINGS = ("view", "scene")
CHUNK = 2048  # queries compared at once: a 30,000-image set stays a few hundred MB


def nearest_similarity(
    queries: np.ndarray,
    keys: np.ndarray,
    query_folds: np.ndarray | None = None,
    key_folds: np.ndarray | None = None,
) -> np.ndarray:
    """Each query's largest cosine similarity to a key (rows L2-normalised); with folds,
    only to keys of another fold than the query's."""
    keys = keys.astype(np.float32)
    nearest = []
    for start in range(0, len(queries), CHUNK):
        similarity = queries[start : start + CHUNK].astype(np.float32) @ keys.T
        if query_folds is not None and key_folds is not None:
            same = query_folds[start : start + CHUNK, None] == key_folds[None, :]
            similarity[same] = -np.inf
        nearest.append(similarity.max(1))
    return np.concatenate(nearest) if nearest else np.zeros(0, np.float32)


def held_out_similarity(inputs: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each training input's nearest similarity to the inputs of the other folds."""
    return nearest_similarity(inputs, inputs, folds, folds)


class FoldGrouping:
    """Folds under each grouping, and the one whose held-out nearest similarities are closest
    (in mean) to the test inputs' nearest similarities to the training inputs.

    Attributes after `fit`: `folds_` (grouping -> folds, for each grouping with groups enough
    to fill the folds), `similarity_` (grouping -> mean held-out similarity, and `test` for
    the test inputs), `chosen_`.
    """

    def __init__(self, n_folds: int, seed: int = 0, grouping: str = "auto") -> None:
        self.n_folds = n_folds
        self.seed = seed
        self.grouping = grouping

    def fit(
        self,
        labels: np.ndarray,
        groups: dict[str, np.ndarray],
        inputs: np.ndarray,
        test_inputs: np.ndarray | None,
    ) -> "FoldGrouping":
        """`labels` stratify; `groups` names each image's group under each grouping;
        `inputs` and `test_inputs` are L2-normalised embeddings of the gray inputs."""
        possible = [name for name in GROUPINGS if len(set(groups[name])) >= self.n_folds]
        if self.grouping not in ("auto", *possible):
            raise ValueError(
                f"folds.grouping={self.grouping}: {len(set(groups[self.grouping]))} groups "
                f"cannot fill {self.n_folds} folds"
            )
        self.folds_ = {
            name: stratified_folds(labels, self.n_folds, self.seed, groups=groups[name])
            for name in possible
        }
        self.similarity_ = {
            name: float(held_out_similarity(inputs, folds).mean())
            for name, folds in self.folds_.items()
        }
        if test_inputs is not None and len(test_inputs):
            self.similarity_["test"] = float(nearest_similarity(test_inputs, inputs).mean())
        if self.grouping != "auto":
            self.chosen_ = self.grouping
        elif "test" in self.similarity_:
            test = self.similarity_["test"]
            self.chosen_ = min(self.folds_, key=lambda name: abs(self.similarity_[name] - test))
        else:
            self.chosen_ = "view"
        return self
