"""`hueroute run`, `hueroute demo` and `hueroute report`: the stages in order, and their page."""

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import command
from hueroute.cli.cluster import show_clusters
from hueroute.cli.evaluate import show_scores
from hueroute.cli.refine import show_refine
from hueroute.cli.route import show_router
from hueroute.cli.search import show_studies
from hueroute.cli.submit import show_submission
from hueroute.cli.train import show_manifest
from hueroute.progress import console, results
from hueroute.run import BUDGETED, STAGES, Run, clear_outputs


def show_stage(opened: Run, stage: str, result: object) -> None:
    """Print a stage's result as its own command does."""
    from hueroute.search.storage import shown_url, storage_url

    if result is None:
        return
    shown = {
        "cluster": lambda: show_clusters(result, opened),
        "refine": lambda: show_refine(result, opened),
        "search": lambda: show_studies(result, shown_url(storage_url(opened, None))),
        "train-global": lambda: show_manifest(result, opened.root),
        "train-clusters": lambda: show_manifest(result, opened.root),
        "route": lambda: show_router(result, opened),
        "evaluate": lambda: show_scores(result, opened),
        "submit": lambda: show_submission(result),
        "report": lambda: console.print(f"wrote {result}"),
    }
    if stage in shown:
        shown[stage]()


def run_stages(run: Path, until: str, budget: str | None = None) -> None:
    """Every stage up to `until` that is not done, in order (the stages that learn within
    `budget`), then a table of where time went."""
    from hueroute.pipeline.budget import parse_duration
    from hueroute.pipeline.stages import run_pipeline

    opened = Run.open(run)
    seconds = parse_duration(budget) if budget else None
    done = run_pipeline(opened, until, seconds, show=lambda s, r: show_stage(opened, s, r))
    view = Table(title=f"run {run}")
    for column in ("stage", "seconds", "output"):
        view.add_column(column, justify="left" if column == "output" else "right")
    for stage in done:
        view.add_row(stage.stage, f"{stage.seconds:.1f}", str(stage.output))
    results.print(view)
    if seconds:
        used = sum(s.seconds for s in done if s.stage in BUDGETED)
        results.print(
            f"budget: cluster, search, training and tuning used {used / 60:.1f} of "
            f"{seconds / 60:.1f} min (plan and use in {opened.budget_json})"
        )


@command("run")
def run_command(
    run: Annotated[Path, typer.Argument(help="Run folder made by init.")],
    until: Annotated[str, typer.Option(help=f"Last stage to run: {', '.join(STAGES)}.")] = (
        "report"
    ),
    budget: Annotated[
        str | None,
        typer.Option(
            help="Time for cluster, search, training and tuning, such as 45m or 2h: the "
            "search measures this machine's training rate and each fold gets the epochs "
            "that fit."
        ),
    ] = None,
) -> None:
    """Run every stage that is not done yet, in order; run it again to resume."""
    run_stages(run, until, budget)


@command("report")
def report_command(run: Annotated[Path, typer.Argument(help="Run folder.")]) -> None:
    """Write RUN/report/index.html: clusters, studies, experts, router, scores, samples."""
    from hueroute.pipeline.report import write_report

    console.print(f"wrote {write_report(Run.open(run))}")


@command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the demo's dataset and run.")] = Path(
        "runs/demo"
    ),
    force: Annotated[bool, typer.Option("--force", help="Start the demo afresh.")] = False,
) -> None:
    """The whole pipeline on the bundled sample photos with the demo preset (a few minutes)."""
    from hueroute.data import samples_dir
    from hueroute.dataset import make_dataset

    data, run = out / "data", out / "run"
    if force:
        shutil.rmtree(data, ignore_errors=True)
        clear_outputs(run)
    if not (data / "sources.csv").exists():
        make_dataset(samples_dir(), data, size=256, copies=2, test_fraction=0.2, seed=0, force=True)
    if not (run / "config.yaml").exists():
        Run.create(run, data, "demo")
    run_stages(run, "report")
    results.print(f"submission: {run / 'submission.zip'}\nreport: {run / 'report' / 'index.html'}")
