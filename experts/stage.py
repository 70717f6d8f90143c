"""The train stage: every missing fold of the chosen experts, the global expert first."""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hueroute.config import TrainConfig, settings_text, with_params
from hueroute.experts.train import train_expert, write_manifest
from hueroute.progress import console
from hueroute.run import GLOBAL, Run, tuned_settings


def say_sources(run: Run, expert: str, params: dict[str, Any], sources: list[Path]) -> None:
    """Say where `expert`'s training settings come from: studies or config.yaml."""
    if not sources:
        why = (
            "search.use_best_params is off"
            if not run.config.search.use_best_params
            else "no best_params.json yet"
        )
        console.print(f"{expert}: every setting from config.yaml ({why})")
        return
    files = " and ".join(str(source.relative_to(run.root)) for source in sources)
    console.print(f"{expert}: {settings_text(params)} from {files}; the rest from config.yaml")


def train_experts(
    run: Run,
    experts: Iterable[str] | None = None,
    folds: Iterable[int] | None = None,
    force: bool = False,
    overrides: dict[str, Any] | None = None,
) -> dict:
    """Train each of `experts` (all by default) on each of `folds` with its tuned settings and
    `overrides` laid over (a time budget's epochs); resumes a half-trained fold, skips finished
    ones unless `force`. Returns the manifest of every finished fold."""
    names = list(experts) if experts is not None else run.experts()
    folds = list(folds) if folds is not None else range(run.config.folds.n_folds)
    for name in sorted(names, key=lambda e: e != GLOBAL):  # cluster experts fine-tune global
        settings, params, sources = tuned_settings(run, name)
        say_sources(run, name, params, sources)
        settings = with_budget(settings, overrides)
        for fold in folds:
            metrics = train_expert(run, name, fold, settings, force)
            if metrics is None:
                console.print(f"{name} fold {fold}: done already (--force to redo)")
            else:
                console.print(
                    f"{name} fold {fold}: score {metrics['score']:.4f} on "
                    f"{metrics['val_images']} held-out images after {metrics['steps']} steps "
                    f"({metrics['seconds']} s)"
                )
    return write_manifest(run)


def with_budget(settings: TrainConfig, overrides: dict[str, Any] | None) -> TrainConfig:
    if not overrides:
        return settings
    console.print(f"within the time budget: {settings_text(overrides)}")
    return with_params(settings, overrides)
