"""Fills of the lost region by name: known pixels kept, any hole and size handled."""

import numpy as np
import pytest

from hueroute.config import BASELINE_FILL, FILL_NAMES
from hueroute.errors import InputError
from hueroute.fills import FILLS, fill_lost_region, fill_many, remembered_fill
from hueroute.images import read_gray, write_png
from tests.cli_helpers import invoke, succeed


def textured(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).normal(0, 6, (height, width))
    return np.clip(100 + 60 * np.sin(x / 7) * np.cos(y / 5) + noise, 0, 255).astype(np.uint8)


def test_the_settings_name_every_fill_and_no_other() -> None:
    assert tuple(FILLS) == FILL_NAMES
    assert BASELINE_FILL in FILLS


@pytest.mark.parametrize("name", list(FILLS))
@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (50, 31)])
def test_every_fill_keeps_known_pixels_and_fills_holes_touching_the_border(
    name: str, shape: tuple[int, int]
) -> None:
    gray = textured(*shape)
    mask = np.zeros(shape, bool)
    mask[:12, -15:] = True  # a corner
    mask[20:30, :6] = True  # the left edge
    mask[shape[0] // 2 : shape[0] // 2 + 6, shape[1] // 2 : shape[1] // 2 + 9] = True
    damaged = np.where(mask, 0, gray).astype(np.uint8)
    filled = fill_lost_region(damaged, mask, name)
    assert filled.shape == shape and filled.dtype == np.uint8
    assert (filled[~mask] == gray[~mask]).all()
    # the hole's level (0) is gone: the fill follows the surroundings
    assert abs(float(filled[mask].mean()) - float(gray[mask].mean())) < 40


@pytest.mark.parametrize("name", list(FILLS))
def test_a_flat_image_is_filled_nearly_flat(name: str) -> None:
    gray = np.full((40, 40), 90, np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[10:25, 5:30] = True
    filled = fill_lost_region(np.where(mask, 255, gray).astype(np.uint8), mask, name)
    assert np.abs(filled.astype(int) - 90).max() <= 3  # Telea rounds its gradients


def test_unknown_fill_and_a_wholly_lost_image_are_clear_errors() -> None:
    gray = textured(16, 16)
    with pytest.raises(InputError, match="unknown; choose from telea"):
        fill_lost_region(gray, np.zeros((16, 16), bool), "blur")
    with pytest.raises(InputError, match="whole image is lost"):
        fill_lost_region(gray, np.ones((16, 16), bool), "telea")
    assert (fill_lost_region(gray, np.zeros((16, 16), bool), "fsr-fast") == gray).all()


def test_many_fills_on_threads_match_one_by_one_and_a_repeat_is_filled_once(monkeypatch) -> None:
    monkeypatch.setattr("torch.get_num_threads", lambda: 2)
    grays = [textured(40 + i, 45) for i in range(5)]
    masks = [np.zeros(g.shape, bool) for g in grays]
    for i, mask in enumerate(masks):
        mask[5 + i : 20 + i, 10:25] = True
    remembered_fill.cache_clear()
    many = fill_many(grays, masks, "fsr-fast")
    assert remembered_fill.cache_info().misses == 5
    for gray, mask, filled in zip(grays, masks, many, strict=True):
        again = fill_lost_region(gray, mask, "fsr-fast")
        assert (again == filled).all()
        again[mask] = 0  # a caller may write into what it gets back
    assert remembered_fill.cache_info().misses == 5
    assert (fill_lost_region(grays[0], masks[0], "fsr-fast") == many[0]).all()
    with pytest.raises(ValueError, match="mask of shape"):
        fill_lost_region(grays[0], masks[1], "telea")


def test_fsr_without_opencv_contrib_is_a_clear_error(monkeypatch) -> None:
    import cv2

    monkeypatch.delattr(cv2, "xphoto")
    gray, mask = textured(21, 19), np.zeros((21, 19), bool)
    mask[3:9, 4:12] = True
    with pytest.raises(InputError, match="needs opencv-contrib-python-headless"):
        fill_lost_region(gray, mask, "fsr-best")
    assert fill_lost_region(gray, mask, "telea").shape == gray.shape


def test_baseline_command_takes_a_fill_by_name(tmp_path) -> None:
    gray = textured(48, 48)
    gray[10:30, 12:34] = 7
    write_png(tmp_path / "in" / "a.png", gray)
    succeed("baseline", tmp_path / "in", tmp_path / "ns", "--fill", "ns")
    succeed("baseline", tmp_path / "in", tmp_path / "telea")
    ns, telea = read_gray(tmp_path / "ns" / "a.png"), read_gray(tmp_path / "telea" / "a.png")
    assert (ns[:10] == gray[:10]).all() and not (ns == telea).all()
    result = invoke("baseline", tmp_path / "in", tmp_path / "x", "--fill", "blur")
    assert result.exit_code == 2 and "fill 'blur'" in result.output
