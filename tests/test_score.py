"""The score against hand computations, properties, and the competition's formula."""

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from hueroute.data import samples_dir
from hueroute.dataset import square
from hueroute.folder_score import score_predictions, summarise
from hueroute.image_score import hist_similarity, masked_ssim, score_image, ssim


def competition_score(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> float:
    """The formula as the task states it, spelled out call by call."""
    s = structural_similarity(gt, pred, channel_axis=-1, data_range=pred.max() - pred.min())
    m = structural_similarity(
        gt[mask > 0], pred[mask > 0], channel_axis=-1, data_range=pred.max() - pred.min()
    )
    hists = []
    for image in (gt, pred):
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0], None, [180], [0, 180])
        hists.append(cv2.normalize(hist, hist).flatten())
    c = cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL)
    return 0.2 * s + 0.4 * m + 0.4 * c


def test_identical_images_score_one() -> None:
    image = square(samples_dir() / "parrot.jpg", 64)
    mask = np.zeros((64, 64), bool)
    mask[10:30, 20:50] = True
    result = score_image(image, image, mask)
    assert result.as_dict() == pytest.approx({"score": 1, "ssim": 1, "masked_ssim": 1, "hist": 1})


def test_masked_ssim_is_a_1d_ssim_over_n_by_3_pixels() -> None:
    """Seven lost pixels: one 7-pixel window, SSIM with sample (co)variances, by hand."""
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    pred = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2, 1:8] = True
    data_range = float(pred.max()) - float(pred.min())
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    per_channel = []
    for channel in range(3):
        x = gt[mask][:, channel].astype(float)
        y = pred[mask][:, channel].astype(float)
        vx, vy = x.var(ddof=1), y.var(ddof=1)
        vxy = ((x - x.mean()) * (y - y.mean())).sum() / 6
        numerator = (2 * x.mean() * y.mean() + c1) * (2 * vxy + c2)
        denominator = (x.mean() ** 2 + y.mean() ** 2 + c1) * (vx + vy + c2)
        per_channel.append(numerator / denominator)
    assert masked_ssim(gt, pred, mask) == pytest.approx(np.mean(per_channel), abs=1e-9)


def test_hist_similarity_by_hand() -> None:
    """Half red, half green against all red: the correlation of two 180-bin count vectors."""
    gt = np.zeros((10, 10, 3), np.uint8)
    gt[:5, :, 0] = 255
    gt[5:, :, 1] = 255
    pred = np.zeros((10, 10, 3), np.uint8)
    pred[..., 0] = 255
    truth = np.zeros(180)
    truth[[0, 60]] = 50
    guess = np.zeros(180)
    guess[0] = 100
    assert hist_similarity(gt, pred) == pytest.approx(np.corrcoef(truth, guess)[0, 1], abs=1e-6)


def test_flat_prediction() -> None:
    """A flat gray guess: no structure (S = M = 0) and one hue bin at 0."""
    gt = square(samples_dir() / "sunflower.jpg", 48)
    pred = np.full_like(gt, 128)
    mask = np.zeros((48, 48), bool)
    mask[5:25, 5:25] = True
    hue = cv2.cvtColor(gt, cv2.COLOR_RGB2HSV)[..., 0].ravel()
    truth = np.bincount(hue, minlength=180).astype(float)
    guess = np.zeros(180)
    guess[0] = hue.size
    assert ssim(gt, pred) == pytest.approx(0, abs=1e-9)
    assert masked_ssim(gt, pred, mask) == pytest.approx(0, abs=1e-9)
    assert hist_similarity(gt, pred) == pytest.approx(np.corrcoef(truth, guess)[0, 1], abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_the_competition_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = sorted(samples_dir().glob("*.jpg"))
    gt = square(names[seed], 96)
    noise = rng.integers(-60, 60, gt.shape)
    pred = np.clip(gt.astype(int) + noise, 0, 255).astype(np.uint8)
    mask = np.zeros((96, 96), bool)
    mask[rng.integers(0, 40) :][:40, 10:70] = True
    assert score_image(gt, pred, mask).score == pytest.approx(
        competition_score(gt, pred, mask), abs=1e-6
    )


def test_zip_and_folder_give_the_same_score(sample_dataset: Path, tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    pred.mkdir()
    rng = np.random.default_rng(1)
    for path in sorted((sample_dataset / "test_gt").glob("*.png")):
        gt = np.asarray(Image.open(path))
        noisy = np.clip(gt.astype(int) + rng.integers(-30, 30, gt.shape), 0, 255)
        Image.fromarray(noisy.astype(np.uint8)).save(pred / path.name)
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(pred.iterdir()):
            handle.write(path, path.name)
    gt_dir, masks = sample_dataset / "test_gt", sample_dataset / "test_mask"
    from_folder = summarise(score_predictions(gt_dir, pred, masks=masks))
    from_zip = summarise(score_predictions(gt_dir, archive, masks=masks))
    assert from_folder == from_zip
    assert 0 < from_folder["score"] < 1
