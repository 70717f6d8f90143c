"""Scenes seen before: on photos cut into sibling views, each scene of its own colour, the
neighbour prior pays and the submission beats the plain global expert."""

import colorsys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from hueroute.dataset import make_dataset
from hueroute.threads import torch_threads_kept
from tests.cli_helpers import succeed

SCENES = 10


def scene_photo(index: int, rng: np.random.Generator) -> np.ndarray:
    """A 128 x 64 photo of one hue, its luma a texture of its own (stripes at a scene's angle
    and frequency), so that its two halves look alike in gray and unlike other scenes."""
    y, x = np.mgrid[0:64, 0:128] / 64
    angle, frequency = rng.uniform(0, np.pi), rng.uniform(4, 14)
    stripes = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)))
    value = 0.55 + 0.3 * stripes + rng.normal(0, 0.02, x.shape)
    r, g, b = colorsys.hsv_to_rgb(index / SCENES, 0.7, 1.0)
    rgb = np.stack([value * r, value * g, value * b], -1)
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(SCENES):
        Image.fromarray(scene_photo(index, rng)).save(photos / f"scene{index}.png")
    make_dataset(
        photos, root / "data", size=64, copies=2, test_fraction=0.3, seed=1, views=2, split="view"
    )
    succeed("init", root / "run", "--data", root / "data", "--preset", "smoke")
    with torch_threads_kept():
        torch.set_num_threads(1)
        succeed("run", root / "run")
    return root / "run"


def test_the_folds_keep_views_apart_and_the_submission_beats_plain(scene_run: Path) -> None:
    summary = pd.read_json(scene_run / "cluster.json", typ="series")
    assert summary["fold_grouping"]["chosen"] == "view"  # test views have siblings in training
    scores = pd.read_csv(scene_run / "report" / "scores.csv", dtype={"cluster": str})
    test = scores[(scores["split"] == "test") & (scores["cluster"] == "all")]
    by = test.set_index("strategy")
    assert by.loc["submitted", "C"] > by.loc["plain", "C"] + 0.05
    assert by.loc["submitted", "score"] > by.loc["plain", "score"]
