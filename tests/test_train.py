"""Expert training: the decoded pair store, the per-expert splits and items, and `hueroute
train` end to end on a clustered smoke run made from the bundled sample photos."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from click.testing import Result
from lightning.pytorch.callbacks import RichProgressBar
from PIL import Image

import hueroute.experts.module
import hueroute.experts.store
import hueroute.experts.train
from hueroute.clustering.folds import stratified_folds
from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.errors import InputError
from hueroute.experts.colour.module import HueRestorer
from hueroute.experts.registry import rebuilt
from hueroute.experts.store import PairStore, open_store
from hueroute.experts.train import train_expert, training_parts
from hueroute.experts.unet.data import PairDataset
from hueroute.experts.unet.module import Restorer
from hueroute.run import GLOBAL, NOISE, Run, expert_names, expert_split
from hueroute.run.models import load_model
from tests.cli_helpers import OLD_NS, age, invoke, mtimes, succeed
from tests.test_bad_input import assert_clear_error

SIZE = 64  # train.image_size of the smoke preset, and the dataset's own size
SMOKE_FOLDS = 2  # folds.n_folds of the smoke preset
FOLD_FILES = (
    "model.pt",
    "metrics.json",
    "oof.csv",
    "log/version_0/metrics.csv",
)


# --- helpers -------------------------------------------------------------------------------


def copy_run(source: Path, tmp_path: Path, with_experts: bool) -> Path:
    """A copy of the run folder `source` (its pair store included), trained experts optional."""
    ignore = None if with_experts else shutil.ignore_patterns("experts")
    return Path(shutil.copytree(source, tmp_path / "run", ignore=ignore))


def edit_train(run: Path, **settings: Any) -> None:
    """Change settings of the train section of RUN/config.yaml."""
    config_path = run / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["train"].update(settings)
    config_path.write_text(yaml.safe_dump(config))


def run_tables(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """clusters.csv and folds.csv of a clustered run."""
    clusters = pd.read_csv(run / "clusters.csv", dtype={"id": str})
    folds = pd.read_csv(run / "folds.csv", dtype={"id": str})
    return clusters, folds


def fold_dir(run: Path, expert: str, fold: int) -> Path:
    return run / "experts" / expert / f"fold{fold}"


def read_metrics(run: Path, expert: str, fold: int) -> dict[str, Any]:
    return json.loads((fold_dir(run, expert, fold) / "metrics.json").read_text())


def steps_per_epoch(run: Path, expert: str, fold: int) -> int:
    """Optimizer steps in one epoch: full batches only, or one step when all fit in one."""
    settings = Run.open(run).config.train
    if settings.network == "colour":  # images drawn with replacement, a set number of batches
        return settings.colour.steps_per_epoch
    train_ids, _ = expert_split(*run_tables(run), expert, fold)
    return len(train_ids) // settings.batch_size if len(train_ids) > settings.batch_size else 1


def pil_luma(rgb: np.ndarray) -> np.ndarray:
    return np.array(Image.fromarray(rgb).convert("L"))


def read_pair(record: Any) -> tuple[np.ndarray, np.ndarray]:
    """The gray input and RGB original of one train.csv row, as PIL decodes them."""
    with Image.open(record.input_path) as gray, Image.open(record.gt_path) as rgb:
        return np.array(gray.convert("L")), np.array(rgb.convert("RGB"))


def assert_consistent_item(item: dict[str, torch.Tensor], size: int) -> None:
    """Outside the mask the gray is the luma of the RGB; inside it is one level."""
    assert item["gray"].shape == item["mask"].shape == (1, size, size)
    assert item["rgb"].shape == (3, size, size)
    assert item["gray"].dtype == item["mask"].dtype == item["rgb"].dtype == torch.float32
    rgb = item["rgb"].numpy()
    assert rgb.min() >= 0 and rgb.max() <= 1
    luma = np.tensordot([0.299, 0.587, 0.114], rgb, axes=1)
    mask = item["mask"][0].numpy().astype(bool)
    gray = item["gray"][0].numpy()
    assert set(np.unique(item["mask"]).tolist()) <= {0.0, 1.0}
    assert mask.any() and (~mask).any()
    assert np.abs(gray[~mask] - luma[~mask]).max() <= 1 / 255 + 1e-6
    assert np.unique(gray[mask]).size == 1


# --- fixtures ------------------------------------------------------------------------------


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    saved = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Train on one thread (on a busy two-core machine, waiting OpenMP threads cost 10x)."""
    with torch_threads(1):
        yield


