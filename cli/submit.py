"""`hueroute submit`: the routed ensemble's predictions of the test set, zipped and checked."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hueroute.cli.app import command
from hueroute.progress import console, results
from hueroute.run import Run

if TYPE_CHECKING:
    from hueroute.ensemble.submit import Submission


@command("submit")
def submit_command(
    run: Annotated[Path, typer.Argument(help="Run folder with trained experts and a router.")],
    test_csv: Annotated[
        Path | None, typer.Option(help="test.csv to restore (default: the dataset's test.csv).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Zip to write (default: RUN/submission.zip).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Predict again images predicted before.")
    ] = False,
) -> None:
    """Restore every row of test.csv with the routed ensemble; write the flat zip and check it."""
    from hueroute.ensemble.submit import submit_run

    show_submission(submit_run(Run.open(run), test_csv, out, force))


def show_submission(done: "Submission") -> None:
    if done.predicted:
        rate = done.predicted / done.seconds
        shares = ", ".join(f"{e} {s:.0%}" for e, s in sorted(done.experts.items()))
        console.print(
            f"restored {done.predicted} images in {done.seconds:.1f} s ({rate:.2f} images/s); "
            f"blend weight by expert: {shares}"
        )
    if done.images > done.predicted:
        console.print(f"kept {done.images - done.predicted} predictions made before (--force)")
    results.print(f"{done.zip}: {done.images} PNGs, flat, named and sized as their inputs")
