"""The colour expert's output: per-pixel hue distributions and image-level hue priors that
average linearly, and their rendering at the image's own size."""

from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

from hueroute.config import ColourConfig
from hueroute.experts.colour.render import Paint, render


@dataclass
class HueOutput:
    """What a colour expert says about a batch of images; every field averages linearly."""

    probabilities: torch.Tensor  # (N, K + 1, h, w): hue classes, then near-gray
    chroma: torch.Tensor  # (N, 2, h, w): expected Cb, Cr
    expected: torch.Tensor  # (N, 180): the head's expected hue histogram
    prior: torch.Tensor  # (N, 180): the mean histogram of the expert's training originals
    global_prior: torch.Tensor  # (N, 180): the same over all training originals
    neighbours: torch.Tensor  # (N, 180): the nearest training originals' histograms

    needs_fill = True  # rendered on the filled (and corrected) luma

    def pick(self, rows: list[int] | slice) -> "HueOutput":
        return HueOutput(*(getattr(self, f.name)[rows] for f in fields(self)))

    def mirrored(self) -> "HueOutput":
        return replace(self, probabilities=self.probabilities.flip(-1), chroma=self.chroma.flip(-1))

    def plain(self) -> "HueOutput":
        """The same output with every prior reduced to the global mean: no neighbours, no
        cluster's own prior."""
        return replace(self, prior=self.global_prior, neighbours=self.global_prior)

    def full_size(
        self, gray: np.ndarray, mask: np.ndarray, filled: np.ndarray, colour: ColourConfig
    ) -> np.ndarray:
        return colourise(self, filled, mask, colour)


def target_histogram(output: HueOutput, settings: ColourConfig) -> torch.Tensor:
    """(N, 180): the head's expected histogram mixed with the priors by the settings' weights,
    raised to `target_power` and normalised to sum 1."""
    parts = {
        "expected": settings.head_weight,
        "prior": settings.prior_weight,
        "global_prior": settings.global_weight,
        "neighbours": settings.neighbour_weight,
    }
    total = sum(parts.values())
    mixed = sum(weight / total * getattr(output, name).float() for name, weight in parts.items())
    powered = mixed.clamp_min(0) ** settings.target_power
    return powered / powered.sum(1, keepdim=True).clamp_min(1e-12)


def paint_settings(settings: ColourConfig) -> Paint:
    return Paint(
        settings.chroma_gain, settings.min_spread, settings.lost_region, settings.lost_blur
    )


def colourise(
    output: HueOutput, luma: np.ndarray, mask: np.ndarray, settings: ColourConfig
) -> np.ndarray:
    """(H, W, 3) uint8 of one image (`output` holds one row) whose luma is `luma` (H, W) uint8,
    the lost region `mask` filled already: the output's maps are brought to H x W first."""
    size = luma.shape
    probabilities = F.interpolate(
        output.probabilities.float(), size, mode="bilinear", align_corners=False
    )
    chroma = F.interpolate(output.chroma.float(), size, mode="bilinear", align_corners=False)
    target = target_histogram(output, settings)[0]
    return render(
        luma,
        mask,
        probabilities[0].cpu().numpy(),
        chroma[0].cpu().numpy(),
        target.cpu().numpy(),
        paint_settings(settings),
    )
