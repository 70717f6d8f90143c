"""A first guess for the lost region: push-pull interpolation from the pixels around it."""

import torch
import torch.nn.functional as F


def fill_lost_region(gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`gray` (N, 1, H, W) with every pixel where `mask` > 0.5 filled from its surroundings.

    Known pixels are averaged down a pyramid (each level weighted by how much of it is
    known), then each level's gaps are filled from the level above on the way back up: a
    smooth fill that follows the region's border, in a few poolings on any device.
    """
    known = (mask <= 0.5).to(gray.dtype)
    levels = [(gray * known, known)]
    while min(levels[-1][0].shape[-2:]) > 1:
        total, weight = levels[-1]
        levels.append(
            (F.avg_pool2d(total, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True))
        )
    total, weight = levels[-1]
    estimate = total / weight.clamp_min(1e-6)
    for total, weight in reversed(levels[:-1]):
        height, width = total.shape[-2:]  # a coarse cell covers 2 x 2 pixels, the last ones fewer
        above = F.interpolate(estimate, scale_factor=2, mode="bilinear", align_corners=False)
        estimate = total + (1 - weight) * above[..., :height, :width]
    return torch.where(known > 0, gray, estimate)
