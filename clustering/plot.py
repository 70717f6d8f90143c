"""The cluster map: UMAP points coloured by cluster, beside a few photos of each cluster."""

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from hueroute.clustering.cache import file_digest
from hueroute.clustering.clusterer import NOISE
from hueroute.files import save_figure
from hueroute.images import open_image

THUMBNAILS = 4  # photos shown per cluster
MAX_ROWS = 10  # clusters shown with photos


def cluster_colour(label: int) -> tuple[float, ...]:
    return (0.7, 0.7, 0.7, 0.5) if label == NOISE else colormaps["tab10"](label % 10)


def distinct_files(ranked: np.ndarray, images: list[Path]) -> list[int]:
    """The first THUMBNAILS of `ranked` whose files differ in content (copies show once)."""
    seen, chosen = set(), []
    for index in ranked:
        digest = file_digest(images[index])
        if digest not in seen:
            seen.add(digest)
            chosen.append(index)
            if len(chosen) == THUMBNAILS:
                break
    return chosen


def plot_clusters(
    coords: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    images: list[Path],
    out: Path,
) -> None:
    """Write the map of `coords` (first two UMAP axes) and thumbnails of `images` to `out`."""
    clusters = [label for label in np.unique(labels) if label != NOISE][:MAX_ROWS]
    rows = max(len(clusters), 1)
    figure = Figure(figsize=(7 + 1.6 * THUMBNAILS, max(6.0, 1.6 * rows)))
    grid = figure.add_gridspec(rows, THUMBNAILS + 1, width_ratios=[7 / 1.6] + [1] * THUMBNAILS)
    scatter = figure.add_subplot(grid[:, 0])
    for label in [NOISE, *np.unique(labels[labels != NOISE])]:
        members = labels == label
        if members.any():
            name = "noise" if label == NOISE else f"cluster {label}"
            scatter.scatter(
                coords[members, 0],
                coords[members, 1],
                s=8 if len(coords) > 2000 else 18,
                color=cluster_colour(label),
                label=f"{name} ({members.sum()})",
                linewidths=0,
            )
    scatter.set(xlabel="UMAP 1", ylabel="UMAP 2", title=f"{len(coords)} training images")
    scatter.legend(fontsize="small", markerscale=1.5, loc="best")
    for row, label in enumerate(clusters):
        members = np.flatnonzero(labels == label)
        ranked = members[np.argsort(-probabilities[members], kind="stable")]
        for column, index in enumerate(distinct_files(ranked, images)):
            axis = figure.add_subplot(grid[row, column + 1])
            image = open_image(images[index]).convert("RGB")
            image.thumbnail((128, 128))
            axis.imshow(np.asarray(image))
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set(color=cluster_colour(label), linewidth=3)
            if column == 0:
                axis.set_ylabel(f"cluster {label}", fontsize="small")
    figure.tight_layout()
    save_figure(figure, out, dpi=80)
