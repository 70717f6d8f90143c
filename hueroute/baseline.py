"""The reference restorer: the gray input with its lost region filled, as RGB."""

import numpy as np

from hueroute.config import BASELINE_FILL
from hueroute.detect import detect_lost_region
from hueroute.fills import fill_lost_region


def baseline_restore(
    gray: np.ndarray, mask: np.ndarray | None = None, fill: str = BASELINE_FILL
) -> np.ndarray:
    """Fill the lost region (detected if not given) by `fill`; return the gray image as RGB."""
    if mask is None:
        mask = detect_lost_region(gray)
    filled = fill_lost_region(gray, mask, fill)
    return np.repeat(filled[..., None], 3, axis=2)
