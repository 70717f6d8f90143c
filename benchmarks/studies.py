"""Search: trials an hour on this machine, and the tuned global expert against the defaults.

    python benchmarks/studies.py ../shared/photos /tmp/hueroute-bench [--trials 6] [--steps 150]

On the 256 px dataset of benchmarks/restorers.py, the `default` preset at batch 8: one study
of the global expert (its short budget: `search.epochs` epochs on fold 0), timed; then the
global expert of fold 0 trained for `--steps` optimizer steps twice, with the study's best
settings and with the config's, each scored on the fold's held-out images.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import yaml
from restorers import dataset

HUEROUTE = [sys.executable, "-m", "hueroute"]


def configured_run(data: Path, run: Path, trials: int, epochs: int, steps: int) -> None:
    if (run / "config.yaml").exists():
        return
    subprocess.run([*HUEROUTE, "init", run, "--data", data, "--preset", "default"], check=True)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["search"].update({"trials": trials, "epochs": epochs})
    config["train"].update({"batch_size": 8, "image_size": 256, "max_steps": steps,
                            "epochs": 1000, "patience": 1000})  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def trained(run: Path, use_best_params: bool) -> dict:
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["search"]["use_best_params"] = use_best_params
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run([*HUEROUTE, "train", run, "--expert", "global", "--fold", "0"], check=True)
    return json.loads((run / "experts/global/fold0/metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2, help="search.epochs of each trial")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    data = dataset(args.photos, args.work, 256)
    run = args.work / f"run-search-{args.trials}x{args.epochs}"
    configured_run(data, run, args.trials, args.epochs, args.steps)
    subprocess.run([*HUEROUTE, "cluster", run], check=True)

    started = time.perf_counter()
    subprocess.run([*HUEROUTE, "search", run, "--expert", "global"], check=True)
    hours = (time.perf_counter() - started) / 3600
    study = optuna.load_study(
        study_name="global", storage=f"sqlite:///{(run / 'search/studies.db').resolve()}"
    )
    states = [t.state.name for t in study.trials]
    print(
        f"search: {len(states)} trials in {hours * 60:.1f} min: {len(states) / hours:.1f} an hour"
    )
    print(f"search: states {', '.join(f'{s} {states.count(s)}' for s in sorted(set(states)))}")
    print(
        f"search: best trial {study.best_trial.number}: {study.best_value:.4f} {study.best_params}"
    )

    defaults = Path(shutil.copytree(run, run.with_name(run.name + "-defaults"), dirs_exist_ok=True))
    results = {"tuned": trained(run, True), "config defaults": trained(defaults, False)}
    for name, m in results.items():
        print(
            f"quality: {name}: S {m['ssim']:.4f} M {m['masked_ssim']:.4f} C {m['hist']:.4f} "
            f"score {m['score']:.4f} ({m['steps']} steps, {m['seconds']} s)"
        )


if __name__ == "__main__":
    main()
