"""The fill's learned correction: the network never changes a known pixel, its loss is the
score's SSIM, and the refine stage learns a synthetic case, keeps or drops the correction by
its held-out fold, resumes and is used by the predictions only where it is kept."""

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import segmentation_models_pytorch as smp
import torch
import yaml
from lightning.pytorch.callbacks import RichProgressBar
from PIL import Image
from skimage.metrics import structural_similarity

import hueroute.experts.module
import hueroute.experts.refine.stage
from hueroute.dataset import make_dataset
from hueroute.errors import InputError
from hueroute.experts.losses import lost_region_ssim_loss, region_line_ssim, windowed_ssim
from hueroute.experts.refine.data import RefineDataModule
from hueroute.experts.refine.net import Correction, SmallUNet, encoder_unet, refine_lumas
from hueroute.experts.refine.stage import (
    CHECKPOINT_STEPS,
    load_refiner,
    read_refiner,
    refine_run,
    save_refiner,
    training_precision,
)
from hueroute.pipeline.report import write_report
from hueroute.run import Run
from hueroute.run.models import FORMAT, load_model
from tests.cli_helpers import invoke, succeed
from tests.test_bad_input import assert_clear_error

SIZE = 64


def ignore_outputs(folder: str, names: list[str]) -> list[str]:
    """What shutil.copytree leaves out of a run's copy: the refine stage's outputs."""
    return ["refine"] if Path(folder).name == "run" else []


LITE0 = "tu-tf_efficientnet_lite0"


def last_layer(network: Correction) -> torch.nn.Module:
    body = network.body
    return body.out if isinstance(body, SmallUNet) else body.segmentation_head[0]


def busy_network(encoder: str | None = None) -> Correction:
    """A correction whose last layer is not zero, so that it changes what it may change: a
    small U-Net, or one on `encoder` with its ImageNet weights."""
    torch.manual_seed(0)
    network = Correction(SmallUNet(4) if encoder is None else encoder_unet(encoder, True))
    torch.nn.init.normal_(last_layer(network).weight, std=0.5)
    torch.nn.init.constant_(last_layer(network).bias, 0.2)
    return network.eval()


def stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """A colour image of vertical stripes 6 px apart at a random phase and contrast: a pattern
    a diffusing fill smooths away inside the lost region, and one a network can continue."""
    x = np.arange(size)[None, :] + rng.integers(6)
    column = 128 + rng.uniform(40, 90) * np.sign(np.sin(2 * np.pi * x / 6))
    shade = np.linspace(-20, 20, size)[:, None]
    luma = np.broadcast_to(column + shade, (size, size))
    tint = rng.uniform(0.8, 1.2, 3)
    return np.clip(luma[..., None] * tint, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def striped_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke run on 24 striped photos with two folds (of whole photos), filled by Telea."""
    root = tmp_path_factory.mktemp("refine")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(24):
        Image.fromarray(stripes(rng, SIZE)).save(photos / f"s{index:02d}.png")
    data = root / "data"
    make_dataset(photos, data, size=SIZE, copies=1, test_fraction=0.2, seed=0)
    run = Run.create(root / "run", data, "smoke")
    config = yaml.safe_load((run.root / "config.yaml").read_text())
    config["train"]["fill"] = "telea"
    config["refine"].update(width=8, steps=150, batch_size=8, regions=4, crop=SIZE, lr=3e-3)
    (run.root / "config.yaml").write_text(yaml.safe_dump(config))
    ids = list(run.train_table()["id"])
    folds = pd.DataFrame({"id": ids, "fold": [i % 2 for i in range(len(ids))]})
    folds.to_csv(run.folds_csv, index=False)
    return run.root


@pytest.fixture(scope="module")
def refined(striped_run: Path) -> dict:
    torch.set_num_threads(1)
    return refine_run(Run.open(striped_run))


@pytest.mark.parametrize("encoder", [None, LITE0])
def test_the_network_never_changes_a_known_pixel_at_any_size(encoder: str | None) -> None:
    network = busy_network(encoder)
    for height, width in ((37, 61), (64, 64), (5, 90)):
        filled = torch.rand(2, 1, height, width)
        mask = (torch.rand(2, 1, height, width) > 0.6).float()
        out = network(filled, mask)
        assert out.shape == filled.shape
        assert torch.equal(out[mask == 0], filled[mask == 0])
        assert (out[mask == 1] != filled[mask == 1]).any()
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("encoder", [None, LITE0])
def test_an_untrained_network_returns_the_fill(encoder: str | None) -> None:
    filled = torch.rand(1, 1, 40, 40)
    mask = (torch.rand(1, 1, 40, 40) > 0.5).float()
    network = Correction(SmallUNet(4) if encoder is None else encoder_unet(encoder, True))
    assert torch.equal(network.eval()(filled, mask), filled)


def test_a_correction_on_a_pretrained_encoder_is_rebuilt_from_its_file(
    sample_dataset: Path, tmp_path: Path
) -> None:
    run = Run.create(tmp_path / "run", sample_dataset, "smoke")
    config = yaml.safe_load((run.root / "config.yaml").read_text())
    config["refine"]["encoder"] = LITE0
    (run.root / "config.yaml").write_text(yaml.safe_dump(config))
    run = Run.open(run.root)
    network = busy_network(LITE0)
    save_refiner(run, network, 64, trained_on="stripes")
    refiner = read_refiner(run.refine_model_pt, torch.device("cpu"))
    assert refiner.size == 64
    filled, mask = torch.rand(1, 1, 64, 64), (torch.rand(1, 1, 64, 64) > 0.5).float()
    with torch.inference_mode():
        assert torch.equal(refiner.network(filled, mask), network(filled, mask))
    with pytest.raises(InputError, match=r"kind correction, not expert.*hueroute train"):
        load_model(run.refine_model_pt)  # one format, each kind read as itself
    record = torch.load(run.refine_model_pt, weights_only=True)
    record["format"] = FORMAT - 1
    torch.save(record, run.refine_model_pt)
    with pytest.raises(InputError, match=f"format {FORMAT - 1}.*refine --force"):
        read_refiner(run.refine_model_pt, torch.device("cpu"))


@pytest.mark.parametrize("mirrors", [False, True])
def test_corrected_lumas_keep_known_pixels_exactly_at_another_size(mirrors: bool) -> None:
    rng = np.random.default_rng(1)
    network = busy_network()
    for shape, size in (((45, 70), 32), ((32, 32), 32), ((17, 23), 64)):
        luma = rng.integers(0, 256, shape).astype(np.uint8)
        mask = np.zeros(shape, bool)
        mask[shape[0] // 4 : shape[0] // 2, :10] = True  # touching the border
        (out,) = refine_lumas(network, [luma], [mask], size, mirrors)
        assert out.dtype == np.uint8 and out.shape == shape
        assert np.array_equal(out[~mask], luma[~mask])
        assert (out[mask] != luma[mask]).any()


def test_a_mirror_averaged_correction_mirrors_with_its_input() -> None:
    rng = np.random.default_rng(2)
    network = busy_network()
    luma = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    mask = np.zeros(luma.shape, bool)
    mask[10:40, 5:30] = True

    def corrected(flip: tuple[int, ...], mirrors: bool) -> np.ndarray:
        image, region = np.flip(luma, flip).copy(), np.flip(mask, flip).copy()
        return np.flip(refine_lumas(network, [image], [region], 64, mirrors)[0], flip).astype(int)

    assert np.abs(corrected((1,), False) - corrected((), False)).max() > 1
    averaged = corrected((), True)
    for flip in ((0,), (1,), (0, 1)):
        assert np.abs(corrected(flip, True) - averaged).max() <= 1  # float sums, then rounding
    assert np.array_equal(averaged[~mask], luma[~mask])


def test_windowed_ssim_is_the_scores_ssim() -> None:
    rng = np.random.default_rng(2)
    truth = rng.random((30, 40))
    pred = np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1)
    expected = structural_similarity(truth, pred, data_range=1, win_size=7)
    ours = windowed_ssim(torch.tensor(pred)[None, None], torch.tensor(truth)[None, None], (7, 7))
    assert ours.mean().item() == pytest.approx(expected, abs=1e-6)
    row = windowed_ssim(torch.tensor(pred)[None, None], torch.tensor(truth)[None, None], (1, 7))
    line = structural_similarity(truth[5], pred[5], data_range=1, win_size=7)
    assert row[0, 0, 5].mean().item() == pytest.approx(line, abs=1e-6)


def test_the_line_ssim_is_the_scores_m_along_an_irregular_region() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random((2, 1, 30, 40))
    pred = np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1)
    mask = np.zeros(truth.shape, bool)
    mask[0, 0, 4:25, 6:12] = True  # rows of 6 pixels: every window runs across a row's end
    mask[0, 0, 10:14, 6:30] = True
    mask[1, 0, 0, :5] = True  # too few pixels for a window
    lines = region_line_ssim(*(torch.tensor(x) for x in (pred, truth, mask)))
    expected = structural_similarity(truth[0, 0][mask[0, 0]], pred[0, 0][mask[0, 0]], data_range=1)
    assert lines.shape == (1,)
    assert lines[0].item() == pytest.approx(expected, abs=1e-6)


def test_the_loss_is_zero_for_the_truth_and_counts_only_the_region() -> None:
    truth = torch.rand(1, 1, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 4:24] = 1
    assert lost_region_ssim_loss(truth, truth, mask, 0.5).item() == pytest.approx(0, abs=1e-6)
    far = truth.clone()
    far[..., :, 30:] = 0  # changed more than 3 px from the region: no window sees it
    assert lost_region_ssim_loss(far, truth, mask, 0.5).item() == pytest.approx(0, abs=1e-6)
    near = truth.clone()
    near[..., 10:12, 8:16] = 0.5
    assert lost_region_ssim_loss(near, truth, mask, 0.0).item() > 0.01


def test_refine_learns_to_continue_stripes_and_keeps_the_correction(
    striped_run: Path, refined: dict
) -> None:
    run = Run.open(striped_run)
    assert refined["kept"] is True, refined
    assert refined["refined"]["M"] > refined["fill"]["M"] + 0.05, refined
    assert refined["refined"]["S"] >= refined["fill"]["S"]
    assert refined["steps"] == 150 and refined["regions"] == 4
    assert refined["precision"] == training_precision("auto", "auto")
    assert refined["held_out_images"] + refined["train_images"] == len(run.train_table())
    assert json.loads(run.refine_metrics_json.read_text()) == refined
    assert not list(run.refine_dir.glob("*.ckpt"))
    assert run.refine_png.is_file()
    assert run.is_done("refine")
    refiner = load_refiner(run, torch.device("cpu"))
    assert refiner is not None and refiner.size == SIZE
    page = write_report(run).read_text()
    assert "The lost region&#x27;s fill" in page and "kept (it raises M" in page
    assert "refine/examples.png" in page


def test_a_fill_time_limit_fills_whole_rounds_of_regions(striped_run: Path) -> None:
    run = Run.open(striped_run)
    ids = list(run.train_table()["id"])

    def training_regions(fill_seconds: float | None) -> dict[str, np.ndarray]:
        data = RefineDataModule(
            run.train_table(), run.cache_dir, ids[2:], ids[:2], SIZE, "telea", run.config.refine,
            fill_seconds,
        )  # fmt: skip
        data.setup()
        assert data.held_out["masks"].shape[:2] == (2, 1)
        return data.train

    every, first = training_regions(None), training_regions(0.0)
    assert every["masks"].shape[:2] == (len(ids) - 2, 4)
    assert first["masks"].shape[:2] == (len(ids) - 2, 1)  # the first round always runs
    np.testing.assert_array_equal(first["fills"][:, 0], every["fills"][:, 0])
    np.testing.assert_array_equal(first["originals"], every["originals"])


def test_refine_trains_a_correction_on_a_pretrained_encoder_and_saves_it(
    striped_run: Path, tmp_path: Path
) -> None:
    run_dir = Path(shutil.copytree(striped_run, tmp_path / "run", ignore=ignore_outputs))
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["refine"].update(encoder=LITE0, steps=12)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    run = Run.open(run_dir)
    metrics = refine_run(run)
    assert metrics["steps"] == 12
    refiner = read_refiner(run.refine_model_pt, torch.device("cpu"))
    assert isinstance(refiner.network.body, smp.Unet)


def test_training_precision_is_bf16_only_where_the_device_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for native, auto in ((True, "bf16-mixed"), (False, "32-true")):
        monkeypatch.setattr(
            hueroute.experts.refine.stage, "native_bf16", lambda device, n=native: n
        )
        assert training_precision("auto", "cpu") == auto
        assert training_precision("32-true", "cpu") == "32-true"
        assert training_precision("bf16-mixed", "cpu") == "bf16-mixed"


def test_refine_is_skipped_when_done_and_redone_with_force(
    striped_run: Path, refined: dict
) -> None:
    run_dir = striped_run
    model = run_dir / "refine" / "model.pt"
    before = model.stat().st_mtime_ns
    result = succeed("refine", run_dir)
    assert "done already" in result.output
    assert model.stat().st_mtime_ns == before
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["refine"]["steps"] = 3
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        result = succeed("refine", run_dir, "--force")
        assert "fill correction" in result.output and "3 steps" in result.output
    finally:
        config["refine"]["steps"] = 150
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
        refine_run(Run.open(run_dir), force=True)


def test_ctrl_c_keeps_the_last_checkpoint_and_refine_resumes_from_it(
    striped_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = Path(shutil.copytree(striped_run, tmp_path / "run", ignore=ignore_outputs))
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["refine"]["steps"] = CHECKPOINT_STEPS + 20
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))

    class CtrlCAfterACheckpoint(RichProgressBar):
        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == CHECKPOINT_STEPS + 5:
                raise KeyboardInterrupt
            super().on_train_batch_start(trainer, *args)

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", CtrlCAfterACheckpoint)
    handler = signal.getsignal(signal.SIGINT)
    stopped = invoke("refine", run_dir)
    assert stopped.exit_code == 130, stopped.output
    last = run_dir / "refine" / "last.ckpt"
    said = " ".join(stopped.stderr.split())
    assert f"interrupted: refine keeps step {CHECKPOINT_STEPS} in {last}" in said
    assert signal.getsignal(signal.SIGINT) is handler
    assert not (run_dir / "refine" / "metrics.json").exists()

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", RichProgressBar)
    succeed("refine", run_dir)
    metrics = json.loads((run_dir / "refine" / "metrics.json").read_text())
    assert metrics["steps"] == CHECKPOINT_STEPS + 20
    assert not last.exists()


def test_a_dropped_correction_is_not_used(striped_run: Path, refined: dict, tmp_path: Path) -> None:
    run = Run.open(striped_run)
    metrics = {**refined, "kept": False}
    run.refine_metrics_json.write_text(json.dumps(metrics))
    try:
        assert load_refiner(run, torch.device("cpu")) is None
    finally:
        run.refine_metrics_json.write_text(json.dumps(refined))


def test_a_broken_model_file_is_a_clear_error(striped_run: Path, refined: dict) -> None:
    run = Run.open(striped_run)
    saved = run.refine_model_pt.read_bytes()
    run.refine_model_pt.write_bytes(b"not a model")
    try:
        with pytest.raises(InputError, match="refine --force"):
            load_refiner(run, torch.device("cpu"))
    finally:
        run.refine_model_pt.write_bytes(saved)


def test_a_restorer_that_predicts_the_region_needs_no_correction(
    sample_dataset: Path, tmp_path: Path
) -> None:
    run = Run.create(tmp_path / "run", sample_dataset, "joint")
    metrics = refine_run(run)
    assert metrics == {"kept": False, "reason": metrics["reason"]}
    assert "predicts the lost region" in metrics["reason"]
    assert run.is_done("refine") and not run.refine_model_pt.exists()
    assert load_refiner(run, torch.device("cpu")) is None


def test_a_holdout_fold_outside_the_folds_is_a_clear_error(
    sample_dataset: Path, tmp_path: Path
) -> None:
    run = Run.create(tmp_path / "run", sample_dataset, "smoke")
    config = yaml.safe_load((run.root / "config.yaml").read_text())
    config["refine"]["holdout_fold"] = 2
    (run.root / "config.yaml").write_text(yaml.safe_dump(config))
    assert_clear_error(invoke("refine", run.root), "config.yaml", "holdout_fold")
