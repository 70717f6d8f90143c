"""The U-Net restorers as kinds: image to image on (gray, mask), trained on whole images."""

import lightning as L
from torch import nn

from hueroute.config import TrainConfig
from hueroute.experts.expert import Kind, TrainingData
from hueroute.experts.unet.data import PairDataModule
from hueroute.experts.unet.module import Restorer
from hueroute.experts.unet.net import Joint, TwoStage


def training(
    network: nn.Module, settings: TrainConfig, data: TrainingData
) -> tuple[Restorer, L.LightningDataModule]:
    loaders = PairDataModule(
        data.table,
        data.cache,
        data.train_ids,
        data.val_ids,
        settings.image_size,
        settings.batch_size,
        settings.num_workers,
        settings.fresh_fraction,
    )
    return Restorer(network, settings), loaders


JOINT = Kind(lambda settings, weights: Joint(settings.encoder, weights), training, renders=False)
TWO_STAGE = Kind(
    lambda settings, weights: TwoStage(settings.encoder, weights), training, renders=False
)
