"""`hueroute route`: the router from gray inputs to clusters, with its held-out accuracy."""

from pathlib import Path
from typing import Annotated

import typer

from hueroute.cli.app import Force, command
from hueroute.progress import console, results
from hueroute.run import Run


@command("route")
def route_command(
    run: Annotated[Path, typer.Argument(help="Run folder, clustered.")],
    force: Force = False,
) -> None:
    """Fit the LightGBM router on embeddings of train_input; check it on held-out folds."""
    from hueroute.ensemble.fit_router import route_run

    opened = Run.open(run)
    if opened.is_done("route") and not force:
        console.print(f"route: done already in {run} (--force to redo)")
        return
    show_router(route_run(opened), opened)


def show_router(metrics: dict, run: Run) -> None:
    results.print(
        f"router on {metrics['images']} held-out images: top-1 {metrics['top1']:.3f}, "
        f"top-2 {metrics['top2']:.3f}, calibration error {metrics['ece']:.3f}, "
        f"{metrics['to_global_only']:.0%} sent to the global expert alone"
    )
    recall = ", ".join(f"{expert} {share:.2f}" for expert, share in metrics["recall"].items())
    results.print(f"routed to their own cluster: {recall}")
    console.print(f"wrote {run.router_dir}/ (metrics.json, calibration.png, model)")
