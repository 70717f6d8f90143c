"""The LightningModule of the U-Net restorers: whole images, the configured losses."""

import numpy as np
import torch
from torch import nn

from hueroute.config import TrainConfig
from hueroute.experts.losses import RestorationLoss
from hueroute.experts.module import ScoredModule
from hueroute.tensors import to_uint8


class Restorer(ScoredModule):
    """Trains an image-to-image `network` on (gray, mask) -> RGB with the configured losses."""

    def __init__(self, network: nn.Module, settings: TrainConfig) -> None:
        super().__init__(network, settings)
        self.loss = RestorationLoss(settings.loss)

    def forward(self, gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.network(gray, mask)

    def training_step(self, batch: dict[str, torch.Tensor], index: int) -> torch.Tensor:
        pred = self(batch["gray"], batch["mask"])
        total, parts = self.loss(pred.float(), batch["rgb"])
        self.log("train_loss", total, prog_bar=True, batch_size=len(pred))
        self.log_dict({f"train_{k}": v for k, v in parts.items()}, batch_size=len(pred))
        return total

    def restore_batch(self, batch: dict) -> np.ndarray:
        return to_uint8(self(batch["gray"], batch["mask"]))
