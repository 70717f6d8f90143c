"""Decoded training pairs at the training size, kept as memory-mapped arrays on disk.

Decoding a 512 px PNG costs more than a training step's share of the data, so every pair is
decoded once, resized, and stored as the original (N, S, S, 3), its lost-region mask
(N, S, S) and the region's gray level (N,). Epochs read these maps instead of PNGs.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap

from hueroute.errors import InputError
from hueroute.files import atomic_path, write_text_atomic
from hueroute.images import luma, read_gray, read_rgb
from hueroute.preprocess import PREPROCESSING, lost_level, shrink
from hueroute.progress import track


@dataclass(frozen=True)
class PairStore:
    ids: list[str]
    gt: np.ndarray  # (N, S, S, 3) uint8
    masks: np.ndarray  # (N, S, S) bool
    levels: np.ndarray  # (N,) uint8

    def damaged(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The gray input of `row` (its original's luma, the lost region at its level) and
        the lost region."""
        mask = np.array(self.masks[row])
        gray = luma(np.array(self.gt[row]))
        gray[mask] = self.levels[row]
        return gray, mask

    def index(self, ids: list[str]) -> np.ndarray:
        """Rows of `ids` in the store."""
        rows = {name: row for row, name in enumerate(self.ids)}
        return np.array([rows[name] for name in ids], dtype=int)


def resized_pair(input_path: str, gt_path: str, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The original, lost-region mask and gray level of one pair, at `size` px."""
    gray, rgb = read_gray(input_path), read_rgb(gt_path)
    if gray.shape != rgb.shape[:2]:
        raise InputError(input_path, f"is {gray.shape} but its original is {rgb.shape[:2]}")
    mask = gray != luma(rgb)
    level = lost_level(gray, mask)
    rgb, mask = shrink(rgb, mask, size)
    return rgb, mask, level


def store_key(table: pd.DataFrame, size: int) -> str:
    """Names the store by the pairs' paths, file sizes and times, the size and the
    preprocessing."""
    digest = hashlib.sha256(f"{size}:{PREPROCESSING}".encode())
    for record in table.itertuples(index=False):
        for path in (record.input_path, record.gt_path):
            stat = Path(path).stat()
            digest.update(f"{record.id}\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def open_store(table: pd.DataFrame, size: int, folder: Path) -> PairStore:
    """The store of `table`'s pairs at `size` px in `folder`, built first if it is missing."""
    stem = folder / f"pairs-{size}-{store_key(table, size)}"
    files = {part: stem.with_suffix(f".{part}.npy") for part in ("gt", "masks", "levels")}
    listing = stem.with_suffix(".ids.json")  # written last: its presence means complete
    if not listing.exists():
        build_store(table, size, files)
        write_text_atomic(listing, json.dumps(list(table["id"])) + "\n")
    ids = json.loads(listing.read_text())
    arrays = {part: np.load(path, mmap_mode="r") for part, path in files.items()}
    return PairStore(ids, arrays["gt"], arrays["masks"], arrays["levels"])


def build_store(table: pd.DataFrame, size: int, files: dict[str, Path]) -> None:
    n = len(table)
    with (
        atomic_path(files["gt"]) as gt_tmp,
        atomic_path(files["masks"]) as masks_tmp,
        atomic_path(files["levels"]) as levels_tmp,
    ):
        gt = open_memmap(gt_tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        masks = open_memmap(masks_tmp, mode="w+", dtype=bool, shape=(n, size, size))
        levels = np.zeros(n, dtype=np.uint8)
        rows = table.itertuples(index=False)
        for row, record in enumerate(track(rows, f"decoding pairs at {size} px", total=n)):
            gt[row], masks[row], levels[row] = resized_pair(record.input_path, record.gt_path, size)
        gt.flush()
        masks.flush()
        del gt, masks
        with open(levels_tmp, "wb") as handle:
            np.save(handle, levels)
