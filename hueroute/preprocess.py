"""How an image is brought to a network's size: one function for training and prediction.

Models record PREPROCESSING; change it whenever what these functions return changes, so that
a model trained on the old inputs is refused instead of fed new ones.
"""

import numpy as np
from PIL import Image

PREPROCESSING = 1


def lost_level(gray: np.ndarray, mask: np.ndarray) -> int:
    """The flat gray level of the lost region (its most common level; 0 when there is none)."""
    return int(np.bincount(gray[mask]).argmax()) if mask.any() else 0


def shrink(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`image` (gray or RGB) and its lost region at `size` x `size` px: Lanczos for the image,
    nearest for the mask."""
    if image.shape[:2] == (size, size):
        return image, mask
    resized = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    region = np.asarray(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
    return resized, region


def network_input(gray: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A gray input and its lost region as a network trained at `size` px saw them: shrunk,
    the region one flat level."""
    level = lost_level(gray, mask)
    small, region = shrink(gray, mask, size)
    small = small.copy()
    small[region] = level
    return small, region
