"""The competition's degradation: a random polygon in a random box, filled with one gray level."""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from polygenerator import random_convex_polygon, random_polygon, random_star_shaped_polygon
from skimage.draw import polygon2mask

from hueroute.images import luma

POLYGON_MAKERS: tuple[Callable[[int], list[tuple[float, float]]], ...] = (
    random_polygon,
    random_star_shaped_polygon,
    random_convex_polygon,
)
REFERENCE_SIZE = 512
MIN_BOX = 50
MIN_AREA = 625


@dataclass(frozen=True)
class Degradation:
    """One lost region: its mask (rows y, columns x), its fill level and the box it was drawn in."""

    mask: np.ndarray
    level: int
    box: tuple[int, int, int, int]  # y0, x0, height, width


def limits(height: int, width: int) -> tuple[int, float]:
    """Minimum box side and minimum polygon area, scaled from the 512 px originals."""
    scale = min(height, width) / REFERENCE_SIZE
    return max(3, round(MIN_BOX * scale)), MIN_AREA * scale * scale


@contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seed Python's global `random` (which polygenerator draws from), then restore it."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def random_degradation(height: int, width: int, seed: int) -> Degradation:
    """Draw a lost region the way the competition does; same seed, same region."""
    min_side, min_area = limits(height, width)
    with seeded_global_random(seed):
        while True:
            box_h = random.randint(min_side, height)
            box_w = random.randint(min_side, width)
            y0 = random.randint(0, height - box_h)
            x0 = random.randint(0, width - box_w)
            maker = random.choice(POLYGON_MAKERS)
            points = np.asarray(maker(random.randint(3, 20)))
            rows = y0 + points[:, 1] * (box_h - 1)
            cols = x0 + points[:, 0] * (box_w - 1)
            mask = polygon2mask((height, width), np.stack([rows, cols], axis=1))
            if mask.sum() > min_area:
                return Degradation(mask, random.randint(0, 255), (y0, x0, box_h, box_w))


def degrade(rgb: np.ndarray, degradation: Degradation) -> np.ndarray:
    """The damaged input: the luma of `rgb` with every pixel of the region set to one level."""
    gray = luma(rgb)
    gray[degradation.mask] = degradation.level
    return gray
