"""Training losses: L1, MSE, SSIM and a differentiable hue histogram aimed at the score's C."""

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from hueroute.config import LossConfig
from hueroute.metric import HUE_BINS

LOSS_BANDWIDTH = 2.0  # bins: the loss's histogram is smoothed for useful gradients
LOSS_GRAY_CHROMA = 0.05  # chroma over which a pixel counts fully in its hue's bins


def hexcone_hue(rgb: torch.Tensor, min_spread: float) -> torch.Tensor:
    """(N, 3, H, W) -> (N, H, W) hue in OpenCV's 8-bit units, [0, 180).

    The max - min spread it divides by is held at `min_spread` or more, which bounds the
    gradient of nearly gray pixels.
    """
    red, green, blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    top, bottom = rgb.amax(1), rgb.amin(1)
    spread = (top - bottom).clamp(min=min_spread)
    hue = torch.where(
        top == red,
        60 * (green - blue) / spread,
        torch.where(
            top == green, 120 + 60 * (blue - red) / spread, 240 + 60 * (red - green) / spread
        ),
    )
    return torch.remainder(hue, 360) / 2


def soft_hue_histogram(
    rgb: torch.Tensor, bandwidth: float = 0.5, gray_chroma: float = 1 / 255
) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, HUE_BINS) soft hue histograms, L2-normalised.

    Hue is OpenCV's (the hexcone, in 180 steps). Each pixel is spread over the nearby bins by
    a Gaussian of `bandwidth` bins on the hue circle. A pixel counts in its hue's bins in
    proportion to its chroma up to `gray_chroma`, and in bin 0 (where OpenCV puts gray
    pixels) for the rest. The defaults match OpenCV on 8-bit images; a wider bandwidth and
    ramp give a loss smoother gradients.
    """
    position = hexcone_hue(rgb, min_spread=gray_chroma)
    coloured = ((rgb.amax(1) - rgb.amin(1)) / gray_chroma).clamp(max=1)
    centres = torch.arange(HUE_BINS, device=rgb.device, dtype=rgb.dtype)
    distance = position.flatten(1)[..., None] - centres  # (N, P, bins)
    distance = torch.remainder(distance + HUE_BINS / 2, HUE_BINS) - HUE_BINS / 2
    weights = torch.exp(-0.5 * (distance / bandwidth) ** 2)
    weights = weights / weights.sum(-1, keepdim=True)
    histogram = (weights * coloured.flatten(1)[..., None]).sum(1)
    histogram[:, 0] = histogram[:, 0] + (1 - coloured).flatten(1).sum(1)
    return F.normalize(histogram, dim=1)


def hue_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - the correlation of smoothed hue histograms, as the score's C compares them."""
    a = soft_hue_histogram(pred, bandwidth=LOSS_BANDWIDTH, gray_chroma=LOSS_GRAY_CHROMA)
    b = soft_hue_histogram(target, bandwidth=LOSS_BANDWIDTH, gray_chroma=LOSS_GRAY_CHROMA)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    correlation = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)
    return (1 - correlation).mean()


class RestorationLoss(nn.Module):
    """The weighted sum of the losses the config turns on; also returns each part."""

    def __init__(self, weights: LossConfig, hue_pixels: int = 64) -> None:
        super().__init__()
        self.weights = weights
        self.hue_pixels = hue_pixels  # images are pooled to this side for the histogram

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        parts = {}
        if self.weights.l1:
            parts["l1"] = F.l1_loss(pred, target)
        if self.weights.mse:
            parts["mse"] = F.mse_loss(pred, target)
        if self.weights.ssim:
            ssim = structural_similarity_index_measure(pred, target, data_range=1.0)
            parts["ssim"] = 1 - ssim
        if self.weights.hue:
            side = min(self.hue_pixels, pred.shape[-1])
            parts["hue"] = hue_loss(
                F.adaptive_avg_pool2d(pred, side), F.adaptive_avg_pool2d(target, side)
            )
        total = sum(getattr(self.weights, name) * value for name, value in parts.items())
        return total, {name: value.detach() for name, value in parts.items()}
