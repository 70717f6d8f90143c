"""`hueroute search`: an Optuna study per expert of its learning rate and schedule."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import command
from hueroute.config import settings_text
from hueroute.progress import console, results
from hueroute.run import Run

Storage = Annotated[
    str | None,
    typer.Option(help="Optuna storage URL or journal file (default: search.storage, else SQLite)."),
]


@command("search")
def search_command(
    run: Annotated[Path, typer.Argument(help="Run folder, clustered.")],
    expert: Annotated[
        list[str] | None, typer.Option(help="Only these experts (global, cluster0, ...).")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Finished trials each study runs to (default: search.trials)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="Stop this worker after S seconds (default: search.timeout)."),
    ] = None,
    storage: Storage = None,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the studies and start afresh.")
    ] = False,
) -> None:
    """Tune each expert with an Optuna study; rerun to resume, or run several workers at once."""
    from hueroute.search.stage import search_studies, searched_experts
    from hueroute.search.storage import shown_url, storage_url

    opened = Run.open(run)
    url = storage_url(opened, storage)
    studies = search_studies(opened, searched_experts(opened, expert), url, trials, timeout, force)
    show_studies(studies, shown_url(url))
    console.print(f"studies: {shown_url(url)}; best settings and plots under {opened.search_dir}")


def show_studies(studies: list, where: str) -> None:
    """A table of each study's trials and best settings."""
    view = Table(title=f"best trial of each study in {where}")
    for column in ("expert", "complete", "pruned", "failed", "best score", "trial", "settings"):
        view.add_column(column, justify="left" if column == "settings" else "right")
    for study in studies:
        best = study.best
        shown = (
            ("-", "-", "no trial completed")
            if best is None
            else (f"{best['value']:.4f}", str(best["trial"]), settings_text(best["params"]))
        )
        counts = (str(study.counts[s]) for s in ("COMPLETE", "PRUNED", "FAIL"))
        view.add_row(study.expert, *counts, *shown)
    results.print(view)


@command("tune")
def tune_command(
    run: Annotated[Path, typer.Argument(help="Run folder whose global expert is trained.")],
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Finished trials to run to (default: search.render_trials)."),
    ] = None,
    storage: Storage = None,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the render study and start afresh.")
    ] = False,
) -> None:
    """Tune how the colour expert renders (target mix, power, chroma) on held-out folds."""
    from hueroute.search.stage import tune_render
    from hueroute.search.storage import storage_url

    opened = Run.open(run)
    tune_render(opened, storage_url(opened, storage), trials, force=force)
