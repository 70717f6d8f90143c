"""Embeddings of any images of a run, by the embedder its clusters were made with."""

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hueroute.clustering.cache import EmbeddingCache
from hueroute.clustering.embed_files import embed_files, unit_features
from hueroute.clustering.embedders import Embedder, build_embedder
from hueroute.errors import InputError
from hueroute.run import Run
from hueroute.tensors import pick_device


def run_embedder(run: Run) -> tuple[Embedder, EmbeddingCache]:
    """The embedder the run's clusters were made with, and the run's cache of its vectors."""
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
    return embedder, EmbeddingCache(run.embeddings_dir, embedder.key)


def run_embeddings(run: Run, groups: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    """L2-normalised embeddings of each named group of files, cached in the run like the
    cluster stage's; the embedder is loaded once for all groups."""
    embedder, cache = run_embedder(run)
    settings = run.config.embed
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


class DecodedEmbedder:
    """L2-normalised embeddings of gray images decoded already, by their files' sha256, cached
    in the run like the files `run_embeddings` embeds."""

    def __init__(self, run: Run) -> None:
        self.embedder, self.cache = run_embedder(run)
        self.batch_size = run.config.embed.batch_size
        self.device = pick_device(run.config.embed.device, "embed.device")
        self.embedder.network.to(self.device)

    @torch.inference_mode()
    def __call__(self, digests: list[str], grays: list[np.ndarray]) -> np.ndarray:
        new = {d: g for d, g in zip(digests, grays, strict=True) if d not in self.cache}
        if new:
            images = [Image.fromarray(gray, "L").convert("RGB") for gray in new.values()]
            blocks = []
            for start in range(0, len(images), self.batch_size):
                part = images[start : start + self.batch_size]
                batch = torch.stack([self.embedder.preprocess(image) for image in part])
                blocks.append(unit_features(self.embedder, batch.to(self.device)))
            self.cache.add(list(new), np.concatenate(blocks))
        return self.cache.get(digests)
