"""`hueroute cluster`: embeddings, clusters and folds of a run's training set."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hueroute.cli.app import Force, command
from hueroute.progress import console, results
from hueroute.run import Run

if TYPE_CHECKING:
    import pandas as pd


@command("cluster")
def cluster_command(
    run: Annotated[Path, typer.Argument(help="Run folder made by init.")],
    force: Force = False,
) -> None:
    """Embed train_gt and train_input, cluster with UMAP + HDBSCAN, and make the folds."""
    from hueroute.clustering.stage import cluster_run  # torch and numba load only when used

    opened = Run.open(run)
    if opened.is_done("cluster") and not force:
        console.print(f"cluster: done already in {run} (--force to redo)")
        return
    show_clusters(cluster_run(opened), opened)


def show_clusters(sizes: "pd.DataFrame", run: Run) -> None:
    view = Table(title=f"clusters of {run.root}")
    for column in sizes.columns:
        view.add_column(column, justify="right")
    for row in sizes.itertuples(index=False):
        view.add_row(row[0], str(row[1]), f"{row[2]:.1%}", f"{row[3]:.2f}", row[4])
    results.print(view)
    console.print(f"wrote {run.clusters_csv}, {run.folds_csv}, {run.umap_png}")
