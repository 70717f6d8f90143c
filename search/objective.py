"""The objective of an expert's study: its validation score on fold 0 after a short training."""

import os
import shutil
import socket
import time

import optuna
from optuna_integration import PyTorchLightningPruningCallback

from hueroute.experts.train import fit_expert
from hueroute.run import Run
from hueroute.search.space import suggest_settings, trial_settings

FOLD = 0
SHORTEST_TRIAL = 0.1  # of the timeout: a trial that starts late still trains this long


class Objective:
    """Trains `expert` on fold 0 with a trial's settings until `timeout` seconds after
    `started` (time.monotonic(), by default now) have passed, or at least a tenth of it so
    that a late trial still scores; the pruner sees every epoch's score."""

    def __init__(
        self, run: Run, expert: str, timeout: float | None = None, started: float | None = None
    ) -> None:
        self.run = run
        self.expert = expert
        self.timeout = timeout
        self.started = time.monotonic() if started is None else started

    def minutes(self) -> float | None:
        """How long the next trial may train."""
        if self.timeout is None:
            return None
        left = self.timeout - (time.monotonic() - self.started)
        return round(max(left, SHORTEST_TRIAL * self.timeout, 1.0) / 60, 3)

    def __call__(self, trial: optuna.Trial) -> float:
        search = self.run.config.search
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        params = suggest_settings(trial, search)
        settings = trial_settings(self.run.config.train, params, search, self.minutes())
        folder = self.run.search_dir / self.expert / f"trial{trial.number}"
        pruning = PyTorchLightningPruningCallback(trial, monitor="val_score")
        try:
            fitted = fit_expert(self.run, self.expert, FOLD, settings, folder, [pruning])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        images = fitted.trainer.global_step * settings.batch_size
        trial.set_user_attr("images_per_second", images / fitted.seconds)  # a time budget's rate
        if fitted.best.best_model_score is None:
            raise RuntimeError(f"trial {trial.number} ended before its first validation")
        return float(fitted.best.best_model_score)
