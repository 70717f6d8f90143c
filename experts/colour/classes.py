"""What the colour expert learns from an original: each pixel's hue class and chroma, each
class's spread over OpenCV's 180 hue bins in each band of luma, and each image's hue
histogram."""

import numpy as np
import torch

from hueroute.colour_space import rgb_to_chroma
from hueroute.image_score import HUE_BINS, hue_channel, hue_counts
from hueroute.images import luma

# the luma bands class shapes are counted in: near black and white a near-gray pixel is more
# often exactly gray (bin 0), in between more often on the spikes of a small max - min
LUMA_EDGES = (0, 8, 32, 64, 128, 192, 224, 248, 256)
BAND_PRIOR_PIXELS = 50  # pixels of the class's overall shape added to each band's counts


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


def luma_bands(lumas: np.ndarray, edges: tuple[int, ...] = LUMA_EDGES) -> np.ndarray:
    """The band of `edges` each uint8 luma falls in."""
    return np.clip(np.searchsorted(edges, lumas, side="right") - 1, 0, len(edges) - 2)


def class_shapes(
    images: list[np.ndarray],
    classes: int,
    gray_spread: int,
    edges: tuple[int, ...] = LUMA_EDGES,
) -> np.ndarray:
    """(bands, classes + 1, 180): how the pixels of each class spread over the hue bins, in
    `images`, for pixels whose luma falls in each band of `edges`.

    Near-gray pixels are not spread evenly: OpenCV puts exact gray in bin 0 and a pixel of
    max - min D can only take 6 D hues, so the class's shape keeps those spikes, and how
    often a pixel lands on them depends on its luma. A band's counts are drawn towards the
    class's overall shape by BAND_PRIOR_PIXELS; a class no image has is spread evenly over
    its arc.
    """
    bands = len(edges) - 1
    counts = np.zeros((bands, classes + 1, HUE_BINS))
    for rgb in images:
        band = luma_bands(luma(rgb), edges)
        joint = (band * (classes + 1) + pixel_classes(rgb, classes, gray_spread)) * HUE_BINS
        joint += hue_channel(rgb)
        counts += np.bincount(joint.ravel(), minlength=counts.size).reshape(counts.shape)
    overall = counts.sum(0)
    arcs = np.arange(HUE_BINS) * classes // HUE_BINS
    even = np.zeros_like(overall)
    even[arcs, np.arange(HUE_BINS)] = 1
    even[classes] = 1
    overall = np.where(overall.sum(1, keepdims=True) > 0, overall, even)
    counts = counts + BAND_PRIOR_PIXELS * overall / overall.sum(1, keepdims=True)
    return counts / counts.sum(-1, keepdims=True)
