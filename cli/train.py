"""`hueroute train`: every missing expert on every missing fold."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import Force, command
from hueroute.progress import results
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
    from hueroute.experts.stage import train_experts

    show_manifest(train_experts(Run.open(run), expert or None, fold or None, force), run)


def show_manifest(manifest: dict, run: Path) -> None:
    """A table of every trained fold's held-out score."""
    view = Table(title=f"experts of {run} (held-out folds)")
    for column in ("expert", "fold", "images", "S", "M", "C", "score"):
        view.add_column(column, justify="right")
    for name, by_fold in manifest.items():
        for k, entry in sorted(by_fold.items()):
            parts = (entry[p] for p in ("ssim", "masked_ssim", "hist", "score"))
            view.add_row(name, k, str(entry["val_images"]), *(f"{v:.4f}" for v in parts))
    results.print(view)
