"""Training data of the fill's correction: lost regions on each training pair's original (its
own region, then random ones drawn as the competition draws them) with their fills, cached in
the run folder by content; crops around a region for training, whole held-out inputs to
decide whether the correction is kept."""

import hashlib
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from hueroute.config import RefineConfig
from hueroute.degrade import random_degradation
from hueroute.experts.store import PairStore, open_store
from hueroute.files import atomic_path
from hueroute.fills import fill_lost_region
from hueroute.images import luma
from hueroute.progress import track
from hueroute.threads import thread_map


class RegionCache:
    """One `.npz` per lost region of a stored pair (named by the sha256 of the pair's original
    and own region, and the region's number): the region (S, S) and its filled luma (S, S).
    Region 0 is the pair's own; the others are drawn at random, seeded by the original, so
    raising `refine.regions` fills only the new ones."""

    def __init__(self, root: Path, fill: str, size: int) -> None:
        self.folder = root / f"regions-{fill}-{size}"
        self.fill = fill

    def region(self, store: PairStore, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Region `k` of `row` and its fill, computed and stored when missing."""
        original, (gray, own) = np.array(store.gt[row]), store.damaged(row)
        digest = hashlib.sha256(original.tobytes() + np.packbits(own).tobytes()).hexdigest()
        path = self.folder / f"{digest}-{k}.npz"
        if path.exists():
            with np.load(path) as saved:
                return saved["mask"], saved["fill"]
        if k == 0:
            mask = own
        else:
            seed = int.from_bytes(hashlib.sha256(original.tobytes()).digest()[:4], "little")
            drawn = random_degradation(*own.shape, seed=seed + k)
            mask, gray = drawn.mask, luma(original)
            gray[mask] = drawn.level
        filled = fill_lost_region(gray, mask, self.fill)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, mask=mask, fill=filled)
        return mask, filled


class RegionCrops(Dataset):
    """Crops of `crop` px around a random pixel of a random region, mirrored at random: the
    filled luma, the region and the original's luma, each (1, C, C) in [0, 1]."""

    def __init__(self, lumas: np.ndarray, masks: np.ndarray, fills: np.ndarray, crop: int):
        self.lumas, self.masks, self.fills = lumas, masks, fills  # (N, S, S), (N, R, S, S) x2
        self.crop = min(crop, lumas.shape[-1], lumas.shape[-2])

    def __len__(self) -> int:
        return self.masks.shape[0] * self.masks.shape[1]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row, region = divmod(index, self.masks.shape[1])
        mask = self.masks[row, region]
        ys, xs = np.nonzero(mask) if mask.any() else ([mask.shape[0] // 2], [mask.shape[1] // 2])
        pick = int(torch.randint(len(ys), ()))  # torch's generator: seeded with the run
        c = self.crop
        y0 = int(np.clip(ys[pick] - c // 2, 0, mask.shape[0] - c))
        x0 = int(np.clip(xs[pick] - c // 2, 0, mask.shape[1] - c))
        window = np.s_[y0 : y0 + c, x0 : x0 + c]
        step = -1 if torch.rand(()) < 0.5 else 1
        parts = {
            "filled": self.fills[row, region][window] / 255,
            "mask": mask[window],
            "luma": self.lumas[row][window] / 255,
        }
        return {
            key: torch.from_numpy(np.ascontiguousarray(part[:, ::step]))[None].float()
            for key, part in parts.items()
        }


class RefineDataModule(L.LightningDataModule):
    """The training crops of `train_ids`' pairs (`settings.steps` batches drawn with
    replacement) and the held-out inputs of `val_ids`, from the run's stored pairs.

    Training regions are filled a round at a time (each pair's first region, then its second,
    ...); with `fill_seconds`, no round starts that would end after that much filling (the
    first always runs), so that the fills of a large set leave the training its time."""

    def __init__(
        self,
        table: pd.DataFrame,
        cache_folder: Path,
        train_ids: list[str],
        val_ids: list[str],
        size: int,
        fill: str,
        settings: RefineConfig,
        fill_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.table = table
        self.cache_folder = cache_folder
        self.train_ids = train_ids
        self.val_ids = val_ids
        self.size = size
        self.fill = fill
        self.settings = settings
        self.fill_seconds = fill_seconds

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "store"):
            return
        started = time.monotonic()
        self.store = open_store(self.table, self.size, self.cache_folder)
        self.held_out = {
            "originals": self.originals(self.val_ids),
            **self.regions(self.val_ids, range(1), f"{len(self.val_ids)} held-out pairs"),
        }
        count, rounds = self.settings.regions, []
        for k in range(count):
            round_started = time.monotonic()
            what = f"{len(self.train_ids)} training pairs (region {k + 1} of {count})"
            rounds.append(self.regions(self.train_ids, range(k, k + 1), what))
            next_ends = 2 * time.monotonic() - round_started  # if one more round took as long
            if self.fill_seconds is not None and next_ends - started > self.fill_seconds:
                break
        self.train = {
            "originals": self.originals(self.train_ids),
            **{part: np.concatenate([r[part] for r in rounds], 1) for part in ("masks", "fills")},
        }

    def originals(self, ids: list[str]) -> np.ndarray:
        """(N, S, S, 3) originals of `ids`."""
        return np.stack([np.array(self.store.gt[row]) for row in self.store.index(ids)])

    def regions(self, ids: list[str], numbers: range, what: str) -> dict[str, np.ndarray]:
        """The lost regions `numbers` of each of `ids` (N, R, S, S) and their fills."""
        cache = RegionCache(self.cache_folder, self.fill, self.size)
        jobs = [(row, k) for row in self.store.index(ids) for k in numbers]
        chunks = [jobs[i : i + 64] for i in range(0, len(jobs), 64)]
        found = []
        for chunk in track(chunks, f"filling {len(jobs)} lost regions of {what}"):
            found += thread_map(lambda job: cache.region(self.store, *job), chunk)
        shape = (len(ids), len(numbers), self.size, self.size)
        return {
            "masks": np.stack([mask for mask, _ in found]).reshape(shape),
            "fills": np.stack([filled for _, filled in found]).reshape(shape),
        }

    def train_dataloader(self) -> DataLoader:
        lumas = np.stack([luma(original) for original in self.train["originals"]])
        dataset = RegionCrops(lumas, self.train["masks"], self.train["fills"], self.settings.crop)
        draws = self.settings.steps * self.settings.batch_size
        return DataLoader(
            dataset,
            batch_size=self.settings.batch_size,
            sampler=RandomSampler(dataset, replacement=True, num_samples=draws),
        )
