"""`hueroute refine`: the fill's learned correction, kept where a held-out fold shows it helps."""

from pathlib import Path
from typing import Annotated

import typer

from hueroute.cli.app import Force, command
from hueroute.progress import console, results
from hueroute.run import Run


@command("refine")
def refine_command(
    run: Annotated[Path, typer.Argument(help="Run folder, clustered.")],
    force: Force = False,
) -> None:
    """Learn a correction of the lost region's fill; keep it if it beats the fill held out."""
    from hueroute.experts.refine.stage import refine_run

    opened = Run.open(run)
    metrics = refine_run(opened, force)
    if metrics is None:
        console.print(f"refine: done already in {run} (--force to redo)")
        return
    show_refine(metrics, opened)


def show_refine(metrics: dict, run: Run) -> None:
    if "refined" not in metrics:
        results.print(f"refine: no correction of the fill ({metrics['reason']})")
        return
    fill, refined = metrics["fill"], metrics["refined"]
    verdict = "kept" if metrics["kept"] else "not kept"
    results.print(
        f"fill correction {verdict}: on the {metrics['held_out_images']} pairs of held-out fold "
        f"{metrics['held_out_fold']}, M {fill['M']:.4f} -> {refined['M']:.4f}, "
        f"S {fill['S']:.4f} -> {refined['S']:.4f} (gray luma; {metrics['steps']} steps, "
        f"{metrics['seconds']:.0f} s)"
    )
    console.print(f"wrote {run.refine_dir}/ (metrics.json, model.pt, examples.png)")
