"""The renderer: exact hue bins and exact luma, histograms that follow a target."""

import numpy as np
import pytest
import torch

from hueroute.colour_space import pil_luma
from hueroute.config import ColourConfig
from hueroute.data import samples_dir
from hueroute.experts.colour.output import HueOutput, target_histogram
from hueroute.experts.colour.render import (
    Paint,
    assign_bins,
    bin_counts,
    hue_directions,
    opencv_hue,
    paint,
    render,
)
from hueroute.experts.expert import weighted_sum
from hueroute.image_score import HUE_BINS, hist_similarity, hue_channel
from hueroute.images import luma, read_rgb


def sample_photos() -> list[np.ndarray]:
    return [read_rgb(path) for path in sorted(samples_dir().glob("*.jpg"))]


def test_pil_luma_is_pil_convert_l_exactly() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert (pil_luma(rgb) == luma(rgb)).all()


@pytest.mark.parametrize("bin_", [0, 1, 14, 15, 29, 44, 60, 89, 90, 120, 150, 178, 179])
def test_directions_aim_at_the_bin_centre_with_zero_luma(bin_: int) -> None:
    direction = hue_directions(np.array([bin_]))[0]
    assert abs(direction @ np.array([0.299, 0.587, 0.114])) < 1e-3
    assert np.ptp(direction) == pytest.approx(1.0)
    pixel = np.round(128 + 60 * direction).astype(np.uint8)[None]
    assert opencv_hue(pixel)[0] == bin_


def test_paint_reproduces_each_photos_own_hues_and_keeps_its_luma() -> None:
    """Given every pixel's hue bin, the rendered image has the original's hue histogram (with
    little chroma) and exactly its luma."""
    for rgb in sample_photos():
        bins = hue_channel(rgb).astype(int).ravel()
        gray = np.ptp(rgb, axis=-1).ravel() == 0
        bins[gray] = -1
        known = luma(rgb)
        out = paint(known.ravel(), bins, np.full(bins.shape, 3.0)).reshape(rgb.shape)
        assert (luma(out) == known).all()
        assert hist_similarity(rgb, out) >= 0.99


def test_bin_counts_follow_the_target_and_sum_to_the_pixels() -> None:
    target = np.random.default_rng(1).random(HUE_BINS) ** 3
    counts = bin_counts(target, 10_007)
    assert counts.sum() == 10_007 and (counts >= 0).all()
    assert np.abs(counts - target / target.sum() * 10_007).max() < 1


def test_assignment_keeps_the_order_of_predicted_hues_and_grays_the_grayest() -> None:
    counts = np.zeros(HUE_BINS, int)
    counts[[0, 30, 60, 120]] = [2, 2, 2, 2]
    angles = np.array([61.0, 239.0, 119.0, 5.0, 59.0, 241.0, 121.0, 3.0])
    grayness = np.array([0, 0, 0, 0.9, 0, 0, 0, 0.8])
    bins = assign_bins(angles, grayness, counts)
    assert list(bins) == [30, 120, 60, -1, 30, 120, 60, -1]


def uniform_output(height: int, width: int, classes: int = 30) -> HueOutput:
    probabilities = torch.full((1, classes + 1, height, width), 1 / (classes + 1))
    flat = torch.full((1, HUE_BINS), 1 / HUE_BINS)
    return HueOutput(probabilities, torch.zeros(1, 2, height, width), flat, flat, flat, flat)


def test_render_draws_a_target_histogram_with_the_known_luma() -> None:
    rgb = sample_photos()[3]
    known = luma(rgb)
    target = np.zeros(HUE_BINS)
    target[[0, 20, 105]] = [0.2, 0.5, 0.3]
    probabilities = np.random.default_rng(2).random((31, *known.shape))
    mask = np.zeros(known.shape, bool)
    out = render(known, mask, probabilities, np.zeros((2, *known.shape)), target, Paint())
    assert (luma(out) == known).all()
    counts = np.bincount(hue_channel(out).ravel(), minlength=HUE_BINS)
    assert np.corrcoef(counts, target)[0, 1] > 0.99


