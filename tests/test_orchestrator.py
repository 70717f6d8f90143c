"""The pipeline driven from Python: resuming after any stage, a time budget, and models that
are rebuilt as they were trained whatever config.yaml says later."""

import json
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.ensemble.fit_router import route_run
from hueroute.ensemble.submit import submit_run
from hueroute.experts.stage import train_experts
from hueroute.pipeline import stages as pipeline_stages
from hueroute.pipeline.budget import REFINE_SHARE, Budget, parse_duration
from hueroute.pipeline.stages import run_pipeline
from hueroute.run import BUDGETED, GLOBAL, PIPELINE, STAGES, Run
from hueroute.run.models import load_model
from tests.cli_helpers import invoke, succeed
from tests.test_bad_input import assert_clear_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DISTRIBUTED = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK")


def smoke_run(root: Path, seed: int = 5) -> Path:
    make_dataset(samples_dir(), root / "data", size=64, copies=1, test_fraction=0.3, seed=seed)
    Run.create(root / "run", root / "data", "smoke")
    return root / "run"


@pytest.fixture(scope="module")
def stepwise(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, list[str]]]:
    """A smoke run taken one stage further at each call of run_pipeline; the stage functions
    each call ran."""
    run = smoke_run(tmp_path_factory.mktemp("stepwise"))
    functions = dict(pipeline_stages.STAGE_FUNCTIONS)
    ran: list[str] = []

    def counted(stage: str, function: Callable) -> Callable:
        def call(*args: object) -> object:
            ran.append(stage)
            return function(*args)

        return call

    calls = {}
    with pytest.MonkeyPatch.context() as patch:
        for stage, function in functions.items():
            patch.setitem(pipeline_stages.STAGE_FUNCTIONS, stage, counted(stage, function))
        for stage in STAGES:
            ran.clear()
            done = run_pipeline(Run.open(run), until=stage)
            assert [d.stage for d in done] == list(STAGES[: STAGES.index(stage) + 1])
            calls[stage] = list(ran)
    return run, calls


def test_every_stage_of_the_registry_has_its_function_and_nothing_else() -> None:
    assert tuple(pipeline_stages.STAGE_FUNCTIONS) == STAGES
    assert set(BUDGETED) < set(STAGES)


def test_the_pipeline_resumes_after_any_stage(stepwise: tuple[Path, dict]) -> None:
    run, calls = stepwise
    always = [s.name for s in PIPELINE if s.always]
    for stage in STAGES:
        earlier = STAGES[: STAGES.index(stage)]
        assert calls[stage] == [*(s for s in earlier if s in always), stage], stage
        assert Run.open(run).is_done(stage)
    assert zipfile.ZipFile(run / "submission.zip").namelist()


