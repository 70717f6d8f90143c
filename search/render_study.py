"""The colour expert's rendering, tuned by its own study on the global expert's held-out
outputs: how the target histogram mixes the head with the priors, how many neighbours make
the neighbour prior and how sharply they are weighted, its power, the chroma and the lost
region. A trial only renders and scores, so it takes seconds, not a training."""

import itertools
from typing import Any

import numpy as np
import optuna

from hueroute.config import ColourConfig, TrainConfig, setting, with_params
from hueroute.experts.colour.held_out import MOST_NEIGHBOURS, HeldOut
from hueroute.experts.colour.output import colourise
from hueroute.image_score import score_image
from hueroute.run import RENDER_STUDY, Run
from hueroute.search.study import open_study, optimize_until, write_best_params
from hueroute.threads import thread_map

REPORTS = 8  # partial means a trial reports to the pruner


SPACE: dict[str, tuple[float, float] | tuple[int, int] | list[str]] = {  # training settings
    "colour.head_weight": (0.0, 1.0),
    "colour.prior_weight": (0.0, 1.0),
    "colour.neighbour_weight": (0.0, 1.0),
    "colour.neighbours": (1, MOST_NEIGHBOURS),
    "colour.neighbour_temperature": (0.005, 0.2),
    "colour.target_power": (0.5, 1.3),
    "colour.chroma_gain": (0.0, 1.0),
    "colour.min_spread": (1.0, 8.0),
    "colour.lost_region": ["gray", "hue", "smooth", "blurred"],
    "colour.lost_blur": (0.005, 0.08),
}
LOG_SCALE = {"colour.neighbours", "colour.neighbour_temperature"}
SHARP_NEIGHBOUR = {"colour.neighbours": 1, "colour.neighbour_weight": 0.8}


def suggest_rendering(trial: optuna.Trial) -> dict[str, Any]:
    """A trial's rendering settings."""
    params: dict[str, Any] = {}
    for key, span in SPACE.items():
        if isinstance(span, list):
            params[key] = trial.suggest_categorical(key, span)
        elif isinstance(span[0], int):
            params[key] = trial.suggest_int(key, *span, log=key in LOG_SCALE)
        else:
            params[key] = trial.suggest_float(key, *span, log=key in LOG_SCALE)
    return params


def render_score(items: list[HeldOut], settings: ColourConfig, trial: optuna.Trial | None) -> float:
    """The mean exact score of `items` rendered with `settings` (on as many threads as torch
    uses); partial means go to `trial`'s pruner."""

    def scored(item: HeldOut) -> float:
        image = colourise(item.output_for(settings), item.luma, item.mask, settings)
        return score_image(item.truth, image, item.mask).score

    scores: list[float] = []
    marks = np.linspace(0, len(items), REPORTS + 1).astype(int)
    for start, end in itertools.pairwise(marks):
        scores += thread_map(scored, items[start:end])
        if trial is not None and 0 < end < len(items):
            trial.report(float(np.mean(scores)), int(end))
            if trial.should_prune():
                raise optuna.TrialPruned()
    return float(np.mean(scores))


class RenderObjective:
    """Renders the held-out images with a trial's settings laid over `base`."""

    def __init__(self, items: list[HeldOut], base: TrainConfig) -> None:
        self.items = items
        self.base = base

    def __call__(self, trial: optuna.Trial) -> float:
        settings = with_params(self.base, suggest_rendering(trial))
        return render_score(self.items, settings.colour, trial)


def open_render_study(run: Run, url: str, base: TrainConfig) -> optuna.Study:
    """The render study in the storage at `url`; a new one first tries the settings of
    `base`, so its best is never worse than them, then the same with the nearest neighbour
    alone and weighted up (a scene seen before), which random trials seldom reach."""
    study = open_study(run, RENDER_STUDY, url, optuna.pruners.MedianPruner(n_startup_trials=5))
    if not study.trials:
        own = {key: setting(base, key) for key in SPACE}
        study.enqueue_trial(own)
        study.enqueue_trial(own | SHARP_NEIGHBOUR)
    return study


def tune_rendering(
    run: Run,
    study: optuna.Study,
    items: list[HeldOut],
    base: TrainConfig,
    trials: int,
    timeout: float | None = None,
) -> dict | None:
    """Run the render study until it holds `trials` finished trials (or `timeout` passes);
    write and return the best settings (search/render/best_params.json)."""
    optimize_until(study, RenderObjective(items, base), trials, timeout)
    return write_best_params(run, study)
