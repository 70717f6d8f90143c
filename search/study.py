"""One study per expert: opened or resumed from storage, run to its number of trials."""

import json
import shutil
import time
import warnings
from collections.abc import Callable

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from hueroute.config import SearchConfig
from hueroute.errors import InputError
from hueroute.experts.train import prepare_fold
from hueroute.files import write_text_atomic
from hueroute.run import GLOBAL, Run
from hueroute.search.objective import FOLD, Objective
from hueroute.search.storage import open_storage

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def make_pruner(search: SearchConfig) -> optuna.pruners.BasePruner:
    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=search.epochs)
    return optuna.pruners.NopPruner()


def open_study(
    run: Run, expert: str, url: str, pruner: optuna.pruners.BasePruner | None = None
) -> optuna.Study:
    """`expert`'s study in the storage at `url`, made when missing and resumed when not;
    pruned by `pruner`, by default the one search.pruner names."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # failed trials are still told
    return optuna.create_study(
        study_name=expert,
        storage=open_storage(url),
        sampler=optuna.samplers.TPESampler(seed=run.config.seed),
        pruner=pruner or make_pruner(run.config.search),
        direction="maximize",
        load_if_exists=True,
    )


def delete_study(run: Run, expert: str, url: str) -> None:
    """Forget `expert`'s study and its results, so the next search starts afresh."""
    storage = open_storage(url)
    if expert in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        optuna.delete_study(study_name=expert, storage=storage)
    shutil.rmtree(run.search_dir / expert, ignore_errors=True)


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def search_expert(
    run: Run, expert: str, url: str, trials: int, timeout: float | None
) -> optuna.Study:
    """Run `expert`'s study until it has `trials` finished trials, across all its workers, or
    until this worker's `timeout` has passed, the decoding and caching its trials need
    included."""
    if expert != GLOBAL and not (run.model_pt(GLOBAL, FOLD)).exists():
        raise InputError(
            run.model_pt(GLOBAL, FOLD),
            f"missing: {expert}'s trials fine-tune the global expert of fold {FOLD} "
            f"(hueroute train RUN --expert {GLOBAL} --fold {FOLD})",
        )
    started = time.monotonic()
    study = open_study(run, expert, url)
    if timeout is not None and trials > finished(study):  # the timeout counts the caching
        prepare_fold(run, expert, FOLD, run.config.train)
    objective = Objective(run, expert, timeout, started)
    left = None if timeout is None else timeout - (time.monotonic() - started)
    return optimize_until(study, objective, trials, left)


def optimize_until(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    timeout: float | None = None,
) -> optuna.Study:
    """Run `study` until it holds `trials` finished trials across all its workers (or this
    worker's `timeout` passes); a failing trial is recorded as failed and the study goes on.
    A study with no completed trial runs one first however little time is left, so a spent
    budget still leaves settings to use (the render study's first are the trained ones)."""
    started = time.monotonic()
    if timeout is not None and trials > finished(study) and not completed(study):
        optimize(study, objective, finished(study) + 1, None)
        timeout -= time.monotonic() - started
    if trials > finished(study) and (timeout is None or timeout > 0):
        optimize(study, objective, trials, timeout)
    return study


def optimize(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    timeout: float | None,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(
            objective,
            n_trials=trials - finished(study),
            timeout=timeout,
            catch=(Exception,),
            callbacks=[MaxTrialsCallback(trials, states=FINISHED)],
            gc_after_trial=True,
        )


def completed(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def best_params(study: optuna.Study) -> dict | None:
    """The best trial's settings with where they came from; None before any trial completes."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return None
    best = study.best_trial
    return {
        "expert": study.study_name,
        "value": best.value,
        "trial": best.number,
        "finished_trials": finished(study),
        "params": best.params,
    }


def write_best_params(run: Run, study: optuna.Study) -> dict | None:
    """search/EXPERT/best_params.json, which `hueroute train` reads."""
    best = best_params(study)
    if best is not None:
        path = run.best_params_json(study.study_name)
        write_text_atomic(path, json.dumps(best, indent=2) + "\n")
    return best
