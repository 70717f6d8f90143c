"""Each fact of the competition's degradation."""

import numpy as np
import pytest

from hueroute.data import samples_dir
from hueroute.dataset import square
from hueroute.degrade import degrade, limits, random_degradation
from hueroute.images import luma


@pytest.mark.parametrize("seed", range(40))
def test_region_facts_at_512(seed: int) -> None:
    region = random_degradation(512, 512, seed)
    y0, x0, box_h, box_w = region.box
    assert box_h >= 50 and box_w >= 50
    assert y0 + box_h <= 512 and x0 + box_w <= 512
    assert region.mask.sum() > 625
    rows, cols = np.nonzero(region.mask)
    assert rows.min() >= y0 and rows.max() < y0 + box_h
    assert cols.min() >= x0 and cols.max() < x0 + box_w
    assert 0 <= region.level <= 255


def test_rows_are_y_on_a_non_square_image() -> None:
    """On a wide image the polygon stays in its box and mostly spans it in both directions."""
    spans = []
    for seed in range(30):
        region = random_degradation(120, 400, seed)
        assert region.mask.shape == (120, 400)
        y0, x0, box_h, box_w = region.box
        rows, cols = np.nonzero(region.mask)
        assert y0 <= rows.min() and rows.max() < y0 + box_h
        assert x0 <= cols.min() and cols.max() < x0 + box_w
        spans.append(min((np.ptp(rows) + 1) / box_h, (np.ptp(cols) + 1) / box_w))
    assert np.mean(np.array(spans) > 0.75) >= 0.8  # only a thin tip lost in rasterising


def test_limits_scale_with_size() -> None:
    assert limits(512, 512) == (50, 625)
    assert limits(256, 256) == (25, 156.25)


@pytest.mark.parametrize("seed", range(10))
def test_input_is_the_luma_with_one_flat_level(seed: int) -> None:
    rgb = square(sorted(samples_dir().glob("*.jpg"))[seed], 128)
    region = random_degradation(128, 128, seed)
    gray = degrade(rgb, region)
    truth = luma(rgb)
    assert gray.dtype == np.uint8 and gray.shape == (128, 128)
    assert (gray[region.mask] == region.level).all()
    assert (gray[~region.mask] == truth[~region.mask]).all()
    changed = gray != truth
    assert (changed == (region.mask & (truth != region.level))).all()


def test_luma_is_pils_convert_l() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], np.uint8)
    expected = [(299 * r + 587 * g + 114 * b) / 1000 for r, g, b in rgb[0].astype(int)]
    assert np.abs(luma(rgb)[0] - np.array(expected)).max() <= 0.5


def test_same_seed_same_region_and_global_random_untouched() -> None:
    import random

    random.seed(123)
    before = random.random()
    random.seed(123)
    a = random_degradation(256, 256, 5)
    assert random.random() == before
    b = random_degradation(256, 256, 5)
    assert (a.mask == b.mask).all() and a.level == b.level and a.box == b.box
    assert not (random_degradation(256, 256, 6).mask == a.mask).all()