@dataclass(frozen=True)
class Clustered:
    """The sample dataset and a smoke run on it after `cluster`."""

    data: Path
    run: Path


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Clustered:
    """The sample dataset (as conftest's `sample_dataset` makes it), clustered once as
    test_cluster.py does, then given fixed clusters (see `fix_clusters`)."""
    root = tmp_path_factory.mktemp("train")
    data, run = root / "data", root / "run"
    make_dataset(samples_dir(), data, size=SIZE, copies=1, test_fraction=0.3, seed=3)
    succeed("init", run, "--data", data, "--preset", "smoke")
    succeed("cluster", run)
    fix_clusters(Run.open(run))
    return Clustered(data, run)


def fix_clusters(run: Run) -> None:
    """Two clusters and noise, taken in turn, and their stratified folds: which clusters
    HDBSCAN finds among so few images hangs on the embeddings' last bits, which differ
    between CPUs; these tests are about training, test_cluster.py about the clusters."""
    clusters = run.clusters()
    labels = np.arange(len(clusters)) % 3 - 1
    folds = stratified_folds(labels, run.config.folds.n_folds, run.config.seed)
    clusters.assign(cluster=labels).to_csv(run.clusters_csv, index=False)
    pd.DataFrame({"id": clusters["id"], "fold": folds}).to_csv(run.folds_csv, index=False)


@pytest.fixture(scope="module")
def store(clustered: Clustered) -> PairStore:
    """The run's own pair store at the training size (training later reuses it)."""
    run = Run.open(clustered.run)
    return open_store(run.train_table(), SIZE, clustered.run / "cache")


@pytest.fixture(scope="module")
def trained(clustered: Clustered) -> Result:
    """One `hueroute train` of every expert on every fold of the clustered run."""
    return succeed("train", clustered.run)


# --- the pair store ------------------------------------------------------------------------


def test_store_holds_each_pair_exactly_at_the_dataset_size(
    tmp_path: Path, clustered: Clustered
) -> None:
    table = Run.open(clustered.run).train_table()
    store = open_store(table, SIZE, tmp_path)
    n = len(table)

    assert store.ids == table["id"].tolist()
    assert store.gt.shape == (n, SIZE, SIZE, 3) and store.gt.dtype == np.uint8
    assert store.masks.shape == (n, SIZE, SIZE) and store.masks.dtype == bool
    assert store.levels.shape == (n,) and store.levels.dtype == np.uint8
    for row, record in enumerate(table.itertuples(index=False)):
        gray, rgb = read_pair(record)
        assert gray.shape == (SIZE, SIZE)
        np.testing.assert_array_equal(store.gt[row], rgb)
        np.testing.assert_array_equal(store.masks[row], gray != pil_luma(rgb))
        assert store.masks[row].any(), record.id
        expected = pil_luma(np.array(store.gt[row]))
        expected[store.masks[row]] = store.levels[row]
        np.testing.assert_array_equal(expected, gray)


