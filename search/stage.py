"""The search stage: each expert's study of its learning rate and schedule, and the render
study of the colour expert."""

from dataclasses import dataclass

import optuna

from hueroute.config import settings_text
from hueroute.errors import InputError
from hueroute.experts.colour.held_out import held_out_outputs
from hueroute.progress import console
from hueroute.run import GLOBAL, RENDER_STUDY, Run, tuned_settings
from hueroute.run.models import load_model
from hueroute.search.objective import FOLD
from hueroute.search.plots import plot_study
from hueroute.search.render_study import open_render_study, tune_rendering
from hueroute.search.storage import shown_url
from hueroute.search.study import delete_study, finished, search_expert, write_best_params


@dataclass(frozen=True)
class StudyResult:
    expert: str
    counts: dict[str, int]  # trials by state: COMPLETE, PRUNED, FAIL
    best: dict | None  # best_params.json; None before a trial completes


def searched_experts(run: Run, asked: list[str] | None) -> list[str]:
    """The experts to search: those `asked` (checked), else the global expert and, with
    search.cluster_studies, the cluster experts whose start (global, fold 0) is trained."""
    known = run.experts()
    for name in asked or ():
        if name not in known:
            raise InputError(name, f"is not an expert of this run: {known}")
    if asked:
        return asked
    if not run.config.search.cluster_studies:
        if len(known) > 1:
            console.print(
                "cluster experts: no studies of their own (search.cluster_studies is off); "
                "they train with the global expert's best settings"
            )
        return [GLOBAL]
    ready = run.model_pt(GLOBAL, FOLD).exists()
    for name in known[1:] if not ready else ():
        console.print(
            f"{name}: not searched yet: its trials fine-tune the global expert of fold {FOLD}, "
            f"which is not trained (hueroute train {run.root} --expert {GLOBAL} --fold {FOLD})"
        )
    return known if ready else [GLOBAL]


def search_studies(
    run: Run,
    experts: list[str],
    url: str,
    trials: int | None = None,
    timeout: float | None = None,
    force: bool = False,
) -> list[StudyResult]:
    """Run each of `experts`' studies to `trials` finished trials (search.trials) or this
    worker's `timeout` (search.timeout); write its best settings and plots."""
    settings = run.config.search
    results = []
    for name in experts:
        if force:
            delete_study(run, name, url)
        study = search_expert(
            run,
            name,
            url,
            trials or settings.trials,
            timeout if timeout is not None else settings.timeout,
        )
        best = write_best_params(run, study)
        plot_study(study, run.search_dir / name)
        results.append(StudyResult(name, study_counts(study), best))
    return results


def tune_render(
    run: Run,
    url: str,
    trials: int | None = None,
    timeout: float | None = None,
    force: bool = False,
) -> dict | None:
    """Tune how the colour expert renders on the global expert's held-out folds, to `trials`
    finished trials (search.render_trials) or `timeout`; None when the expert is not a
    colour expert."""
    model = run.model_pt(GLOBAL, 0)
    trained = load_model(model).settings if model.is_file() else None
    network = trained.network if trained else tuned_settings(run, GLOBAL)[0].network
    if network != "colour":
        console.print(f"tune: nothing to tune, the global expert is a {network} network")
        return None
    base = trained or load_model(model).settings  # a clear error: the expert is not trained
    if force:
        delete_study(run, RENDER_STUDY, url)
    study = open_render_study(run, url, base)
    wanted = trials or run.config.search.render_trials
    items = []
    if finished(study) < wanted:
        items = held_out_outputs(run, GLOBAL, run.config.search.render_images)
        console.print(f"tune: rendering {len(items)} held-out images of {GLOBAL} per trial")
    best = tune_rendering(run, study, items, base, wanted, timeout)
    plot_study(study, run.search_dir / RENDER_STUDY)
    if best is None:
        raise InputError(shown_url(url), "the render study has no completed trial")
    console.print(
        f"render: best score {best['value']:.4f} (trial {best['trial']} of "
        f"{best['finished_trials']}): {settings_text(best['params'])}"
    )
    return best


def study_counts(study: optuna.Study) -> dict[str, int]:
    counts = {state: 0 for state in ("COMPLETE", "PRUNED", "FAIL")}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
