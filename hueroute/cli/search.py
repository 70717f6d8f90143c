"""`hueroute search`: an Optuna study per expert of its learning rate and schedule."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hueroute.cli.app import command
from hueroute.config import settings_text
from hueroute.errors import InputError
from hueroute.progress import console, results
from hueroute.run import RENDER_STUDY, Run

Storage = Annotated[
    str | None,
    typer.Option(help="Optuna storage URL or journal file (default: search.storage, else SQLite)."),
]


@command("search")
def search_command(
    run: Annotated[Path, typer.Argument(help="Run folder, clustered.")],
    expert: Annotated[
        list[str] | None, typer.Option(help="Only these experts (global, cluster0, ...).")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Finished trials each study runs to (default: search.trials)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="Stop this worker after S seconds (default: search.timeout)."),
    ] = None,
    storage: Storage = None,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the studies and start afresh.")
    ] = False,
) -> None:
    """Tune each expert with an Optuna study; rerun to resume, or run several workers at once."""
    from hueroute.run import GLOBAL
    from search.objective import FOLD
    from search.plots import plot_study
    from search.storage import shown_url, storage_url
    from search.study import delete_study, search_expert, write_best_params

    opened = Run.open(run)
    settings = opened.config.search
    url = storage_url(opened, storage)
    known = opened.experts()
    for name in expert or ():
        if name not in known:
            raise InputError(name, f"is not an expert of this run: {known}")
    view = Table(title=f"best trial of each study in {shown_url(url)}")
    for column in ("expert", "complete", "pruned", "failed", "best score", "trial", "settings"):
        view.add_column(column, justify="left" if column == "settings" else "right")
    searched = known if settings.cluster_studies else [GLOBAL]
    if not expert and len(known) > len(searched):
        console.print(
            "cluster experts: no studies of their own (search.cluster_studies is off); "
            "they train with the global expert's best settings"
        )
    for name in expert or searched:
        if not expert and name != GLOBAL and not (opened.model_pt(GLOBAL, FOLD)).exists():
            console.print(
                f"{name}: not searched yet: its trials fine-tune the global expert of fold {FOLD}, "
                f"which is not trained (hueroute train {run} --expert {GLOBAL} --fold {FOLD})"
            )
            continue
        if force:
            delete_study(opened, name, url)
        study = search_expert(
            opened,
            name,
            url,
            trials or settings.trials,
            timeout if timeout is not None else settings.timeout,
        )
        best = write_best_params(opened, study)
        plot_study(study, opened.search_dir / name)
        counts = {state: 0 for state in ("COMPLETE", "PRUNED", "FAIL")}
        for trial in study.get_trials(deepcopy=False):
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        shown = (
            ("-", "-", "no trial completed")
            if best is None
            else (f"{best['value']:.4f}", str(best["trial"]), settings_text(best["params"]))
        )
        view.add_row(name, *(str(counts[s]) for s in ("COMPLETE", "PRUNED", "FAIL")), *shown)
    results.print(view)
    console.print(f"studies: {shown_url(url)}; best settings and plots under {opened.search_dir}")


@command("tune")
def tune_command(
    run: Annotated[Path, typer.Argument(help="Run folder whose global expert is trained.")],
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Finished trials to run to (default: search.render_trials)."),
    ] = None,
    storage: Storage = None,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the render study and start afresh.")
    ] = False,
) -> None:
    """Tune how the colour expert renders (target mix, power, chroma) on held-out folds."""
    from experts.held_out import held_out_outputs
    from hueroute.run import GLOBAL, tuned_settings
    from search.plots import plot_study
    from search.render import open_render_study, tune_rendering
    from search.storage import shown_url, storage_url
    from search.study import delete_study, finished

    opened = Run.open(run)
    base = tuned_settings(opened, GLOBAL)[0]
    if base.network != "colour":
        console.print(f"tune: nothing to tune, train.network is {base.network}")
        return
    url = storage_url(opened, storage)
    if force:
        delete_study(opened, RENDER_STUDY, url)
    study = open_render_study(opened, url, base)
    wanted = trials or opened.config.search.render_trials
    items = []
    if finished(study) < wanted:
        items = held_out_outputs(opened, GLOBAL, opened.config.search.render_images)
        console.print(f"tune: rendering {len(items)} held-out images of {GLOBAL} per trial")
    best = tune_rendering(opened, study, items, base, wanted)
    plot_study(study, opened.search_dir / RENDER_STUDY)
    if best is None:
        raise InputError(shown_url(url), "the render study has no completed trial")
    results.print(
        f"render: best score {best['value']:.4f} (trial {best['trial']} of "
        f"{best['finished_trials']}): {settings_text(best['params'])}"
    )
