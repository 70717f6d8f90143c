"""`hueroute train`: every missing expert on every missing fold."""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hueroute.cli.app import Force, command
from hueroute.config import settings_text
from hueroute.progress import console, results
from hueroute.run import Run


@command("train")
def train_command(
    run: Annotated[Path, typer.Argument(help="Run folder, clustered.")],
    expert: Annotated[
        list[str] | None, typer.Option(help="Only these experts (global, cluster0, ...).")
    ] = None,
    fold: Annotated[list[int] | None, typer.Option(help="Only these folds.")] = None,
    force: Force = False,
) -> None:
    """Train each expert on each fold: resumes a half-trained fold, skips finished ones."""
    from experts.train import train_expert, write_manifest
    from hueroute.run import GLOBAL, tuned_settings

    opened = Run.open(run)
    experts = expert or opened.experts()
    folds = fold if fold is not None and len(fold) else range(opened.config.folds.n_folds)
    for name in sorted(experts, key=lambda e: e != GLOBAL):  # clusters fine-tune global
        settings, params, sources = tuned_settings(opened, name)
        print_sources(opened, name, params, sources)
        for k in folds:
            metrics = train_expert(opened, name, k, settings, force)
            if metrics is None:
                console.print(f"{name} fold {k}: done already (--force to redo)")
            else:
                console.print(
                    f"{name} fold {k}: score {metrics['score']:.4f} on {metrics['val_images']} "
                    f"held-out images after {metrics['steps']} steps ({metrics['seconds']} s)"
                )
    manifest = write_manifest(opened)
    view = Table(title=f"experts of {run} (held-out folds)")
    for column in ("expert", "fold", "images", "S", "M", "C", "score"):
        view.add_column(column, justify="right")
    for name, by_fold in manifest.items():
        for k, entry in sorted(by_fold.items()):
            parts = (entry[p] for p in ("ssim", "masked_ssim", "hist", "score"))
            view.add_row(name, k, str(entry["val_images"]), *(f"{v:.4f}" for v in parts))
    results.print(view)


def print_sources(run: Run, expert: str, params: dict[str, Any], sources: list[Path]) -> None:
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
    shown = f"{settings_text(params)} from {files}"
    console.print(f"{expert}: {shown}; the rest from config.yaml")
