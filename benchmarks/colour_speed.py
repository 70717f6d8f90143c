"""Colour expert speed at one size: feature caching, training steps and validation.

    cd benchmarks && python colour_speed.py ../../shared/photos /tmp/hueroute-bench --size 512

On the `--size` px dataset of restorers.py, a run of the `default` preset whose images form
one group over five folds trains the global expert of fold 0 for `--steps` steps. It prints
the device, the seconds to fill and encode every stored pair into the feature cache (0 when
the cache holds them already), the training steps a second (validation excluded), and the
seconds one validation pass takes (render and score every held-out image).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from restorers import dataset

from hueroute.experts.registry import build_network
from hueroute.experts.train import train_expert, training_parts
from hueroute.run import GLOBAL, NOISE, Run, expert_split


def speed_run(data: Path, folder: Path, args: argparse.Namespace) -> Run:
    """A fresh run over `data` with one group of images in five folds and the speed settings."""
    run = Run.create(folder, data, "default")
    ids = run.train_table()["id"]
    pd.DataFrame({"id": ids, "cluster": NOISE}).to_csv(run.clusters_csv, index=False)
    pd.DataFrame({"id": ids, "fold": np.arange(len(ids)) % 5}).to_csv(run.folds_csv, index=False)
    config = yaml.safe_load(run.root.joinpath("config.yaml").read_text())
    train = config["train"]
    train.update(image_size=args.size, epochs=1, num_workers=args.num_workers)
    train["colour"]["steps_per_epoch"] = args.steps
    if args.fill:
        train["fill"] = args.fill
    run.root.joinpath("config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Run.open(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--fill", default=None, help="train.fill (default: the preset's)")
    args = parser.parse_args()
    data = dataset(args.photos, args.work, args.size)
    folder = args.work / f"speed-{args.size}px-{args.fill or 'preset'}-{args.num_workers}w"
    run = Run.open(folder) if folder.exists() else speed_run(data, folder, args)
    settings = run.config.train
    train_ids, val_ids = expert_split(run.clusters(), run.folds(), GLOBAL, 0)
    network = build_network(settings)
    module, parts = training_parts(run, GLOBAL, network, settings, train_ids, val_ids)

    started = time.perf_counter()
    parts.setup()
    caching = time.perf_counter() - started
    metrics = train_expert(run, GLOBAL, 0, settings, force=True)

    where = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    module.to(where).eval()
    started = time.perf_counter()
    with torch.inference_mode():
        for index, batch in enumerate(parts.val_dataloader()):
            module.validation_step(module.transfer_batch_to_device(batch, where, 0), index)
    validation = time.perf_counter() - started

    training = metrics["seconds"] - validation
    device = torch.cuda.get_device_name() if where.type == "cuda" else "CPU"
    print(f"{device}, {args.size} px, batch {settings.batch_size}, {args.num_workers} workers")
    print(f"  caching {len(train_ids) + len(val_ids)} pairs: {caching:.1f} s")
    print(
        f"  training: {metrics['steps']} steps in about {training:.1f} s "
        f"({metrics['steps'] / training:.2f} steps/s, "
        f"{metrics['steps'] * settings.batch_size / training:.0f} images/s)"
    )
    print(f"  validation of {len(val_ids)} images: {validation:.1f} s")


if __name__ == "__main__":
    main()
