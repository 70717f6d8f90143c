"""The reference restorer: the gray input with its lost region inpainted by OpenCV."""

import cv2
import numpy as np

from hueroute.detect import detect_lost_region

INPAINT_RADIUS = 3


def baseline_restore(gray: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Fill the lost region (detected if not given) with Telea inpainting; return gray as RGB."""
    if mask is None:
        mask = detect_lost_region(gray)
    filled = cv2.inpaint(gray, mask.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return np.repeat(filled[..., None], 3, axis=2)
