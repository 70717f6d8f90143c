"""Fills of the lost region: M (SSIM along the lost pixels) and time per image, gray output.

    python benchmarks/fills.py ../shared/photos /tmp/hueroute-bench [--limit N]

On the test split of the 256 and 512 px datasets of restorers.py (the saved masks), each fill
of `hueroute.fills` restores the gray input; S, M and the time per image are printed, the
slowest fill (`fsr-best`) on the first `--limit` images only, and every fill's M on those
same images beside it.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from restorers import dataset

from hueroute.fills import FILLS, fill_lost_region
from hueroute.image_score import score_image
from hueroute.images import read_gray, read_rgb

SLOW = {"fsr-best"}


def measure(data: Path, name: str, limit: int | None, first: int) -> dict:
    test = pd.read_csv(data / "test.csv")
    names = [Path(p).name for p in test["input_path"]][:limit]
    scores, seconds = [], []
    for image in names:
        gray = read_gray(data / "test_input" / image)
        mask = read_gray(data / "test_mask" / image) > 0
        started = time.perf_counter()
        filled = fill_lost_region(gray, mask, name)
        seconds.append(time.perf_counter() - started)
        rgb = np.repeat(filled[..., None], 3, axis=2)
        scores.append(score_image(read_rgb(data / "test_gt" / image), rgb, mask))
    return {
        "fill": name,
        "images": len(names),
        "S": np.mean([s.ssim for s in scores]),
        "M": np.mean([s.masked_ssim for s in scores]),
        f"M, first {first}": np.mean([s.masked_ssim for s in scores[:first]]),
        "ms an image": 1000 * np.mean(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--limit", type=int, default=20, help="images for the slowest fills")
    args = parser.parse_args()
    for size in (256, 512):
        data = dataset(args.photos, args.work, size)
        rows = [
            measure(data, name, args.limit if name in SLOW else None, args.limit) for name in FILLS
        ]
        print(f"{size} px, test split of {data}")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
