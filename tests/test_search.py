"""`hueroute search`: studies per expert, resuming, two workers on one study, pruning, failed
trials, best_params.json read by training; on a smoke run of the bundled sample photos."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

import hueroute.experts.train
import hueroute.search.objective
import hueroute.search.study
from hueroute.config import SearchConfig
from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.errors import InputError
from hueroute.experts.train import prepare_fold
from hueroute.layout import TRAIN_COLUMNS, read_table
from hueroute.run import GLOBAL, NOISE, Run, tuned_settings
from hueroute.search.space import SCHEDULERS, suggest_settings
from hueroute.search.storage import storage_url
from hueroute.search.study import make_pruner, open_study, optimize_until, search_expert
from tests.cli_helpers import invoke, succeed
from tests.test_bad_input import assert_clear_error

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# --- helpers -------------------------------------------------------------------------------


def smoke_run(root: Path, clusters: bool = False) -> Path:
    """A smoke run of the sample photos with clusters.csv and folds.csv written directly:
    every image in noise (the global expert alone), or the first half in cluster 0."""
    data, run = root / "data", root / "run"
    if not data.exists():
        make_dataset(samples_dir(), data, size=64, copies=1, test_fraction=0.3, seed=3)
    succeed("init", run, "--data", data, "--preset", "smoke")
    ids = read_table(data / "train.csv", TRAIN_COLUMNS)["id"].tolist()
    labels = [0 if clusters and i < len(ids) // 2 else NOISE for i in range(len(ids))]
    pd.DataFrame({"id": ids, "cluster": labels}).to_csv(run / "clusters.csv", index=False)
    pd.DataFrame({"id": ids, "fold": [i % 2 for i in range(len(ids))]}).to_csv(
        run / "folds.csv", index=False
    )
    return run


def edit_config(run: Path, section: str, **settings: Any) -> None:
    path = run / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config[section].update(settings)
    path.write_text(yaml.safe_dump(config))


def study_of(run: Path, expert: str = GLOBAL) -> optuna.Study:
    opened = Run.open(run)
    return open_study(opened, expert, storage_url(opened, None))


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return study.get_trials(states=states)


def worker(run: Path, *args: str) -> subprocess.Popen:
    """`python -m hueroute search RUN ...` in its own process, on one torch thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "hueroute", "search", str(run), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run with one cluster, searched once (2 trials per study, cluster studies on)."""
    run = smoke_run(tmp_path_factory.mktemp("search"), clusters=True)
    edit_config(run, "search", cluster_studies=True)
    return run, succeed("search", run).output


# --- one study per expert ------------------------------------------------------------------


def test_search_writes_each_studys_best_params_and_plots(searched: tuple[Path, str]) -> None:
    run, output = searched
    study = study_of(run)
    trials = finished_trials(study)
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)
    assert (run / "search" / "studies.db").is_file()

    best = json.loads((run / "search" / GLOBAL / "best_params.json").read_text())
    assert best["value"] == pytest.approx(study.best_value)
    assert best["trial"] == study.best_trial.number and best["finished_trials"] == 2
    assert best["params"] == study.best_trial.params
    search = SearchConfig(**yaml.safe_load((run / "config.yaml").read_text())["search"])
    assert search.lr_min <= best["params"]["lr"] <= search.lr_max
    assert best["params"]["scheduler"] in {"plateau", "cosine", "onecycle", "constant"}
    assert 0 < best["value"] <= 1

    history = run / "search" / GLOBAL / "history.png"
    assert history.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((run / "search" / GLOBAL).glob("trial*"))  # trial checkpoints are removed
    assert "best trial of each study" in output and f"{best['value']:.4f}" in output


def test_cluster_experts_wait_for_the_global_expert_of_fold_0(
    searched: tuple[Path, str],
) -> None:
    run, output = searched
    assert "cluster0: not searched yet" in output
    assert "hueroute train" in output
    assert not (run / "search" / "cluster0").exists()

    result = invoke("search", run, "--expert", "cluster0")
    assert_clear_error(result, "experts/global/fold0/model.pt", "missing", "global")


def test_trials_of_a_study_keep_their_worker_and_are_seeded(searched: tuple[Path, str]) -> None:
    run, _ = searched
    for trial in finished_trials(study_of(run)):
        host, pid = trial.user_attrs["worker"].rsplit(":", 1)
        assert host and int(pid) > 0
    # the sampler is seeded: a new run of the same study asks for the same first settings
    again = smoke_run(run.parent / "again", clusters=True)
    asked = study_of(again).ask()
    suggest_settings(asked, Run.open(again).config.search)
    assert asked.params == finished_trials(study_of(run))[0].params


def test_search_again_resumes_the_study_and_keeps_its_trials(
    searched: tuple[Path, str], tmp_path: Path
) -> None:
    run = Path(shutil.copytree(searched[0], tmp_path / "run"))
    before = {t.number: (t.value, t.params) for t in finished_trials(study_of(run))}

    done = succeed("search", run, "--expert", GLOBAL)
    assert len(finished_trials(study_of(run))) == 2  # its 2 trials are there: nothing to add

    succeed("search", run, "--expert", GLOBAL, "--trials", "3")
    after = finished_trials(study_of(run))
    assert len(after) == 3
    assert {t.number: (t.value, t.params) for t in after if t.number in before} == before
    assert "global" in done.output


# --- interruptions, workers, pruning, failures ---------------------------------------------


def test_killed_search_resumes_with_its_finished_trials(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    edit_config(run, "search", epochs=3)
    process = worker(run, "--trials", "5")
    deadline = time.monotonic() + 240
    study = None
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
        if (run / "search" / "studies.db").exists():
            study = study_of(run)
            if study.get_trials(states=(TrialState.COMPLETE,)):
                break
    assert process.poll() is None, process.communicate()[0]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert study is not None
    kept = {t.number: (t.value, t.params) for t in finished_trials(study_of(run))}
    assert kept

    succeed("search", run, "--trials", str(len(kept) + 1))
    after = finished_trials(study_of(run))
    assert len(after) == len(kept) + 1
    assert {t.number: (t.value, t.params) for t in after if t.number in kept} == kept
    # the trial the kill cut short is left running until its heartbeat goes stale
    assert len(study_of(run).get_trials(states=(TrialState.RUNNING,))) <= 1


def test_two_workers_share_one_study_and_record_every_trial_once(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    edit_config(run, "search", pruner="none", epochs=1)
    first, second = worker(run, "--trials", "4"), worker(run, "--trials", "4")
    outputs = [p.communicate(timeout=280)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs

    trials = study_of(run).get_trials()
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # each trial once, no gap
    # each worker checks the count after each trial, so at most one trial each goes over
    assert 4 <= len(trials) <= 5
    assert all(t.state == TrialState.COMPLETE and t.value is not None for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert workers == {f"{os.uname().nodename}:{p.pid}" for p in (first, second)}
    # the workers ran at the same time: their trials' spans overlap
    spans = {w: [t for t in trials if t.user_attrs["worker"] == w] for w in workers}
    starts = [min(t.datetime_start for t in ts) for ts in spans.values()]
    ends = [max(t.datetime_complete for t in ts) for ts in spans.values()]
    assert max(starts) < min(ends)


def test_pruning_stops_a_trial_that_falls_behind(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    edit_config(run, "search", pruner="median", epochs=3)
    study = study_of(run)
    for lr in (1e-3, 2e-3):  # two earlier trials that scored a perfect 1 at every epoch
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr, "scheduler": "constant"},
                distributions={
                    "lr": FloatDistribution(1e-5, 1e-2, log=True),
                    "scheduler": CategoricalDistribution(SCHEDULERS),
                },
                value=1.0,
                intermediate_values={0: 1.0, 1: 1.0, 2: 1.0},
            )
        )
    result = succeed("search", run, "--trials", "3")
    trial = study_of(run).trials[-1]
    assert trial.state == TrialState.PRUNED, result.output
    assert list(trial.intermediate_values) == [0]  # stopped after its first epoch of three
    assert trial.intermediate_values[0] < 1.0


def test_pruners_come_from_the_config() -> None:
    assert isinstance(make_pruner(SearchConfig()), optuna.pruners.MedianPruner)
    hyperband = make_pruner(SearchConfig(pruner="hyperband", epochs=4))
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(SearchConfig(pruner="none")), optuna.pruners.NopPruner)


def test_a_failing_trial_is_recorded_as_failed_and_the_study_goes_on(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    study = study_of(run)
    study.enqueue_trial({"scheduler": "plateau", "plateau_factor": 5.0})  # out of its range
    result = succeed("search", run, "--trials", "2")
    states = [t.state for t in study_of(run).trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE], result.output
    best = json.loads((run / "search" / GLOBAL / "best_params.json").read_text())
    assert best["trial"] == 1


def test_force_starts_the_study_afresh(searched: tuple[Path, str], tmp_path: Path) -> None:
    run = Path(shutil.copytree(searched[0], tmp_path / "run"))
    old = {t.datetime_start for t in study_of(run).trials}
    succeed("search", run, "--expert", GLOBAL, "--trials", "1", "--force")
    trials = study_of(run).trials
    assert len(trials) == 1 and trials[0].datetime_start not in old
    assert json.loads((run / "search" / GLOBAL / "best_params.json").read_text())["trial"] == 0


# --- storage and bad input -----------------------------------------------------------------


def test_a_journal_file_works_as_storage(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    journal = tmp_path / "studies.log"
    succeed("search", run, "--trials", "1", "--storage", journal)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    loaded = optuna.load_study(study_name=GLOBAL, storage=storage)
    assert len(loaded.trials) == 1 and loaded.trials[0].state == TrialState.COMPLETE
    assert not (run / "search" / "studies.db").exists()


def test_bad_storage_and_unknown_expert_are_clear_errors(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    result = invoke("search", run, "--storage", "nosuchdb://user:secret@host/db")
    assert_clear_error(result, "nosuchdb://user:***@host/db", "cannot open")
    assert "secret" not in result.output

    result = invoke("search", run, "--expert", "cluster7")
    assert_clear_error(result, "cluster7", "not an expert")


def test_search_settings_are_validated(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    edit_config(run, "search", lr_min=0.1, lr_max=0.01)
    with pytest.raises(InputError, match="lr_min"):
        Run.open(run)
    edit_config(run, "search", lr_min=1e-4, lr_max=0.01, pruner="sometimes")
    result = invoke("search", run)
    assert_clear_error(result, "config.yaml", "search.pruner")


# --- training reads the study's best settings ----------------------------------------------


def test_train_uses_best_params_and_says_where_settings_came_from(
    searched: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Path(shutil.copytree(searched[0], tmp_path / "run"))
    best = json.loads((run / "search" / GLOBAL / "best_params.json").read_text())["params"]
    used = []
    fit = hueroute.experts.train.fit_expert

    def spy(run: Run, expert: str, fold: int, settings: Any, *args: Any, **kw: Any) -> Any:
        used.append(settings)
        return fit(run, expert, fold, settings, *args, **kw)

    monkeypatch.setattr(hueroute.experts.train, "fit_expert", spy)
    result = succeed("train", run, "--expert", GLOBAL, "--fold", "0")
    assert len(used) == 1
    for key, value in best.items():
        assert getattr(used[0], key) == value
    config = Run.open(run).config.train
    assert used[0].epochs == config.epochs  # the search's short budget stays in the search
    assert f"from search/{GLOBAL}/best_params.json" in result.stderr
    assert "the rest from config.yaml" in result.stderr

    edit_config(run, "search", use_best_params=False)
    settings, params, sources = tuned_settings(Run.open(run), GLOBAL)
    assert params == {} and sources == [] and settings == Run.open(run).config.train
    result = succeed("train", run, "--expert", GLOBAL, "--fold", "1")
    assert "every setting from config.yaml (search.use_best_params is off)" in result.stderr


def test_no_trial_outlasts_the_search_timeout(
    searched: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    used = []

    def spy(run: Run, expert: str, fold: int, settings: Any, *args: Any) -> Any:
        used.append(settings)
        raise RuntimeError("stop here")

    monkeypatch.setattr(hueroute.search.objective, "fit_expert", spy)
    run = Run.open(searched[0])
    study = optuna.create_study(direction="maximize")
    now = time.monotonic()
    # a fresh study, one whose clock ran 60 s, one past its timeout (a tenth of it), no timeout
    for timeout, started in ((90.0, None), (90.0, now - 60), (90.0, now - 200), (None, None)):
        objective = hueroute.search.objective.Objective(run, GLOBAL, timeout, started)
        study.optimize(objective, 1, catch=(RuntimeError,))
    assert [settings.max_minutes for settings in used] == [1.5, 0.5, 0.15, None]
    assert used[0].max_steps == run.config.search.max_steps


def test_a_timed_search_prepares_its_fold_inside_the_timeout(
    searched: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared, used = [], []

    def slow_prepare(run: Run, expert: str, fold: int, settings: Any) -> None:
        prepared.append((expert, fold))
        time.sleep(1.5)

    def spy(run: Run, expert: str, fold: int, settings: Any, *args: Any) -> Any:
        used.append(settings.max_minutes)
        raise RuntimeError("stop here")

    monkeypatch.setattr(hueroute.search.study, "prepare_fold", slow_prepare)
    monkeypatch.setattr(hueroute.search.objective, "fit_expert", spy)
    run = Run.open(searched[0])
    search_expert(run, GLOBAL, f"sqlite:///{tmp_path / 'timed.db'}", 1, 6.0)
    assert prepared == [(GLOBAL, 0)]
    assert 0.5 <= used[0] * 60 <= 4.5  # 6 s less the 1.5 s the caching took
    search_expert(run, GLOBAL, f"sqlite:///{tmp_path / 'untimed.db'}", 1, None)
    assert prepared == [(GLOBAL, 0)] and used[1] is None  # the first trial caches, untimed


def test_prepare_fold_caches_the_features_of_every_training_input(
    searched: tuple[Path, str], tmp_path: Path
) -> None:
    run = Run.open(shutil.copytree(searched[0], tmp_path / "run"))
    shutil.rmtree(next(run.cache_dir.glob("features-*")))
    prepare_fold(run, GLOBAL, 0, run.config.train)
    folder = next(run.cache_dir.glob("features-*"))  # what training reads, by content
    assert len(list(folder.glob("*.npy"))) == len(run.train_table())


def test_a_broken_best_params_file_is_a_clear_error(
    searched: tuple[Path, str], tmp_path: Path
) -> None:
    run = Path(shutil.copytree(searched[0], tmp_path / "run"))
    (run / "search" / GLOBAL / "best_params.json").write_text('{"params": {"lr": -1}}')
    result = invoke("train", run, "--expert", GLOBAL, "--fold", "0")
    assert_clear_error(result, "best_params.json", "lr")


def test_cluster_experts_without_a_study_train_with_the_global_best_params(
    searched: tuple[Path, str], tmp_path: Path
) -> None:
    run = Path(shutil.copytree(searched[0], tmp_path / "run"))
    best = json.loads((run / "search" / GLOBAL / "best_params.json").read_text())["params"]
    settings, params, sources = tuned_settings(Run.open(run), "cluster0")
    assert params == best and sources == [run / "search" / GLOBAL / "best_params.json"]
    assert all(getattr(settings, key) == value for key, value in best.items())

    edit_config(run, "search", cluster_studies=False)
    result = succeed("search", run)
    assert "search.cluster_studies is off" in result.stderr
    assert "cluster0: not searched yet" not in result.stderr


def test_a_spent_time_budget_still_completes_one_trial_then_stops() -> None:
    study = optuna.create_study(direction="maximize")
    seen: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(trial.suggest_float("x", 0, 1))
        return seen[-1]

    optimize_until(study, objective, trials=5, timeout=-10.0)
    assert len(seen) == 1 and study.best_value == seen[0]
    optimize_until(study, objective, trials=5, timeout=-10.0)  # one is there: none more
    assert len(seen) == 1
    optimize_until(study, objective, trials=3, timeout=None)
    assert len(seen) == 3
