"""Lost-region detection and the OpenCV baseline on datasets made from a folder of photos.

    python benchmarks/foundation.py ../shared/photos /tmp/hueroute-bench

Prints detection IoU (median, 1st percentile) and ms per image on every input of a 512 px
dataset, then the baseline's S, M, C and score on the test split at 256 and 512 px.
"""

import sys
import time
from pathlib import Path

import numpy as np

from hueroute.baseline import baseline_restore
from hueroute.batch import map_folder
from hueroute.dataset import make_dataset
from hueroute.detect import detect_lost_region
from hueroute.folder_score import score_predictions, summarise
from hueroute.images import luma, read_gray, read_rgb


def dataset(photos: Path, work: Path, size: int, copies: int) -> Path:
    out = work / f"data{size}"
    if not (out / "sources.csv").exists():
        make_dataset(photos, out, size=size, copies=copies, test_fraction=0.2, seed=0)
    return out


def true_mask(data: Path, split: str, name: str) -> np.ndarray:
    """The test split's saved mask; on train, input != L(original)."""
    if split == "test":
        return read_gray(data / "test_mask" / name) > 0
    return read_gray(data / "train_input" / name) != luma(read_rgb(data / "train_gt" / name))


def detection(data: Path) -> None:
    ious, seconds = [], []
    for split in ("train", "test"):
        for path in sorted((data / f"{split}_input").glob("*.png")):
            gray = read_gray(path)
            start = time.perf_counter()
            found = detect_lost_region(gray)
            seconds.append(time.perf_counter() - start)
            truth = true_mask(data, split, path.name)
            ious.append((found & truth).sum() / (found | truth).sum())
    print(
        f"detection at 512 px on {len(ious)} inputs: IoU median {np.median(ious):.4f}, "
        f"1st percentile {np.quantile(ious, 0.01):.4f}, mean {np.mean(ious):.4f}; "
        f"{1000 * np.mean(seconds):.1f} ms an image (99th percentile "
        f"{1000 * np.quantile(seconds, 0.99):.1f} ms)"
    )


def baseline(data: Path, work: Path, size: int) -> None:
    out = work / f"baseline{size}"
    map_folder(data / "test_input", out, baseline_restore, f"baseline {size}")
    summary = summarise(score_predictions(data / "test_gt", out, masks=data / "test_mask"))
    print(
        f"baseline at {size} px on {summary['n']} test images: S {summary['ssim']:.4f}, "
        f"M {summary['masked_ssim']:.4f}, C {summary['hist']:.4f}, score {summary['score']:.4f}"
    )


def main(photos: Path, work: Path) -> None:
    data512 = dataset(photos, work, 512, copies=5)
    detection(data512)
    baseline(data512, work, 512)
    baseline(dataset(photos, work, 256, copies=5), work, 256)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
