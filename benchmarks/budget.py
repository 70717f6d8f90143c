"""Quality at a fixed budget: `hueroute run --budget` of one preset on a 256 (or 512) px dataset.

    cd benchmarks && python budget.py ../../shared/photos /tmp/hueroute-bench --preset default

On the `--size` px dataset of restorers.py (`--folds` folds, clusters of at least
`--min-cluster-size`, the embedder CLIP where its weights are on the machine, else
EfficientNet-Lite), `hueroute run RUN --budget` clusters, searches, trains and tunes within
`--minutes`, then routes, evaluates, submits and reports. It prints the budget's plan beside
the time each stage used, and evaluate's test rows (baseline, global, routed, oracle,
submitted). `--threads 1` runs on one core, so that two presets can be measured side by side;
`--random-init` starts the encoders from random weights where ImageNet ones cannot be fetched
(the seed preset's ResNet-34 on a machine without the hub); `--fill telea` fills without
OpenCV's contrib modules. `--views 2 --split view` (or `scene`) cuts each photo into views
first, as `make-dataset` does (benchmarks/scenes.py then reads the run's scene figures).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from restorers import dataset

from hueroute.dataset import make_dataset

HUEROUTE = [sys.executable, "-m", "hueroute"]


def edit(run: Path, **sections: dict) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    for section, values in sections.items():
        config[section].update(values)
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--minutes", type=float, default=60.0, help="the run's --budget")
    parser.add_argument("--size", type=int, default=256, help="the dataset's and training's px")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--min-cluster-size", type=int, default=40)
    parser.add_argument("--search-trials", type=int, default=4)
    parser.add_argument("--search-steps", type=int, default=10, help="optimizer steps a trial")
    parser.add_argument("--render-trials", type=int, default=24)
    parser.add_argument("--render-images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--views", type=int, default=1, help="make-dataset --views")
    parser.add_argument("--split", default="scene", help="make-dataset --split (with --views)")
    parser.add_argument(
        "--fill", default=None, help="train.fill (telea where OpenCV has no contrib modules)"
    )
    parser.add_argument(
        "--random-init", action="store_true", help="train.encoder_weights: null (no download)"
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    run = args.work / f"run-budget-{args.preset}-{args.size}px-{args.minutes:g}m-{args.folds}f"
    if args.views > 1:
        data = args.work / f"data{args.size}-views{args.views}-{args.split}"
        if not (data / "sources.csv").exists():
            make_dataset(
                args.photos, data, args.size, 2, skip_bad=True, views=args.views, split=args.split
            )
        run = run.with_name(f"{run.name}-views{args.views}-{args.split}")
    else:
        data = dataset(args.photos, args.work, args.size)
    if not (run / "config.yaml").exists():
        subprocess.run(
            [*HUEROUTE, "init", run, "--data", data, "--preset", args.preset], check=True
        )
        edit(
            run,
            embed={"model": "auto"},  # the seed preset's clip where its weights are here
            folds={"n_folds": args.folds},
            cluster={"min_cluster_size": args.min_cluster_size},
            search={
                "trials": args.search_trials,
                "epochs": 1,
                "max_steps": args.search_steps,
                "cluster_studies": False,
                "render_trials": args.render_trials,
                "render_images": args.render_images,
            },
            train={"image_size": args.size}
            | ({"encoder_weights": None} if args.random_init else {})
            | ({"fill": args.fill} if args.fill else {}),
        )
    started = time.perf_counter()
    budget = f"{args.minutes:g}m"
    subprocess.run([*HUEROUTE, "run", run, "--budget", budget], check=True)
    total = time.perf_counter() - started

    record = json.loads((run / "budget.json").read_text())
    planned, used = record["planned_seconds"], record["used_seconds"]
    print(f"{args.preset}, --budget {budget}: {record['training_images_per_second']:.2f} images/s")
    for stage in used:
        plan = f"{planned[stage] / 60:6.1f}" if stage in planned else "     -"
        print(f"  {stage:15s} planned {plan} min, used {used[stage] / 60:6.1f} min")
    print(
        f"  budgeted stages {sum(used.values()) / 60:.1f} of {args.minutes:g} min; "
        f"the whole run {total / 60:.1f} min"
    )
    folds = [json.loads(p.read_text()) for p in (run / "experts").glob("*/fold*/metrics.json")]
    print(f"  {len(folds)} expert folds, {sum(f['steps'] for f in folds)} optimizer steps in all")
    scores = pd.read_csv(run / "report/scores.csv", dtype={"cluster": str})
    print(scores[(scores["split"] == "test") & (scores["cluster"] == "all")].to_string(index=False))


if __name__ == "__main__":
    main()
