"""The cluster stage: embed the training set, cluster it, fold it, and write it all to the run."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from clustering.cache import EmbeddingCache
from clustering.clusterer import MIN_IMAGES, NOISE, EmbeddingClusterer
from clustering.embed_files import embed_files
from clustering.embedders import build_embedder
from clustering.folds import stratified_folds
from clustering.plot import plot_clusters
from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.progress import console
from hueroute.run import Run


def cluster_run(run: Run) -> pd.DataFrame:
    """Embed train_gt and train_input, cluster train_gt, write the stage's files; return sizes."""
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
            [Path(path) for path in table[column]],
            embedder,
            cache,
            batch_size=config.embed.batch_size,
            num_workers=config.embed.num_workers,
            device=config.embed.device,
            description=name,
        )
        for column, name in (("gt_path", "train_gt"), ("input_path", "train_input"))
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
    folds = stratified_folds(labels, n_folds, config.seed, groups=originals)

    clusters = pd.DataFrame(
        {"id": table["id"], "cluster": labels, "probability": clusterer.probabilities_.round(4)}
    )
    for axis in range(clusterer.embedding_.shape[1]):
        clusters[f"umap_{axis}"] = clusterer.embedding_[:, axis].round(5)
    plot_clusters(
        clusterer.embedding_,
        labels,
        clusterer.probabilities_,
        [Path(path) for path in table["gt_path"]],
        run.umap_png,
    )
    sizes = cluster_sizes(labels, clusterer.probabilities_, folds, n_folds)
    summary = {
        "embedder": embedder.key,
        "images": len(table),
        "clusters": clusterer.n_clusters_,
        "noise": int((labels == NOISE).sum()),
        "merged_into_noise": clusterer.merged_,
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
