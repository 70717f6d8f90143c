"""The colour expert as a kind: a HueNet trained on random pixels, rendered to a histogram."""

import lightning as L

from hueroute.config import TrainConfig
from hueroute.experts.colour.data import HueDataModule
from hueroute.experts.colour.module import HueRestorer
from hueroute.experts.colour.net import HueNet
from hueroute.experts.expert import Kind, TrainingData


def build(settings: TrainConfig, weights: str | None) -> HueNet:
    return HueNet(settings.encoder, weights, settings.colour, settings.fill)


def training(
    network: HueNet, settings: TrainConfig, data: TrainingData
) -> tuple[HueRestorer, L.LightningDataModule]:
    loaders = HueDataModule(data.table, data.cache, data.train_ids, data.val_ids, network, settings)
    return HueRestorer(network, settings, data.is_global), loaders


COLOUR = Kind(build, training, renders=True)
