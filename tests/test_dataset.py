"""make-dataset: the layout, determinism, and the split by source photo."""

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from hueroute.dataset import make_dataset
from hueroute.images import luma
from hueroute.layout import TEST_COLUMNS, TRAIN_COLUMNS, check_dataset


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
