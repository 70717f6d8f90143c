"""The competition's score of one image: 0.2 SSIM + 0.4 SSIM of the lost pixels + 0.4 hue match."""

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

WEIGHTS = {"ssim": 0.2, "masked_ssim": 0.4, "hist": 0.4}
MIN_MASKED_PIXELS = 7  # SSIM's default 7-pixel window
HUE_BINS = 180  # OpenCV's 8-bit hue: degrees / 2, gray pixels in bin 0


@dataclass(frozen=True)
class ImageScore:
    ssim: float
    masked_ssim: float
    hist: float

    @property
    def score(self) -> float:
        return sum(weight * getattr(self, part) for part, weight in WEIGHTS.items())

    def as_dict(self) -> dict[str, float]:
        return {"score": self.score, **asdict(self)}


def ssim(gt: np.ndarray, pred: np.ndarray) -> float:
    """S: SSIM over the whole RGB image, data range taken from the prediction."""
    return float(structural_similarity(gt, pred, channel_axis=-1, data_range=np.ptp(pred)))


def masked_ssim(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> float:
    """M: a 1-D SSIM along the N x 3 lost pixels, data range from the whole prediction."""
    inside = mask > 0
    if inside.sum() < MIN_MASKED_PIXELS:
        raise ValueError(f"the lost region has {inside.sum()} pixels; M needs at least 7")
    return float(
        structural_similarity(gt[inside], pred[inside], channel_axis=-1, data_range=np.ptp(pred))
    )


def hue_channel(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit hue (H, W) of an RGB uint8 image: 0..179."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 0]


def hue_counts(rgb: np.ndarray) -> np.ndarray:
    """Pixels per hue bin of an RGB uint8 image: the histogram C compares, before scaling."""
    return np.bincount(hue_channel(rgb).ravel(), minlength=HUE_BINS)


def hue_histogram(rgb: np.ndarray) -> np.ndarray:
    """The L2-normalised 180-bin histogram of OpenCV's hue channel."""
    hist = cv2.calcHist([hue_channel(rgb)], [0], None, [HUE_BINS], [0, HUE_BINS])
    return cv2.normalize(hist, hist)


def hist_similarity(gt: np.ndarray, pred: np.ndarray) -> float:
    """C: correlation of the hue histograms."""
    return float(cv2.compareHist(hue_histogram(gt), hue_histogram(pred), cv2.HISTCMP_CORREL))


def score_image(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> ImageScore:
    """S, M and C of one RGB uint8 prediction against its original."""
    return ImageScore(ssim(gt, pred), masked_ssim(gt, pred, mask), hist_similarity(gt, pred))
