"""What M (SSIM along the lost pixels) a restorer could reach, from what it knows there.

    python benchmarks/lost_region.py ../shared/photos /tmp/hueroute-bench [--size 256] [--run RUN]

On the test split of restorers.py's dataset (the saved masks), the lost region is given its
fill's luma or the original's, each with no chroma, the original's chroma, or its mean over
the region; then the original's luma blurred by Gaussians of growing sigma (a restorer that
knows the region only up to that scale), and the fill's own texture scaled (its deviation
from a blur of itself, times a gain). Outside the region every image is the original's luma.
With `--run`, the fill corrected by that run's refine stage (kept or not) is measured too.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from restorers import dataset

from hueroute.experts.refine.stage import read_refiner
from hueroute.fills import fill_lost_region
from hueroute.image_score import masked_ssim
from hueroute.images import luma, read_gray, read_rgb
from hueroute.run import Run

SIGMAS = (1, 2, 4, 8)
TEXTURE_GAINS = (0.5, 1.5, 2.0)
TEXTURE_SIGMA = 2.0

Variant = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def with_chroma(kind: str, source: str) -> Variant:
    """The region's luma from `source` ("original", or the fill it is given), its chroma
    `kind`."""

    def variant(truth, known, filled, mask):
        level = (known if source == "original" else filled).astype(np.float32)
        chroma = truth.astype(np.float32) - known[..., None]
        if kind == "none":
            chroma = np.zeros_like(chroma)
        elif kind == "mean":
            chroma = np.broadcast_to(chroma[mask].mean(0), chroma.shape)
        return level[..., None] + chroma

    return variant


def blurred_original(sigma: float) -> Variant:
    def variant(truth, known, filled, mask):
        return np.repeat(cv2.GaussianBlur(known.astype(np.float32), (0, 0), sigma)[..., None], 3, 2)

    return variant


def scaled_texture(gain: float) -> Variant:
    def variant(truth, known, filled, mask):
        level = filled.astype(np.float32)
        smooth = cv2.GaussianBlur(level, (0, 0), TEXTURE_SIGMA)
        return np.repeat((smooth + gain * (level - smooth))[..., None], 3, 2)

    return variant


VARIANTS: dict[str, Variant] = {
    "fill, gray": with_chroma("none", "fill"),
    "fill, the region's mean chroma": with_chroma("mean", "fill"),
    "fill, the original's chroma": with_chroma("original", "fill"),
    "original luma, gray": with_chroma("none", "original"),
    **{f"original luma blurred, sigma {s} px, gray": blurred_original(s) for s in SIGMAS},
    **{f"fill's texture x {g}, gray": scaled_texture(g) for g in TEXTURE_GAINS},
}


def region_image(known: np.ndarray, region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The original's gray outside `mask`, `region` (H, W, 3 float) inside, as uint8."""
    out = np.repeat(known[..., None], 3, 2).astype(np.float32)
    out[mask] = region[mask]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fill", default="fsr-fast")
    parser.add_argument("--run", type=Path, help="a run folder whose refine/model.pt to measure")
    args = parser.parse_args()
    refiner = None
    if args.run:
        refiner = read_refiner(Run.open(args.run).refine_model_pt, torch.device("cpu"))
        VARIANTS["corrected fill, gray"] = with_chroma("none", "corrected")
        VARIANTS["corrected fill, the original's chroma"] = with_chroma("original", "corrected")
    data = dataset(args.photos, args.work, args.size)
    names = [Path(p).name for p in pd.read_csv(data / "test.csv")["input_path"]]
    scores = {name: [] for name in VARIANTS}
    for image in names:
        truth = read_rgb(data / "test_gt" / image)
        mask = read_gray(data / "test_mask" / image) > 0
        known = luma(truth)
        filled = fill_lost_region(read_gray(data / "test_input" / image), mask, args.fill)
        corrected = refiner([filled], [mask])[0] if refiner is not None else None
        for name, variant in VARIANTS.items():
            region = variant(truth, known, corrected if "corrected" in name else filled, mask)
            scores[name].append(masked_ssim(truth, region_image(known, region, mask), mask))
    table = pd.DataFrame({"lost region": list(scores), "M": [np.mean(s) for s in scores.values()]})
    print(f"{len(names)} test images of {data}, fill {args.fill}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
