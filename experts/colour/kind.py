"""The colour expert as a kind: a HueNet trained on random pixels, rendered to a histogram."""

import lightning as L

from experts.colour.data import HueDataModule
from experts.colour.module import HueRestorer
from experts.colour.net import HueNet
from experts.expert import Kind, TrainingData
from hueroute.config import TrainConfig


def build(settings: TrainConfig, weights: str | None) -> HueNet:
    return HueNet(settings.encoder, weights, settings.colour, settings.fill)


def training(
    network: HueNet, settings: TrainConfig, data: TrainingData
) -> tuple[HueRestorer, L.LightningDataModule]:
    loaders = HueDataModule(data.table, data.cache, data.train_ids, data.val_ids, network, settings)
    return HueRestorer(network, settings, data.is_global), loaders


COLOUR = Kind(build, training, renders=True)
