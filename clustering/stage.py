"""The cluster stage: embed the training set, cluster it, fold it, and write it all to the run."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from hueroute.clustering.cache import EmbeddingCache
from hueroute.clustering.clusterer import MIN_IMAGES, NOISE, EmbeddingClusterer
from hueroute.clustering.embed_files import embed_files
from hueroute.clustering.embedders import build_embedder
from hueroute.clustering.folds import unfoldable_clusters, without_clusters
from hueroute.clustering.grouping import FoldGrouping
from hueroute.clustering.plot import plot_clusters
from hueroute.clustering.scenes import SceneClusterer, scene_groups
from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.layout import TEST_COLUMNS, read_table
from hueroute.progress import console
from hueroute.run import Run


def test_input_paths(run: Run) -> list[Path]:
    """The test inputs of the run's dataset (none without a test.csv)."""
    csv = run.config.data / "test.csv"
    return [Path(p) for p in read_table(csv, TEST_COLUMNS)["input_path"]] if csv.is_file() else []


def cluster_run(run: Run) -> pd.DataFrame:
    """Embed train_gt, train_input and test_input, cluster train_gt into clusters and scenes,
    make folds grouped as the test split asks, write the stage's files; return sizes."""
    config = run.config
    table = run.train_table()
    n_folds = config.folds.n_folds
    needed = max(n_folds, MIN_IMAGES)
    if len(table) < needed:
        raise InputError(
            config.data / "train.csv",
            f"has {len(table)} rows; clustering into {n_folds} folds needs at least {needed}",
        )
    embedder = build_embedder(config.embed)
    cache = EmbeddingCache(run.embeddings_dir, embedder.key)
    embedded = {
        name: embed_files(
            paths,
            embedder,
            cache,
            batch_size=config.embed.batch_size,
            num_workers=config.embed.num_workers,
            device=config.embed.device,
            description=name,
        )
        for name, paths in (
            ("train_gt", [Path(path) for path in table["gt_path"]]),
            ("train_input", [Path(path) for path in table["input_path"]]),
            ("test_input", test_input_paths(run)),
        )
    }
    for name, result in embedded.items():
        console.print(
            f"{name}: {len(result.vectors)} files, {result.cached} found in the cache, "
            f"{result.embedded} distinct new images embedded"
        )

    settings = config.cluster
    clusterer = EmbeddingClusterer(
        n_components=settings.n_components,
        n_neighbors=settings.n_neighbors,
        min_dist=settings.min_dist,
        min_cluster_size=settings.min_cluster_size,
        min_samples=settings.min_samples,
        min_size=n_folds,
        random_state=config.seed,
    ).fit(embedded["train_gt"].vectors)
    labels = clusterer.labels_
    if clusterer.merged_:
        console.print(
            f"[yellow]warning:[/] {len(clusterer.merged_)} cluster(s) smaller than the "
            f"{n_folds} folds merged into noise (sizes {clusterer.merged_})"
        )
    if clusterer.n_clusters_ == 0:
        console.print(
            "[yellow]warning:[/] every image is noise: one global group is used, "
            "so only the global expert will be trained"
        )
    originals = np.array(embedded["train_gt"].digests)  # copies of a photo share one fold
    if len(set(originals)) < n_folds:
        raise InputError(
            config.data / "train.csv",
            f"has {len(set(originals))} distinct originals; {n_folds} folds need {n_folds}",
        )
    scenes = SceneClusterer(min_cluster_size=settings.scene_min_size).fit(clusterer.embedding_)
    try:
        grouping = FoldGrouping(n_folds, config.seed, config.folds.grouping).fit(
            labels,
            {"view": originals, "scene": scene_groups(scenes.labels_, originals)},
            embedded["train_input"].vectors,
            embedded["test_input"].vectors,
        )
    except ValueError as error:
        raise InputError(run.root / "config.yaml", str(error)) from error
    folds = grouping.folds_[grouping.chosen_]
    console.print(fold_grouping_line(grouping, config.folds.grouping))
    unfoldable = unfoldable_clusters(labels, folds, n_folds)
    if unfoldable:
        console.print(
            f"[yellow]warning:[/] cluster(s) {', '.join(map(str, unfoldable))} lie in too few "
            f"scenes to be trained and held out on each of the {n_folds} folds: merged into noise"
        )
        labels = without_clusters(labels, unfoldable, NOISE)
    probabilities = np.where(labels == NOISE, 0.0, clusterer.probabilities_)

    clusters = pd.DataFrame(
        {
            "id": table["id"],
            "cluster": labels,
            "probability": probabilities.round(4),
            "scene": scenes.labels_,
        }
    )
    for axis in range(clusterer.embedding_.shape[1]):
        clusters[f"umap_{axis}"] = clusterer.embedding_[:, axis].round(5)
    plot_clusters(
        clusterer.embedding_,
        labels,
        probabilities,
        [Path(path) for path in table["gt_path"]],
        run.umap_png,
    )
    sizes = cluster_sizes(labels, probabilities, folds, n_folds)
    summary = {
        "embedder": embedder.key,
        "images": len(table),
        "clusters": int(labels.max(initial=NOISE) + 1),
        "noise": int((labels == NOISE).sum()),
        "merged_into_noise": clusterer.merged_,
        "unfoldable_into_noise": unfoldable,
        "scenes": scenes.n_scenes_,
        "scene_noise": int((scenes.labels_ == NOISE).sum()),
        "fold_grouping": {
            "chosen": grouping.chosen_,
            "setting": config.folds.grouping,
            "nearest_similarity": {k: round(v, 4) for k, v in grouping.similarity_.items()},
        },
        "embeddings": {
            name: {"embedded": result.embedded, "cached": result.cached}
            for name, result in embedded.items()
        },
    }
    fold_table = pd.DataFrame({"id": table["id"], "fold": folds})
    write_text_atomic(run.folds_csv, fold_table.to_csv(index=False))
    write_text_atomic(run.cluster_json, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(run.clusters_csv, clusters.to_csv(index=False))
    return sizes


def fold_grouping_line(grouping: FoldGrouping, setting: str) -> str:
    """What the folds keep together and why, in one line."""
    figures = ", ".join(f"{k} {v:.3f}" for k, v in grouping.similarity_.items())
    how = "set by folds.grouping" if setting != "auto" else "closest to the test inputs"
    return f"folds keep each {grouping.chosen_} together ({how}; mean nearest similarity {figures})"


def cluster_sizes(
    labels: np.ndarray, probabilities: np.ndarray, folds: np.ndarray, n_folds: int
) -> pd.DataFrame:
    """One row per cluster (noise last): images, share, mean probability, images per fold."""
    rows = []
    for label in [*np.unique(labels[labels != NOISE]), NOISE]:
        members = labels == label
        if not members.any():
            continue
        per_fold = np.bincount(folds[members], minlength=n_folds)
        rows.append(
            {
                "cluster": "noise" if label == NOISE else str(label),
                "images": int(members.sum()),
                "share": members.mean(),
                "probability": float(probabilities[members].mean()),
                "per fold": f"{per_fold.min()}-{per_fold.max()}",
            }
        )
    return pd.DataFrame(rows)
