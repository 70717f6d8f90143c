"""What the colour expert learns from an original: each pixel's hue class and chroma, each
class's spread over OpenCV's 180 hue bins, and each image's hue histogram."""

import numpy as np
import torch

from experts.colour import rgb_to_chroma
from hueroute.metric import HUE_BINS, hue_channel, hue_counts


def pixel_classes(rgb: np.ndarray, classes: int, gray_spread: int) -> np.ndarray:
    """(H, W) class of each pixel of an RGB uint8 image: its hue's arc of `classes` equal arcs,
    or `classes` (near-gray) where max - min over R, G, B is under `gray_spread`."""
    spread = rgb.max(-1).astype(int) - rgb.min(-1)
    arc = hue_channel(rgb).astype(int) * classes // HUE_BINS
    return np.where(spread < gray_spread, classes, arc)


def pixel_chroma(rgb: np.ndarray) -> torch.Tensor:
    """(2, H, W) Cb and Cr of an RGB uint8 image, centred on 0."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    return rgb_to_chroma(tensor)[0]


def normalised_histogram(rgb: np.ndarray) -> np.ndarray:
    """The image's hue histogram as shares of its pixels (180 bins summing to 1)."""
    counts = hue_counts(rgb).astype(np.float64)
    return counts / counts.sum()


def class_shapes(images: list[np.ndarray], classes: int, gray_spread: int) -> np.ndarray:
    """(classes + 1, 180): how the pixels of each class spread over the hue bins, in `images`.

    Near-gray pixels are not spread evenly: OpenCV puts exact gray in bin 0 and a pixel of
    max - min D can only take 6 D hues, so the class's shape keeps those spikes. A class no
    image has is spread evenly over its arc.
    """
    counts = np.zeros((classes + 1) * HUE_BINS)
    for rgb in images:
        joint = pixel_classes(rgb, classes, gray_spread) * HUE_BINS + hue_channel(rgb)
        counts += np.bincount(joint.ravel(), minlength=len(counts))
    counts = counts.reshape(classes + 1, HUE_BINS)
    arcs = np.arange(HUE_BINS) * classes // HUE_BINS
    even = np.zeros_like(counts)
    even[arcs, np.arange(HUE_BINS)] = 1
    even[classes] = 1
    counts = np.where(counts.sum(1, keepdims=True) > 0, counts, even)
    return counts / counts.sum(1, keepdims=True)
