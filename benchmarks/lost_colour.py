"""The lost region's colour choices on the test split of a trained run, nothing retrained.

    python benchmarks/lost_colour.py RUN [--blur 0.0117 0.025 0.04]

The global expert's fold-averaged output of each test image (the dataset needs test_gt/) is
rendered with the run's colour settings, changing only `colour.lost_region` (and, for
`blurred`, `colour.lost_blur`), and scored exactly: S, M, C and the score of each choice.

With --oracles, also what the region's colour would be worth if it were right: each image
rendered as the submission renders it (on the run's corrected luma), then the region's
colour replaced by the original's (its mean, the known pixels' colour carried in by Telea's
fill, or every pixel's own), the corrected luma kept. These are upper bounds, not methods.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from colour import global_outputs

from hueroute.colour_space import LUMA
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.experts.colour.output import colourise
from hueroute.image_score import score_image
from hueroute.run import Run
from hueroute.threads import thread_map


def colour_offsets(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: each channel of an RGB image minus the pixel's luma."""
    values = rgb.astype(np.float32)
    return values - (values @ np.array(LUMA, np.float32))[..., None]


def carried_in(offsets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The known pixels' colour offsets carried into the region by Telea's fill."""
    region = mask.astype(np.uint8)
    return np.dstack([cv2.inpaint(offsets[..., c], region, 5, cv2.INPAINT_TELEA) for c in range(3)])


ORACLES = {
    "gray": lambda offsets, mask: np.zeros_like(offsets),
    "the original's mean colour": lambda offsets, mask: np.broadcast_to(
        offsets[mask].mean(0), offsets.shape
    ),
    "the original's colour around it, carried in": carried_in,
    "the original's colour, pixel by pixel": lambda offsets, mask: offsets,
}


def with_region_colour(
    rendered: np.ndarray, luma: np.ndarray, mask: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """`rendered` with its lost region `mask` made `luma` plus the colour `offsets`."""
    out = rendered.astype(np.float32)
    out[mask] = luma[mask][:, None] + offsets[mask]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def oracle_rows(predictor: RoutedPredictor, items: list) -> list[dict]:
    """The submission's rendering, then each of ORACLES in its lost region, scored."""
    outputs, fills, masks, originals = zip(*items, strict=True)
    lumas = predictor.refine(list(fills), list(masks)) if predictor.refine else fills

    def scores(i: int) -> dict[str, dict]:
        rendered = colourise(outputs[i], lumas[i], masks[i], predictor.colour)
        offsets = colour_offsets(originals[i])
        images = {"as rendered": rendered}
        for name, colour in ORACLES.items():
            region = colour(offsets, masks[i])
            images[name] = with_region_colour(rendered, lumas[i], masks[i], region)
        return {k: score_image(originals[i], v, masks[i]).as_dict() for k, v in images.items()}

    found = thread_map(scores, range(len(items)))
    return [
        {"lost region": name, **pd.DataFrame([image[name] for image in found]).mean()}
        for name in found[0]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--blur", type=float, nargs="+", default=[0.0117, 0.025, 0.04])
    parser.add_argument("--oracles", action="store_true", help="also the region's upper bounds")
    args = parser.parse_args()
    run = Run.open(args.run)
    predictor = RoutedPredictor(run)
    items = list(global_outputs(run, predictor))
    choices = [{"lost_region": region} for region in ("smooth", "gray", "hue")]
    choices += [{"lost_region": "blurred", "lost_blur": blur} for blur in args.blur]
    rows = []
    for change in choices:
        settings = predictor.colour.model_copy(update=change)
        scores = thread_map(
            lambda item, s=settings: score_image(item[3], colourise(*item[:3], s), item[2]),
            items,
        )
        rows.append({**change, **pd.DataFrame([s.as_dict() for s in scores]).mean()})
    print(f"{len(items)} test images of {run.config.data}, the global expert of {args.run}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.oracles:
        print("the region's colour from the original, on the corrected luma (upper bounds)")
        table = pd.DataFrame(oracle_rows(predictor, items))
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
