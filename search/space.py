"""The search space of one trial: learning rate, weight decay, scheduler and its settings."""

from typing import Any, get_args

import optuna

from hueroute.config import SearchConfig, TrainConfig

SCHEDULERS: tuple[str, ...] = get_args(TrainConfig.model_fields["scheduler"].annotation)


def suggest_settings(trial: optuna.Trial, search: SearchConfig) -> dict[str, Any]:
    """Training settings for `trial`; each scheduler's own settings only when it is chosen."""
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", search.lr_min, search.lr_max, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
        "scheduler": trial.suggest_categorical("scheduler", SCHEDULERS),
    }
    if params["scheduler"] == "plateau":
        params["plateau_factor"] = trial.suggest_float("plateau_factor", 0.1, 0.8)
        params["plateau_patience"] = trial.suggest_int("plateau_patience", 0, 3)
    elif params["scheduler"] == "cosine":
        params["cosine_min_ratio"] = trial.suggest_float("cosine_min_ratio", 0.0, 0.3)
    elif params["scheduler"] == "onecycle":
        params["onecycle_pct_start"] = trial.suggest_float("onecycle_pct_start", 0.05, 0.5)
        params["onecycle_div_factor"] = trial.suggest_float(
            "onecycle_div_factor", 2.0, 100.0, log=True
        )
    return params


def trial_settings(
    base: TrainConfig,
    params: dict[str, Any],
    search: SearchConfig,
    max_minutes: float | None = None,
) -> TrainConfig:
    """`base` with a trial's settings and the search's short budget (no trial outlasts
    `max_minutes`); pruning replaces patience."""
    budget = {"epochs": search.epochs, "max_steps": search.max_steps, "max_minutes": max_minutes,
              "patience": search.epochs}  # fmt: skip
    return TrainConfig.model_validate({**base.model_dump(), **params, **budget})
