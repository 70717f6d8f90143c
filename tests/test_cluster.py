"""The cluster stage: UMAP + HDBSCAN on synthetic embeddings, stratified folds, and
`hueroute cluster` end to end on a dataset made from the bundled sample photos."""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import Result
from PIL import Image
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from hueroute.clustering.clusterer import NOISE, EmbeddingClusterer
from hueroute.clustering.folds import stratified_folds, unfoldable_clusters, without_clusters
from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from tests.cli_helpers import OLD_NS, age, invoke, mtimes, succeed
from tests.test_bad_input import assert_clear_error

DIM = 32
SMOKE_FOLDS = 2  # folds.n_folds of the smoke preset
UMAP_AXES = 5  # cluster.n_components of the smoke preset
OUTPUTS = ("clusters.csv", "folds.csv", "umap.png", "cluster.json")


# --- helpers -------------------------------------------------------------------------------


def blobs(sizes: list[int], seed: int = 0, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows around orthonormal centres, one blob per size; returns (X, true blob)."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0][: len(sizes)]
    parts = [
        centre + rng.normal(0, spread, (size, DIM))
        for centre, size in zip(centres, sizes, strict=True)
    ]
    points = np.concatenate(parts)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


def sphere(n: int, seed: int = 0) -> np.ndarray:
    """`n` points drawn uniformly on the unit sphere: no structure to find."""
    points = np.random.default_rng(seed).normal(size=(n, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def assert_even_spread(labels: np.ndarray, folds: np.ndarray, n_folds: int) -> None:
    """Every stratum (noise included) has per-fold counts that differ by at most one."""
    for label in np.unique(labels):
        per_fold = np.bincount(folds[labels == label], minlength=n_folds)
        assert per_fold.max() - per_fold.min() <= 1, (label, per_fold)


def edit_config(run: Path, section: str, key: str, value: object) -> None:
    """Change one setting of RUN/config.yaml (the comments go; the settings stay)."""
    config_path = run / "config.yaml"
    settings = yaml.safe_load(config_path.read_text())
    settings[section][key] = value
    config_path.write_text(yaml.safe_dump(settings))


def keep_train_rows(data: Path, rows: int) -> None:
    table = pd.read_csv(data / "train.csv", dtype=str)
    table.head(rows).to_csv(data / "train.csv", index=False)


# --- the estimator on synthetic embeddings -------------------------------------------------


def test_separable_blobs_are_found_and_numbered_from_the_largest() -> None:
    sizes = [55, 45, 35, 25]  # already largest first, so the truth is the expected numbering
    points, truth = blobs(sizes)
    clusterer = EmbeddingClusterer(min_cluster_size=10, random_state=0).fit(points)

    assert clusterer.n_clusters_ == 4
    assert clusterer.merged_ == []
    assert adjusted_rand_score(truth, clusterer.labels_) == 1.0
    np.testing.assert_array_equal(clusterer.labels_, truth)
    assert clusterer.embedding_.shape == (len(points), 5)
    assert clusterer.probabilities_.shape == (len(points),)
    assert ((clusterer.probabilities_ > 0) & (clusterer.probabilities_ <= 1)).all()


def test_same_random_state_gives_the_same_clustering() -> None:
    points, _ = blobs([50, 40, 30, 20], seed=1)
    first = EmbeddingClusterer(min_cluster_size=10, random_state=3).fit(points)
    second = EmbeddingClusterer(min_cluster_size=10, random_state=3)
    labels = second.fit_predict(points)

    np.testing.assert_array_equal(labels, second.labels_)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.embedding_, second.embedding_)
    np.testing.assert_array_equal(first.probabilities_, second.probabilities_)


def test_clustering_leaves_torch_its_thread_count() -> None:
    """In a fresh process, where UMAP first starts numba's pool of a thread per core."""
    script = (
        "import numpy, torch; from clustering.clusterer import EmbeddingClusterer; "
        "EmbeddingClusterer(min_cluster_size=5).fit(numpy.random.rand(60, 8)); "
        "print(torch.get_num_threads())"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[-1] == "1", done.stderr


def test_get_params_round_trips() -> None:
    params = {
        "n_components": 3,
        "n_neighbors": 7,
        "min_dist": 0.1,
        "min_cluster_size": 4,
        "min_samples": 2,
        "min_size": 5,
        "random_state": 11,
    }
    clusterer = EmbeddingClusterer(**params)
    assert clusterer.get_params() == params
    assert clone(clusterer).get_params() == params
    assert EmbeddingClusterer(**clusterer.get_params()).get_params() == params
    assert EmbeddingClusterer().get_params()["min_cluster_size"] == 50


@pytest.mark.parametrize(("min_size", "merged"), [(4, []), (5, [4])])
def test_clusters_smaller_than_min_size_become_noise(min_size: int, merged: list[int]) -> None:
    """The 4-point blob is a cluster of its own; it is kept at min_size 4, merged at 5."""
    points, truth = blobs([40, 30, 4])
    clusterer = EmbeddingClusterer(min_cluster_size=3, min_size=min_size).fit(points)

    assert clusterer.merged_ == merged
    expected = truth if not merged else np.where(truth == 2, NOISE, truth)
    np.testing.assert_array_equal(clusterer.labels_, expected)
    assert clusterer.n_clusters_ == len(np.unique(expected[expected != NOISE]))
    noise = clusterer.labels_ == NOISE
    assert (clusterer.probabilities_[noise] == 0.0).all()
    assert (clusterer.probabilities_[~noise] > 0).all()


@pytest.mark.parametrize(
    ("settings", "merges"),
    [
        ({"min_cluster_size": 31}, False),  # no split of 60 points leaves two parts of 31
        ({"min_cluster_size": 5, "min_size": 61}, True),  # every cluster is too small
    ],
    ids=["no-cluster-possible", "all-merged"],
)
def test_structureless_points_are_all_noise(settings: dict[str, int], merges: bool) -> None:
    points = sphere(60)
    clusterer = EmbeddingClusterer(**settings).fit(points)

    assert clusterer.n_clusters_ == 0
    assert (clusterer.labels_ == NOISE).all()
    assert (clusterer.probabilities_ == 0.0).all()
    assert bool(clusterer.merged_) == merges
    assert clusterer.merged_ == sorted(clusterer.merged_, reverse=True)
    assert sum(clusterer.merged_) <= len(points)
    folds = stratified_folds(clusterer.labels_, 5, seed=0)
    assert np.bincount(folds, minlength=5).tolist() == [12] * 5


@pytest.mark.parametrize("rows", [3, 4, 5, 8])
def test_tiny_inputs_shrink_the_reduction(rows: int) -> None:
    points = sphere(rows, seed=rows)
    clusterer = EmbeddingClusterer().fit(points)  # n_neighbors 15, n_components 5

    assert clusterer.embedding_.shape == (rows, max(2, min(5, rows - 2)))  # the map needs 2
    assert np.isfinite(clusterer.embedding_).all()
    assert clusterer.labels_.shape == clusterer.probabilities_.shape == (rows,)
    found = set(clusterer.labels_.tolist()) - {NOISE}
    assert found == set(range(clusterer.n_clusters_))


@pytest.mark.parametrize("rows", [0, 1, 2])
def test_fewer_than_three_rows_is_a_value_error(rows: int) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        EmbeddingClusterer().fit(sphere(3)[:rows])


# --- stratified folds ----------------------------------------------------------------------


@pytest.mark.parametrize("n_folds", [2, 5])
def test_folds_spread_every_stratum_evenly(n_folds: int) -> None:
    """Clusters of 23, 11 and 7 and a noise stratum of 3 (fewer than the folds)."""
    labels = np.repeat([0, 1, 2, NOISE], [23, 11, 7, 3])
    labels = np.random.default_rng(0).permutation(labels)
    folds = stratified_folds(labels, n_folds, seed=0)

    assert folds.shape == labels.shape
    assert set(folds.tolist()) == set(range(n_folds))
    assert_even_spread(labels, folds, n_folds)
    sizes = np.bincount(folds, minlength=n_folds)
    assert sizes.max() - sizes.min() <= len(np.unique(labels))


def test_folds_of_all_noise_are_a_plain_even_spread() -> None:
    folds = stratified_folds(np.full(13, NOISE), 4, seed=2)
    assert sorted(np.bincount(folds, minlength=4).tolist()) == [3, 3, 3, 4]


def test_folds_depend_only_on_the_seed() -> None:
    labels = np.repeat([0, 1, NOISE], [30, 20, 10])
    first = stratified_folds(labels, 5, seed=7)
    np.testing.assert_array_equal(first, stratified_folds(labels, 5, seed=7))
    assert not np.array_equal(first, stratified_folds(labels, 5, seed=8))


def test_fewer_items_than_folds_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="5 folds"):
        stratified_folds(np.array([0, 0, 1, NOISE]), 5)


# --- the stage through the CLI -------------------------------------------------------------


@dataclass(frozen=True)
class Clustered:
    """A run on the sample dataset after one `cluster`: its folders and what it printed."""

    data: Path
    run: Path
    result: Result


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Clustered:
    """The sample dataset (as conftest's `sample_dataset` makes it), clustered once."""
    root = tmp_path_factory.mktemp("clustered")
    data, run = root / "data", root / "run"
    make_dataset(samples_dir(), data, size=64, copies=1, test_fraction=0.3, seed=3)
    succeed("init", run, "--data", data, "--preset", "smoke")
    return Clustered(data, run, succeed("cluster", run))


def new_run(tmp_path: Path, data: Path, clustered: Clustered) -> Path:
    """A smoke run on `data` whose embedding cache holds the sample dataset's embeddings."""
    run = tmp_path / "run"
    succeed("init", run, "--data", data, "--preset", "smoke")
    shutil.copytree(clustered.run / "embeddings", run / "embeddings")
    return run


def copy_of_data(tmp_path: Path, clustered: Clustered) -> Path:
    return Path(shutil.copytree(clustered.data, tmp_path / "data"))


def test_stage_writes_consistent_outputs(clustered: Clustered) -> None:
    run = clustered.run
    train = pd.read_csv(clustered.data / "train.csv", dtype=str)
    clusters = pd.read_csv(run / "clusters.csv", dtype={"id": str})
    summary = json.loads((run / "cluster.json").read_text())

    umap_columns = [f"umap_{axis}" for axis in range(UMAP_AXES)]
    assert list(clusters.columns) == ["id", "cluster", "probability", "scene", *umap_columns]
    assert clusters["id"].tolist() == train["id"].tolist()
    assert np.isfinite(clusters[umap_columns].to_numpy()).all()
    labels = clusters["cluster"].to_numpy()
    k = summary["clusters"]
    assert k >= 1  # the sample photos do fall into groups
    assert set(labels.tolist()) - {NOISE} == set(range(k))
    probabilities = clusters["probability"].to_numpy()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert (probabilities[labels == NOISE] == 0).all()
    sizes = np.bincount(labels[labels != NOISE])
    assert (np.diff(sizes) <= 0).all(), sizes  # numbered from the largest
    assert (sizes >= SMOKE_FOLDS).all()

    folds = pd.read_csv(run / "folds.csv", dtype={"id": str})
    assert list(folds.columns) == ["id", "fold"]
    assert folds["id"].tolist() == train["id"].tolist()
    assert set(folds["fold"]) == set(range(SMOKE_FOLDS))
    assert_even_spread(labels, folds["fold"].to_numpy(), SMOKE_FOLDS)

    with Image.open(run / "umap.png") as image:
        assert image.format == "PNG"
        image.load()
        assert min(image.size) > 100

    assert summary["embedder"] == "efficientnet-lite0"
    assert summary["images"] == len(train)
    assert summary["noise"] == int((labels == NOISE).sum())
    assert summary["merged_into_noise"] == []
    test = pd.read_csv(clustered.data / "test.csv")
    assert summary["embeddings"] == {
        "train_gt": {"embedded": len(train), "cached": 0},
        "train_input": {"embedded": len(train), "cached": 0},
        "test_input": {"embedded": len(test), "cached": 0},
    }
    scenes = clusters["scene"].to_numpy()
    assert set(scenes.tolist()) - {NOISE} == set(range(summary["scenes"]))
    assert summary["scene_noise"] == int((scenes == NOISE).sum())
    grouping = summary["fold_grouping"]
    assert grouping["setting"] == "auto" and grouping["chosen"] in ("view", "scene")
    assert set(grouping["nearest_similarity"]) == {"view", "scene", "test"}


def test_stage_prints_the_size_table_on_stdout(clustered: Clustered) -> None:
    stdout = clustered.result.stdout
    labels = pd.read_csv(clustered.run / "clusters.csv")["cluster"]
    assert "clusters of" in stdout  # the title, wrapped to the table's width
    for header in ("cluster", "images", "share", "probability", "per fold"):
        assert header in stdout
    for label, count in labels.value_counts().items():
        name = "noise" if label == NOISE else str(label)
        assert re.search(rf"│\s*{name}\s*│\s*{count}\s*│", stdout), (name, count, stdout)
    assert "hashing" not in stdout  # progress goes to stderr
    assert f"{len(labels)} distinct new images embedded" in clustered.result.stderr


def test_second_cluster_is_done_already_and_force_reuses_the_cache(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = Path(shutil.copytree(clustered.run, tmp_path / "run"))
    before = {name: (run / name).read_bytes() for name in OUTPUTS}
    age(run)

    again = succeed("cluster", run)
    assert "done already" in again.output
    assert again.stdout == ""
    assert set(mtimes(run).values()) == {OLD_NS}

    forced = succeed("cluster", run, "--force")
    assert "done already" not in forced.output
    assert all(mtimes(run)[name] != OLD_NS for name in OUTPUTS)
    summary = json.loads((run / "cluster.json").read_text())
    images, tests = summary["images"], len(pd.read_csv(clustered.data / "test.csv"))
    assert summary["embeddings"] == {
        "train_gt": {"embedded": 0, "cached": images},
        "train_input": {"embedded": 0, "cached": images},
        "test_input": {"embedded": 0, "cached": tests},
    }
    for name in ("clusters.csv", "folds.csv"):
        assert (run / name).read_bytes() == before[name], name
    before_summary = json.loads(before["cluster.json"])
    assert {key: summary[key] for key in ("clusters", "noise", "images")} == {
        key: before_summary[key] for key in ("clusters", "noise", "images")
    }


def test_stage_with_every_image_noise_uses_one_global_group(
    tmp_path: Path, clustered: Clustered
) -> None:
    """As many folds as images: every cluster is smaller than the folds and merges into noise."""
    first = json.loads((clustered.run / "cluster.json").read_text())
    first_labels = pd.read_csv(clustered.run / "clusters.csv")["cluster"].to_numpy()
    first_sizes = np.bincount(first_labels[first_labels != NOISE]).tolist()
    run = new_run(tmp_path, clustered.data, clustered)
    images = first["images"]
    edit_config(run, "folds", "n_folds", images)

    result = succeed("cluster", run)
    assert "every image is noise" in result.output
    assert "merged into noise" in result.output
    clusters = pd.read_csv(run / "clusters.csv")
    assert (clusters["cluster"] == NOISE).all()
    assert (clusters["probability"] == 0).all()
    folds = pd.read_csv(run / "folds.csv")
    assert sorted(folds["fold"]) == list(range(images))  # one image per fold
    summary = json.loads((run / "cluster.json").read_text())
    assert summary["clusters"] == 0
    assert summary["noise"] == images
    # same seed, same embeddings: the clusters found first are exactly the ones merged now
    found_first = first_sizes + first["merged_into_noise"]
    assert summary["merged_into_noise"] == sorted(found_first, reverse=True)
    assert summary["embeddings"]["train_gt"] == {"embedded": 0, "cached": images}
    with Image.open(run / "umap.png") as image:
        image.verify()
    assert re.search(r"│\s*noise\s*│", result.stdout)


# --- bad input -----------------------------------------------------------------------------


def test_fewer_train_rows_than_folds_is_a_clear_error(tmp_path: Path, clustered: Clustered) -> None:
    data = copy_of_data(tmp_path, clustered)
    keep_train_rows(data, 1)
    run = tmp_path / "run"
    succeed("init", run, "--data", data, "--preset", "smoke")

    result = invoke("cluster", run)
    assert_clear_error(result, "train.csv", "1 rows", f"{SMOKE_FOLDS} folds")
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]  # nothing embedded


def test_two_train_rows_is_a_clear_error(tmp_path: Path, clustered: Clustered) -> None:
    """Two rows pass the folds check (2 folds) but cannot be clustered (3 at least)."""
    data = copy_of_data(tmp_path, clustered)
    keep_train_rows(data, 2)
    run = new_run(tmp_path, data, clustered)

    result = invoke("cluster", run)
    assert_clear_error(result, "train.csv")
    assert not any((run / name).exists() for name in OUTPUTS)


@pytest.mark.parametrize("rows", [3, 4])
def test_a_few_train_rows_cluster(tmp_path: Path, clustered: Clustered, rows: int) -> None:
    """The smallest training sets that clustering accepts go through the whole stage."""
    data = copy_of_data(tmp_path, clustered)
    keep_train_rows(data, rows)
    run = new_run(tmp_path, data, clustered)

    succeed("cluster", run)
    clusters = pd.read_csv(run / "clusters.csv")
    assert len(clusters) == rows
    assert len(pd.read_csv(run / "folds.csv")) == rows
    with Image.open(run / "umap.png") as image:
        image.verify()


def test_unreadable_train_gt_is_a_clear_error(tmp_path: Path, clustered: Clustered) -> None:
    data = copy_of_data(tmp_path, clustered)
    (data / "train_gt" / "TRAIN_00003.png").write_bytes(b"\x00garbage, not an image\xff" * 8)
    run = new_run(tmp_path, data, clustered)

    result = invoke("cluster", run)
    assert_clear_error(result, "train_gt/TRAIN_00003.png", "readable")
    assert not any((run / name).exists() for name in OUTPUTS)


@pytest.mark.parametrize("exists", [True, False], ids=["empty-folder", "no-folder"])
def test_cluster_outside_a_run_folder_is_a_clear_error(tmp_path: Path, exists: bool) -> None:
    folder = tmp_path / "not-a-run"
    if exists:
        folder.mkdir()
    result = invoke("cluster", folder)
    assert_clear_error(result, "not-a-run", "not a run folder", "config.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["not-a-run"] if exists else [])
    if exists:
        assert list(folder.iterdir()) == []


def test_a_cluster_some_fold_cannot_train_or_hold_out_becomes_noise() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, NOISE])
    folds = np.array([0, 1, 2, 1, 1, 0, 1, 2, 0])  # cluster 1: only in fold 1
    assert unfoldable_clusters(labels, folds, 3) == [1]
    assert unfoldable_clusters(labels[:5], folds[:5] % 2, 2) == [1]  # every image held out at once
    assert without_clusters(labels, [1], NOISE).tolist() == [0, 0, 0, -1, -1, 1, 1, 1, -1]
