"""Score a folder or zip of predictions against a folder of originals."""

from pathlib import Path

import numpy as np
import pandas as pd

from hueroute.detect import detect_lost_region
from hueroute.errors import InputError
from hueroute.files import list_images
from hueroute.image_score import MIN_MASKED_PIXELS, WEIGHTS, score_image
from hueroute.images import read_gray, read_rgb
from hueroute.prediction_files import prediction_reader
from hueroute.progress import track


def lost_region(
    name: str, shape: tuple[int, int], masks: Path | None, inputs: Path | None
) -> np.ndarray:
    """The mask of one image: read from `masks`, or detected from the gray input in `inputs`."""
    folder = masks if masks is not None else inputs
    path = folder / name
    gray = read_gray(path)
    if gray.shape != shape:
        raise InputError(
            path, f"is {gray.shape[1]}x{gray.shape[0]}, its original is {shape[1]}x{shape[0]}"
        )
    mask = gray > 0 if masks is not None else detect_lost_region(gray)
    if mask.sum() < MIN_MASKED_PIXELS:
        needed = MIN_MASKED_PIXELS
        raise InputError(path, f"lost region has {mask.sum()} pixels; at least {needed} are needed")
    return mask


def score_predictions(
    gt: Path, pred: Path, masks: Path | None = None, inputs: Path | None = None
) -> pd.DataFrame:
    """One row per original: name, score, ssim, masked_ssim, hist."""
    if (masks is None) == (inputs is None):
        raise InputError(gt, "give exactly one of --masks (mask folder) or --inputs (gray inputs)")
    names = [path.name for path in list_images(gt)]
    read_prediction = prediction_reader(pred, names)
    rows = []
    for name in track(names, "scoring"):
        truth = read_rgb(gt / name)
        guess = read_prediction(name)
        if guess.shape != truth.shape:
            raise InputError(
                f"{pred}/{name}",
                f"is {guess.shape[1]}x{guess.shape[0]}, its "
                f"original is {truth.shape[1]}x{truth.shape[0]}",
            )
        mask = lost_region(name, truth.shape[:2], masks, inputs)
        rows.append({"name": name, **score_image(truth, guess, mask).as_dict()})
    return pd.DataFrame(rows)


def summarise(per_image: pd.DataFrame) -> dict[str, float]:
    """The mean of each part and of the score, plus the image count."""
    summary = {part: float(per_image[part].mean()) for part in ("score", *WEIGHTS)}
    return {**summary, "n": len(per_image)}
