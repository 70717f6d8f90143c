"""The fill's learned correction: a U-Net that reads the filled luma and the lost region and
adds its correction inside the region only, so known pixels never change. Either a small
U-Net trained from scratch or one whose encoder starts from ImageNet weights."""

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hueroute.config import RefineConfig
from hueroute.experts.unet.net import unet
from hueroute.preprocess import shrink

LEVELS = 4
STRIDE = 32  # what sizes both U-Nets take: SmallUNet's stem and levels, smp's 5 stages
MIRRORS = ((), (-1,), (-2,), (-2, -1))  # flipped dims: none, left-right, upside down, both


def conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1),
        nn.GELU(),
    )


class Correction(nn.Module):
    """(filled luma, lost region), each (N, 1, H, W) in [0, 1], to the corrected luma: the
    change that `body` computes from (centred fill, region, centred fill outside the region),
    added inside the region only. `body`'s last layer starts at zero: before training the
    correction returns the fill unchanged."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        height, width = filled.shape[-2:]
        pad = (0, -width % STRIDE, 0, -height % STRIDE)  # any size: padded, then cropped
        centred = F.pad(filled, pad, mode="replicate") * 2 - 1
        region = F.pad(mask, pad)
        change = self.body(torch.cat([centred, region, (1 - region) * centred], 1))
        return torch.where(mask > 0, (filled + change[..., :height, :width]).clamp(0, 1), filled)


class SmallUNet(nn.Module):
    """A U-Net of `width` channels at its first level, from 3 inputs to 1 output."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        widths = [width, 2 * width, 3 * width, 4 * width, 4 * width]
        self.stem = nn.Sequential(nn.Conv2d(3, width, 4, stride=2, padding=1), nn.GELU())
        self.down = nn.ModuleList(conv_block(widths[i], widths[i + 1]) for i in range(LEVELS))
        self.up = nn.ModuleList(
            conv_block(widths[i + 1] + widths[i], widths[i]) for i in range(LEVELS)
        )
        self.out = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = [x]
        for block in self.down:
            x = block(F.avg_pool2d(x, 2))
            skips.append(x)
        for level in reversed(range(LEVELS)):
            skip = skips[level]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[level](torch.cat([x, skip], 1))
        return self.out(x)


def encoder_unet(encoder: str, pretrained: bool) -> nn.Module:
    """An smp U-Net from 3 inputs to 1 output whose encoder starts from ImageNet weights when
    `pretrained` (its three inputs take the stem's R, G and B filters), its head at zero."""
    network = unet(encoder, "imagenet" if pretrained else None, in_channels=3, classes=1)
    head = network.segmentation_head[0]
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return network


def build_correction(settings: RefineConfig, pretrained: bool = True) -> Correction:
    """The correction `settings` describe: on `settings.encoder` (from ImageNet weights when
    `pretrained`, not when trained weights are about to be loaded), else a SmallUNet."""
    if settings.encoder is None:
        return Correction(SmallUNet(settings.width))
    return Correction(encoder_unet(settings.encoder, pretrained))


def mirror_averaged(network: Correction, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The correction of the input and of its three mirror images, each mirrored back, averaged."""
    corrected = [network(filled.flip(dims), mask.flip(dims)).flip(dims) for dims in MIRRORS]
    return torch.stack(corrected).mean(0)


@torch.inference_mode()
def refine_lumas(
    network: Correction,
    lumas: list[np.ndarray],
    masks: list[np.ndarray],
    size: int,
    mirrors: bool = False,
) -> list[np.ndarray]:
    """The corrected uint8 luma of each filled image (H, W), averaged over its mirror images
    when `mirrors`. The network runs at the `size` it learnt at; an image of another size gets
    its correction resized. Pixels outside the lost region are returned exactly as they were."""
    device = next(network.parameters()).device
    refined = []
    for full, mask in zip(lumas, masks, strict=True):
        small, region = shrink(full, mask, size)
        filled = torch.tensor(small, device=device)[None, None].float() / 255
        inside = torch.tensor(region, device=device)[None, None].float()
        corrected = mirror_averaged(network, filled, inside) if mirrors else network(filled, inside)
        change = (corrected - filled)[0, 0].mul(255).cpu().numpy()
        if small.shape != full.shape:
            change = cv2.resize(change, full.shape[::-1], interpolation=cv2.INTER_LINEAR)
        corrected = np.clip(np.round(full + change), 0, 255).astype(np.uint8)
        refined.append(np.where(mask, corrected, full))
    return refined
