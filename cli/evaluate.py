"""`hueroute evaluate`: global-only, routed and oracle-routed scores, per cluster."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hueroute.cli.app import Force, command
from hueroute.progress import console, results
from hueroute.run import Run

if TYPE_CHECKING:
    import pandas as pd


@command("evaluate")
def evaluate_command(
    run: Annotated[Path, typer.Argument(help="Run folder with trained experts and a router.")],
    force: Force = False,
) -> None:
    """Score baseline, global, routed and oracle on held-out folds (and the test split when
    test_gt/ exists); choose the cluster experts submit routes to."""
    import pandas as pd

    from hueroute.ensemble.evaluate import evaluate_run

    opened = Run.open(run)
    if opened.is_done("evaluate") and not force:
        console.print(f"evaluate: done already in {run} (--force to redo)")
        scores = pd.read_csv(opened.scores_csv, dtype={"cluster": str})
    else:
        scores = evaluate_run(opened)
    show_scores(scores, opened)


def show_scores(scores: "pd.DataFrame", run: Run) -> None:
    """The score of each strategy by split and cluster, and the experts submit routes to."""
    from hueroute.ensemble.evaluate import STRATEGIES

    view = Table(title=f"score of {run.root}: each expert choice (S / M / C of the score)")
    for column in ("split", "cluster", "images", *STRATEGIES):
        view.add_column(column, justify="right")
    for (split, cluster), group in scores.groupby(["split", "cluster"], sort=False):
        by = group.set_index("strategy")
        cells = [
            f"{by.loc[s, 'score']:.4f} ({by.loc[s, 'S']:.2f}/{by.loc[s, 'M']:.2f}/"
            f"{by.loc[s, 'C']:.2f})"
            if s in by.index
            else "-"
            for s in STRATEGIES
        ]
        view.add_row(split, cluster, str(int(by["images"].iloc[0])), *cells)
    results.print(view)
    console.print(f"wrote {run.scores_csv} and {run.report_dir / 'per_image.csv'}")
    choice = run.choice()
    if choice and choice["clusters"]:
        kept = ", ".join(choice["experts"]) or "none"
        dropped = ", ".join(e for e in choice["clusters"] if e not in choice["experts"]) or "none"
        results.print(
            f"submit routes to the cluster experts that beat the global expert on their "
            f"held-out images by more than {choice['min_gain_z']:g} standard errors: {kept}; "
            f"global expert instead of: {dropped} "
            f"({run.choice_json})"
        )
