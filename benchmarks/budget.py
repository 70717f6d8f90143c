"""Quality at a fixed budget: a whole `hueroute run` of one preset, searched and trained in an hour.

    cd benchmarks && python budget.py ../../shared/photos /tmp/hueroute-bench --preset default

On the 256 px dataset of restorers.py (`--folds` folds, clusters of at least
`--min-cluster-size`, the embedder CLIP where its weights are on the machine, else
EfficientNet-Lite), the preset's run searches the global expert for a share of the budget,
then sets the training epochs from the rate its trials reached: the global expert's folds get
`--global-share` of what is left; for the colour expert the render study follows (its trials
render and score held-out images, no training); the cluster experts get the rest. Route,
evaluate, submit and the report follow, outside the budget. It prints where the time went,
evaluate's test rows (baseline, global, routed, oracle, submitted).
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
from restorers import dataset

from hueroute.run import GLOBAL, Run, expert_split
from search.storage import storage_url

HUEROUTE = [sys.executable, "-m", "hueroute"]
SEARCH_SHARE = 0.15  # of the budget, for the global expert's study
VALIDATION_MARGIN = 0.85  # of the planned training time left for images, the rest validates


def hueroute(*args: str | Path) -> float:
    """Run one hueroute command; the seconds it took."""
    started = time.perf_counter()
    subprocess.run([*HUEROUTE, *map(str, args)], check=True)
    return time.perf_counter() - started


def edit(run: Path, **sections: dict) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    for section, values in sections.items():
        for key, value in values.items():
            if isinstance(value, dict):
                config[section][key].update(value)
            else:
                config[section][key] = value
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def epoch_images(run: Path, experts: list[str]) -> dict[str, int]:
    """Images one epoch of each of `experts`' folds trains on, keyed 'expert/fold'."""
    opened = Run.open(run)
    settings = opened.config.train
    clusters, folds = pd.read_csv(opened.clusters_csv), pd.read_csv(opened.folds_csv)
    images = {}
    for expert in experts:
        for fold in range(opened.config.folds.n_folds):
            if settings.network == "colour":  # a set number of batches drawn with replacement
                images[f"{expert}/{fold}"] = settings.colour.steps_per_epoch * settings.batch_size
            else:
                images[f"{expert}/{fold}"] = len(expert_split(clusters, folds, expert, fold)[0])
    return images


def global_trials(run: Path) -> list[optuna.trial.FrozenTrial]:
    storage = storage_url(Run.open(run), None)
    return optuna.load_study(study_name=GLOBAL, storage=storage).trials


def search_seconds(run: Path) -> float:
    """From the first trial's start to the last one's end: what the study took, resumed or not."""
    trials = [t for t in global_trials(run) if t.datetime_complete]
    return (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()


def trial_rate(run: Path, images: int) -> float:
    """Training images a second in the global study's finished trials, validation included."""
    config = Run.open(run).config
    per_trial = min(
        config.search.max_steps * config.train.batch_size, config.search.epochs * images
    )
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = [t for t in global_trials(run) if t.state in states]
    if not done:
        raise SystemExit(f"{run}: no trial of the global study finished; see the search output")
    seconds = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    return len(done) * per_trial / seconds


def plan_epochs(run: Path, experts: list[str], seconds: float, rate: float) -> int:
    """Epochs that let every fold of `experts` train in `seconds` at `rate` images a second."""
    images = epoch_images(run, experts)
    epochs = max(1, int(VALIDATION_MARGIN * seconds * rate / sum(images.values())))
    cap = seconds / len(images) / 60
    edit(run, train={"epochs": epochs, "max_minutes": round(cap, 2)})
    print(f"{', '.join(experts)}: {epochs} epochs, a fold at most {cap:.1f} min")
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--minutes", type=float, default=60.0, help="search + training budget")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--min-cluster-size", type=int, default=40)
    parser.add_argument("--search-steps", type=int, default=10, help="optimizer steps a trial")
    parser.add_argument("--global-share", type=float, default=0.5, help="of the training time")
    parser.add_argument("--render-trials", type=int, default=24)
    parser.add_argument("--render-images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--random-init", action="store_true", help="train.encoder_weights: null (no download)"
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    data = dataset(args.photos, args.work, 256)
    run = args.work / f"run-budget-{args.preset}-{args.minutes:g}m-{args.folds}f"
    budget = args.minutes * 60
    if not (run / "config.yaml").exists():
        hueroute("init", run, "--data", data, "--preset", args.preset)
        edit(
            run,
            embed={"model": "auto"},  # the seed preset's clip where its weights are here
            folds={"n_folds": args.folds},
            cluster={"min_cluster_size": args.min_cluster_size},
            search={
                "trials": 4,
                "epochs": 1,
                "max_steps": args.search_steps,
                "timeout": SEARCH_SHARE * budget,
                "cluster_studies": False,
                "render_trials": args.render_trials,
                "render_images": args.render_images,
            },
            train={"image_size": 256} | ({"encoder_weights": None} if args.random_init else {}),
        )
    timings = {"cluster": hueroute("run", run, "--until", "cluster")}
    hueroute("run", run, "--until", "search")
    timings["search"] = search_seconds(run)
    finished = sum(t.state.is_finished() for t in global_trials(run))
    edit(run, search={"trials": finished})  # the budget's search is over: train resumes none

    experts = Run.open(run).experts()
    rate = trial_rate(run, epoch_images(run, [GLOBAL])[f"{GLOBAL}/0"])
    left = max(budget - timings["search"], 60.0)  # a minute at least, were search to overrun
    print(f"trials: {rate:.2f} images/s")
    share = args.global_share if len(experts) > 1 else 1.0
    plan_epochs(run, [GLOBAL], share * left, rate)
    timings["train global"] = hueroute("train", run, "--expert", GLOBAL)
    timings["tune"] = hueroute("tune", run)
    clusters = [e for e in experts if e != GLOBAL]
    if clusters:
        rest = max(left - timings["train global"] - timings["tune"], 60.0)
        plan_epochs(run, clusters, rest, rate)
        timings["train clusters"] = hueroute("train", run)
    for name in ("route", "evaluate", "submit", "report"):
        timings[name] = hueroute("run", run, "--until", name)
    folds = [json.loads(p.read_text()) for p in (run / "experts").glob("*/fold*/metrics.json")]
    steps = sum(fold["steps"] for fold in folds)
    spent = sum(v for k, v in timings.items() if k in ("search", "tune") or k.startswith("train"))
    print(f"{args.preset}: stages (s) " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(
        f"search + train + tune {spent / 60:.1f} min of {args.minutes:g}; "
        f"{len(folds)} expert folds, {steps} optimizer steps in all"
    )
    scores = pd.read_csv(run / "report/scores.csv", dtype={"cluster": str})
    print(scores[(scores["split"] == "test") & (scores["cluster"] == "all")].to_string(index=False))


if __name__ == "__main__":
    main()
