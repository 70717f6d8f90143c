"""From a colour expert's output to an image: the target hue histogram, then the renderer at
the image's own size."""

import numpy as np
import torch
import torch.nn.functional as F

from experts.hue_net import HueOutput
from experts.render import Paint, render
from hueroute.config import ColourConfig


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
