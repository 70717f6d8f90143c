"""The colour expert: pixel classes and class shapes, a head that learns a colour rule, its
memory of the training originals, and its feature cache."""

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hueroute.dataset import make_dataset
from hueroute.errors import InputError
from hueroute.experts.colour.classes import (
    LUMA_EDGES,
    class_shapes,
    luma_bands,
    normalised_histogram,
    pixel_classes,
)
from hueroute.experts.colour.net import HueNet
from hueroute.experts.registry import build_network, rebuilt
from hueroute.experts.train import train_expert
from hueroute.image_score import HUE_BINS, hue_counts
from hueroute.images import luma, read_gray, read_rgb, write_png
from hueroute.run import GLOBAL, NOISE, Run, expert_split
from hueroute.run.models import load_model

SIZE = 64
BLUE, GREEN = 110, 55  # OpenCV hues (degrees / 2) of the rule's upper and lower halves


def rule_photo(rng: np.random.Generator, size: int) -> np.ndarray:
    """Upper half blue, lower half green, under a random texture of brightness."""
    noise = cv2.GaussianBlur(rng.normal(0, 1, (size, size)), (0, 0), size / 16)
    value = np.clip(140 + 60 * noise / noise.std(), 40, 230).astype(np.uint8)
    hue = np.where(np.arange(size)[:, None] < size // 2, BLUE, GREEN) * np.ones((1, size))
    hsv = np.stack([hue.astype(np.uint8), np.full((size, size), 170, np.uint8), value], -1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@pytest.fixture(scope="module")
def rule_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke run on photos that follow the rule, all in one group over two folds."""
    root = tmp_path_factory.mktemp("rule")
    rng = np.random.default_rng(0)
    for index in range(16):
        write_png(root / "photos" / f"p{index:02d}.png", rule_photo(rng, 96))
    make_dataset(root / "photos", root / "data", size=SIZE, copies=1, test_fraction=0.25, seed=0)
    run = Run.create(root / "run", root / "data", "smoke")
    ids = run.train_table()["id"]
    pd.DataFrame({"id": ids, "cluster": NOISE}).to_csv(run.clusters_csv, index=False)
    pd.DataFrame({"id": ids, "fold": np.arange(len(ids)) % 2}).to_csv(run.folds_csv, index=False)
    config = yaml.safe_load(run.root.joinpath("config.yaml").read_text())
    config["train"].update({"epochs": 3, "lr": 3e-3, "scheduler": "constant"})
    config["train"]["colour"]["steps_per_epoch"] = 100
    run.root.joinpath("config.yaml").write_text(yaml.safe_dump(config))
    return run.root


def test_pixel_classes_are_hue_arcs_and_near_gray() -> None:
    rgb = np.array([[[200, 40, 40], [40, 200, 40], [40, 40, 200], [120, 122, 121]]], np.uint8)
    assert pixel_classes(rgb, 6, gray_spread=6).tolist() == [[0, 2, 4, 6]]
    assert pixel_classes(rgb, 30, gray_spread=1).tolist()[0][3] != 30


def test_class_shapes_are_distributions_that_keep_the_gray_spike() -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    images.append(np.full((32, 32, 3), 77, np.uint8))
    shapes = class_shapes(images, 30, gray_spread=6)
    assert shapes.shape == (len(LUMA_EDGES) - 1, 31, HUE_BINS)
    np.testing.assert_allclose(shapes.sum(-1), 1.0)
    assert shapes[luma_bands(np.array(77)), 30].argmax() == 0  # exact gray lands in bin 0
    arcs = np.arange(HUE_BINS) * 30 // HUE_BINS
    assert all(shapes[:, k][:, arcs != k].sum() == 0 for k in range(30))


def test_class_shapes_follow_the_luma_band() -> None:
    """Near-gray pixels exactly gray where dark, yellowish (60 degrees, bin 30) where bright:
    each band's gray class keeps its own spike."""
    dark = np.full((16, 16, 3), 3, np.uint8)
    bright = np.full((16, 16, 3), 200, np.uint8)
    bright[..., 2] = 198  # max - min 2, hue 60 degrees
    shapes = class_shapes([dark, bright], 30, gray_spread=6)
    dark_band, bright_band = luma_bands(luma(dark)[0, 0]), luma_bands(luma(bright)[0, 0])
    assert dark_band != bright_band
    assert shapes[dark_band, 30].argmax() == 0 and shapes[dark_band, 30, 0] > 0.8
    assert shapes[bright_band, 30].argmax() == 30 and shapes[bright_band, 30, 30] > 0.8
    empty = shapes[luma_bands(np.array(100)), 30]  # a band no pixel is in: the overall shape
    assert empty[0] == pytest.approx(0.5) and empty[30] == pytest.approx(0.5)


def test_a_colour_expert_saved_before_luma_bands_still_loads() -> None:
    network = HueNet(encoder_weights=None)
    state = network.state_dict()
    old = torch.rand(31, HUE_BINS)
    state["shapes"] = old / old.sum(1, keepdim=True)
    del state["luma_edges"]
    network.load_state_dict(state)
    probabilities = torch.rand(1, 5, 31).softmax(-1)
    expected = network.expected_histogram(probabilities, torch.rand(1, 5))
    torch.testing.assert_close(expected, probabilities.mean(1) @ state["shapes"])


def test_the_head_learns_a_colour_rule_in_a_few_hundred_steps(rule_run: Path) -> None:
    run = Run.open(rule_run)
    metrics = train_expert(run, GLOBAL, 0)
    assert metrics is not None and metrics["steps"] == 300
    network = rebuilt(load_model(run.model_pt(GLOBAL, 0)))
    held_out = pd.read_csv(run.fold_dir(GLOBAL, 0) / "oof.csv", dtype={"id": str})["id"]
    table = run.train_table().set_index("id")
    upper, lower = [], []
    for name in held_out:
        gray = read_gray(table.loc[name, "input_path"])
        truth = read_rgb(table.loc[name, "gt_path"])
        mask = gray != luma(truth)
        with torch.no_grad():
            output = network(
                torch.from_numpy(gray.copy())[None, None].float() / 255,
                torch.from_numpy(mask)[None, None].float(),
            )
        classes = output.probabilities[0].argmax(0).numpy()
        rows = len(classes)
        upper.append((classes[: rows // 2 - 1] == BLUE * 30 // HUE_BINS).mean())
        lower.append((classes[rows // 2 + 1 :] == GREEN * 30 // HUE_BINS).mean())
        expected = output.expected[0].numpy()
        assert np.corrcoef(expected, hue_counts(truth))[0, 1] > 0.8
    assert np.mean(upper) > 0.85 and np.mean(lower) > 0.85  # an untrained head: about 1/31


def test_the_expert_remembers_its_training_originals(rule_run: Path) -> None:
    run = Run.open(rule_run)
    network = rebuilt(load_model(run.model_pt(GLOBAL, 0)))  # a memory row per training image
    assert isinstance(network, HueNet)
    assert len(network.memory_keys) == len(network.memory_hists) == 6
    prior = network.prior.numpy()
    assert prior.sum() == pytest.approx(1.0, abs=1e-4)
    assert {int(prior.argmax()), int(np.argsort(prior)[-2])} <= set(range(50, 116))
    torch.testing.assert_close(network.prior, network.global_prior)


def test_a_training_input_finds_its_own_original_by_its_memory_key(rule_run: Path) -> None:
    run = Run.open(rule_run)
    network = rebuilt(load_model(run.model_pt(GLOBAL, 0)))  # keys from the cached features
    train_ids, _ = expert_split(run.clusters(), run.folds(), GLOBAL, 0)
    table = run.train_table().set_index("id")
    for name in train_ids:
        gray = read_gray(table.loc[name, "input_path"])
        truth = read_rgb(table.loc[name, "gt_path"])
        image = torch.from_numpy(gray.copy())[None, None].float() / 255
        mask = torch.from_numpy(gray != luma(truth))[None, None].float()
        with torch.no_grad():
            filled = network.fill_input(image, mask)
            key = network.memory_key(*network.encode(filled), filled, mask)
            similarity, histograms = network.nearest(key, 2)
        assert key.norm().item() == pytest.approx(1.0, abs=1e-5)
        assert similarity[0, 0].item() > 0.999 > similarity[0, 1].item()
        np.testing.assert_allclose(histograms[0, 0], normalised_histogram(truth), atol=1e-3)


def test_a_memory_of_pooled_features_alone_is_still_read() -> None:
    network = HueNet(encoder_weights=None)
    filled, mask = torch.rand(2, 1, 64, 64), torch.zeros(2, 1, 64, 64)
    maps, pooled = network.encode(filled)
    assert network.memory_key(maps, pooled, filled, mask).shape[1] == network.memory_keys.shape[1]
    network.memory_keys = torch.zeros(0, pooled.shape[1]).half()  # a model file of before
    torch.testing.assert_close(
        network.memory_key(maps, pooled, filled, mask), torch.nn.functional.normalize(pooled)
    )


def test_features_are_cached_by_content_and_reused(rule_run: Path) -> None:
    run = Run.open(rule_run)
    folder = next((run.root / "cache").glob("features-*"))
    files = sorted(folder.glob("*.npy"))
    assert len(files) == len(run.train_table())
    stamps = {f: f.stat().st_mtime_ns for f in files}
    train_expert(run, GLOBAL, 1)
    assert {f: f.stat().st_mtime_ns for f in sorted(folder.glob("*.npy"))} == stamps


@pytest.mark.parametrize("change", [{"train_encoder": True}, {"cache_features": False}])
def test_without_cached_features_only_the_filled_inputs_are_cached(
    rule_run: Path, tmp_path: Path, change: dict
) -> None:
    fresh = shutil.ignore_patterns("cache", "experts")
    run = Run.open(shutil.copytree(rule_run, tmp_path / "run", ignore=fresh))
    settings = run.config.train
    colour = settings.colour.model_copy(update={**change, "steps_per_epoch": 5})
    settings = settings.model_copy(update={"colour": colour, "epochs": 1})
    metrics = train_expert(run, GLOBAL, 0, settings)
    assert metrics is not None and metrics["steps"] == 5
    assert [f.name.split("-")[0] for f in (run.root / "cache").iterdir() if f.is_dir()] == [
        "filled"
    ]
    trained = load_model(run.model_pt(GLOBAL, 0)).weights
    packaged = build_network(settings).state_dict()
    encoder = [name for name in packaged if name.startswith("encoder.")]
    moved = any(not torch.equal(trained[name], packaged[name]) for name in encoder)
    assert moved == change.get("train_encoder", False)


def test_a_frozen_encoder_without_pretrained_weights_is_a_clear_error(rule_run: Path) -> None:
    run = Run.open(rule_run)
    settings = run.config.train.model_copy(update={"encoder_weights": None})
    model = run.model_pt(GLOBAL, 0)
    before = model.stat().st_mtime_ns
    with pytest.raises(InputError, match="frozen encoder must be pretrained"):
        train_expert(run, GLOBAL, 0, settings, force=True)
    assert model.stat().st_mtime_ns == before  # the finished fold is kept


def test_the_colour_expert_needs_an_efficientnet_lite() -> None:
    with pytest.raises(InputError, match="EfficientNet-Lite"):
        HueNet("resnet34")
