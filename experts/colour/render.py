"""Colour from hue distributions: every pixel gets a hue such that the image's OpenCV hue
histogram matches a target, with the smallest chroma that lands the hue after rounding and
the known luma kept exactly."""

from dataclasses import dataclass

import cv2
import numpy as np

from hueroute.colour_space import FROM_CHROMA, PIL_LUMA, pil_luma
from hueroute.image_score import HUE_BINS, hue_channel

LUMA = np.array(PIL_LUMA) / 65536
# spreads tried per pixel, as factors of its own: larger first (rounding and the luma shift
# need room), then smaller (near black and white a small one may still fit)
LADDER = [1.2**step for step in range(16)] + [0.75**step for step in range(1, 8)]


@dataclass(frozen=True)
class Paint:
    """How the renderer spends chroma: the chroma predicted along the chosen hue times
    `gain`, never under `min_spread` (max - min over R, G, B); and the lost region's colour:
    `gray` (its pixels are the first to take the target's gray share), `hue` (like any
    other pixel), `smooth` (the predicted chroma itself, times `gain`) or `blurred` (the
    target's hues drawn in the region alone, their chroma then blurred by a Gaussian whose
    sigma is `blur` times the image's shorter side)."""

    gain: float = 0.25
    min_spread: float = 3.0
    lost_region: str = "blurred"
    blur: float = 0.025


