"""Training data of the colour expert: each stored pair's filled gray input and, for a frozen
encoder, its features, cached in the run folder by content; the hue class and chroma of the
original at random pixels (training) or everywhere (validation)."""

import hashlib
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from hueroute.config import TrainConfig
from hueroute.experts.colour.classes import (
    class_shapes,
    normalised_histogram,
    pixel_chroma,
    pixel_classes,
)
from hueroute.experts.colour.net import HueNet
from hueroute.experts.module import quiet_lightning
from hueroute.experts.store import PairStore, open_store
from hueroute.files import atomic_path
from hueroute.progress import track
from hueroute.tensors import training_device

SHAPE_IMAGES = 1000  # originals the class shapes are counted on, at most


class FeatureCache:
    """One `.npy` per gray input (named by the sha256 of its pixels and lost region): the
    filled image, then, with `features`, the encoder's maps and pooled features, in float16.

    Files are only ever added, so runs, folds and experts share them and an interrupted
    caching resumes.
    """

    def __init__(self, root: Path, network: HueNet, size: int, features: bool) -> None:
        self.network = network
        self.size = size
        self.features = features
        encoder = network.encoder.default_cfg.get("architecture", "encoder")
        kind = f"features-{encoder}" if features else "filled"
        self.folder = root / f"{kind}-{network.fill}-{size}"
        reductions = [network.encoder.feature_info[i]["reduction"] for i in network.levels]
        channels = [network.encoder.feature_info[i]["num_chs"] for i in network.levels]
        self.shapes = [(1, size, size)]
        if features:
            self.shapes += [
                (c, size // r, size // r) for c, r in zip(channels, reductions, strict=True)
            ]
            self.shapes.append((network.encoder.num_features,))

    def path(self, gray: np.ndarray, mask: np.ndarray) -> Path:
        digest = hashlib.sha256(gray.tobytes() + np.packbits(mask).tobytes()).hexdigest()
        return self.folder / f"{digest}.npy"

    @torch.no_grad()
    def fill(
        self, store: PairStore, rows: np.ndarray, batch_size: int, device: torch.device
    ) -> list[Path]:
        """The cache files of `rows` of the store, computing the missing ones on `device`."""
        inputs = [store.damaged(row) for row in rows]
        paths = [self.path(gray, mask) for gray, mask in inputs]
        todo = [i for i, path in enumerate(paths) if not path.exists()]
        if not todo:
            return paths
        starts = range(0, len(todo), batch_size)
        network, training = self.network, self.network.training
        home = network.prior.device
        network.eval().to(device)
        for start in track(starts, f"caching {len(todo)} inputs of the colour expert"):
            chunk = todo[start : start + batch_size]
            gray = torch.from_numpy(np.stack([inputs[i][0] for i in chunk]))[:, None] / 255
            mask = torch.from_numpy(np.stack([inputs[i][1] for i in chunk]))[:, None].float()
            filled = network.fill_input(gray.float().to(device), mask.to(device))
            parts = [filled * 255]
            if self.features:
                maps, pooled = network.encode(filled)
                parts += [*maps, pooled]
            flat = torch.cat([p.flatten(1) for p in parts], 1).half().cpu().numpy()
            for i, vector in zip(chunk, flat, strict=True):
                with atomic_path(paths[i]) as tmp, open(tmp, "wb") as handle:
                    np.save(handle, vector)
        network.train(training).to(home)
        return paths

    def load(self, path: Path) -> list[torch.Tensor]:
        """The filled image (1, S, S) in [0, 1], then the maps and pooled features (float16,
        made float where they are used)."""
        flat = torch.from_numpy(np.load(path))
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        parts = [p.reshape(s) for p, s in zip(flat.split(sizes), self.shapes, strict=True)]
        parts[0] = parts[0].float() / 255
        return parts


def mirrored(key: str, value: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list:
    """An item's part flipped left-right (the pooled features do not change)."""
    if key == "pooled":
        return value
    if key == "maps":
        return [m.flip(-1) for m in value]
    return value.flip(-1)


class HueDataset(Dataset):
    """Items of the colour expert: filled gray, lost region, original, pixel classes and
    chroma, and the cached features; mirrored left-right half the time in training."""

    def __init__(
        self,
        store: PairStore,
        rows: np.ndarray,
        cache: FeatureCache,
        paths: list[Path],
        settings: TrainConfig,
        train: bool,
    ) -> None:
        self.store = store
        self.rows = rows
        self.cache = cache
        self.paths = paths
        self.settings = settings.colour
        self.train = train

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        filled, *features = self.cache.load(self.paths[index])
        rgb = np.array(self.store.gt[row])
        mask = torch.from_numpy(np.array(self.store.masks[row]))[None].float()
        item = {"filled": filled, "mask": mask}
        if features:
            item["maps"], item["pooled"] = features[:-1], features[-1]
        mirror = self.train and bool(torch.rand(()) < 0.5)
        if mirror:
            item = {key: mirrored(key, value) for key, value in item.items()}
        if self.train:  # only the pixels the step learns from: little to compute and to move
            return item | self.point_targets(rgb, mirror)
        classes = pixel_classes(rgb, self.settings.hue_classes, self.settings.gray_spread)
        return item | {
            "rgb": torch.from_numpy(rgb).permute(2, 0, 1).float() / 255,
            "classes": torch.from_numpy(classes),
            "chroma": pixel_chroma(rgb),
        }

    def point_targets(self, rgb: np.ndarray, mirror: bool) -> dict:
        """`colour.points` random pixels of the (mirrored) image: "points" (P, 2), x and y in
        [-1, 1] at pixel centres, and the original's "classes" (P,) and "chroma" (P, 2) there."""
        height, width = rgb.shape[:2]
        ys = torch.randint(height, (self.settings.points,))
        xs = torch.randint(width, (self.settings.points,))
        picked = rgb[ys.numpy(), (width - 1 - xs if mirror else xs).numpy()][None]
        classes = pixel_classes(picked, self.settings.hue_classes, self.settings.gray_spread)
        return {
            "points": torch.stack([(xs + 0.5) / width * 2 - 1, (ys + 0.5) / height * 2 - 1], -1),
            "classes": torch.from_numpy(classes[0]),
            "chroma": pixel_chroma(picked)[:, 0].T,
        }


class HueDataModule(L.LightningDataModule):
    """Loaders of the colour expert over a run's stored pairs; an epoch is
    `colour.steps_per_epoch` batches of images drawn with replacement."""

    def __init__(
        self,
        table: pd.DataFrame,
        cache_folder: Path,
        train_ids: list[str],
        val_ids: list[str],
        network: HueNet,
        settings: TrainConfig,
    ) -> None:
        super().__init__()
        self.table = table
        self.cache_folder = cache_folder
        self.train_ids = train_ids
        self.val_ids = val_ids
        self.network = network
        self.settings = settings

    def prepare_data(self) -> None:
        """Decode the pairs and cache the features once, before data-parallel processes open
        them (Lightning calls this on one process of each machine)."""
        self.setup()

    def setup(self, stage: str | None = None) -> None:
        quiet_lightning()  # again in each data-parallel process, where setup runs first
        if hasattr(self, "store"):  # set up once a process, whatever the stage
            return
        size = self.settings.image_size
        self.store = open_store(self.table, size, self.cache_folder)
        colour = self.settings.colour
        features = colour.cache_features and not colour.train_encoder
        self.cache = FeatureCache(self.cache_folder, self.network, size, features)
        self.paths = {}
        device = training_device(self.settings.accelerator)
        for ids in (self.train_ids, self.val_ids):
            rows = self.store.index(ids)
            found = self.cache.fill(self.store, rows, self.settings.batch_size, device)
            self.paths.update(dict(zip(ids, found, strict=True)))

    @torch.no_grad()
    def originals(self, ids: list[str]) -> tuple[np.ndarray, torch.Tensor]:
        """The hue histograms of `ids`' originals (shares of pixels) and the memory keys of
        their gray inputs (from the cached features, or from the encoder as it is now)."""
        rows = self.store.index(ids)
        histograms = np.stack([normalised_histogram(np.array(self.store.gt[r])) for r in rows])
        device, step, keys = self.network.prior.device, self.settings.batch_size, []
        for start in range(0, len(ids), step):
            loaded = [self.cache.load(self.paths[i]) for i in ids[start : start + step]]
            masks = [np.array(self.store.masks[r]) for r in rows[start : start + step]]
            filled = torch.stack([parts[0] for parts in loaded]).to(device)
            mask = torch.from_numpy(np.stack(masks))[:, None].float().to(device)
            if self.cache.features:
                levels = zip(*(parts[1:-1] for parts in loaded), strict=True)
                maps = [torch.stack(level).to(device) for level in levels]
                pooled = torch.stack([parts[-1] for parts in loaded]).to(device)
            else:
                maps, pooled = self.network.encode(filled)
            keys.append(self.network.memory_key(maps, pooled, filled, mask).cpu())
        return histograms, torch.cat(keys)

    def shapes(self, ids: list[str]) -> np.ndarray:
        """Each class's spread over the hue bins, from up to SHAPE_IMAGES of `ids`' originals."""
        rows = self.store.index(ids)
        rows = rows[np.linspace(0, len(rows) - 1, min(len(rows), SHAPE_IMAGES)).astype(int)]
        colour = self.settings.colour
        images = [np.array(self.store.gt[r]) for r in rows]
        return class_shapes(images, colour.hue_classes, colour.gray_spread)

    def dataset(self, ids: list[str], train: bool) -> HueDataset:
        paths = [self.paths[i] for i in ids]
        return HueDataset(
            self.store, self.store.index(ids), self.cache, paths, self.settings, train
        )

    def loader(self, ids: list[str], train: bool) -> DataLoader:
        dataset = self.dataset(ids, train)
        draws = self.settings.colour.steps_per_epoch * self.settings.batch_size
        return DataLoader(
            dataset,
            batch_size=self.settings.batch_size,
            sampler=RandomSampler(dataset, replacement=True, num_samples=draws) if train else None,
            num_workers=self.settings.num_workers,
            persistent_workers=self.settings.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.train_ids, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.val_ids, train=False)
