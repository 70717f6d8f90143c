"""Every kind of expert by the name `train.network` gives it, and the networks built from
those names: fresh for training, or rebuilt from a saved model as it was trained."""

import torch
from torch import nn

from hueroute.config import TrainConfig
from hueroute.errors import InputError
from hueroute.experts.colour.kind import COLOUR
from hueroute.experts.expert import Kind
from hueroute.experts.unet.kind import JOINT, TWO_STAGE
from hueroute.run.models import SavedModel

KINDS: dict[str, Kind] = {"colour": COLOUR, "joint": JOINT, "two-stage": TWO_STAGE}


def kind_of(settings: TrainConfig) -> Kind:
    """The kind of expert that `settings.network` names."""
    if settings.network not in KINDS:
        choices = ", ".join(KINDS)
        raise InputError(f"train.network={settings.network}", f"unknown; choose from {choices}")
    return KINDS[settings.network]


def build_network(settings: TrainConfig, pretrained: bool = True) -> nn.Module:
    """The network `settings.network`; its encoder starts from `settings.encoder_weights`
    when `pretrained` (not when trained weights are about to be loaded)."""
    return kind_of(settings).build(settings, settings.encoder_weights if pretrained else None)


def rebuilt(model: SavedModel, device: torch.device | str = "cpu") -> nn.Module:
    """The network of a saved model as it was trained, in evaluation mode on `device`."""
    network = build_network(model.settings, pretrained=False)
    network.load_state_dict(model.weights)
    return network.to(device).eval()
