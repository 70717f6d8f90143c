"""A U-Net restorer's output: RGB at the network's size, brought to the input's size with the
input's own luma kept outside the lost region."""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hueroute.colour_space import luma_chroma_to_rgb, rgb_to_chroma, rgb_to_luma
from hueroute.config import ColourConfig
from hueroute.tensors import to_uint8


@dataclass
class RGBOutput:
    rgb: torch.Tensor  # (N, 3, S, S) in [0, 1]

    needs_fill = False  # the network predicts the lost region's luma itself

    def pick(self, rows: list[int] | slice) -> "RGBOutput":
        return RGBOutput(self.rgb[rows])

    def mirrored(self) -> "RGBOutput":
        return RGBOutput(self.rgb.flip(-1))

    def plain(self) -> "RGBOutput":
        return self  # no priors

    def full_size(
        self, gray: np.ndarray, mask: np.ndarray, filled: np.ndarray, colour: ColourConfig
    ) -> np.ndarray:
        """The predicted luma inside the lost region, the input's outside, the colour
        everywhere (`filled` and `colour` are not used)."""
        shape, device = gray.shape, self.rgb.device
        chroma = F.interpolate(rgb_to_chroma(self.rgb), shape, mode="bilinear", align_corners=False)
        lost = F.interpolate(rgb_to_luma(self.rgb), shape, mode="bilinear", align_corners=False)
        known = torch.tensor(gray, device=device)[None, None].float() / 255
        region = torch.tensor(mask, device=device)[None, None]
        luma = torch.where(region, lost.clamp(0, 1), known)
        return to_uint8(luma_chroma_to_rgb(luma, chroma))[0]
