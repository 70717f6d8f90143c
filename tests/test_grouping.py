"""Scene clusters and the fold grouping that mirrors how test inputs relate to training."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hueroute.clustering.grouping import FoldGrouping, held_out_similarity
from hueroute.clustering.scenes import SceneClusterer, scene_groups


def views_of_scenes(rng: np.random.Generator, scenes: int, views: int) -> np.ndarray:
    """(scenes * views, 32) unit vectors: each scene's views near one random direction."""
    centres = rng.normal(size=(scenes, 32))
    points = np.repeat(centres, views, 0) + 0.25 * rng.normal(size=(scenes * views, 32))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.mark.parametrize("split", ["view", "scene"])
def test_the_grouping_that_mirrors_the_test_split_is_chosen(split: str) -> None:
    rng = np.random.default_rng(0)
    vectors = views_of_scenes(rng, 60, 2)
    scene = np.repeat(np.arange(60), 2)
    # view: one view of 12 scenes is tested, their siblings train; scene: 12 whole scenes
    test = np.isin(np.arange(120), np.arange(0, 24, 2)) if split == "view" else scene < 12
    train = ~test
    groups = {"view": np.arange(120)[train].astype(str), "scene": scene[train].astype(str)}
    grouping = FoldGrouping(n_folds=4).fit(
        np.zeros(train.sum(), int), groups, vectors[train], vectors[test]
    )
    assert grouping.chosen_ == split
    assert grouping.similarity_["view"] > grouping.similarity_["scene"]
    for name, folds in grouping.folds_.items():  # each grouping keeps its groups whole
        group_folds = {g: set(folds[groups[name] == g]) for g in groups[name]}
        assert all(len(f) == 1 for f in group_folds.values())


def test_the_setting_overrides_and_no_test_keeps_views() -> None:
    vectors = views_of_scenes(np.random.default_rng(1), 20, 2)
    groups = {"view": np.arange(40).astype(str), "scene": np.repeat(np.arange(20), 2).astype(str)}
    labels = np.zeros(40, int)
    chosen = FoldGrouping(2, grouping="scene").fit(labels, groups, vectors, vectors).chosen_
    assert chosen == "scene"
    assert FoldGrouping(2).fit(labels, groups, vectors, None).chosen_ == "view"


def test_held_out_similarity_skips_its_own_fold() -> None:
    vectors = np.eye(4)[[0, 0, 1, 1]]
    assert held_out_similarity(vectors, np.array([0, 1, 0, 1])).tolist() == [1, 1, 1, 1]
    assert held_out_similarity(vectors, np.array([0, 0, 1, 1])).tolist() == [0, 0, 0, 0]


def test_scene_clusters_find_the_views_of_each_scene() -> None:
    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 100, size=(30, 5))
    points = np.repeat(centres, 3, 0) + rng.normal(0, 0.05, size=(90, 5))
    scenes = SceneClusterer().fit(points)
    assert adjusted_rand_score(np.repeat(np.arange(30), 3), scenes.labels_) > 0.9


def test_copies_of_an_original_share_a_group() -> None:
    groups = scene_groups(np.array([3, -1, -1, 0]), np.array(["a", "a", "b", "c"]))
    assert groups.tolist() == ["scene3", "scene3", "photob", "scene0"]
