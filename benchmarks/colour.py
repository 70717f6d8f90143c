"""Where the colour expert's C comes from, on the test split of a trained run.

    python benchmarks/colour.py RUN

For each test image (the dataset needs test_gt/ and test_mask/): the correlation with the
original's hue histogram (the score's C) of each part of the global expert's target (the
head's expected histogram, the prior, the neighbours' histograms), of the mixed target, and
of the rendered image; then the renderer alone: each original's own per-pixel hues drawn
back onto its luma with the run's settings (how much of a target the drawing keeps).
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hueroute.detect import detect_lost_region
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.experts.colour.output import HueOutput, colourise, target_histogram
from hueroute.experts.colour.render import paint
from hueroute.fills import fill_lost_region
from hueroute.image_score import hist_similarity, hue_channel, hue_counts
from hueroute.images import luma, read_gray, read_rgb
from hueroute.run import GLOBAL, Run

PARTS = ("expected", "prior", "neighbours")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def global_outputs(
    run: Run, predictor: RoutedPredictor
) -> Iterator[tuple[HueOutput, np.ndarray, np.ndarray, np.ndarray]]:
    """Each test image's fold-averaged output of the global expert, its filled gray input,
    its lost region (as prediction finds it) and its original."""
    data = run.config.data
    for path in sorted((data / "test_input").glob("*.png")):
        gray = read_gray(path)
        if gray.shape != (predictor.size, predictor.size):
            raise SystemExit(f"{path}: the benchmark reads inputs at the training size")
        mask = detect_lost_region(gray)
        small = torch.from_numpy(np.array(gray))[None, None].float() / 255
        seen = torch.from_numpy(mask)[None, None].float()
        with torch.inference_mode():
            output = predictor.expert_output(GLOBAL, small, seen)
        filled = fill_lost_region(gray, mask, run.config.train.fill)
        yield output, filled, mask, read_rgb(data / "test_gt" / path.name)


def main(folder: Path) -> None:
    run = Run.open(folder)
    predictor = RoutedPredictor(run)
    rows = []
    for output, filled, mask, truth in global_outputs(run, predictor):
        counts = hue_counts(truth)
        row = {part: correlation(getattr(output, part)[0].numpy(), counts) for part in PARTS}
        row["target"] = correlation(target_histogram(output, predictor.colour)[0].numpy(), counts)
        row["rendered"] = hist_similarity(truth, colourise(output, filled, mask, predictor.colour))
        bins = hue_channel(truth).astype(int).ravel()
        bins[np.ptp(truth, axis=-1).ravel() == 0] = -1
        spread = np.full(bins.shape, predictor.colour.min_spread)
        drawn = paint(luma(truth).ravel(), bins, spread).reshape(truth.shape)
        row["own hues drawn"] = hist_similarity(truth, drawn)
        rows.append(row)
    table = pd.DataFrame(rows)
    print(f"C of each part on {len(table)} test images of {folder} (global expert):")
    print(table.mean().to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
