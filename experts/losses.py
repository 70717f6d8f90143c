"""Training losses: L1, MSE, SSIM and a differentiable hue histogram aimed at the score's C."""

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from hueroute.config import LossConfig
from hueroute.image_score import HUE_BINS

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


def windowed_ssim(pred: torch.Tensor, truth: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """SSIM of each `window` of (N, 1, H, W) images in [0, 1] (uniform weights, sample
    covariance, data range 1, as the score computes it); (N, 1, H - wh + 1, W - ww + 1)."""
    count = window[0] * window[1]
    correction = count / (count - 1)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, window, stride=1)

    mean_p, mean_t = mean(pred), mean(truth)
    var_p = (mean(pred * pred) - mean_p**2) * correction
    var_t = (mean(truth * truth) - mean_t**2) * correction
    covariance = (mean(pred * truth) - mean_p * mean_t) * correction
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mean_p * mean_t + c1) * (2 * covariance + c2)) / (
        (mean_p**2 + mean_t**2 + c1) * (var_p + var_t + c2)
    )


def region_line_ssim(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """M of each of (N, 1, H, W) images: the SSIM of 7-pixel windows along its lost pixels in
    row order, the windows running on across the ends of rows, as the score reads them. (K,)
    for the K images whose region has 7 pixels or more."""
    lines = []
    for one_pred, one_truth, region in zip(pred, truth, mask > 0, strict=True):
        if region.sum() >= 7:
            along = [x[region].view(1, 1, 1, -1) for x in (one_pred, one_truth)]
            lines.append(windowed_ssim(*along, (1, 7)).mean())
    return torch.stack(lines) if lines else pred.new_zeros(0)


def lost_region_ssim_loss(
    pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, structure_weight: float
) -> torch.Tensor:
    """1 - M (the SSIM along the lost pixels, `region_line_ssim`) averaged over the images,
    plus `structure_weight` times 1 - the SSIM of 7 x 7 windows touching the region."""
    lines = region_line_ssim(pred, truth, mask)
    loss = 1 - lines.mean() if len(lines) else pred.sum() * 0
    if structure_weight:
        touching = (F.avg_pool2d(mask, 7, stride=1) > 0).float()
        square = (windowed_ssim(pred, truth, (7, 7)) * touching).sum()
        loss = loss + structure_weight * (1 - square / touching.sum().clamp_min(1))
    return loss
