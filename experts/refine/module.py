"""The LightningModule of the fill's correction: SSIM losses inside and around the lost
region, a one-cycle learning rate over the steps or the time given, whichever ends first."""

import math
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from hueroute.config import RefineConfig
from hueroute.experts.losses import lost_region_ssim_loss
from hueroute.experts.refine.net import Correction

WARMUP = 0.1  # of the training, the learning rate rising to its peak
START_FACTOR = 0.04  # of the peak learning rate, where the warm-up starts


def one_cycle(progress: float) -> float:
    """The learning rate's share of its peak at `progress` (0 to 1) of the training."""
    if progress < WARMUP:
        return START_FACTOR + (1 - START_FACTOR) * progress / WARMUP
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - WARMUP) / (1 - WARMUP))))


class FillRefiner(L.LightningModule):
    """Trains a Correction for `settings.steps` steps, or `seconds` of training if that ends
    sooner: the schedule follows whichever is further along."""

    def __init__(self, network: Correction, settings: RefineConfig, seconds: float | None) -> None:
        super().__init__()
        self.network = network
        self.settings = settings
        self.seconds = seconds
        self.started = time.monotonic()

    def progress(self) -> float:
        steps = self.global_step / self.settings.steps
        if self.seconds is None:
            return steps
        return max(steps, (time.monotonic() - self.started) / self.seconds)

    def on_train_start(self) -> None:
        self.started = time.monotonic()

    def training_step(self, batch: dict, index: int) -> torch.Tensor:
        pred = self.network(batch["filled"], batch["mask"])
        weight = self.settings.structure_weight
        loss = lost_region_ssim_loss(pred, batch["luma"], batch["mask"], weight)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(pred))
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(self.parameters(), self.settings.lr, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda _: one_cycle(self.progress())
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class StopWhenDone(Callback):
    """End training once the module's schedule has run its course."""

    def on_train_batch_end(self, trainer: L.Trainer, module: FillRefiner, *args: Any) -> None:
        if module.progress() >= 1:
            trainer.should_stop = True
