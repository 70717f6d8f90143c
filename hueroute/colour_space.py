"""Luma and chroma in the ITU-R 601 form of PIL's "L" and "YCbCr": on tensors in [0, 1],
and PIL's own fixed-point luma on uint8 arrays."""

import numpy as np
import torch

LUMA = (0.299, 0.587, 0.114)  # PIL's "L": (299 R + 587 G + 114 B) / 1000
PIL_LUMA = (19595, 38470, 7471)  # the same in PIL's 16-bit fixed point: (R, G, B) weights
# RGB = Y + a Cb + b Cr, channel by channel (chroma centred on 0)
FROM_CHROMA = ((0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0))


def rgb_to_luma(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W)."""
    weights = rgb.new_tensor(LUMA).view(1, 3, 1, 1)
    return (rgb * weights).sum(1, keepdim=True)


def rgb_to_chroma(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 2, H, W): Cb and Cr, centred on 0."""
    luma = rgb_to_luma(rgb)
    blue = (rgb[:, 2:3] - luma) / 1.772
    red = (rgb[:, 0:1] - luma) / 1.402
    return torch.cat([blue, red], 1)


def luma_chroma_to_rgb(luma: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] with exactly the given luma: chroma is scaled down where it would clip.

    Lowering the saturation of a pixel keeps its luma, so the result stays in gamut without
    touching Y, which is what keeps the known structure exact.
    """
    coefficients = chroma.new_tensor(FROM_CHROMA)  # (3, 2)
    offsets = torch.einsum("ck,nkhw->nchw", coefficients, chroma)
    room_up = (1 - luma) / offsets.clamp(min=1e-6)
    room_down = luma / (-offsets).clamp(min=1e-6)
    room = torch.where(offsets > 0, room_up, torch.where(offsets < 0, room_down, 1e6))
    scale = room.amin(1, keepdim=True).clamp(0, 1)
    return (luma + scale * offsets).clamp(0, 1)


def pil_luma(rgb: np.ndarray) -> np.ndarray:
    """PIL's convert("L") of uint8 RGB (..., 3), exactly."""
    weights = np.array(PIL_LUMA, dtype=np.int64)
    return (rgb.astype(np.int64) @ weights + 0x8000) >> 16