def test_a_config_edited_after_training_changes_no_prediction(
    stepwise: tuple[Path, dict], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(stepwise[0], run)
    with zipfile.ZipFile(run / "submission.zip") as archive:
        before = {name: archive.read(name) for name in archive.namelist()}
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"].update({"image_size": 32, "fill": "telea", "encoder": "tu-resnet18"})
    config["train"]["colour"].update({"hue_classes": 12, "hidden": 16, "chroma_gain": 0.1})
    (run / "config.yaml").write_text(yaml.safe_dump(config))

    kept = succeed("submit", run)
    assert "kept" in kept.stderr and "restored" not in kept.stderr
    redone = succeed("submit", run, "--force")
    assert "restored" in redone.stderr
    with zipfile.ZipFile(run / "submission.zip") as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == before
    recorded = load_model(Run.open(run).model_pt(GLOBAL, 0)).settings
    assert recorded.image_size == 64 and recorded.colour.hue_classes != 12


def test_a_model_file_that_does_not_record_its_training_is_a_clear_error(
    stepwise: tuple[Path, dict], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(stepwise[0], run)
    model = Run.open(run).model_pt(GLOBAL, 1)
    torch.save(load_model(model).weights, model)  # bare weights, as older files held
    result = invoke("submit", run, "--force")
    assert_clear_error(result, str(model), "does not record how it was trained", "retrain")


def test_a_budget_plans_search_and_training_and_ends_within_it(tmp_path: Path) -> None:
    run = smoke_run(tmp_path, seed=6)
    started = time.monotonic()
    result = succeed("run", run, "--budget", "3m")
    assert time.monotonic() - started < 180 + 120  # route, evaluate, submit and report after
    record = json.loads((run / "budget.json").read_text())
    assert record["budget_seconds"] == 180 and record["training_images_per_second"] > 0
    planned = {"refine", "search", "train-global", "tune", "train-clusters"}
    assert set(record["planned_seconds"]) == planned
    assert record["planned_seconds"]["refine"] == pytest.approx(REFINE_SHARE * 180)
    assert set(record["used_seconds"]) == set(BUDGETED)
    assert sum(record["used_seconds"].values()) <= 180
    assert "budget: " in result.stderr and "training images a second" in result.stderr
    assert (run / "submission.zip").is_file()
    assert "<h2>Time budget</h2>" in (run / "report" / "index.html").read_text()


def test_the_budget_splits_what_the_search_leaves_and_fits_epochs_to_the_rate() -> None:
    budget = Budget(run=None, seconds=1000.0, started=time.monotonic() - 200)  # type: ignore[arg-type]
    assert budget.search_seconds() == 150
    budget.plan_training(colour=True, clusters=2)
    planned = budget.planned
    assert planned["tune"] == pytest.approx(80, abs=1)  # a tenth of the 800 s left
    assert planned["train-global"] == pytest.approx(432, abs=1)  # 60% of the 720 s after it
    assert planned["train-clusters"] == pytest.approx(288, abs=1)
    budget.plan_training(colour=False, clusters=0)
    assert budget.planned["tune"] == 0 and budget.planned["train-clusters"] == 0
    budget.measure(images=4000, seconds=100)
    assert budget.rate == 40
    fold = budget.fold_settings(seconds=300, images=2000)  # 300 s at 40 a second: 12,000
    assert fold == {"epochs": 5, "max_minutes": pytest.approx(255 / 60, abs=0.01)}
    assert budget.fold_settings(seconds=-5, images=2000)["epochs"] == 1  # overrun: one epoch


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("45m", 2700), ("1.5h", 5400), ("20", 1200)]
)
def test_budget_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_budget_is_a_clear_error(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    assert_clear_error(invoke("run", run, "--budget", "soon"), "--budget soon", "duration")


def test_two_data_parallel_processes_train_a_model_that_submit_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in DISTRIBUTED:  # Lightning leaves the process group's settings behind
        monkeypatch.setenv(name, "")  # so that they are removed again after the test
        monkeypatch.delenv(name)
    run = smoke_run(tmp_path, seed=7)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"].update({"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"})
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    opened = Run.open(run)
    run_pipeline(opened, until="cluster")
    manifest = train_experts(opened, [GLOBAL])
    assert sorted(manifest[GLOBAL]) == [str(k) for k in range(opened.config.folds.n_folds)]
    saved = load_model(opened.model_pt(GLOBAL, 0))
    assert saved.settings.devices == 2 and saved.settings.strategy == "ddp_spawn"
    logs = list(opened.fold_dir(GLOBAL, 0).glob("log/*/metrics.csv"))
    assert len(logs) == 1  # written by one process only

    route_run(opened)
    done = submit_run(opened, None, None, force=False)
    assert done.predicted == done.images > 0
    assert done.experts == {GLOBAL: pytest.approx(1.0)}


def test_several_devices_without_a_data_parallel_strategy_is_a_clear_error(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"].update({"devices": 2})
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = invoke("train", run)
    assert_clear_error(result, "config.yaml", "train.devices > 1", "ddp_spawn")
    assert "got {" not in result.stderr
