"""What every kind of expert offers the stages around it: a network that predicts an output,
outputs that average and come back at the input's size, and a kind that builds and trains it.

The predictor, the held-out scoring and the render study call these and never ask which kind
of expert they hold.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol, Self

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import nn

from hueroute.config import ColourConfig, TrainConfig
from hueroute.experts.module import ScoredModule


class Output(Protocol):
    """What an expert says about a batch of images (a dataclass of tensors whose fields
    average linearly, so that averaging outputs averages what the experts say)."""

    needs_fill: bool  # whether `full_size` colours the filled (and corrected) luma

    def pick(self, rows: list[int]) -> Self:
        """The images `rows` of the batch."""

    def mirrored(self) -> Self:
        """The output of the mirrored images, mirrored back."""

    def plain(self) -> Self:
        """The output with every prior reduced to the global mean."""

    def full_size(
        self, gray: np.ndarray, mask: np.ndarray, filled: np.ndarray, colour: ColourConfig
    ) -> np.ndarray:
        """(H, W, 3) uint8 restoration of the batch's only image at its input's size."""


def weighted_sum(outputs: list[Output], weights: list[float]) -> Output:
    """Σ w·output, field by field, of outputs of one kind."""
    parts = {
        field.name: sum(w * getattr(o, field.name) for w, o in zip(weights, outputs, strict=True))
        for field in fields(outputs[0])  # type: ignore[arg-type]
    }
    return type(outputs[0])(**parts)


class Expert(Protocol):
    """A restorer network as the ensemble runs it."""

    def predict(self, gray: torch.Tensor, mask: torch.Tensor) -> Output:
        """The output for (N, 1, S, S) gray inputs in [0, 1] and their lost regions."""

    def use_rendering(self, colour: ColourConfig) -> None:
        """Predict as the run's tuned rendering says (a no-op where an expert has none)."""


@dataclass(frozen=True)
class TrainingData:
    """What a kind trains on: the run's pairs, their store, and one fold's split."""

    table: pd.DataFrame
    cache: Path
    train_ids: list[str]
    val_ids: list[str]
    is_global: bool


@dataclass(frozen=True)
class Kind:
    """One kind of expert: how its network is built (`weights`: where its encoder starts, or
    None when trained weights will be loaded), how it is trained, and whether its output has
    a rendering that the render study tunes."""

    build: Callable[[TrainConfig, str | None], nn.Module]
    training: Callable[
        [nn.Module, TrainConfig, TrainingData], tuple[ScoredModule, L.LightningDataModule]
    ]
    renders: bool