def opencv_hue(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit hue (0..179) of uint8 RGB pixels (P, 3)."""
    return hue_channel(rgb.reshape(1, -1, 3))[0]


def hue_directions(bins: np.ndarray) -> np.ndarray:
    """(P,) hue bins -> (P, 3) RGB offsets of zero luma and max - min 1 whose hue is the bin's
    centre (2 b degrees): a fully saturated colour of that hue, less its own luma."""
    sector = bins * 2 / 60
    rising = 1 - np.abs(sector % 2 - 1)
    zeros, ones = np.zeros_like(rising), np.ones_like(rising)
    corners = [
        (ones, rising, zeros),
        (rising, ones, zeros),
        (zeros, ones, rising),
        (zeros, rising, ones),
        (rising, zeros, ones),
        (ones, zeros, rising),
    ]
    index = np.floor(sector).astype(int) % 6
    rgb = np.stack([np.choose(index, [c[k] for c in corners]) for k in range(3)], -1)
    return rgb - (rgb @ LUMA)[:, None]


def bin_counts(target: np.ndarray, pixels: int) -> np.ndarray:
    """Whole pixel counts per bin proportional to `target`, summing to `pixels`."""
    share = np.maximum(target, 0) / max(float(np.maximum(target, 0).sum()), 1e-12) * pixels
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share, kind="stable")[: pixels - counts.sum()]] += 1
    return counts


def assign_bins(angles: np.ndarray, grayness: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each pixel's hue bin, -1 for gray: the `counts[0]` grayest pixels stay gray (OpenCV puts
    gray in bin 0); the rest, in the order of their predicted hue angle (degrees) around the
    circle from the target's thinnest bin, take the target's bins in the same order."""
    bins = np.full(len(angles), -1)
    coloured = np.argsort(-grayness, kind="stable")[counts[0] :]
    cut = 1 + int(np.argmin(counts[1:]))  # the circle is opened where the target is thinnest
    turned = (angles[coloured] - 2 * cut - 1) % 360
    order = list(range(cut + 1, HUE_BINS)) + list(range(1, cut + 1))
    bins[coloured[np.argsort(turned, kind="stable")]] = np.repeat(order, counts[order])
    return bins


def paint(luma: np.ndarray, bins: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """uint8 RGB (P, 3) with PIL luma `luma` and OpenCV hue `bins` (-1 = gray) where it can be.

    Chroma of `spread` is added along each bin's direction and rounded; a shift of all three
    channels then restores the luma exactly (it moves PIL's luma one for one and leaves the
    hue alone). A pixel whose hue or luma is off after rounding tries larger spreads; one
    with no room left in the RGB cube stays gray.
    """
    luma = luma.astype(np.int64)
    out = np.repeat(luma[:, None], 3, 1).astype(np.uint8)
    todo = np.flatnonzero(bins >= 0)
    direction = hue_directions(bins[todo])
    base = np.asarray(spread, dtype=float)[todo]
    for factor in LADDER:
        if len(todo) == 0:  # every pixel gray, or every one painted
            break
        level = luma[todo, None]
        rounded = np.round(level + (base * factor)[:, None] * direction)
        shifted = rounded + (level[:, 0] - pil_luma(np.clip(rounded, 0, 255)))[:, None]
        inside = ((shifted >= 0) & (shifted <= 255)).all(1)
        candidate = np.clip(shifted, 0, 255).astype(np.uint8)
        fits = inside & (opencv_hue(candidate) == bins[todo]) & (pil_luma(candidate) == level[:, 0])
        out[todo[fits]] = candidate[fits]
        todo, direction, base = todo[~fits], direction[~fits], base[~fits]
    return out


def blurred_region(
    luma: np.ndarray, mask: np.ndarray, pixels: np.ndarray, sigma: float
) -> np.ndarray:
    """uint8 RGB (P, 3) of the region `mask` (H, W): the chroma of its drawn `pixels` (P, 3),
    blurred over the region's own pixels only, on the luma `luma` (H, W)."""
    chroma = np.zeros((*mask.shape, 3), np.float32)
    chroma[mask] = pixels - luma[mask][:, None].astype(np.float32)
    weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    blurred = cv2.GaussianBlur(chroma, (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
    return np.clip(np.round(luma[mask][:, None] + blurred[mask]), 0, 255).astype(np.uint8)


def render(
    luma: np.ndarray,
    mask: np.ndarray,
    probabilities: np.ndarray,
    chroma: np.ndarray,
    target: np.ndarray,
    settings: Paint,
) -> np.ndarray:
    """(H, W, 3) uint8 colour of a gray image whose hue histogram follows `target`, the
    lost region coloured as `settings.lost_region` says.

    `luma` (H, W) uint8 is kept exactly outside the lost region `mask`; `probabilities`
    (K + 1, H, W) are each pixel's hue classes (K equal arcs of the circle, then near-gray);
    `chroma` (2, H, W) the expected Cb, Cr in [-0.5, 0.5]; `target` the 180-bin histogram.
    A `smooth` or `blurred` region is coloured first; the rest of the image then makes up
    the target's hues.
    """
    classes = probabilities.shape[0] - 1
    flat = probabilities.reshape(classes + 1, -1)
    centres = np.exp(1j * np.deg2rad((np.arange(classes) + 0.5) * 360 / classes))
    angles = np.rad2deg(np.angle(centres @ flat[:classes])) % 360
    lost = mask.ravel()
    cb, cr = chroma.reshape(2, -1) * 255
    (_, r_cr), (g_cb, g_cr), (b_cb, _) = FROM_CHROMA
    expected = np.stack([r_cr * cr, g_cb * cb + g_cr * cr, b_cb * cb], 1)
    grayness = flat[classes] + (lost if settings.lost_region == "gray" else 0)

    def draw(selected: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """The `selected` pixels painted with hue counts proportional to `wanted`."""
        counts = bin_counts(wanted, int(selected.sum()))
        bins = assign_bins(angles[selected], grayness[selected], counts)
        direction = hue_directions(np.maximum(bins, 0))
        along = (expected[selected] * direction).sum(1) / (direction**2).sum(1)
        spread = np.maximum(settings.min_spread, settings.gain * along)
        return paint(luma.ravel()[selected], bins, spread)

    out = np.repeat(luma.reshape(-1, 1), 3, 1).astype(np.uint8)
    wanted = target / max(float(target.sum()), 1e-12) * luma.size
    drawn = np.ones(luma.size, bool)
    if settings.lost_region in ("smooth", "blurred") and lost.any():
        if settings.lost_region == "smooth":
            smooth = luma.ravel()[lost, None] + settings.gain * expected[lost]
            out[lost] = np.clip(np.round(smooth), 0, 255).astype(np.uint8)
        else:
            sigma = max(settings.blur * min(luma.shape), 1e-3)
            out[lost] = blurred_region(luma, mask, draw(lost, wanted), sigma)
        wanted = np.maximum(wanted - np.bincount(opencv_hue(out[lost]), minlength=HUE_BINS), 0)
        drawn = ~lost
    out[drawn] = draw(drawn, wanted)
    return out.reshape(*luma.shape, 3)
