"""make-dataset: the layout, determinism, and the split by source photo."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hueroute.dataset import make_dataset, square, view_boxes
from hueroute.errors import InputError
from hueroute.images import luma, read_rgb
from hueroute.layout import TEST_COLUMNS, TRAIN_COLUMNS, check_dataset
from tests.conftest import smooth_photo


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_layout(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    sources = make_dataset(photos, out, size=48, copies=3, test_fraction=0.25, seed=1)
    train, test = pd.read_csv(out / "train.csv"), pd.read_csv(out / "test.csv")
    assert tuple(train.columns) == TRAIN_COLUMNS and tuple(test.columns) == TEST_COLUMNS
    assert len(train) == 9 and len(test) == 3 and len(sources) == 12
    assert check_dataset(out) == {"train": 9, "test": 3}
    for row in test.itertuples():
        gray = np.asarray(Image.open(out / row.input_path))
        gt = np.asarray(Image.open(out / "test_gt" / f"{row.id}.png"))
        mask = np.asarray(Image.open(out / "test_mask" / f"{row.id}.png"))
        assert gray.shape == (48, 48) and gt.shape == (48, 48, 3)
        assert set(np.unique(mask)) <= {0, 255}
        assert (gray[mask == 0] == luma(gt)[mask == 0]).all()
        assert len(np.unique(gray[mask > 0])) == 1


def test_same_seed_same_bytes(photos: Path, tmp_path: Path) -> None:
    make_dataset(photos, tmp_path / "a", size=40, copies=2, seed=9)
    make_dataset(photos, tmp_path / "b", size=40, copies=2, seed=9)
    make_dataset(photos, tmp_path / "c", size=40, copies=2, seed=10)
    a = file_bytes(tmp_path / "a")
    assert a == file_bytes(tmp_path / "b")
    assert a != file_bytes(tmp_path / "c")


def test_split_by_source_photo(photos: Path, tmp_path: Path) -> None:
    for seed in range(4):
        sources = make_dataset(
            photos, tmp_path / f"d{seed}", size=32, copies=3, test_fraction=0.5, seed=seed
        )
        sides = sources.groupby("source")["split"].nunique()
        assert (sides == 1).all()
        assert set(sources["split"]) == {"train", "test"}
        assert sources["source"].nunique() == 4  # nested and every suffix found


@pytest.mark.parametrize("views", [2, 4])
def test_views_tile_the_photo_with_disjoint_crops(views: int) -> None:
    for width, height in [(120, 90), (80, 101), (96, 96)]:
        cover = np.zeros((height, width), int)
        for left, top, right, bottom in view_boxes(width, height, views):
            cover[top:bottom, left:right] += 1
        assert (cover == 1).all()
    assert len(view_boxes(120, 90, views)) == views


def test_a_view_is_its_crop_of_the_photo(photos: Path) -> None:
    whole = read_rgb(photos / "a.png")  # 120 x 90: halves of 60 x 90
    right = square(photos / "a.png", 60, views=2, view=1)
    assert right.shape == (60, 60, 3)
    assert np.abs(right.astype(int) - whole[15:75, 60:120].astype(int)).mean() < 1


@pytest.fixture
def large_photos(tmp_path: Path) -> Path:
    """Four photos large enough for four views each."""
    folder = tmp_path / "large"
    folder.mkdir()
    for index in range(4):
        image = smooth_photo(np.random.default_rng(index), 120)[:, : 100 + 10 * index]
        Image.fromarray(image).save(folder / f"p{index}.png")
    return folder


@pytest.mark.parametrize("views", [2, 4])
def test_split_by_view_keeps_siblings_in_training(
    large_photos: Path, tmp_path: Path, views: int
) -> None:
    out = tmp_path / "views"
    sources = make_dataset(
        large_photos, out, size=32, copies=2, test_fraction=0.5, seed=3, views=views, split="view"
    )
    assert len(sources) == 4 * views * 2
    assert check_dataset(out)["test"] == 2 * 2  # one view of each of two photos, two copies
    for _, scene in sources.groupby("scene"):
        test_views = set(scene.loc[scene["split"] == "test", "view"])
        train_views = set(scene.loc[scene["split"] == "train", "view"])
        assert len(test_views) in (0, 1)
        assert train_views == set(range(views)) - test_views


def test_split_by_scene_puts_no_scene_on_both_sides(large_photos: Path, tmp_path: Path) -> None:
    sources = make_dataset(
        large_photos, tmp_path / "s", size=32, test_fraction=0.5, seed=3, views=2, split="scene"
    )
    assert (sources.groupby("scene")["split"].nunique() == 1).all()
    assert set(sources["split"]) == {"train", "test"}
    assert (sources.groupby("scene")["view"].nunique() == 2).all()


def test_a_photo_too_small_for_its_views_is_refused(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a\.png is 120 x 90 px.*each of its 4 views"):
        make_dataset(photos, tmp_path / "q", size=32, views=4)
