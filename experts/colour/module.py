"""The LightningModule of the colour expert: each step reads random pixels of each image and
learns their hue class and chroma; validation renders whole images and scores them."""

import numpy as np
import torch
import torch.nn.functional as F

from hueroute.config import TrainConfig
from hueroute.experts.colour.net import HueNet
from hueroute.experts.colour.output import colourise
from hueroute.experts.module import ScoredModule
from hueroute.tensors import to_uint8
from hueroute.threads import thread_map

CHROMA_LOSS_WEIGHT = 4.0  # chroma errors are small numbers; scaled to count beside the classes


class HueRestorer(ScoredModule):
    """Trains a HueNet's head (and its encoder, with `colour.train_encoder`). The expert's
    memory of its training originals (prior, neighbours, and for the global expert the class
    shapes and the global prior) is taken from the data module when fitting starts."""

    network: HueNet

    def __init__(self, network: HueNet, settings: TrainConfig, is_global: bool) -> None:
        super().__init__(network, settings)
        self.is_global = is_global

    def on_fit_start(self) -> None:
        self.remember()

    def on_validation_epoch_start(self) -> None:
        if self.settings.colour.train_encoder:  # the neighbours' features move with the encoder
            self.remember()

    def remember(self) -> None:
        data = self.trainer.datamodule
        histograms, keys = data.originals(data.train_ids)
        prior = histograms.mean(0)
        if self.is_global:
            shapes = data.shapes(data.train_ids)
            self.network.remember(prior, keys, histograms, shapes=shapes, global_prior=prior)
        else:
            self.network.remember(prior, keys, histograms)

    def training_step(self, batch: dict, index: int) -> torch.Tensor:
        maps, pooled = self.network.batch_features(batch)
        n = len(batch["filled"])
        out = self.network.point_outputs(
            maps, pooled, batch["filled"], batch["mask"], batch["points"]
        )
        k = self.network.classes + 1
        class_loss = F.cross_entropy(out[..., :k].reshape(-1, k).float(), batch["classes"].ravel())
        chroma_loss = F.mse_loss(out[..., k:].float(), batch["chroma"])
        total = class_loss + CHROMA_LOSS_WEIGHT * chroma_loss
        self.log("train_loss", total, prog_bar=True, batch_size=n)
        self.log_dict({"train_classes": class_loss, "train_chroma": chroma_loss}, batch_size=n)
        return total

    def restore_batch(self, batch: dict) -> np.ndarray:
        maps, pooled = self.network.batch_features(batch)
        output = self.network.describe(maps, pooled, batch["filled"], batch["mask"])
        lumas = to_uint8(batch["filled"])[..., 0]
        masks = batch["mask"][:, 0].bool().cpu().numpy()
        settings = self.settings.colour
        return np.stack(
            thread_map(
                lambda i: colourise(output.pick([i]), lumas[i], masks[i], settings),
                range(len(lumas)),
            )
        )
