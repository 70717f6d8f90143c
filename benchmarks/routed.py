"""Routing: global-only, routed and oracle scores, routing accuracy, and submit throughput.

    python benchmarks/routed.py ../shared/photos /tmp/hueroute-bench [--folds 3] [--epochs 10]

On the 256 px dataset of benchmarks/restorers.py, a `default` run (batch 16, its clusters with
`--min-cluster-size`) goes through cluster, train, route, submit and evaluate. It prints the
router's held-out accuracy, the submit rate (test images a second, the router's embeddings
and every fold model of the chosen experts included) and evaluate's table.
`--max-steps 1` trains every expert for one step: enough to time `submit` alone.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from restorers import dataset

HUEROUTE = [sys.executable, "-m", "hueroute"]


def stage(*args: str | Path) -> float:
    started = time.perf_counter()
    subprocess.run([*HUEROUTE, *map(str, args)], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--min-cluster-size", type=int, default=20)
    args = parser.parse_args()
    data = dataset(args.photos, args.work, 256)
    run = args.work / f"run-routed-{args.folds}x{args.epochs}-{args.max_steps}"
    if not (run / "config.yaml").exists():
        stage("init", run, "--data", data, "--preset", "default")
        config = yaml.safe_load((run / "config.yaml").read_text())
        config["folds"]["n_folds"] = args.folds
        config["cluster"]["min_cluster_size"] = args.min_cluster_size
        config["train"].update({"epochs": args.epochs, "max_steps": args.max_steps,
                                "batch_size": 16, "patience": args.epochs})  # fmt: skip
        (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    timings = {name: stage(name, run) for name in ("cluster", "train", "route")}
    images = len(pd.read_csv(data / "test.csv"))
    timings["submit"] = stage("submit", run, "--force")
    timings["evaluate"] = stage("evaluate", run, "--force")
    router = json.loads((run / "router/metrics.json").read_text())
    print(f"stages (s): {', '.join(f'{k} {v:.1f}' for k, v in timings.items())}")
    print(
        f"router: top-1 {router['top1']:.3f}, top-2 {router['top2']:.3f}, "
        f"ECE {router['ece']:.3f}, global alone {router['to_global_only']:.2f}, "
        f"recall {router['recall']}"
    )
    print(f"submit: {images} images in {timings['submit']:.1f} s, process start included: "
          f"{images / timings['submit']:.2f} images/s")  # fmt: skip
    scores = pd.read_csv(run / "report/scores.csv", dtype={"cluster": str})
    print(scores.to_string(index=False))


if __name__ == "__main__":
    main()
