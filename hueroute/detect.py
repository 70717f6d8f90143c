"""Find the lost region of a damaged gray input from the input alone.

The region is a connected set of pixels of one exact gray level whose edge is a hard step:
the pixels just outside it rarely come within two levels of it. Natural flat areas (clipped
sky, black shadows, the plateaus of smooth gradients) are the opposite: their neighbours differ
by a level or two. So every connected set of equal pixels with a large 3 x 3-flat interior is
a candidate, scored by its area times the share of hard steps around it to the 8th power; black and
white candidates (letterbox bars, clipping) count a quarter.
"""

import cv2
import numpy as np
from skimage.measure import label

from hueroute.degrade import limits

KERNEL = np.ones((3, 3), np.uint8)
SOFT_STEP = 2  # ring pixels this close to the level make a natural (soft) edge
MIN_PIECE = 8  # smallest split-off piece of the polygon that is looked for
MIN_PIECE_HARDNESS = 0.75
HARDNESS_POWER = 8  # the lost region is hard-edged all round; natural areas only in part
CLIPPED_WEIGHT = 0.25  # black or white areas are far more often clipping than the lost region


def describe(
    gray: np.ndarray, regions: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, level, and share of hard steps in the ring around, of each region in `ids`."""
    index = np.zeros(regions.max() + 1, np.uint16)
    index[ids] = np.arange(1, len(ids) + 1)
    candidates = index[regions]
    neighbour = cv2.dilate(candidates, KERNEL)
    ring = (neighbour != candidates) & (neighbour > 0)
    owner = neighbour[ring]
    levels = np.zeros(len(ids) + 1, np.int16)
    levels[candidates.ravel()] = gray.ravel()
    soft = np.abs(gray[ring].astype(np.int16) - levels[owner]) <= SOFT_STEP
    ring_size = np.bincount(owner, minlength=len(ids) + 1)[1:]
    soft_size = np.bincount(owner, weights=soft, minlength=len(ids) + 1)[1:]
    area = np.bincount(candidates.ravel(), minlength=len(ids) + 1)[1:]
    return area, levels[1:], 1 - soft_size / np.maximum(ring_size, 1)


def with_split_pieces(gray: np.ndarray, regions: np.ndarray, chosen: int) -> np.ndarray:
    """The chosen region plus the hard-edged pieces of its level nearby.

    A polygon with a neck thinner than a pixel rasterises into several pieces.
    """
    mask = regions == chosen
    level = gray[mask][0]
    rows, cols = np.nonzero(mask)
    reach = max(limits(*gray.shape)[0], 8)
    window = (
        slice(max(rows.min() - reach, 0), rows.max() + reach + 1),
        slice(max(cols.min() - reach, 0), cols.max() + reach + 1),
    )
    nearby = regions[window][gray[window] == level]
    size = np.bincount(nearby)
    pieces = np.flatnonzero(size >= MIN_PIECE)
    pieces = pieces[pieces != chosen]
    if len(pieces) == 0:
        return mask
    _, _, hardness = describe(gray, regions, pieces)
    return mask | np.isin(regions, pieces[hardness >= MIN_PIECE_HARDNESS])


def detect_lost_region(gray: np.ndarray) -> np.ndarray:
    """A boolean mask of the lost region of an H x W uint8 input (all False if none is found)."""
    _, min_area = limits(*gray.shape)
    flat = cv2.erode(gray, KERNEL) == cv2.dilate(gray, KERNEL)
    regions = label(gray, background=-1, connectivity=2)
    flat_size = np.bincount(regions[flat], minlength=regions.max() + 1)
    ids = np.flatnonzero(flat_size >= min_area / 4)
    if len(ids) == 0:
        return np.zeros(gray.shape, bool)
    area, levels, hardness = describe(gray, regions, ids)
    prior = np.where((levels == 0) | (levels == 255), CLIPPED_WEIGHT, 1.0)
    return with_split_pieces(gray, regions, ids[np.argmax(area * hardness**HARDNESS_POWER * prior)])
