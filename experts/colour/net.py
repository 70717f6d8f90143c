"""The colour expert's network: an EfficientNet-Lite reads the filled gray image; a small head
gives every pixel a distribution over hue classes and an expected chroma; image-level hue
priors (the expert's own, the global expert's, and the nearest training originals') ride
along, so that averaging outputs averages distributions."""

from dataclasses import fields

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import nn

from hueroute.config import ColourConfig
from hueroute.errors import InputError
from hueroute.experts.colour.classes import LUMA_EDGES
from hueroute.experts.colour.output import HueOutput
from hueroute.fills import fill_many
from hueroute.image_score import HUE_BINS
from hueroute.weights import LITE_VARIANTS, load_packaged_lite

GRID = 4  # px between the pixels a whole image is described at
POINT_INPUTS = 4  # besides the features: luma, lost or not, row, distance from the middle column
ONE_BAND = (0.0, 256.0)  # the luma edges of shapes counted over all lumas at once
KEY_MAPS = (2, 3)  # the maps (strides 16 and 32) whose means join the memory key
GRAY_BINS = 32  # of the known pixels' gray histogram in the memory key


def neighbour_mix(
    similarity: torch.Tensor, histograms: torch.Tensor, count: int, temperature: float
) -> torch.Tensor:
    """(N, 180): the first `count` of the nearest histograms (N, k, 180), in order of their
    similarity (N, k), weighted by a softmax of the similarity over `temperature`."""
    weights = (similarity[:, :count] / temperature).softmax(1)
    return (weights[..., None] * histograms[:, :count]).sum(1)


