"""The lost region's colour choices on the test split of a trained run, nothing retrained.

    python benchmarks/lost_colour.py RUN [--blur 0.0117 0.025 0.04]

The global expert's fold-averaged output of each test image (the dataset needs test_gt/) is
rendered with the run's colour settings, changing only `colour.lost_region` (and, for
`blurred`, `colour.lost_blur`), and scored exactly: S, M, C and the score of each choice.
"""

import argparse
from pathlib import Path

import pandas as pd
from colour import global_outputs

from ensemble.predictor import RoutedPredictor
from experts.colourise import colourise
from hueroute.metric import score_image
from hueroute.run import Run
from hueroute.threads import thread_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--blur", type=float, nargs="+", default=[0.0117, 0.025, 0.04])
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


if __name__ == "__main__":
    main()
