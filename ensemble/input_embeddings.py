"""Embeddings of any images of a run, by the embedder its clusters were made with."""

import json
from pathlib import Path

import numpy as np

from hueroute.clustering.cache import EmbeddingCache
from hueroute.clustering.embed_files import embed_files
from hueroute.clustering.embedders import build_embedder
from hueroute.errors import InputError
from hueroute.run import Run


def run_embeddings(run: Run, groups: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    """L2-normalised embeddings of each named group of files, cached in the run like the
    cluster stage's; the embedder is loaded once for all groups."""
    if not run.cluster_json.is_file():
        raise InputError(run.cluster_json, "does not exist: run `hueroute cluster` first")
    used = json.loads(run.cluster_json.read_text())["embedder"]
    embedder = build_embedder(run.config.embed)
    if embedder.key != used:
        raise InputError(
            run.root / "config.yaml",
            f"the clusters were made with the {used} embedder but this machine embeds with "
            f"{embedder.key}; set embed.model so both match",
        )
    settings, cache = run.config.embed, EmbeddingCache(run.embeddings_dir, embedder.key)
    return {
        name: embed_files(
            paths,
            embedder,
            cache,
            batch_size=settings.batch_size,
            num_workers=settings.num_workers,
            device=settings.device,
            description=name,
        ).vectors
        for name, paths in groups.items()
    }