def at_points(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, C, 1, P): the pixels of `image` (N, C, H, W) nearest to `points` (N, P, 2)."""
    grid = points[:, None].float()
    return F.grid_sample(image.float(), grid, mode="nearest", align_corners=False)


def lite_variant(encoder: str) -> int:
    """0, 1 or 2 from `tu-tf_efficientnet_liteN` or `tf_efficientnet_liteN`."""
    for variant in LITE_VARIANTS:
        if encoder.removeprefix("tu-") == f"tf_efficientnet_lite{variant}":
            return variant
    raise InputError(
        f"train.encoder={encoder}",
        "the colour expert reads an EfficientNet-Lite: tu-tf_efficientnet_lite0, 1 or 2",
    )


class HueNet(nn.Module):
    """Frozen (or trainable) EfficientNet-Lite features of the filled gray image, sampled at
    any pixel, plus the image's pooled features, into a two-layer head."""

    def __init__(
        self,
        encoder: str = "tu-tf_efficientnet_lite0",
        encoder_weights: str | None = "imagenet",
        settings: ColourConfig | None = None,
        fill: str = "fsr-fast",
    ) -> None:
        super().__init__()
        settings = settings or ColourConfig()
        variant = lite_variant(encoder)
        self.encoder = timm.create_model(f"tf_efficientnet_lite{variant}")
        if encoder_weights not in (None, "imagenet"):
            raise InputError(
                f"train.encoder_weights={encoder_weights}",
                "the colour expert's encoder starts from imagenet (packaged) or null",
            )
        if encoder_weights:
            load_packaged_lite(self.encoder, variant)
        self.levels = list(range(1, len(self.encoder.feature_info)))  # strides 4 to 32
        channels = [self.encoder.feature_info[i]["num_chs"] for i in self.levels]
        self.classes = settings.hue_classes
        self.settings = settings
        self.fill = fill
        self.point = nn.Linear(sum(channels) + POINT_INPUTS, settings.hidden)
        self.context = nn.Linear(self.encoder.num_features, settings.hidden, bias=False)
        self.head = nn.Sequential(
            nn.GELU(), nn.Linear(settings.hidden, 128), nn.GELU(), nn.Linear(128, self.classes + 3)
        )
        self.encoder.requires_grad_(settings.train_encoder)
        even = torch.full((HUE_BINS,), 1 / HUE_BINS)
        self.register_buffer("shapes", torch.full((1, self.classes + 1, HUE_BINS), 1 / HUE_BINS))
        self.register_buffer("luma_edges", torch.tensor(ONE_BAND))  # the shapes' bands
        self.register_buffer("prior", even.clone())
        self.register_buffer("global_prior", even.clone())
        key_width = self.encoder.num_features + sum(channels[i] for i in KEY_MAPS) + GRAY_BINS
        self.register_buffer("memory_keys", torch.zeros(0, key_width).half())
        self.register_buffer("memory_hists", torch.zeros(0, HUE_BINS).half())

    def train(self, mode: bool = True) -> "HueNet":
        super().train(mode)
        if not self.settings.train_encoder:
            self.encoder.eval()  # frozen: its batch-norm statistics stay the pretrained ones
        return self

    def _load_from_state_dict(self, state: dict, prefix: str, *args, **kwargs) -> None:
        if state.get(prefix + "shapes", self.shapes).dim() == 2:  # saved before luma bands
            state[prefix + "shapes"] = state[prefix + "shapes"][None]
            state[prefix + "luma_edges"] = torch.tensor(ONE_BAND)
        for name in ("memory_keys", "memory_hists", "shapes", "luma_edges"):  # sizes vary
            if prefix + name in state:
                setattr(self, name, torch.empty_like(state[prefix + name]))
        super()._load_from_state_dict(state, prefix, *args, **kwargs)

    def fill_input(self, gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) gray in [0, 1] with the lost region filled by the fill of training."""
        images = (gray[:, 0] * 255).round().byte().cpu().numpy()
        regions = (mask[:, 0] > 0.5).cpu().numpy()
        filled = fill_many(images, regions, self.fill)
        return torch.from_numpy(np.stack(filled))[:, None].to(gray.device, gray.dtype) / 255

    def encode(self, filled: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Feature maps at strides 4 to 32 and the pooled features of the filled gray image."""
        rgb = (filled * 2 - 1).expand(-1, 3, -1, -1)  # the range the Lite weights were trained on
        last, maps = self.encoder.forward_intermediates(rgb, indices=self.levels)
        return maps, self.encoder.forward_head(last, pre_logits=True)

    def batch_features(self, batch: dict) -> tuple[list[torch.Tensor], torch.Tensor]:
        """A training batch's cached features, or the encoder's when none are cached."""
        if "maps" in batch:
            return batch["maps"], batch["pooled"]
        return self.encode(batch["filled"])

    def point_outputs(
        self,
        maps: list[torch.Tensor],
        pooled: torch.Tensor,
        filled: torch.Tensor,
        mask: torch.Tensor,
        points: torch.Tensor,
    ) -> torch.Tensor:
        """(N, P, K + 3) at `points` (N, P, 2), x and y in [-1, 1]: the class logits (near-gray
        last), then Cb and Cr."""
        grid = points[:, None].float()
        sampled = [F.grid_sample(m.float(), grid, align_corners=False) for m in maps]
        pixel = [at_points(x, points) for x in (filled, mask)]
        where = [points[..., 1:2].float(), points[..., 0:1].float().abs()]
        inputs = torch.cat([s[:, :, 0].transpose(1, 2) for s in sampled + pixel] + where, -1)
        return self.head(self.point(inputs) + self.context(pooled.float())[:, None])

    def describe(
        self,
        maps: list[torch.Tensor],
        pooled: torch.Tensor,
        filled: torch.Tensor,
        mask: torch.Tensor,
    ) -> HueOutput:
        """The whole output for images already filled and encoded."""
        n, _, height, width = filled.shape
        rows, cols = height // GRID, width // GRID
        ys = (torch.arange(rows, device=filled.device) + 0.5) / rows * 2 - 1
        xs = (torch.arange(cols, device=filled.device) + 0.5) / cols * 2 - 1
        points = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(1, -1, 2)
        points = points.expand(n, -1, -1)
        out = self.point_outputs(maps, pooled, filled, mask, points)
        probabilities = out[..., : self.classes + 1].softmax(-1)
        expected = self.expected_histogram(probabilities, at_points(filled, points)[:, 0, 0])
        as_map = out.transpose(1, 2).reshape(n, -1, rows, cols)
        return HueOutput(
            probabilities=as_map[:, : self.classes + 1].softmax(1),
            chroma=as_map[:, self.classes + 1 :].clamp(-0.5, 0.5),
            expected=expected,
            prior=self.prior.float().expand(n, -1),
            global_prior=self.global_prior.float().expand(n, -1),
            neighbours=self.neighbour_prior(self.memory_key(maps, pooled, filled, mask)),
        )

    def expected_histogram(self, probabilities: torch.Tensor, lumas: torch.Tensor) -> torch.Tensor:
        """(N, 180): the mean over points of their class probabilities (N, P, K + 1) spread
        by the class shapes of the luma band each point's luma (N, P) in [0, 1] falls in."""
        inner = self.luma_edges[1:-1].float()
        band = torch.bucketize((lumas.float() * 255).round(), inner, right=True)
        in_band = F.one_hot(band, len(self.shapes)).float()
        per_band = torch.einsum("npb,npk->nbk", in_band, probabilities.float()) / lumas.shape[1]
        return torch.einsum("nbk,bkc->nc", per_band, self.shapes.float())

    def memory_key(
        self,
        maps: list[torch.Tensor],
        pooled: torch.Tensor,
        filled: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """(N, D) unit vectors that find a scene's other views: the pooled features, the means
        of the stride-16 and stride-32 maps and the square root of the known pixels' gray
        histogram, each of unit length, so that two keys' cosine is the mean of their parts'."""
        if self.memory_keys.shape[1] == pooled.shape[1]:  # a model file from before: pooled only
            return F.normalize(pooled.float(), dim=1)
        gray = (filled.flatten(1).float() * 255).round().long() * GRAY_BINS // 256
        known = (mask.flatten(1) < 0.5).float()
        histogram = torch.zeros(len(gray), GRAY_BINS, device=gray.device)
        histogram.scatter_add_(1, gray, known)
        means = [maps[i].float().mean((2, 3)) for i in KEY_MAPS]
        parts = [F.normalize(p, dim=1) for p in [pooled.float(), *means, histogram.sqrt()]]
        return torch.cat(parts, 1) / len(parts) ** 0.5

    def nearest(self, key: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The cosine similarities (N, k) and histograms (N, k, 180) of the `count` training
        originals whose gray inputs' memory keys are nearest to `key` (N, D) (k: `count` or
        all there are)."""
        similarity = key @ self.memory_keys.float().T
        top, index = similarity.topk(min(count, similarity.shape[1]), dim=1)
        return top, self.memory_hists.float()[index]

    def neighbour_prior(self, key: torch.Tensor) -> torch.Tensor:
        """(N, 180): the nearest training originals' histograms by the settings' count and
        temperature; the expert's prior where it remembers none."""
        if len(self.memory_keys) == 0:
            return self.prior.float().expand(len(key), -1)
        count, temperature = self.settings.neighbours, self.settings.neighbour_temperature
        return neighbour_mix(*self.nearest(key, count), count, temperature)

    def forward(self, gray: torch.Tensor, mask: torch.Tensor) -> HueOutput:
        """Image by image, so that an image's output (and the order the renderer sorts its
        pixels in) does not depend on the batch it came in."""
        outputs = []
        filled = self.fill_input(gray, mask)
        for one_filled, one_mask in zip(filled.split(1), mask.split(1), strict=True):
            outputs.append(self.describe(*self.encode(one_filled), one_filled, one_mask))
        return HueOutput(
            *(torch.cat([getattr(o, f.name) for o in outputs]) for f in fields(HueOutput))
        )

    def predict(self, gray: torch.Tensor, mask: torch.Tensor) -> HueOutput:
        return self(gray, mask)

    def use_rendering(self, colour: ColourConfig) -> None:
        """Mix the neighbour prior with the count and temperature the render study tuned."""
        tuned = {
            "neighbours": colour.neighbours,
            "neighbour_temperature": colour.neighbour_temperature,
        }
        self.settings = self.settings.model_copy(update=tuned)

    def remember(
        self,
        prior: np.ndarray,
        keys: torch.Tensor,
        histograms: np.ndarray,
        shapes: np.ndarray | None = None,
        global_prior: np.ndarray | None = None,
        luma_edges: tuple[int, ...] = LUMA_EDGES,
    ) -> None:
        """Keep what the expert knows of its training originals: their mean histogram, their
        gray inputs' memory keys with their histograms (the neighbours), and, for the global expert,
        the class shapes and the global prior (a cluster expert keeps the global expert's)."""
        device = self.prior.device
        self.prior = torch.as_tensor(prior, dtype=torch.float32, device=device)
        self.memory_keys = F.normalize(keys.float(), dim=1).half().to(device)
        self.memory_hists = torch.as_tensor(histograms, device=device).half()
        if shapes is not None:  # (bands, K + 1, 180) over the bands of `luma_edges`
            self.shapes = torch.as_tensor(shapes, dtype=torch.float32, device=device)
            self.luma_edges = torch.tensor(luma_edges, dtype=torch.float32, device=device)
        if global_prior is not None:
            self.global_prior = torch.as_tensor(global_prior, dtype=torch.float32, device=device)
