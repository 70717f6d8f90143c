"""A time budget for the stages that learn: the fill's correction, search, training and the
render study.

The fill's correction and the search get fixed shares, their fills and feature cache
included; the search measures how many training images a second this machine trains; each
fold then gets epochs that fit its share of what is left at that rate, which is measured
again after every fold. Lightning's max_time stops a fold that would overrun, so the stages
end inside the budget.
"""

import json
import time
from dataclasses import dataclass, field

import optuna

from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.run import GLOBAL, Run, expert_split
from hueroute.search.storage import storage_url

REFINE_SHARE = 0.45  # of the budget, for the fill's correction, its fills included
SEARCH_SHARE = 0.15  # of the budget, for the global expert's study
TUNE_SHARE = 0.1  # of what the search leaves, for the colour expert's render study
GLOBAL_SHARE = 0.6  # of the training time, for the global expert when there are clusters
VALIDATION_MARGIN = 0.85  # of a fold's time planned for training images; the rest validates


@dataclass
class Budget:
    """`seconds` for the budgeted stages of `run`, counted from its creation."""

    run: Run
    seconds: float
    started: float = field(default_factory=time.monotonic)
    rate: float | None = None  # training images a second, validation included
    planned: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def refine_seconds(self) -> float:
        self.planned["refine"] = REFINE_SHARE * self.seconds
        return self.planned["refine"]

    def search_seconds(self) -> float:
        self.planned["search"] = SEARCH_SHARE * self.seconds
        return self.planned["search"]

    def plan_training(self, colour: bool, clusters: int) -> None:
        """Split what the search left between the global expert, the render study and the
        cluster experts."""
        left = max(self.left(), 0.0)
        tune = TUNE_SHARE * left if colour else 0.0
        share = GLOBAL_SHARE if clusters else 1.0
        self.planned["train-global"] = share * (left - tune)
        self.planned["tune"] = tune
        self.planned["train-clusters"] = (1 - share) * (left - tune)

    def measure_search(self) -> None:
        """The training rate of the global study's finished trials."""
        study = optuna.load_study(study_name=GLOBAL, storage=storage_url(self.run, None))
        rates = [t.user_attrs.get("images_per_second") for t in study.trials]
        rates = [rate for rate in rates if rate]
        if not rates:
            raise InputError(
                self.run.search_dir / GLOBAL,
                "no trial of the global study recorded its training rate, which the budget "
                "needs: add one with `hueroute search RUN --trials N` (N above those it has)",
            )
        self.rate = sum(rates) / len(rates)

    def measure(self, images: int, seconds: float) -> None:
        """The rate a fold just reached: `images` trained in `seconds`, everything included."""
        if images and seconds > 0:
            self.rate = images / seconds

    def fold_settings(self, seconds: float, images: int) -> dict:
        """Epochs of `images` images that fit `seconds` at the measured rate, and a time cap
        that leaves the fold's held-out scoring inside them."""
        epochs = max(1, int(VALIDATION_MARGIN * seconds * (self.rate or 0.0) / images))
        return {
            "epochs": epochs,
            "max_minutes": round(max(VALIDATION_MARGIN * seconds, 1.0) / 60, 3),
        }

    def write(self) -> None:
        record = {
            "budget_seconds": self.seconds,
            "training_images_per_second": self.rate,
            "planned_seconds": {k: round(v, 1) for k, v in self.planned.items()},
            "used_seconds": {k: round(v, 1) for k, v in self.used.items()},
        }
        write_text_atomic(self.run.budget_json, json.dumps(record, indent=2) + "\n")


def epoch_images(run: Run, expert: str, fold: int, network: str, steps: int, batch: int) -> int:
    """Images one epoch of `expert` on `fold` trains on."""
    if network == "colour":  # a set number of batches, drawn with replacement
        return steps * batch
    return len(expert_split(run.clusters(), run.folds(), expert, fold)[0])


def parse_duration(text: str) -> float:
    """Seconds of `90s`, `45m`, `1.5h` or a bare number of minutes."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "m")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise InputError(f"--budget {text}", "is not a duration such as 90s, 45m or 1.5h")
    return seconds
