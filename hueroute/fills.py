"""Fills of the lost region, by name: OpenCV's inpainting and push-pull interpolation.

Every fill maps a gray uint8 image and its lost-region mask to the image with the masked
pixels replaced and every other pixel kept.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from hueroute.errors import InputError
from hueroute.threads import thread_map

INPAINT_RADIUS = 3  # px around a lost pixel that OpenCV's Telea and Navier-Stokes fills read
MEMO_SIZE = 128  # fills kept: the fold models and blends of a batch reuse their images' fills

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]


def push_pull(gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`gray` (N, 1, H, W) with every pixel where `mask` > 0.5 filled from its surroundings.

    Known pixels are averaged down a pyramid (each level weighted by how much of it is
    known), then each level's gaps are filled from the level above on the way back up: a
    smooth fill that follows the region's border, in a few poolings on any device.
    """
    known = (mask <= 0.5).to(gray.dtype)
    levels = [(gray * known, known)]
    while min(levels[-1][0].shape[-2:]) > 1:
        total, weight = levels[-1]
        levels.append(
            (F.avg_pool2d(total, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True))
        )
    total, weight = levels[-1]
    estimate = total / weight.clamp_min(1e-6)
    for total, weight in reversed(levels[:-1]):
        height, width = total.shape[-2:]  # a coarse cell covers 2 x 2 pixels, the last ones fewer
        above = F.interpolate(estimate, scale_factor=2, mode="bilinear", align_corners=False)
        estimate = total + (1 - weight) * above[..., :height, :width]
    return torch.where(known > 0, gray, estimate)


def push_pull_fill(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
    tensor = torch.tensor(gray, dtype=torch.float32)[None, None] / 255
    region = torch.tensor(mask, dtype=torch.float32)[None, None]
    return (push_pull(tensor, region)[0, 0] * 255).round().byte().numpy()


def opencv_fill(method: int) -> Fill:
    """cv2.inpaint with `method` (Telea or Navier-Stokes)."""

    def fill(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(gray, mask.astype(np.uint8), INPAINT_RADIUS, method)

    return fill


def fsr_fill(quality: str) -> Fill:
    """OpenCV contrib's frequency-selective reconstruction at `quality` (its mask marks the
    known pixels); a clear error where the installed OpenCV lacks the contrib modules."""

    def fill(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if not hasattr(cv2, "xphoto"):
            raise InputError(
                "fill 'fsr-*'", "needs opencv-contrib-python-headless (this OpenCV has no xphoto)"
            )
        out = np.zeros_like(gray)
        known = np.where(mask, 0, 255).astype(np.uint8)
        cv2.xphoto.inpaint(gray, known, out, getattr(cv2.xphoto, quality))
        return out

    return fill


FILLS: dict[str, Fill] = {
    "telea": opencv_fill(cv2.INPAINT_TELEA),
    "ns": opencv_fill(cv2.INPAINT_NS),
    "fsr-fast": fsr_fill("INPAINT_FSR_FAST"),
    "fsr-best": fsr_fill("INPAINT_FSR_BEST"),
    "push-pull": push_pull_fill,
}


def fill_named(name: str) -> Fill:
    if name not in FILLS:
        raise InputError(f"fill {name!r}", f"unknown; choose from {', '.join(FILLS)}")
    return FILLS[name]


def fill_lost_region(gray: np.ndarray, mask: np.ndarray, name: str = "fsr-fast") -> np.ndarray:
    """`gray` (H, W) uint8 with the pixels where `mask` is true filled by the fill `name`;
    the last fills are remembered, so a repeated image is filled once."""
    fill_named(name)
    gray, mask = np.ascontiguousarray(gray, dtype=np.uint8), np.asarray(mask, dtype=bool)
    if mask.shape != gray.shape:
        raise ValueError(f"a mask of shape {mask.shape} for an image of shape {gray.shape}")
    bits = np.packbits(mask).tobytes()
    return remembered_fill(name, gray.shape, gray.tobytes(), bits).copy()


@lru_cache(maxsize=MEMO_SIZE)
def remembered_fill(name: str, shape: tuple[int, ...], gray: bytes, bits: bytes) -> np.ndarray:
    image = np.frombuffer(gray, dtype=np.uint8).reshape(shape)
    mask = np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=image.size)
    mask = mask.reshape(shape).astype(bool)
    if not mask.any():
        return image.copy()
    if mask.all():
        raise InputError(f"fill {name!r}", "the whole image is lost: nothing to fill it from")
    return np.where(mask, FILLS[name](image.copy(), mask), image)


def fill_many(
    grays: Sequence[np.ndarray], masks: Sequence[np.ndarray], name: str = "fsr-fast"
) -> list[np.ndarray]:
    """`fill_lost_region` of each image, on threads."""
    pairs = zip(grays, masks, strict=True)
    return thread_map(lambda pair: fill_lost_region(*pair, name), pairs)
