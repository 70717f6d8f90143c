"""Quality at a fixed budget: a whole `hueroute run` of one preset, searched and trained in an hour.

    cd benchmarks && python budget.py ../../shared/photos /tmp/hueroute-bench --preset default

On the 256 px dataset of restorers.py (two folds, clusters of at least `--min-cluster-size`,
the embedder CLIP where its weights are on the machine, else EfficientNet-Lite),
the preset's run searches the global expert for a share of the budget, then sets the
training epochs from the rate its trials reached, so that every expert on every fold fits in
what is left (`train.max_minutes` stops the global expert's folds at their share); route,
submit and evaluate follow, outside the budget. It prints where the time went, evaluate's
test rows (global, routed, oracle) and the OpenCV baseline on the same test images.
`--threads 1` runs on one core, so that two presets can be measured side by side;
`--random-init` starts the encoders from random weights where ImageNet ones cannot be fetched
(the seed preset's ResNet-34 on a machine without the hub).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import yaml
from foundation import baseline
from restorers import dataset

from experts.data import GLOBAL, expert_split
from experts.train import run_experts
from hueroute.run import Run
from search.storage import storage_url

HUEROUTE = [sys.executable, "-m", "hueroute"]
SEARCH_SHARE = 0.15  # of the budget, for the global expert's study
VALIDATION_MARGIN = 0.85  # of the planned training time left for images, the rest validates


def stage(run: Path, until: str) -> float:
    started = time.perf_counter()
    subprocess.run([*HUEROUTE, "run", str(run), "--until", until], check=True)
    return time.perf_counter() - started


def edit(run: Path, **sections: dict) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    for section, values in sections.items():
        config[section].update(values)
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def training_images(run: Path) -> dict[str, int]:
    """Images one epoch of each expert's fold trains on, keyed 'expert/fold'."""
    opened = Run.open(run)
    clusters, folds = pd.read_csv(opened.clusters_csv), pd.read_csv(opened.folds_csv)
    return {
        f"{expert}/{fold}": len(expert_split(clusters, folds, expert, fold)[0])
        for expert in run_experts(opened)
        for fold in range(opened.config.folds.n_folds)
    }


def global_trials(run: Path) -> list[optuna.trial.FrozenTrial]:
    storage = storage_url(Run.open(run), None)
    return optuna.load_study(study_name=GLOBAL, storage=storage).trials


def search_seconds(run: Path) -> float:
    """From the first trial's start to the last one's end: what the study took, resumed or not."""
    trials = [t for t in global_trials(run) if t.datetime_complete]
    return (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()


def trial_rate(run: Path, config: dict, images: int) -> float:
    """Training images a second in the global study's finished trials, validation included."""
    search, batch = config["search"], config["train"]["batch_size"]
    per_trial = min(search["max_steps"] * batch, search["epochs"] * images)
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = [t for t in global_trials(run) if t.state in states]
    if not done:
        raise SystemExit(f"{run}: no trial of the global study finished; see the search output")
    seconds = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    return len(done) * per_trial / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--minutes", type=float, default=60.0, help="search + training budget")
    parser.add_argument("--min-cluster-size", type=int, default=40)
    parser.add_argument("--search-steps", type=int, default=10, help="optimizer steps a trial")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--random-init", action="store_true", help="train.encoder_weights: null (no download)"
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    data = dataset(args.photos, args.work, 256)
    run = args.work / f"run-budget-{args.preset}-{args.minutes:g}m"
    budget = args.minutes * 60
    if not (run / "config.yaml").exists():
        subprocess.run(
            [*HUEROUTE, "init", str(run), "--data", str(data), "--preset", args.preset], check=True
        )
        edit(
            run,
            embed={"model": "auto"},  # the seed preset's clip where its weights are here
            folds={"n_folds": 2},
            cluster={"min_cluster_size": args.min_cluster_size},
            search={
                "trials": 4,
                "epochs": 1,
                "max_steps": args.search_steps,
                "timeout": SEARCH_SHARE * budget,
                "cluster_studies": False,
            },
            train={"image_size": 256} | ({"encoder_weights": None} if args.random_init else {}),
        )
    timings = {"cluster": stage(run, "cluster")}
    stage(run, "search")
    timings["search"] = search_seconds(run)
    finished = sum(t.state.is_finished() for t in global_trials(run))
    edit(run, search={"trials": finished})  # the budget's search is over: train resumes none

    images = training_images(run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    rate = trial_rate(run, config, images[f"{GLOBAL}/0"])
    left = max(budget - timings["search"], 60.0)  # a minute at least, were search to overrun
    epochs = max(1, int(VALIDATION_MARGIN * left * rate / sum(images.values())))
    global_share = max(v for k, v in images.items() if k.startswith(f"{GLOBAL}/"))
    cap = left * global_share / sum(images.values()) / 60
    edit(run, train={"epochs": epochs, "max_minutes": round(cap, 2)})
    print(f"trials: {rate:.2f} images/s; {epochs} epochs, a global fold at most {cap:.1f} min")

    timings["train"] = stage(run, "train")
    for name in ("route", "submit", "evaluate", "report"):
        timings[name] = stage(run, name)
    folds = [json.loads(p.read_text()) for p in (run / "experts").glob("*/fold*/metrics.json")]
    steps = sum(fold["steps"] for fold in folds)
    print(f"{args.preset}: stages (s) " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(
        f"search + train {(timings['search'] + timings['train']) / 60:.1f} min of "
        f"{args.minutes:g}; {len(folds)} expert folds, {steps} optimizer steps in all"
    )
    scores = pd.read_csv(run / "report/scores.csv", dtype={"cluster": str})
    print(scores[(scores["split"] == "test") & (scores["cluster"] == "all")].to_string(index=False))
    baseline(data, args.work, 256)


if __name__ == "__main__":
    main()
