"""The clusters and folds tables of a run and the experts they define."""

from pathlib import Path
from typing import TYPE_CHECKING

from hueroute.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

NOISE = -1  # the cluster of images in no cluster, in clusters.csv
GLOBAL = "global"  # the expert of every image, beside one expert per cluster
RENDER_STUDY = "render"  # the study of the colour expert's rendering, beside the experts' own


def read_run_table(path: Path, columns: tuple[str, ...]) -> "pd.DataFrame":
    """clusters.csv or folds.csv of a run, with a clear error when the stage has not run."""
    if not path.is_file():
        raise InputError(path, "does not exist: run `hueroute cluster` first")
    import pandas as pd

    table = pd.read_csv(path, dtype={"id": str})
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}")
    return table


def expert_of(cluster: int) -> str:
    """The expert of a cluster label: its own, or the global expert for noise."""
    return GLOBAL if cluster == NOISE else f"cluster{cluster}"


def expert_names(clusters: "pd.DataFrame") -> list[str]:
    """`global`, then one expert per cluster found (noise has none)."""
    found = sorted(int(c) for c in clusters["cluster"].unique() if c != NOISE)
    return [GLOBAL, *(expert_of(c) for c in found)]


def expert_split(
    clusters: "pd.DataFrame", folds: "pd.DataFrame", expert: str, fold: int
) -> tuple[list[str], list[str]]:
    """Training and validation ids of `expert` on `fold`: its images out of and in the fold."""
    table = clusters.merge(folds, on="id")
    if expert != GLOBAL:
        table = table[table["cluster"] == int(expert.removeprefix("cluster"))]
    held_out = table["fold"] == fold
    return list(table.loc[~held_out, "id"]), list(table.loc[held_out, "id"])
