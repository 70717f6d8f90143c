"""The stages of a run, in order: the one list that the run folder, the pipeline, its budget
and the command line read, each stage with its command, its done-marker and its output."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hueroute.errors import InputError
from hueroute.run.experts import GLOBAL, RENDER_STUDY

if TYPE_CHECKING:
    from hueroute.run.folder import Run


@dataclass(frozen=True)
class Stage:
    """One step of `hueroute run`."""

    name: str
    command: str  # the `hueroute` command that runs this stage alone
    done: Callable[["Run"], bool]  # whether the stage's outputs are in the run (its marker)
    output: Callable[["Run"], Path]  # where to look first for what it wrote
    budgeted: bool = False  # learns, so `hueroute run --budget` plans its time
    always: bool = False  # runs every time: cheap when nothing changed, and checks that itself


def exist(*paths: Path) -> bool:
    return all(path.exists() for path in paths)


# the fill's correction before the render study that draws on it; the global expert first,
# since the cluster experts fine-tune it and the colour expert's rendering is tuned on its
# held-out folds
PIPELINE = (
    Stage(
        "cluster",
        "cluster",
        lambda run: exist(run.clusters_csv, run.folds_csv, run.umap_png, run.cluster_json),
        lambda run: run.clusters_csv,
        budgeted=True,
    ),
    Stage(
        "refine",
        "refine",
        lambda run: exist(run.refine_metrics_json),
        lambda run: run.refine_metrics_json,
        budgeted=True,
    ),
    Stage(
        "search",
        "search",
        lambda run: exist(run.best_params_json(GLOBAL)),
        lambda run: run.search_dir,
        budgeted=True,
    ),
    Stage(
        "train-global",
        "train",
        lambda run: run.trained([GLOBAL]),
        lambda run: run.manifest_json,
        budgeted=True,
    ),
    Stage(
        "tune",
        "tune",
        lambda run: exist(run.best_params_json(RENDER_STUDY)),
        lambda run: run.best_params_json(RENDER_STUDY),
        budgeted=True,
    ),
    Stage(
        "train-clusters",
        "train",
        lambda run: stage("cluster").done(run) and run.trained(run.experts()),
        lambda run: run.manifest_json,
        budgeted=True,
    ),
    Stage(
        "route",
        "route",
        lambda run: exist(run.router_metrics_json),
        lambda run: run.router_metrics_json,
    ),
    Stage("evaluate", "evaluate", lambda run: exist(run.scores_csv), lambda run: run.scores_csv),
    Stage(
        "submit",
        "submit",
        lambda run: exist(run.submission_zip),
        lambda run: run.submission_zip,
        always=True,
    ),
    Stage(
        "report",
        "report",
        lambda run: exist(run.report_html),
        lambda run: run.report_html,
        always=True,
    ),
)
STAGES = tuple(s.name for s in PIPELINE)
BUDGETED = tuple(s.name for s in PIPELINE if s.budgeted)
STAGE_COMMANDS = tuple(dict.fromkeys(s.command for s in PIPELINE))  # in order, each once


def stage(name: str) -> Stage:
    """The stage called `name`, or a clear error naming the stages."""
    for known in PIPELINE:
        if known.name == name:
            return known
    raise InputError(name, f"is not a stage; choose from {', '.join(STAGES)}")
