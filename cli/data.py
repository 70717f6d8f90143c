"""Commands on datasets and images: make-dataset, check, detect-masks, baseline, score."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import Force, command
from hueroute.config import BASELINE_FILL, FILL_NAMES
from hueroute.progress import console, results

# each command imports what it works with, so that `hueroute --help` loads no image library


def report_batch(out: Path, written: int, skipped: int) -> None:
    if written == 0:
        console.print(f"nothing to do: all {skipped} outputs exist in {out} (--force to redo)")
    else:
        console.print(
            f"wrote {written} images to {out}" + (f" ({skipped} kept)" if skipped else "")
        )


@command("make-dataset")
def make_dataset_command(
    photos: Annotated[Path, typer.Argument(help="Folder of colour photos (searched recursively).")],
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset to.")],
    size: Annotated[int, typer.Option(help="Side of the square images, px.")] = 512,
    copies: Annotated[int, typer.Option(help="Degraded copies of each photo.")] = 1,
    test_fraction: Annotated[float, typer.Option(help="Share of photos held out.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same bytes.")] = 0,
    views: Annotated[
        int,
        typer.Option(help="Disjoint views of each photo: 1 whole, 2 halves, 4 quadrants."),
    ] = 1,
    split: Annotated[
        str,
        typer.Option(
            help="Hold out whole photos (scene), or one view of each held-out photo, its "
            "other views training (view)."
        ),
    ] = "scene",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Leave out unreadable or tiny photos, warning.")
    ] = False,
    force: Force = False,
) -> None:
    """Make a dataset in the competition's layout from any folder of colour photos."""
    from hueroute.dataset import make_dataset

    sources = make_dataset(
        photos, out, size, copies, test_fraction, seed, force, skip_bad, views, split
    )
    counts = sources["split"].value_counts()
    console.print(
        f"wrote {out}: {counts.get('train', 0)} train and {counts.get('test', 0)} test images "
        f"from {sources['source'].nunique()} photos"
        + (f" ({views} views each, split by {split})" if views > 1 else "")
    )


@command("check")
def check_command(data: Annotated[Path, typer.Argument(help="Dataset folder.")]) -> None:
    """Check a dataset: CSV columns and ids, every file present, decodable and the right size."""
    from hueroute.layout import check_dataset

    counts = check_dataset(data)
    console.print(f"{data} is well formed: {counts['train']} train, {counts['test']} test rows")


@command("detect-masks")
def detect_masks_command(
    inputs: Annotated[Path, typer.Argument(help="Folder of damaged gray inputs.")],
    out: Annotated[Path, typer.Argument(help="Folder for the 0/255 mask PNGs.")],
    force: Force = False,
) -> None:
    """Find the lost region of each gray input and write it as a 0/255 PNG."""
    import numpy as np

    from hueroute.batch import map_folder
    from hueroute.detect import detect_lost_region

    def mask_image(gray: np.ndarray) -> np.ndarray:
        return detect_lost_region(gray).astype(np.uint8) * 255

    report_batch(out, *map_folder(inputs, out, mask_image, "detecting", force))


@command("baseline")
def baseline_command(
    inputs: Annotated[Path, typer.Argument(help="Folder of damaged gray inputs.")],
    out: Annotated[Path, typer.Argument(help="Folder for the restored RGB PNGs.")],
    fill: Annotated[
        str, typer.Option(help=f"Fill of the lost region: {', '.join(FILL_NAMES)}.")
    ] = BASELINE_FILL,
    force: Force = False,
) -> None:
    """Restore with the reference method: the gray input, lost region filled (Telea)."""
    import numpy as np

    from hueroute.baseline import baseline_restore
    from hueroute.batch import map_folder
    from hueroute.fills import fill_named

    fill_named(fill)  # an unknown name fails before any work

    def restore(gray: np.ndarray) -> np.ndarray:
        return baseline_restore(gray, fill=fill)

    report_batch(out, *map_folder(inputs, out, restore, f"baseline ({fill})", force))


@command("score")
def score_command(
    gt: Annotated[Path, typer.Argument(help="Folder of colour originals.")],
    pred: Annotated[Path, typer.Argument(help="Folder or submission zip of predictions.")],
    masks: Annotated[Path | None, typer.Option(help="Folder of lost-region masks.")] = None,
    inputs: Annotated[
        Path | None, typer.Option(help="Folder of gray inputs to detect the masks from.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    per_image: Annotated[Path | None, typer.Option(help="Write per-image scores here.")] = None,
) -> None:
    """Score predictions with the competition's formula: 0.2 S + 0.4 M + 0.4 C."""
    from hueroute.files import write_text_atomic
    from hueroute.folder_score import score_predictions, summarise

    table = score_predictions(gt, pred, masks, inputs)
    if per_image is not None:
        write_text_atomic(per_image, table.to_csv(index=False))
    summary = summarise(table)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    view = Table(title=f"{pred} against {gt}")
    for column in ("images", "S (ssim)", "M (masked ssim)", "C (hue hist)", "score"):
        view.add_column(column, justify="right")
    parts = ("ssim", "masked_ssim", "hist", "score")
    view.add_row(str(summary["n"]), *(f"{summary[part]:.4f}" for part in parts))
    results.print(view)
