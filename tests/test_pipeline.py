"""`hueroute run` end to end on the smoke preset, `--until`, resuming, and the report."""

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from hueroute.cli import pipeline
from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.layout import TEST_COLUMNS, read_table
from hueroute.run import STAGES, Run
from tests.cli_helpers import invoke, succeed
from tests.test_bad_input import assert_clear_error


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    make_dataset(samples_dir(), root / "data", size=64, copies=1, test_fraction=0.3, seed=3)
    succeed("init", root / "run", "--data", root / "data", "--preset", "smoke")
    return root / "run"


def test_run_until_stops_after_the_stage_and_resumes(smoke_run: Path) -> None:
    first = succeed("run", smoke_run, "--until", "cluster")
    assert (smoke_run / "clusters.csv").is_file()
    assert not (smoke_run / "search").exists() and not (smoke_run / "experts").exists()
    assert re.search(r"cluster\s*│\s*[\d.]+", first.stdout)


def test_run_goes_end_to_end_and_writes_the_zip_and_the_report(smoke_run: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = succeed("run", smoke_run)
    finally:
        torch.set_num_threads(threads)
    for stage in STAGES[1:]:
        assert re.search(rf"{stage}\s*│\s*[\d.]+", result.stdout), stage

    data = smoke_run.parent / "data"
    test = read_table(data / "test.csv", TEST_COLUMNS)
    with zipfile.ZipFile(smoke_run / "submission.zip") as archive:
        assert sorted(archive.namelist()) == sorted(Path(p).name for p in test["input_path"])
    scores = pd.read_csv(smoke_run / "report" / "scores.csv", dtype={"cluster": str})
    strategies = {"baseline", "plain", "global", "routed", "oracle", "submitted"}
    assert set(scores["strategy"]) == strategies
    assert (smoke_run / "search" / "render" / "best_params.json").is_file()  # tuned in train

    page = (smoke_run / "report" / "index.html").read_text()
    assert f"<h1>hueroute report: {smoke_run.name}</h1>" in page
    assert "On the test split the submission scores" in page and "Submit routes" in page
    for title in ("Clusters", "Search", "Experts", "Router", "Test samples", *strategies):
        assert title in page, title
    for source in re.findall(r'<img src="([^"]+)"', page):
        assert (smoke_run / "report" / source).resolve().is_file(), source
    assert "../umap.png" in page and "samples.png" in page and "experts.png" in page
    assert (smoke_run / "search" / "global" / "best_params.json").is_file()


def test_run_again_has_nothing_left_to_do(smoke_run: Path) -> None:
    again = succeed("run", smoke_run)
    for stage in STAGES[:-2]:
        assert f"{stage}: done already" in again.stderr
    assert "restored" not in again.stderr  # every prediction kept


def test_unknown_stage_is_a_clear_error(smoke_run: Path) -> None:
    assert_clear_error(invoke("run", smoke_run, "--until", "polish"), "--until polish", "stage")


def test_demo_force_starts_afresh_but_keeps_the_content_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = []
    monkeypatch.setattr(pipeline, "run_stages", lambda run, until: stages.append((run, until)))
    out = tmp_path / "demo"
    run = out / "run"
    for kept in ("embeddings/key/ab.npy", "cache/features/cd.npy"):
        (run / kept).parent.mkdir(parents=True)
        (run / kept).write_bytes(b"cached")
    (run / "experts" / "global").mkdir(parents=True)
    (run / "submission.zip").write_bytes(b"old")
    (run / "config.yaml").write_text("old: settings\n")

    succeed("demo", "--out", out, "--force")
    assert stages == [(run, "report")]
    assert (run / "embeddings/key/ab.npy").read_bytes() == b"cached"
    assert (run / "cache/features/cd.npy").read_bytes() == b"cached"
    assert not (run / "experts").exists() and not (run / "submission.zip").exists()
    assert Run.open(run).config.preset == "demo"
    assert (out / "data" / "train.csv").is_file()
