"""What every stage that runs networks shares: the device to run on and tensors to images."""

import numpy as np
import torch

from hueroute.errors import InputError


def pick_device(name: str, setting: str) -> torch.device:
    """`auto` is the GPU when there is one; `cuda` without a GPU is an error about `setting`."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(setting, "is cuda but this machine has no GPU")
    return torch.device(name)


def training_device(accelerator: str) -> torch.device:
    """The device Lightning trains on for `train.accelerator` (one process)."""
    gpu = accelerator != "cpu" and torch.cuda.is_available()
    return torch.device("cuda" if gpu else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: a GPU that supports it, or a CPU with
    AVX-512 BF16 or AMX (elsewhere bfloat16 is emulated, and slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, H, W, C) uint8, rounded."""
    return (
        (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    )
