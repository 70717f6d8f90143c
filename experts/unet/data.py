"""Training data of one expert on one fold: stored pairs plus fresh degradations each epoch."""

from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from hueroute.degrade import random_degradation
from hueroute.experts.module import quiet_lightning
from hueroute.experts.store import PairStore, open_store
from hueroute.images import luma


class PairDataset(Dataset):
    """Items of a PairStore as tensors in [0, 1]: gray (1, S, S), mask (1, S, S), rgb (3, S, S).

    In training, each item is degraded afresh with probability `fresh` (a new region drawn
    from torch's random stream, so every epoch differs and seeding the run repeats it) and
    flipped left-right half the time; otherwise the stored degradation is used.
    """

    def __init__(self, store: PairStore, rows: np.ndarray, train: bool, fresh: float) -> None:
        self.store = store
        self.rows = rows
        self.train = train
        self.fresh = fresh

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self.rows[index]
        rgb = np.array(self.store.gt[row])
        mask, level = np.array(self.store.masks[row]), int(self.store.levels[row])
        if self.train and torch.rand(()) < self.fresh:
            drawn = random_degradation(*rgb.shape[:2], seed=int(torch.randint(2**31 - 1, ())))
            mask, level = drawn.mask, drawn.level
        if self.train and torch.rand(()) < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        gray = luma(np.ascontiguousarray(rgb))
        gray[mask] = level
        return {
            "gray": torch.from_numpy(gray)[None].float() / 255,
            "mask": torch.from_numpy(np.ascontiguousarray(mask))[None].float(),
            "rgb": torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255,
            "row": torch.tensor(row),
        }


class PairDataModule(L.LightningDataModule):
    """Loaders over a run's stored pairs for given training and validation ids."""

    def __init__(
        self,
        table: pd.DataFrame,
        store_folder: Path,
        train_ids: list[str],
        val_ids: list[str],
        image_size: int,
        batch_size: int,
        num_workers: int = 0,
        fresh: float = 0.5,
    ) -> None:
        super().__init__()
        self.table = table
        self.store_folder = store_folder
        self.train_ids = train_ids
        self.val_ids = val_ids
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.fresh = fresh

    def prepare_data(self) -> None:
        """Decode the pairs once, before data-parallel processes open them."""
        open_store(self.table, self.image_size, self.store_folder)

    def setup(self, stage: str | None = None) -> None:
        quiet_lightning()  # again in each data-parallel process, where setup runs first
        if not hasattr(self, "store"):  # set up once a process, whatever the stage
            self.store = open_store(self.table, self.image_size, self.store_folder)

    def loader(self, ids: list[str], train: bool) -> DataLoader:
        dataset = PairDataset(self.store, self.store.index(ids), train, self.fresh)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.train_ids, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.val_ids, train=False)
