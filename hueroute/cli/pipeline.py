"""`hueroute run`, `hueroute demo` and `hueroute report`: the stages in order, and their page."""

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import command
from hueroute.cli.cluster import cluster_command
from hueroute.cli.evaluate import evaluate_command
from hueroute.cli.route import route_command
from hueroute.cli.search import search_command, tune_command
from hueroute.cli.submit import submit_command
from hueroute.cli.train import train_command
from hueroute.errors import InputError
from hueroute.progress import console, results
from hueroute.run import Run, clear_outputs

STAGES = ("cluster", "search", "train", "route", "evaluate", "submit", "report")


def train_all(run: Path) -> None:
    """The global expert, the colour expert's rendering tuned on its held-out folds, then the
    cluster experts' studies (their trials fine-tune the global expert of fold 0) when
    search.cluster_studies, then the cluster experts."""
    from hueroute.run import GLOBAL

    train_command(run, expert=[GLOBAL])
    tune_command(run)
    opened = Run.open(run)
    clusters = [e for e in opened.experts() if e != GLOBAL]
    if clusters and opened.config.search.cluster_studies:
        search_command(run, expert=clusters)
    if clusters:
        train_command(run, expert=clusters)


def run_stages(run: Path, until: str) -> None:
    """Every stage up to `until` that is not done, in order, then a table of where time went."""
    if until not in STAGES:
        raise InputError(f"--until {until}", f"is not a stage; choose from {', '.join(STAGES)}")
    from hueroute.run import GLOBAL

    opened = Run.open(run)
    steps: dict[str, tuple[Callable[[], object], Path]] = {
        "cluster": (lambda: cluster_command(run), opened.clusters_csv),
        "search": (lambda: search_command(run, expert=[GLOBAL]), opened.search_dir),
        "train": (lambda: train_all(run), opened.root / "experts" / "manifest.json"),
        "route": (lambda: route_command(run), opened.router_dir / "metrics.json"),
        "submit": (lambda: submit_command(run), opened.submission_zip),
        "evaluate": (lambda: evaluate_command(run), opened.report_dir / "scores.csv"),
        "report": (lambda: report_command(run), opened.report_dir / "index.html"),
    }
    done = []
    for stage in STAGES[: STAGES.index(until) + 1]:
        step, output = steps[stage]
        console.rule(f"[bold]{stage}")
        started = time.perf_counter()
        step()
        done.append((stage, time.perf_counter() - started, output))
    view = Table(title=f"run {run}")
    for column in ("stage", "seconds", "output"):
        view.add_column(column, justify="left" if column == "output" else "right")
    for stage, seconds, output in done:
        view.add_row(stage, f"{seconds:.1f}", str(output))
    results.print(view)


@command("run")
def run_command(
    run: Annotated[Path, typer.Argument(help="Run folder made by init.")],
    until: Annotated[str, typer.Option(help=f"Last stage to run: {', '.join(STAGES)}.")] = (
        "report"
    ),
) -> None:
    """Run every stage that is not done yet, in order; run it again to resume."""
    run_stages(run, until)


@command("report")
def report_command(run: Annotated[Path, typer.Argument(help="Run folder.")]) -> None:
    """Write RUN/report/index.html: clusters, studies, experts, router, scores, samples."""
    from hueroute.report import write_report

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
