"""Embed image files in streamed batches, reusing every embedding the cache already holds."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from hueroute.clustering.cache import EmbeddingCache, file_digest
from hueroute.clustering.embedders import Embedder
from hueroute.errors import InputError
from hueroute.images import open_image
from hueroute.progress import track
from hueroute.tensors import pick_device

SHARD_SIZE = 1024  # embeddings per cache shard: what an interruption can lose at most


class ImageFiles(Dataset):
    """Decodes and preprocesses one image per item; a bad file comes back as its problem."""

    def __init__(self, paths: list[Path], embedder: Embedder) -> None:
        self.paths = paths
        self.embedder = embedder

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str]:
        try:
            image = open_image(self.paths[index]).convert("RGB")
        except InputError as error:
            return index, None, error.problem
        return index, self.embedder.preprocess(image), ""


def collate(
    items: list[tuple[int, torch.Tensor | None, str]],
) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    indices = [index for index, _, _ in items]
    problems = [(index, problem) for index, _, problem in items if problem]
    batch = None if problems else torch.stack([tensor for _, tensor, _ in items])
    return indices, batch, problems


@dataclass
class EmbedResult:
    vectors: np.ndarray  # (N, D), L2-normalised, one row per path
    digests: list[str]  # sha256 of each file
    embedded: int  # distinct new images the model ran on
    cached: int  # files whose content the cache already held


def embed_files(
    paths: list[Path],
    embedder: Embedder,
    cache: EmbeddingCache,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str = "auto",
    description: str = "embedding",
) -> EmbedResult:
    """L2-normalised embeddings of `paths`; only files whose content is new are embedded."""
    digests = [file_digest(path) for path in track(paths, f"hashing {description}")]
    cached = sum(digest in cache for digest in digests)
    todo: dict[str, Path] = {}
    for digest, path in zip(digests, paths, strict=True):
        if digest not in cache and digest not in todo:
            todo[digest] = path
    if todo:
        run_embedder(
            todo,
            embedder,
            cache,
            batch_size,
            num_workers,
            pick_device(device, "embed.device"),
            description,
        )
    return EmbedResult(cache.get(digests), digests, embedded=len(todo), cached=cached)


def unit_features(embedder: Embedder, batch: torch.Tensor) -> np.ndarray:
    """(N, D) L2-normalised features of a preprocessed batch, on the CPU."""
    return F.normalize(embedder.features(batch).float(), dim=1).cpu().numpy()


@torch.inference_mode()
def run_embedder(
    todo: dict[str, Path],
    embedder: Embedder,
    cache: EmbeddingCache,
    batch_size: int,
    num_workers: int,
    device: torch.device,
    description: str,
) -> None:
    digests, paths = list(todo), list(todo.values())
    loader = DataLoader(
        ImageFiles(paths, embedder),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
    )
    embedder.network.to(device)
    done: list[int] = []
    blocks: list[np.ndarray] = []
    try:
        for indices, batch, problems in track(
            loader, f"embedding {description}", total=len(loader)
        ):
            if problems:
                index, problem = problems[0]
                raise InputError(paths[index], problem)
            blocks.append(unit_features(embedder, batch.to(device, non_blocking=True)))
            done.extend(indices)
            if len(done) >= SHARD_SIZE:
                cache.add([digests[i] for i in done], np.concatenate(blocks))
                done, blocks = [], []
    finally:
        if done:
            cache.add([digests[i] for i in done], np.concatenate(blocks))