def test_store_is_built_once_and_kept_per_size(
    tmp_path: Path, clustered: Clustered, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = Run.open(clustered.run).train_table()
    first = open_store(table, SIZE, tmp_path)
    built = mtimes(tmp_path)
    assert len(built) == 4 and all(name.startswith(f"pairs-{SIZE}-") for name in built)

    def no_rebuild(*args: object) -> None:
        raise AssertionError("the store was built again")

    monkeypatch.setattr(hueroute.experts.store, "build_store", no_rebuild)
    again = open_store(table, SIZE, tmp_path)
    assert mtimes(tmp_path) == built
    assert again.ids == first.ids
    np.testing.assert_array_equal(again.gt, first.gt)
    np.testing.assert_array_equal(again.masks, first.masks)
    np.testing.assert_array_equal(again.levels, first.levels)

    monkeypatch.undo()
    small = open_store(table, 32, tmp_path)
    after = mtimes(tmp_path)
    assert {name: after[name] for name in built} == built  # the 64 px store is untouched
    new = sorted(set(after) - set(built))
    assert len(new) == 4 and all(name.startswith("pairs-32-") for name in new), new
    assert small.ids == first.ids
    assert small.gt.shape == (len(table), 32, 32, 3)
    assert small.masks.shape == (len(table), 32, 32)
    np.testing.assert_array_equal(small.levels, first.levels)  # the level of the full image
    for row in range(len(table)):
        half = Image.fromarray(first.masks[row]).resize((32, 32), Image.Resampling.NEAREST)
        np.testing.assert_array_equal(small.masks[row], np.asarray(half))
    assert not list(tmp_path.rglob("*.tmp"))


def test_store_index_gives_rows_in_the_order_asked(store: PairStore) -> None:
    ids = store.ids
    assert store.index(ids).tolist() == list(range(len(ids)))
    assert store.index(ids[::-1]).tolist() == list(range(len(ids)))[::-1]
    assert store.index([ids[3], ids[0], ids[3]]).tolist() == [3, 0, 3]
    assert store.index([]).tolist() == []


# --- splits and items ----------------------------------------------------------------------


@pytest.mark.parametrize("fold", range(SMOKE_FOLDS))
def test_expert_split_holds_out_the_experts_members_in_the_fold(
    clustered: Clustered, fold: int
) -> None:
    clusters, folds = run_tables(clustered.run)
    fold_of = dict(zip(folds["id"], folds["fold"], strict=True))
    cluster_of = dict(zip(clusters["id"], clusters["cluster"], strict=True))
    found = sorted(set(clusters["cluster"]) - {NOISE})
    names = expert_names(clusters)
    assert names == [GLOBAL, *(f"cluster{c}" for c in found)]
    assert len(names) >= 2  # the sample photos do fall into clusters

    for expert in names:
        train_ids, val_ids = expert_split(clusters, folds, expert, fold)
        if expert == GLOBAL:
            members = set(clusters["id"])
        else:
            members = {i for i, c in cluster_of.items() if f"cluster{c}" == expert}
        assert len(set(train_ids)) == len(train_ids) and len(set(val_ids)) == len(val_ids)
        assert not set(train_ids) & set(val_ids), expert
        assert set(train_ids) | set(val_ids) == members, expert
        assert set(val_ids) == {i for i in members if fold_of[i] == fold}, expert
        assert val_ids and train_ids, expert  # every cluster has images in every fold
    noise = {i for i, c in cluster_of.items() if c == NOISE}
    for expert in names[1:]:
        train_ids, val_ids = expert_split(clusters, folds, expert, fold)
        assert not noise & {*train_ids, *val_ids}, expert  # noise trains the global expert only


def test_fresh_training_items_draw_new_regions_repeatably(store: PairStore) -> None:
    rows = np.arange(len(store.ids))
    dataset = PairDataset(store, rows, train=True, fresh=1.0)

    torch.manual_seed(7)
    first = [dataset[i] for i in range(len(dataset))]
    second = [dataset[i] for i in range(len(dataset))]
    torch.manual_seed(7)
    repeated = [dataset[i] for i in range(len(dataset))]

    for index, (a, b, c) in enumerate(zip(first, second, repeated, strict=True)):
        assert_consistent_item(a, SIZE)
        assert_consistent_item(b, SIZE)
        for key in ("gray", "mask", "rgb", "row"):
            assert torch.equal(a[key], c[key]), (index, key)
        assert not torch.equal(a["mask"], b["mask"]), index
        stored = torch.from_numpy(np.array(store.masks[index])).float()[None]
        assert not torch.equal(a["mask"], stored), index  # a new region, not the stored one
        assert int(a["row"]) == index


def test_training_items_without_fresh_draws_are_stored_or_flipped(store: PairStore) -> None:
    rows = np.arange(len(store.ids))
    dataset = PairDataset(store, rows, train=True, fresh=0.0)
    torch.manual_seed(0)
    flips = []
    for _ in range(3):
        for index in range(len(dataset)):
            item = dataset[index]
            assert_consistent_item(item, SIZE)
            mask = torch.from_numpy(np.array(store.masks[index])).float()[None]
            rgb = torch.from_numpy(np.array(store.gt[index])).permute(2, 0, 1).float() / 255
            flipped = torch.equal(item["rgb"], rgb.flip(-1)) and torch.equal(
                item["mask"], mask.flip(-1)
            )
            assert flipped or (torch.equal(item["rgb"], rgb) and torch.equal(item["mask"], mask))
            flips.append(flipped)
    assert any(flips) and not all(flips)


def test_evaluation_items_are_the_stored_degradation(
    clustered: Clustered, store: PairStore
) -> None:
    table = Run.open(clustered.run).train_table().set_index("id")
    rows = np.arange(len(store.ids))[::-1].copy()
    dataset = PairDataset(store, rows, train=False, fresh=1.0)  # fresh is for training only
    for index, row in enumerate(rows):
        item = dataset[index]
        assert_consistent_item(item, SIZE)
        gray, rgb = read_pair(table.loc[store.ids[row]])
        assert int(item["row"]) == row
        assert torch.equal(item["gray"][0], torch.from_numpy(gray).float() / 255)
        assert torch.equal(item["rgb"], torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
        assert torch.equal(item["mask"][0].bool(), torch.from_numpy(gray != pil_luma(rgb)))
        again = dataset[index]
        assert all(torch.equal(item[key], again[key]) for key in item)


# --- training through the CLI --------------------------------------------------------------


def test_train_writes_every_expert_and_fold(clustered: Clustered, trained: Result) -> None:
    run = clustered.run
    clusters, folds = run_tables(run)
    manifest = json.loads((run / "experts" / "manifest.json").read_text())
    names = expert_names(clusters)
    assert sorted(manifest) == sorted(names)

    for expert in names:
        assert sorted(manifest[expert]) == [str(k) for k in range(SMOKE_FOLDS)]
        for fold in range(SMOKE_FOLDS):
            folder = fold_dir(run, expert, fold)
            for name in FOLD_FILES:
                assert (folder / name).is_file(), folder / name
            assert not list(folder.glob("*.ckpt"))  # a finished fold drops its checkpoints
            train_ids, val_ids = expert_split(clusters, folds, expert, fold)
            metrics = read_metrics(run, expert, fold)
            assert metrics["expert"] == expert and metrics["fold"] == fold
            assert metrics["train_images"] == len(train_ids)
            assert metrics["val_images"] == len(val_ids)
            assert metrics["epochs"] == 1
            assert metrics["steps"] == steps_per_epoch(run, expert, fold)

            oof = pd.read_csv(folder / "oof.csv", dtype={"id": str})
            assert sorted(oof["id"]) == sorted(val_ids)
            assert {"score", "ssim", "masked_ssim", "hist"} <= set(oof.columns)
            for key in ("score", "ssim", "masked_ssim", "hist"):
                assert metrics[key] == pytest.approx(oof[key].mean(), abs=1e-5)
            assert sorted(p.stem for p in (folder / "oof").iterdir()) == sorted(val_ids)
            for name in val_ids:
                with Image.open(folder / "oof" / f"{name}.png") as image:
                    assert image.format == "PNG"
                    assert image.mode == "RGB" and image.size == (SIZE, SIZE)

            entry = manifest[expert][str(fold)]
            assert entry == {
                **{k: metrics[k] for k in ("score", "ssim", "masked_ssim", "hist", "val_images")},
                "model": f"experts/{expert}/fold{fold}/model.pt",
            }


def test_train_prints_each_fold_and_the_score_table(clustered: Clustered, trained: Result) -> None:
    stdout, stderr = trained.stdout, trained.stderr
    assert "experts of" in stdout and "held-out" in stdout  # the title wraps to the table
    for header in ("expert", "fold", "images", "S", "M", "C", "score"):
        assert header in stdout
    order = []
    for expert in expert_names(run_tables(clustered.run)[0]):
        for fold in range(SMOKE_FOLDS):
            metrics = read_metrics(clustered.run, expert, fold)
            row = rf"│\s*{expert}\s*│\s*{fold}\s*│\s*{metrics['val_images']}\s*│"
            cells = r"\s*│\s*".join(
                f"{metrics[k]:.4f}" for k in ("ssim", "masked_ssim", "hist", "score")
            )
            assert re.search(rf"{row}\s*{cells}\s*│", stdout), (expert, fold, stdout)
            line = f"{expert} fold {fold}: score {metrics['score']:.4f}"
            assert line in stderr, (line, stderr)
            order.append(stderr.index(line))
    assert order[SMOKE_FOLDS - 1] < min(order[SMOKE_FOLDS:])  # global first: clusters start from it
    assert "done already" not in trained.output


def test_second_train_is_done_already_and_force_redoes_one_fold(
    tmp_path: Path, clustered: Clustered, trained: Result
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=True)
    manifest = (run / "experts" / "manifest.json").read_bytes()
    age(run)

    again = succeed("train", run)
    names = expert_names(run_tables(run)[0])
    for expert in names:
        for fold in range(SMOKE_FOLDS):
            assert f"{expert} fold {fold}: done already" in again.stderr
    assert "score" not in again.stderr
    # the manifest is rebuilt from disk on every call; every fold's output stays as it was
    rewritten = {name for name, ns in mtimes(run).items() if ns != OLD_NS}
    assert rewritten <= {"experts/manifest.json"}, rewritten
    assert (run / "experts" / "manifest.json").read_bytes() == manifest
    assert "experts of" in again.stdout

    forced = succeed("train", run, "--force", "--expert", GLOBAL, "--fold", "0")
    assert "global fold 0: score" in forced.stderr
    assert "done already" not in forced.output
    assert len(re.findall(r"fold \d: ", forced.stderr)) == 1
    after = mtimes(run)
    redone = fold_dir(run, GLOBAL, 0).relative_to(run)
    for name, ns in after.items():
        if name.startswith(f"{redone}/") or name == "experts/manifest.json":
            assert ns != OLD_NS, name
        else:  # the other folds, the run's tables and its pair store
            assert ns == OLD_NS, name
    for name in FOLD_FILES:
        assert f"{redone}/{name}" in after
    metrics = read_metrics(run, GLOBAL, 0)
    new_manifest = json.loads((run / "experts" / "manifest.json").read_text())
    assert new_manifest[GLOBAL]["0"]["score"] == metrics["score"]


# --- checkpoints and fine-tuning -----------------------------------------------------------


def assert_model_restores_held_out(run_folder: Path, expert: str, fold: int) -> None:
    """The model file alone (loaded as prediction loads it) gives the held-out images back,
    through the module that trained it."""
    run = Run.open(run_folder)
    folder = fold_dir(run_folder, expert, fold)
    saved = load_model(folder / "model.pt")
    settings, network = saved.settings, rebuilt(saved)

    train_ids, val_ids = expert_split(*run_tables(run_folder), expert, fold)
    module, data = training_parts(run, expert, network, settings, train_ids, val_ids)
    data.setup()
    with torch.inference_mode():
        preds = np.concatenate([module.restore_batch(b) for b in data.val_dataloader()])
    for pred, name in zip(preds, val_ids, strict=True):
        with Image.open(folder / "oof" / f"{name}.png") as image:
            saved = np.asarray(image.convert("RGB")).astype(int)
        assert np.abs(pred.astype(int) - saved).max() <= 1, name


def test_model_pt_restores_the_folds_held_out_predictions(
    clustered: Clustered, trained: Result
) -> None:
    assert_model_restores_held_out(clustered.run, GLOBAL, 0)


def test_the_joint_network_trains_and_restores_its_held_out_images(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, network="joint")
    metrics = train_expert(Run.open(run), GLOBAL, 0)
    assert metrics is not None and metrics["steps"] == steps_per_epoch(run, GLOBAL, 0)
    assert_model_restores_held_out(run, GLOBAL, 0)


def test_cluster_expert_starts_from_the_global_model_of_its_fold(
    tmp_path: Path, clustered: Clustered, trained: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    for fold in range(SMOKE_FOLDS):
        start = fold_dir(run, GLOBAL, fold) / "model.pt"
        start.parent.mkdir(parents=True)
        shutil.copy(fold_dir(clustered.run, GLOBAL, fold) / "model.pt", start)
    started: list[dict[str, torch.Tensor]] = []

    class Started(Exception):
        """Stops training once the module has its network."""

    def spy(run: Run, expert: str, network: torch.nn.Module, *args: object) -> NoReturn:
        started.append({k: v.detach().clone() for k, v in network.state_dict().items()})
        raise Started

    monkeypatch.setattr(hueroute.experts.train, "training_parts", spy)
    for fold in range(SMOKE_FOLDS):
        with pytest.raises(Started):
            train_expert(Run.open(run), "cluster0", fold)

    starts = [
        load_model(fold_dir(run, GLOBAL, fold) / "model.pt").weights for fold in range(SMOKE_FOLDS)
    ]
    assert any(not torch.equal(starts[0][k], starts[1][k]) for k in starts[0])  # folds differ
    for fold, (state, start) in enumerate(zip(started, starts, strict=True)):
        assert state.keys() == start.keys()
        for key in start:
            assert torch.equal(state[key], start[key]), (fold, key)
    assert not (run / "experts" / "cluster0").exists()


def test_cluster_expert_without_a_global_model_is_a_clear_error(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    with pytest.raises(InputError) as caught:
        train_expert(Run.open(run), "cluster0", 1)
    assert Path(caught.value.path) == fold_dir(run, GLOBAL, 1) / "model.pt"

    result = invoke("train", run, "--expert", "cluster0", "--fold", "0")
    assert_clear_error(result, "experts/global/fold0/model.pt", "missing", "global")
    assert not (run / "experts").exists()


def test_failed_forced_retrain_keeps_the_finished_fold(
    tmp_path: Path, clustered: Clustered, trained: Result
) -> None:
    """Bad input leaves nothing half-done: --force replaces a fold only once it can retrain."""
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    finished = fold_dir(run, "cluster0", 0)
    source = fold_dir(clustered.run, "cluster0", 0)
    shutil.copytree(source, finished, ignore=shutil.ignore_patterns("*.ckpt"))
    before = mtimes(finished)

    result = invoke("train", run, "--force", "--expert", "cluster0", "--fold", "0")
    assert_clear_error(result, "experts/global/fold0/model.pt", "missing")
    assert mtimes(finished) == before


# --- resuming and learning -----------------------------------------------------------------


def test_interrupted_training_resumes_from_its_last_checkpoint(
    tmp_path: Path, clustered: Clustered, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, epochs=2, keep_checkpoints=True)
    folder = fold_dir(run, GLOBAL, 0)
    per_epoch = steps_per_epoch(run, GLOBAL, 0)

    class DiesInSecondEpoch(RichProgressBar):
        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            if trainer.current_epoch == 1:
                raise RuntimeError("interrupted")
            super().on_train_batch_start(trainer, *args)

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", DiesInSecondEpoch)
    with pytest.raises(RuntimeError, match="interrupted"):
        train_expert(Run.open(run), GLOBAL, 0)
    assert (folder / "last.ckpt").is_file()
    assert not (folder / "metrics.json").exists() and not (folder / "model.pt").exists()
    checkpoint = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == per_epoch

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", RichProgressBar)
    steps: list[int] = []
    module = HueRestorer if Run.open(run).config.train.network == "colour" else Restorer
    original = module.training_step

    def counted(self: Restorer, *args: Any) -> torch.Tensor:
        steps.append(self.trainer.global_step)
        return original(self, *args)

    monkeypatch.setattr(module, "training_step", counted)
    result = succeed("train", run, "--expert", GLOBAL, "--fold", "0")
    assert "global fold 0: score" in result.stderr
    assert steps == list(range(per_epoch, 2 * per_epoch))  # only the second epoch ran
    metrics = read_metrics(run, GLOBAL, 0)
    assert metrics["steps"] == 2 * per_epoch and metrics["epochs"] == 2
    versions = sorted((folder / "log").glob("version_*/metrics.csv"))
    assert len(versions) == 2  # the resumed run logs beside the first attempt, keeping it
    logged = [
        step
        for path in versions
        for step in pd.read_csv(path).dropna(subset=["train_loss"])["step"].tolist()
    ]
    assert logged == list(range(2 * per_epoch))  # every step logged once, none redone

    weights = load_model(folder / "model.pt").weights
    for name in ("best.ckpt", "last.ckpt"):  # kept, as train.keep_checkpoints asks
        checkpoint = torch.load(folder / name, map_location="cpu", weights_only=True)
        network = {
            key.removeprefix("network."): value
            for key, value in checkpoint["state_dict"].items()
            if key.startswith("network.")
        }
        assert network.keys() == weights.keys()
        if name == "last.ckpt":
            assert checkpoint["global_step"] == 2 * per_epoch
        else:  # model.pt is the network of the best epoch
            assert all(torch.equal(network[key], weights[key]) for key in weights)


def test_ctrl_c_says_what_was_kept_and_resumes_after_the_last_finished_epoch(
    tmp_path: Path, clustered: Clustered, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, epochs=3, patience=10, max_steps=None)
    folder = fold_dir(run, GLOBAL, 0)
    per_epoch = steps_per_epoch(run, GLOBAL, 0)

    class WorseEachEpochThenCtrlC(RichProgressBar):
        """The first epoch is the best one; Ctrl-C in the third."""

        def on_validation_end(self, trainer: Any, *args: Any) -> None:
            trainer.callback_metrics["val_score"] = torch.tensor(-float(trainer.current_epoch))
            super().on_validation_end(trainer, *args)

        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            if trainer.current_epoch == 2:
                raise KeyboardInterrupt
            super().on_train_batch_start(trainer, *args)

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", WorseEachEpochThenCtrlC)
    handler = signal.getsignal(signal.SIGINT)
    stopped = invoke("train", run, "--expert", GLOBAL, "--fold", "0")
    assert stopped.exit_code == 130, stopped.output
    assert "starting global fold 0" in stopped.stderr
    assert f"interrupted: global fold 0 keeps 2 finished epochs in {folder / 'last.ckpt'}" in (
        " ".join(stopped.stderr.split())
    )
    assert "run the same command again to resume" in " ".join(stopped.stderr.split())
    assert signal.getsignal(signal.SIGINT) is handler  # Lightning left it ignored: restored
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    best = torch.load(folder / "best.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 2 * per_epoch  # saved although the epoch did not improve
    assert best["global_step"] == per_epoch

    monkeypatch.setattr(hueroute.experts.module, "RichProgressBar", RichProgressBar)
    resumed = succeed("train", run, "--expert", GLOBAL, "--fold", "0")
    assert "resuming global fold 0 after 2 finished epochs" in resumed.stderr
    assert read_metrics(run, GLOBAL, 0)["steps"] == 3 * per_epoch


def test_sigint_to_a_training_process_exits_130_and_keeps_its_last_epoch(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, epochs=500, patience=500, max_steps=None, max_minutes=None)
    last = fold_dir(run, GLOBAL, 0) / "last.ckpt"
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "hueroute", "train", str(run), "--expert", GLOBAL, "--fold", "0"],
        cwd=root,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root), "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # a Ctrl-C ignored by this process (as Lightning leaves it) would be ignored there too
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 240
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last.exists(), "no epoch finished"
    time.sleep(0.5)  # into the next epoch
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    said = " ".join(output.split())
    assert "interrupted: global fold 0 keeps" in said and "finished epochs in" in said
    assert "run the same command again to resume" in said
    assert not (fold_dir(run, GLOBAL, 0) / "model.pt").exists()
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] > 0


def test_a_few_steps_lower_the_training_loss(tmp_path: Path, clustered: Clustered) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    train_ids, _ = expert_split(*run_tables(run), GLOBAL, 0)
    # one batch of all the fold's images and no fresh regions: every step sees the same data;
    # a steady rate, as onecycle's peak in a 12-step run makes the loss jump
    edit_train(
        run,
        batch_size=len(train_ids),
        epochs=12,
        fresh_fraction=0.0,
        patience=100,
        scheduler="constant",
        lr=3e-4,
        colour={"steps_per_epoch": 1, "neighbours": 8},
    )
    torch.manual_seed(0)  # the network's random start is drawn before the run's seed is set
    metrics = train_expert(Run.open(run), GLOBAL, 0)
    assert metrics is not None and metrics["steps"] == 12
    log = pd.read_csv(fold_dir(run, GLOBAL, 0) / "log" / "version_0" / "metrics.csv")
    losses = log.dropna(subset=["train_loss"]).sort_values("step")["train_loss"].to_numpy()
    assert len(losses) == 12
    assert losses[-3:].mean() < losses[:3].mean(), losses


def test_a_folds_model_does_not_depend_on_earlier_random_draws(
    tmp_path: Path, clustered: Clustered
) -> None:
    """The run's seed fixes each fold's model: whatever the process drew from torch's random
    stream before (earlier folds of the same `train`, other work) must not change it."""
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    models = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        train_expert(Run.open(run), GLOBAL, 0, force=True)
        models.append(load_model(fold_dir(run, GLOBAL, 0) / "model.pt").weights)
    differ = [key for key in models[0] if not torch.equal(models[0][key], models[1][key])]
    assert not differ, f"{len(differ)} of {len(models[0])} tensors differ, e.g. {differ[:3]}"


# --- bad input -----------------------------------------------------------------------------


def test_train_before_cluster_is_a_clear_error(tmp_path: Path, clustered: Clustered) -> None:
    run = tmp_path / "run"
    succeed("init", run, "--data", clustered.data, "--preset", "smoke")
    result = invoke("train", run)
    assert_clear_error(result, "clusters.csv", "hueroute cluster")
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


@pytest.mark.parametrize(
    ("args", "name", "words"),
    [
        (("--expert", "nosuch"), "nosuch", ("not an expert", "global")),
        (("--expert", "cluster99"), "cluster99", ("not an expert",)),
        (("--fold", "7"), "fold 7", ("0..1",)),
        (("--expert", GLOBAL, "--fold", "2"), "fold 2", ("0..1",)),
    ],
    ids=["unknown-expert", "unknown-cluster", "fold-7", "fold-past-the-last"],
)
def test_unknown_expert_or_fold_is_a_clear_error(
    tmp_path: Path, clustered: Clustered, args: tuple[str, ...], name: str, words: tuple[str, ...]
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    result = invoke("train", run, *args)
    assert_clear_error(result, name, *words)
    assert not (run / "experts").exists()


def test_max_minutes_stops_a_fold_early_and_keeps_a_scored_model(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, epochs=5, max_minutes=0.001)
    metrics = train_expert(Run.open(run), GLOBAL, 0)
    assert metrics is not None
    assert 1 <= metrics["steps"] < 5 * steps_per_epoch(run, GLOBAL, 0)
    assert (fold_dir(run, GLOBAL, 0) / "model.pt").is_file() and 0 < metrics["score"] <= 1


def test_max_steps_within_the_first_epoch_still_validates_and_scores(
    tmp_path: Path, clustered: Clustered
) -> None:
    run = copy_run(clustered.run, tmp_path, with_experts=False)
    edit_train(run, batch_size=1, epochs=3, max_steps=2)
    assert steps_per_epoch(run, GLOBAL, 0) > 2
    metrics = train_expert(Run.open(run), GLOBAL, 0)
    assert metrics is not None and metrics["steps"] == 2
    assert 0 < metrics["score"] <= 1
