"""`hueroute init`: make a run folder with its config."""

from pathlib import Path
from typing import Annotated

import typer

from hueroute.cli.app import command
from hueroute.config import PRESETS
from hueroute.progress import console
from hueroute.run import Run


@command("init")
def init_command(
    run: Annotated[Path, typer.Argument(help="Run folder to create.")],
    data: Annotated[Path, typer.Option(help="Dataset folder in the competition layout.")],
    preset: Annotated[str, typer.Option(help=f"Settings to start from: {', '.join(PRESETS)}.")] = (
        "default"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing config.")] = False,
) -> None:
    """Start a run: write RUN/config.yaml with every setting of every stage."""
    created = Run.create(run, data, preset, force)
    console.print(
        f"wrote {run / 'config.yaml'} (preset {preset!r}, data {created.config.data}); "
        f"next: hueroute cluster {run}"
    )
