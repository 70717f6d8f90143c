"""`hueroute tune`: the colour expert's rendering tuned on held-out folds, and used after."""

import json
import shutil
from pathlib import Path

import optuna
import pytest
import torch

from hueroute.config import setting
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.experts.colour.held_out import held_out_outputs, spread_pick
from hueroute.run import GLOBAL, RENDER_STUDY, Run, tuned_settings
from hueroute.search.render_study import SHARP_NEIGHBOUR, SPACE, open_render_study, render_score
from hueroute.search.storage import storage_url
from tests.cli_helpers import succeed
from tests.test_search import edit_config, smoke_run


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A smoke run whose global expert is trained on both folds, then tuned (4 trials)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    run = smoke_run(tmp_path_factory.mktemp("tune"))
    succeed("train", run)
    output = succeed("tune", run, "--trials", "4").output
    torch.set_num_threads(saved)
    return run, output


def test_tune_writes_the_best_rendering_and_train_and_predict_read_it(
    tuned: tuple[Path, str],
) -> None:
    run, output = tuned
    best = json.loads((run / "search" / RENDER_STUDY / "best_params.json").read_text())
    assert set(best["params"]) == set(SPACE)
    assert best["finished_trials"] == 4
    assert "render: best score" in output
    settings, params, sources = tuned_settings(Run.open(run), GLOBAL)
    assert run / "search" / RENDER_STUDY / "best_params.json" in sources
    for key, value in best["params"].items():
        assert setting(settings, key) == value and params[key] == value


def test_the_first_trial_is_the_configs_rendering_so_the_best_is_no_worse(
    tuned: tuple[Path, str],
) -> None:
    run, _ = tuned
    opened = Run.open(run)
    study = open_render_study(opened, storage_url(opened, None), opened.config.train)
    first = study.trials[0]
    config = opened.config.train
    assert first.params == {key: setting(config, key) for key in SPACE}
    assert study.trials[1].params == first.params | SHARP_NEIGHBOUR
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert study.best_value >= first.value and len(complete) >= 1


def test_a_trials_score_is_the_exact_score_of_the_held_out_renderings(
    tuned: tuple[Path, str],
) -> None:
    run, _ = tuned
    opened = Run.open(run)
    items = held_out_outputs(opened, GLOBAL, limit=100)
    assert len(items) == len(opened.train_table())  # every image, each held out once
    study = open_render_study(opened, storage_url(opened, None), opened.config.train)
    assert render_score(items, opened.config.train.colour, None) == pytest.approx(
        study.trials[0].value
    )


def test_tune_again_is_done_and_a_joint_run_has_nothing_to_tune(
    tuned: tuple[Path, str], tmp_path: Path
) -> None:
    run, _ = tuned
    again = succeed("tune", run, "--trials", "4").output
    assert "rendering" not in again and "render: best score" in again
    joint = smoke_run(tmp_path)
    edit_config(joint, "train", network="joint")
    assert "nothing to tune, the global expert is a joint network" in succeed("tune", joint).output


def test_spread_pick_takes_evenly_and_all_when_few() -> None:
    ids = [str(i) for i in range(10)]
    assert spread_pick(ids, 20) == ids
    assert spread_pick(ids, 3) == ["0", "4", "9"]


def test_the_neighbour_prior_is_remade_for_a_trials_count_and_temperature(
    tuned: tuple[Path, str],
) -> None:
    run, _ = tuned
    opened = Run.open(run)
    items = held_out_outputs(opened, GLOBAL, limit=4)
    config = opened.config.train.colour
    for item in items:  # the config's own count and temperature: the output as described
        torch.testing.assert_close(item.output_for(config).neighbours, item.output.neighbours)
        similarity, histograms = item.nearest
        assert (similarity[0, :-1] >= similarity[0, 1:]).all()  # nearest first
        one = item.output_for(config.model_copy(update={"neighbours": 1}))
        torch.testing.assert_close(one.neighbours, histograms[:, 0])


def test_predictions_use_the_tuned_neighbour_count(tuned: tuple[Path, str], tmp_path: Path) -> None:
    run = Path(shutil.copytree(tuned[0], tmp_path / "run"))
    path = run / "search" / RENDER_STUDY / "best_params.json"
    best = json.loads(path.read_text())
    best["params"] |= {"colour.neighbours": 3, "colour.neighbour_temperature": 0.01}
    path.write_text(json.dumps(best))
    predictor = RoutedPredictor(Run.open(run))
    for network in predictor.models(GLOBAL):
        assert network.settings.neighbours == 3
        assert network.settings.neighbour_temperature == 0.01
