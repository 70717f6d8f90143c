"""Every stage of a run as a plain function, and the order that runs them: a stage whose
done-marker is in the run folder is skipped, so running again resumes."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hueroute.clustering.stage import cluster_run
from hueroute.ensemble.evaluate import evaluate_run
from hueroute.ensemble.fit_router import route_run
from hueroute.ensemble.submit import submit_run
from hueroute.errors import InputError
from hueroute.experts.refine.stage import refine_run
from hueroute.experts.stage import train_experts
from hueroute.pipeline.budget import Budget, epoch_images
from hueroute.pipeline.report import write_report
from hueroute.progress import console
from hueroute.run import GLOBAL, PIPELINE, STAGES, Run, tuned_settings
from hueroute.search.stage import search_studies, searched_experts, tune_render
from hueroute.search.storage import storage_url


@dataclass(frozen=True)
class StageRun:
    """What one stage did: its result (None when it was done already) and its main output."""

    stage: str
    seconds: float
    output: Path
    result: object


def refine(run: Run, budget: Budget | None) -> object:
    return refine_run(run, seconds=budget.refine_seconds() if budget else None)


def search(run: Run, budget: Budget | None) -> object:
    timeout = budget.search_seconds() if budget else None
    return search_studies(run, [GLOBAL], storage_url(run, None), timeout=timeout)


def train_global(run: Run, budget: Budget | None) -> object:
    if budget:
        return train_within(run, [GLOBAL], budget, "train-global")
    return train_experts(run, [GLOBAL])


def tune(run: Run, budget: Budget | None) -> object:
    timeout = planned(run, budget)["tune"] if budget else None
    return tune_render(run, storage_url(run, None), timeout=timeout)


def train_clusters(run: Run, budget: Budget | None) -> object:
    """The cluster experts' studies (with search.cluster_studies; never within a budget),
    then the cluster experts."""
    clusters = run.experts()[1:]
    if not clusters:
        console.print("train-clusters: no clusters, the global expert restores every image")
        return None
    if budget:
        if run.config.search.cluster_studies:
            console.print("cluster experts: no studies of their own within a time budget")
        return train_within(run, clusters, budget, "train-clusters")
    if run.config.search.cluster_studies:
        search_studies(run, searched_experts(run, clusters), storage_url(run, None))
    return train_experts(run, clusters)


def train_within(run: Run, experts: list[str], budget: Budget, stage: str) -> dict:
    """Train each unfinished fold of `experts` with epochs that fit the stage's time,
    measuring the rate again after each fold. The cluster experts, last, get all the budget
    has left (what early stopping or a short search saved included)."""
    stage_seconds = planned(run, budget)[stage]
    if stage == "train-clusters":
        stage_seconds = budget.planned[stage] = max(budget.left(), 0.0)
    started = time.monotonic()
    n_folds = run.config.folds.n_folds
    todo = [(e, k) for e in experts for k in range(n_folds)]
    todo = [(e, k) for e, k in todo if not run.fold_metrics_json(e, k).is_file()]
    manifest: dict = {}
    for index, (expert, fold) in enumerate(todo):
        seconds = (stage_seconds - (time.monotonic() - started)) / (len(todo) - index)
        settings = tuned_settings(run, expert)[0]
        images = epoch_images(
            run,
            expert,
            fold,
            settings.network,
            settings.colour.steps_per_epoch,
            settings.batch_size,
        )
        fold_started = time.monotonic()
        overrides = budget.fold_settings(seconds, images)
        manifest = train_experts(run, [expert], [fold], overrides=overrides)
        steps = json.loads(run.fold_metrics_json(expert, fold).read_text())["steps"]
        budget.measure(steps * settings.batch_size, time.monotonic() - fold_started)
    return manifest


def planned(run: Run, budget: Budget) -> dict[str, float]:
    """The budget's seconds for each stage after the search, planned when first asked: from
    the search's training rate and the time left."""
    if "train-global" not in budget.planned:
        budget.measure_search()
        colour = tuned_settings(run, GLOBAL)[0].network == "colour"
        budget.plan_training(colour, clusters=len(run.experts()) - 1)
        shown = ", ".join(f"{k} {v / 60:.1f} min" for k, v in budget.planned.items())
        console.print(
            f"budget: {budget.rate:.2f} training images a second in the search's trials; "
            f"{budget.left() / 60:.1f} min left: {shown}"
        )
        budget.write()
    return budget.planned


STAGE_FUNCTIONS: dict[str, Callable[[Run, Budget | None], object]] = {
    "cluster": lambda run, budget: cluster_run(run),
    "refine": refine,
    "search": search,
    "train-global": train_global,
    "tune": tune,
    "train-clusters": train_clusters,
    "route": lambda run, budget: route_run(run),
    "evaluate": lambda run, budget: evaluate_run(run),
    "submit": lambda run, budget: submit_run(run, None, None, False),
    "report": lambda run, budget: write_report(run),
}


def run_pipeline(
    run: Run,
    until: str = "report",
    budget_seconds: float | None = None,
    show: Callable[[str, object], None] | None = None,
) -> list[StageRun]:
    """Run every stage up to `until` that is not done, in order; with `budget_seconds`, the
    stages that learn plan their time to end within it. `show` sees each stage's result."""
    if until not in STAGES:
        raise InputError(f"--until {until}", f"is not a stage; choose from {', '.join(STAGES)}")
    budget = Budget(run, budget_seconds) if budget_seconds else None
    done = []
    for stage in PIPELINE[: STAGES.index(until) + 1]:
        console.rule(f"[bold]{stage.name}")
        started = time.perf_counter()
        result = None
        if stage.done(run) and not stage.always:
            console.print(
                f"{stage.name}: done already in {run.root} (--force on its command to redo)"
            )
        else:
            result = STAGE_FUNCTIONS[stage.name](run, budget)
            if show is not None:
                show(stage.name, result)
        seconds = time.perf_counter() - started
        done.append(StageRun(stage.name, seconds, stage.output(run), result))
        if budget and stage.budgeted:
            budget.used[stage.name] = seconds
            budget.write()
    return done