def test_the_lost_region_takes_the_gray_share_first() -> None:
    known = luma(sample_photos()[5])
    mask = np.zeros(known.shape, bool)
    mask[40:90, 60:120] = True
    target = np.full(HUE_BINS, 1.0)
    target[0] = 2 * mask.sum() / known.size * target[1:].sum()  # room for the whole region
    probabilities = np.full((31, *known.shape), 1 / 31)
    chroma = np.zeros((2, *known.shape))
    out = render(known, mask, probabilities, chroma, target, Paint(lost_region="gray"))
    assert (np.ptp(out[mask], axis=-1) == 0).all()
    assert (np.ptp(out[~mask], axis=-1) > 0).mean() > 0.6
    coloured = render(known, mask, probabilities, chroma, target, Paint(lost_region="hue"))
    assert (np.ptp(coloured[mask], axis=-1) > 0).mean() > 0.5
    counts = [np.bincount(hue_channel(o).ravel(), minlength=HUE_BINS) for o in (out, coloured)]
    assert np.abs(counts[0] - counts[1]).sum() < 20  # the same histogram either way


def test_targets_and_averages_stay_distributions() -> None:
    outputs = [uniform_output(8, 8), uniform_output(8, 8)]
    outputs[1].expected = torch.softmax(torch.randn(1, HUE_BINS), 1)
    outputs[1].probabilities = torch.softmax(torch.randn(1, 31, 8, 8), 1)
    blended = weighted_sum(outputs, [0.3, 0.7])
    assert torch.allclose(blended.probabilities.sum(1), torch.ones(1, 8, 8))
    assert blended.expected.sum() == pytest.approx(1.0)
    for power in (0.5, 1.0, 1.3):
        settings = ColourConfig(target_power=power, global_weight=0.5)
        target = target_histogram(blended, settings)
        assert target.sum() == pytest.approx(1.0) and (target >= 0).all()


def test_a_smooth_lost_region_takes_the_predicted_chroma_and_the_rest_makes_up_the_hues() -> None:
    known = luma(sample_photos()[2])
    mask = np.zeros(known.shape, bool)
    mask[30:100, 50:150] = True
    chroma = np.zeros((2, *known.shape))
    chroma[:, mask] = np.array([[-0.1], [0.15]])  # a warm orange in the region
    target = np.zeros(HUE_BINS)
    target[[0, 15, 100]] = [0.2, 0.4, 0.4]
    probabilities = np.random.default_rng(3).random((31, *known.shape))
    settings = Paint(gain=0.5, lost_region="smooth")
    out = render(known, mask, probabilities, chroma, target, settings)
    cr = 0.15 * 255 * 0.5  # Cr in levels, times the gain
    red = known[mask].astype(float) + 1.402 * cr
    assert np.abs(out[mask][:, 0] - np.clip(np.round(red), 0, 255)).max() <= 1
    assert (luma(out)[~mask] == known[~mask]).all()
    counts = np.bincount(hue_channel(out).ravel(), minlength=HUE_BINS)
    assert np.corrcoef(counts, target)[0, 1] > 0.95


def test_a_blurred_lost_region_has_smooth_chroma_and_the_rest_makes_up_the_hues() -> None:
    known = luma(sample_photos()[6])
    mask = np.zeros(known.shape, bool)
    mask[40:110, 30:140] = True
    away = [(np.arange(HUE_BINS) - centre + 90) % HUE_BINS - 90 for centre in (20, 105)]
    target = sum(np.exp(-(bins**2) / 50) for bins in away)  # two hues, each a few bins wide
    preferred = np.linspace(2, 16, known.shape[1])  # the predicted arc turns along the rows
    probabilities = np.exp(-((np.arange(31)[:, None] - preferred) ** 2) / 8)[:, None]
    probabilities = np.broadcast_to(probabilities / probabilities.sum(0), (31, *known.shape))
    chroma = np.zeros((2, *known.shape))
    renders = {
        region: render(known, mask, probabilities, chroma, target, Paint(lost_region=region))
        for region in ("hue", "blurred")
    }
    for out in renders.values():
        assert (luma(out)[~mask] == known[~mask]).all()
        counts = np.bincount(hue_channel(out).ravel(), minlength=HUE_BINS)
        assert np.corrcoef(counts, target)[0, 1] > 0.98

    def roughness(out: np.ndarray) -> float:  # chroma change between neighbours in the region
        chroma = out.astype(float) - known[..., None]
        return float(np.abs(np.diff(chroma, axis=1))[mask[:, 1:] & mask[:, :-1]].mean())

    assert roughness(renders["blurred"]) < 0.3 * roughness(renders["hue"])
    inside = renders["blurred"][mask].astype(int)
    assert np.abs(pil_luma(inside) - known[mask]).max() <= 1  # the fill's luma, rounded


def test_paint_with_every_pixel_gray_keeps_the_luma() -> None:
    lumas = np.array([0, 90, 255])
    out = paint(lumas, np.full(3, -1), np.full(3, 3.0))
    assert (out == lumas[:, None]).all()
