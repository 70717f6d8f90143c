"""Lost-region detection from the gray input alone."""

import numpy as np
import pytest

from hueroute.data import samples_dir
from hueroute.dataset import square
from hueroute.degrade import degrade, random_degradation
from tests.conftest import smooth_photo


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def sky_photo(seed: int, size: int = 256) -> np.ndarray:
    """A photo clipped to white in its sky and to black in a shadow: large natural flat areas."""
    image = smooth_photo(np.random.default_rng(seed), size).astype(float)
    rows, cols = np.mgrid[0:size, 0:size]
    sky = np.clip((size // 3 - rows) * 12, 0, None)
    shadow = np.clip(np.minimum(rows - 3 * size // 4, size // 3 - cols) * 12, 0, None)
    return np.clip(image + (sky - shadow)[..., None], 0, 255).astype(np.uint8)


def detect(rgb: np.ndarray, seed: int) -> tuple[float, int]:
    from hueroute.detect import detect_lost_region

    region = random_degradation(*rgb.shape[:2], seed=seed)
    found = detect_lost_region(degrade(rgb, region))
    return iou(found, region.mask), region.level


def test_finds_the_region_beside_clipped_sky_and_shadow() -> None:
    scores = [detect(sky_photo(seed), seed) for seed in range(30)]
    ordinary = [value for value, level in scores if level not in (0, 255)]
    assert min(ordinary) >= 0.9
    assert np.median([value for value, _ in scores]) >= 0.98


def test_prefers_the_hard_edged_region_over_a_larger_flat_sky() -> None:
    from hueroute.detect import detect_lost_region

    rgb = sky_photo(0)
    region = random_degradation(256, 256, seed=11)
    gray = degrade(rgb, region)
    gray[region.mask] = 120
    assert (gray == 255).sum() > region.mask.sum()
    assert iou(detect_lost_region(gray), region.mask) >= 0.95


@pytest.mark.parametrize("size", [96, 200])
def test_on_the_bundled_photos(size: int) -> None:
    photos = sorted(samples_dir().glob("*.jpg"))
    scores = [detect(square(path, size), seed)[0] for seed, path in enumerate(photos)]
    assert np.median(scores) >= 0.98
    assert np.mean(np.array(scores) >= 0.9) >= 0.9


def test_a_clean_image_gives_an_empty_mask() -> None:
    from hueroute.detect import detect_lost_region

    gray = smooth_photo(np.random.default_rng(0), 128)[..., 0]
    assert not detect_lost_region(gray).any()
