"""Shared fixtures: small photos and datasets generated inside each test's temp folder."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hueroute.data import samples_dir
from hueroute.dataset import make_dataset


def smooth_photo(rng: np.random.Generator, size: int) -> np.ndarray:
    """A colour image with smooth gradients and some texture, like a small photo."""
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [
        np.sin(rng.uniform(1, 6) * x + rng.uniform(0, 3)) * np.cos(rng.uniform(1, 6) * y)
        for _ in range(3)
    ]
    image = (np.stack(channels, -1) + 1) * 100 + rng.normal(0, 8, (size, size, 3))
    return np.clip(image + 20, 0, 255).astype(np.uint8)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Four generated colour photos of different sizes, one in a nested folder."""
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for index, (name, width, height) in enumerate(
        [("a.png", 120, 90), ("b.jpg", 80, 100), ("nested/c.png", 96, 96), ("d.webp", 100, 70)]
    ):
        image = smooth_photo(np.random.default_rng(index), max(width, height))[:height, :width]
        Image.fromarray(image).save(folder / name)
    return folder


@pytest.fixture
def sample_dataset(tmp_path: Path) -> Path:
    """A 64 px dataset made from the bundled sample photos."""
    out = tmp_path / "data"
    make_dataset(samples_dir(), out, size=64, copies=1, test_fraction=0.3, seed=3)
    return out


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised CLIP vision model and its processor, saved to a folder."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for a module's training: faster on a 2-core machine."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
