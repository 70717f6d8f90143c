"""The ensemble: the router, blend weights, routed predictions at any input size, the submission
zip and its checks, and `route` / `submit` / `evaluate` end to end on a smoke run."""

import builtins
import io
import json
import os
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy.ndimage import binary_dilation
from sklearn.base import clone

from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.detect import detect_lost_region
from hueroute.ensemble.blend import blend_weights, oracle_weights
from hueroute.ensemble.evaluate import choose_experts
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.ensemble.router import ClusterRouter
from hueroute.ensemble.submit import check_zip, output_names
from hueroute.errors import InputError
from hueroute.experts.store import open_store
from hueroute.images import luma, read_gray, read_rgb
from hueroute.layout import TEST_COLUMNS, TRAIN_COLUMNS, read_table
from hueroute.preprocess import network_input
from hueroute.run import GLOBAL, NOISE, Run, expert_names
from hueroute.run.models import load_model, save_model
from tests.cli_helpers import invoke, succeed
from tests.test_bad_input import assert_clear_error

SIZE = 64


def pil_luma(rgb: np.ndarray) -> np.ndarray:
    return np.array(Image.fromarray(rgb).convert("L"))


# --- the router ----------------------------------------------------------------------------


def toy_embeddings(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated groups of 16-d points: noise (-1), cluster 0 and cluster 1."""
    rng = np.random.default_rng(seed)
    centres = {NOISE: 0.0, 0: 8.0, 1: -8.0}
    X = np.concatenate([rng.normal(c, 1, (30, 16)) for c in centres.values()])
    y = np.repeat(list(centres), 30)
    return X, y


def test_router_routes_separable_clusters_and_round_trips(tmp_path: Path) -> None:
    X, y = toy_embeddings()
    router = ClusterRouter(n_estimators=50).fit(X, y)
    assert router.classes_.tolist() == [NOISE, 0, 1]
    test_X, test_y = toy_embeddings(seed=1)
    probabilities = router.predict_proba(test_X)
    assert probabilities.shape == (90, 3)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-6)
    assert (router.predict(test_X) == test_y).mean() == 1.0

    router.save(tmp_path / "router")
    loaded = ClusterRouter.load(tmp_path / "router")
    assert loaded.get_params() == router.get_params()
    np.testing.assert_allclose(loaded.predict_proba(test_X), probabilities)
    assert clone(router).get_params() == router.get_params()


def test_router_with_two_classes_and_with_one(tmp_path: Path) -> None:
    X, y = toy_embeddings()
    two = ClusterRouter(n_estimators=30).fit(X[30:], y[30:])
    probabilities = two.predict_proba(X[30:])
    assert probabilities.shape == (60, 2)
    assert (two.predict(X[30:]) == y[30:]).all()

    one = ClusterRouter().fit(X[:30], y[:30])  # every image noise: nothing to learn
    assert one.booster_ is None
    np.testing.assert_array_equal(one.predict_proba(X), np.ones((90, 1)))
    one.save(tmp_path / "one")
    assert not (tmp_path / "one" / "model.txt").exists()
    assert ClusterRouter.load(tmp_path / "one").predict(X[:2]).tolist() == [NOISE, NOISE]


def test_loading_a_missing_router_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="hueroute route"):
        ClusterRouter.load(tmp_path)


# --- blend weights -------------------------------------------------------------------------


def test_blend_takes_the_top_k_clusters_by_probability() -> None:
    classes = np.array([NOISE, 0, 1, 2])
    [blend] = blend_weights(np.array([[0.1, 0.6, 0.3, 0.0]]), classes, 2, 0.5)
    assert blend.keys() == {"cluster0", "cluster1"}
    assert blend["cluster0"] == pytest.approx(0.6 / 0.9)
    assert blend["cluster1"] == pytest.approx(0.3 / 0.9)
    [single] = blend_weights(np.array([[0.1, 0.6, 0.3, 0.0]]), classes, 1, 0.5)
    assert single == {"cluster0": 1.0}


def test_noise_is_the_global_expert_and_unsure_images_go_to_global_alone() -> None:
    classes = np.array([NOISE, 0, 1])
    probabilities = np.array([[0.7, 0.2, 0.1], [0.45, 0.4, 0.15], [0.2, 0.3, 0.5]])
    noise, unsure, low = blend_weights(probabilities, classes, 2, 0.5)
    assert noise == {GLOBAL: pytest.approx(0.7 / 0.9), "cluster0": pytest.approx(0.2 / 0.9)}
    assert unsure == {GLOBAL: 1.0}  # top probability 0.45 < 0.5
    assert low == {"cluster1": pytest.approx(0.625), "cluster0": pytest.approx(0.375)}
    for blend in (noise, unsure, low):
        assert sum(blend.values()) == pytest.approx(1)
    assert blend_weights(probabilities, classes, 3, 0.0)[1][GLOBAL] == pytest.approx(0.45)


def test_experts_not_chosen_give_their_weight_to_global() -> None:
    probabilities = np.array([[0.1, 0.6, 0.3], [0.0, 0.2, 0.8]])
    classes = np.array([NOISE, 0, 1])
    blends = blend_weights(
        probabilities, classes, top_k=2, min_probability=0.0, allowed={"cluster1"}
    )
    assert blends[0] == pytest.approx({GLOBAL: 2 / 3, "cluster1": 1 / 3})
    assert blends[1] == pytest.approx({GLOBAL: 0.2, "cluster1": 0.8})
    assert blend_weights(probabilities, classes, 2, 0.0, allowed=set())[1] == {GLOBAL: 1.0}


def test_a_cluster_expert_is_chosen_only_for_a_clear_held_out_gain() -> None:
    rng = np.random.default_rng(0)
    rows = []
    gains = {
        0: 0.02 + rng.normal(0, 0.01, 40),  # clear gain
        1: 0.002 + rng.normal(0, 0.05, 40),  # a mean gain inside the noise
        2: -0.02 + rng.normal(0, 0.01, 40),  # a loss
        NOISE: 0.5 + rng.normal(0, 0.01, 40),  # noise has no expert to choose
    }
    for cluster, gain in gains.items():
        for index, delta in enumerate(gain):
            image = f"{cluster}-{index}"
            rows.append({"id": image, "cluster": cluster, "strategy": "global", "score": 0.5})
            rows.append(
                {"id": image, "cluster": cluster, "strategy": "routed", "score": 0.5 + delta}
            )
    choice = choose_experts(pd.DataFrame(rows), min_gain_z=2.0)
    assert choice["experts"] == ["cluster0"]
    assert set(choice["clusters"]) == {"cluster0", "cluster1", "cluster2"}
    assert choice["clusters"]["cluster0"]["gain_z"] > 2
    assert choice["clusters"]["cluster1"]["routed"] > choice["clusters"]["cluster1"]["global"]
    assert abs(choice["clusters"]["cluster1"]["gain_z"]) < 2
    assert choice["clusters"]["cluster2"]["gain_z"] < 0
    assert choose_experts(pd.DataFrame(rows), min_gain_z=0.0)["experts"] == ["cluster0", "cluster1"]


def test_oracle_sends_each_image_to_its_own_cluster() -> None:
    assert oracle_weights(np.array([1, NOISE, 0])) == [
        {"cluster1": 1.0},
        {GLOBAL: 1.0},
        {"cluster0": 1.0},
    ]


# --- inputs at the training size ------------------------------------------------------------


def test_network_input_is_the_training_size_with_one_flat_lost_level() -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (96, 80), dtype=np.uint8)
    mask = np.zeros_like(gray, bool)
    mask[20:60, 10:50] = True
    gray[mask] = 77
    small, small_mask = network_input(gray, mask, SIZE)
    assert small.shape == small_mask.shape == (SIZE, SIZE)
    assert small_mask.dtype == bool and small_mask.any()
    assert set(np.unique(small[small_mask]).tolist()) == {77}
    same, same_mask = network_input(gray[:64, :64], mask[:64, :64], SIZE)
    np.testing.assert_array_equal(same, gray[:64, :64])
    np.testing.assert_array_equal(same_mask, mask[:64, :64])


def test_prediction_sees_inputs_as_training_saw_them(tmp_path: Path) -> None:
    """The stored training input of a pair and the prediction's input made from the same gray
    file agree within rounding: one preprocessing (shrink, then the flat level) serves both.
    Training shrinks the original before taking its luma, prediction the gray input itself,
    whose flat region bleeds into the pixels at its edge: those are left out."""
    make_dataset(samples_dir(), tmp_path / "data", size=128, copies=1, test_fraction=0.0, seed=2)
    table = read_table(tmp_path / "data" / "train.csv", TRAIN_COLUMNS)
    store = open_store(table, SIZE, tmp_path / "cache")
    for row, path in enumerate(table["input_path"][:4]):
        gray = read_gray(path)
        trained, trained_mask = store.damaged(row)
        predicted, predicted_mask = network_input(gray, detect_lost_region(gray), SIZE)
        assert (trained_mask != predicted_mask).mean() < 0.01
        away = ~binary_dilation(trained_mask | predicted_mask, iterations=4)  # Lanczos reach
        difference = np.abs(trained.astype(int) - predicted.astype(int))[away]
        assert difference.mean() < 1.0 and difference.max() <= 3


# --- a trained smoke run -------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[int]:
    usual = torch.get_num_threads()
    torch.set_num_threads(1)
    yield usual
    torch.set_num_threads(usual)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: int) -> Path:
    """The sample photos at 64 px, the smoke preset, clustered (on the usual threads, as the
    cluster tests do), every expert trained on both folds, the router fitted."""
    root = tmp_path_factory.mktemp("ensemble")
    data, run = root / "data", root / "run"
    make_dataset(samples_dir(), data, size=SIZE, copies=1, test_fraction=0.3, seed=3)
    succeed("init", run, "--data", data, "--preset", "smoke")
    torch.set_num_threads(one_torch_thread)
    succeed("cluster", run)
    torch.set_num_threads(1)
    succeed("train", run)
    succeed("route", run)
    return run


def copied(run: Path, tmp_path: Path) -> Path:
    """A copy of `run` whose model weights are hard links, to spare the disk: they are only
    read here, and the project replaces a file by renaming, never writing into it."""

    def link_weights(source: str, target: str) -> None:
        if source.endswith("model.pt"):
            os.link(source, target)
        else:
            shutil.copy2(source, target)

    return Path(shutil.copytree(run, tmp_path / "run", copy_function=link_weights))


def test_route_writes_held_out_accuracy_calibration_and_the_router(trained_run: Path) -> None:
    folder = trained_run / "router"
    metrics = json.loads((folder / "metrics.json").read_text())
    train = read_table(Run.open(trained_run).config.data / "train.csv", ("id",))
    assert metrics["images"] == len(train)
    assert 0 <= metrics["top1"] <= metrics["top2"] <= 1
    assert metrics["ece"] >= 0 and 0 <= metrics["to_global_only"] <= 1

    oof = pd.read_csv(folder / "oof.csv", dtype={"id": str})
    assert sorted(oof["id"]) == sorted(train["id"])
    columns = [c for c in oof.columns if c.startswith("p_")]
    clusters = pd.read_csv(trained_run / "clusters.csv", dtype={"id": str})
    assert sorted(int(c[2:]) for c in columns) == sorted(clusters["cluster"].unique())
    np.testing.assert_allclose(oof[columns].sum(axis=1), 1, atol=1e-4)
    assert metrics["classes"] == sorted(clusters["cluster"].unique().tolist())
    top = np.array([int(c[2:]) for c in columns])[oof[columns].to_numpy().argmax(1)]
    assert (top == oof["cluster"]).mean() == pytest.approx(metrics["top1"])
    assert (folder / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert ClusterRouter.load(folder).classes_.tolist() == metrics["classes"]

    again = succeed("route", trained_run)
    assert "done already" in again.output


def test_submit_writes_a_flat_checked_zip_that_keeps_the_known_luma(
    trained_run: Path, tmp_path: Path
) -> None:
    run = copied(trained_run, tmp_path)
    result = succeed("submit", run)
    test = read_table(Run.open(run).config.data / "test.csv", TEST_COLUMNS)
    names = [Path(p).name for p in test["input_path"]]
    with zipfile.ZipFile(run / "submission.zip") as archive:
        assert sorted(archive.namelist()) == sorted(names)
        for name, source in zip(names, test["input_path"], strict=True):
            with Image.open(archive.open(name)) as image:
                assert image.format == "PNG" and image.mode == "RGB"
                predicted = np.array(image)
            gray = read_gray(source)
            assert predicted.shape == (*gray.shape, 3)
            outside = ~detect_lost_region(gray)
            assert np.abs(pil_luma(predicted)[outside].astype(int) - gray[outside]).max() <= 1
    assert f"{len(names)} PNGs" in result.stdout and "restored" in result.stderr

    again = succeed("submit", run)
    assert f"kept {len(names)} predictions" in again.stderr
    assert "restored" not in again.stderr


def test_submit_routes_only_to_the_experts_evaluate_chose(
    trained_run: Path, tmp_path: Path
) -> None:
    run = copied(trained_run, tmp_path)
    clusters = [e for e in expert_names(pd.read_csv(run / "clusters.csv")) if e != GLOBAL]
    assert clusters
    before = succeed("submit", run)  # no evaluate yet: no evidence for any cluster expert
    assert "blend weight by expert: global 100%" in before.stderr
    choice = {"experts": clusters, "clusters": {}}
    (run / "report").mkdir(exist_ok=True)
    (run / "report" / "choice.json").write_text(json.dumps(choice))
    after = succeed("submit", run, "--force")
    assert any(f"{e} " in after.stderr.split("blend weight by expert:")[1] for e in clusters)


def test_submit_resumes_an_interrupted_prediction(trained_run: Path, tmp_path: Path) -> None:
    run = copied(trained_run, tmp_path)
    succeed("submit", run)
    [folder] = (run / "predictions").iterdir()
    first = sorted(p for p in folder.glob("*.png"))[0]
    before = first.read_bytes()
    first.unlink()
    resumed = succeed("submit", run, "--out", tmp_path / "again.zip")
    assert "restored 1 images" in resumed.stderr
    assert first.read_bytes() == before  # the same models give the same picture
    assert zipfile.ZipFile(tmp_path / "again.zip").namelist()


def test_submit_reads_each_input_once(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copied(trained_run, tmp_path)
    test = read_table(Run.open(run).config.data / "test.csv", TEST_COLUMNS)
    inputs = {Path(p).resolve() for p in test["input_path"]}
    reads: Counter[Path] = Counter()
    real_open = io.open

    def counted_open(file: object, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and Path(file).resolve() in inputs:
            reads[Path(file).resolve()] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counted_open)  # pathlib's
    monkeypatch.setattr(builtins, "open", counted_open)  # PIL's and hashlib's
    succeed("submit", run)  # embeds the inputs too: the router has not seen them
    assert set(reads) == inputs and set(reads.values()) == {1}


def test_a_retrained_or_deleted_model_never_leaves_an_old_zip(
    trained_run: Path, tmp_path: Path
) -> None:
    run = copied(trained_run, tmp_path)
    data = Run.open(run).config.data
    own = tmp_path / "test"  # a private test split, rewritten below
    shutil.copytree(data / "test_input", own / "test_input")
    shutil.copy(data / "test.csv", own / "test.csv")
    submit = ("submit", run, "--test-csv", own / "test.csv")
    first = succeed(*submit)
    names = zipfile.ZipFile(run / "submission.zip").namelist()
    assert f"restored {len(names)} images" in first.stderr

    model = run / "experts" / GLOBAL / "fold0" / "model.pt"
    saved = load_model(model)
    model.unlink()  # a hard link to the shared run's weights: never write into it
    weights = {k: v + 0.01 if v.is_floating_point() else v for k, v in saved.weights.items()}
    save_model(model, replace(saved, weights=weights))
    retrained = succeed(*submit)
    assert f"restored {len(names)} images" in retrained.stderr and "kept" not in retrained.stderr
    assert len(list((run / "predictions").iterdir())) == 1  # the old models' images are gone

    source = own / read_table(own / "test.csv", TEST_COLUMNS)["input_path"][0]
    Image.fromarray(255 - read_gray(source)).save(source)  # replaced under the same name
    assert "restored 1 images" in succeed(*submit).stderr

    shutil.rmtree(run / "experts")
    (run / "submission.zip").unlink()
    assert_clear_error(invoke(*submit), "model.pt", "missing", "hueroute train")
    assert not (run / "submission.zip").exists()


def test_inputs_of_another_size_than_the_training_size(trained_run: Path, tmp_path: Path) -> None:
    run = copied(trained_run, tmp_path)
    data = Run.open(run).config.data
    source = read_table(data / "train.csv", ("id", "input_path", "gt_path")).iloc[0]
    rgb = np.array(Image.fromarray(read_rgb(source["gt_path"])).resize((96, 80)))
    gray = luma(rgb)
    gray[30:60, 20:70] = 140
    folder = tmp_path / "other"
    folder.mkdir()
    Image.fromarray(gray).save(folder / "wide.png")
    (folder / "test.csv").write_text("id,input_path\nwide,wide.png\n")

    succeed("submit", run, "--test-csv", folder / "test.csv", "--out", tmp_path / "wide.zip")
    with zipfile.ZipFile(tmp_path / "wide.zip") as archive:
        assert archive.namelist() == ["wide.png"]
        predicted = np.array(Image.open(archive.open("wide.png")))
    assert predicted.shape == (80, 96, 3)
    outside = np.ones_like(gray, bool)
    outside[30:60, 20:70] = False
    assert np.abs(pil_luma(predicted)[outside].astype(int) - gray[outside]).max() <= 1


def test_predictor_restores_each_blend_from_one_run_of_each_expert(trained_run: Path) -> None:
    run = Run.open(trained_run)
    predictor = RoutedPredictor(run, folds=[0])
    source = read_table(run.config.data / "train.csv", ("id", "input_path", "gt_path")).iloc[0]
    gray = read_gray(source["input_path"])
    mask = detect_lost_region(gray)
    calls = []
    original = predictor.expert_output

    def counted(expert: str, *args: torch.Tensor) -> torch.Tensor:
        calls.append(expert)
        return original(expert, *args)

    predictor.expert_output = counted  # type: ignore[method-assign]
    experts = [p.name for p in (trained_run / "experts").iterdir() if p.is_dir()]
    half = {e: 1 / len(experts) for e in experts}
    out = predictor.restore([gray], [mask], {"a": [{GLOBAL: 1.0}], "b": [half]})
    assert sorted(calls) == sorted(experts)
    assert out["a"][0].shape == out["b"][0].shape == (*gray.shape, 3)
    if len(experts) == 1:
        np.testing.assert_array_equal(out["a"][0], out["b"][0])


# --- the zip and test.csv checks ------------------------------------------------------------


def write_pngs(folder: Path, names: list[str], shape: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.zeros((*shape, 3), np.uint8)).save(folder / name)
    return [folder / name for name in names]


def test_check_zip_refuses_folders_missing_or_extra_files_and_wrong_sizes(tmp_path: Path) -> None:
    sources = [(20, 30), (20, 30)]  # the inputs' sizes
    good = write_pngs(tmp_path / "good", ["a.png", "b.png"], (20, 30))

    def zipped(name: str, entries: dict[str, Path]) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for arcname, file in entries.items():
                archive.write(file, arcname=arcname)
        return path

    check_zip(zipped("ok.zip", {"a.png": good[0], "b.png": good[1]}), ["a.png", "b.png"], sources)
    nested = zipped("nested.zip", {"sub/a.png": good[0], "b.png": good[1]})
    with pytest.raises(InputError, match="flat"):
        check_zip(nested, ["a.png", "b.png"], sources)
    with pytest.raises(InputError, match="missing"):
        check_zip(zipped("short.zip", {"a.png": good[0]}), ["a.png", "b.png"], sources)
    extra = zipped("extra.zip", {"a.png": good[0], "b.png": good[1], "c.png": good[0]})
    with pytest.raises(InputError, match="unexpected"):
        check_zip(extra, ["a.png", "b.png"], sources)
    [small] = write_pngs(tmp_path / "small", ["a.png"], (10, 30))
    with pytest.raises(InputError, match=r"a\.png"):
        check_zip(zipped("sizes.zip", {"a.png": small, "b.png": good[1]}), ["a.png", "b.png"],
                  sources)  # fmt: skip


def test_output_names_must_be_unique_pngs(tmp_path: Path) -> None:
    csv = tmp_path / "test.csv"
    table = pd.DataFrame({"id": ["a", "b"], "input_path": ["x/a.png", "y/b.png"]})
    assert output_names(table, csv) == ["a.png", "b.png"]
    same = pd.DataFrame({"id": ["a", "b"], "input_path": ["x/a.png", "y/a.png"]})
    with pytest.raises(InputError, match="lines 2 and 3"):
        output_names(same, csv)
    jpeg = pd.DataFrame({"id": ["a"], "input_path": ["x/a.jpg"]})
    with pytest.raises(InputError, match=r"line 2.*png"):
        output_names(jpeg, csv)


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ("id,input_path\n../x,a.png\n", ("line 2", "plain file name")),
        ("id,input_path\na,../outside.png\n", ("line 2", "escapes")),
        ("id,input_path\na,nothere.png\n", ("line 2", "does not exist")),
        ("id,path\na,a.png\n", ("missing column",)),
        ("id,input_path\n", ("no rows",)),
    ],
)
def test_bad_test_csv_rows_are_clear_errors(
    trained_run: Path, tmp_path: Path, rows: str, words: tuple[str, ...]
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "a.png")
    (folder / "test.csv").write_text(rows)
    out = tmp_path / "never.zip"
    result = invoke("submit", trained_run, "--test-csv", folder / "test.csv", "--out", out)
    assert_clear_error(result, "test.csv", *words)
    assert not out.exists()


# --- evaluate ------------------------------------------------------------------------------


def test_evaluate_scores_baseline_plain_global_routed_oracle_and_submitted_per_cluster(
    trained_run: Path, tmp_path: Path
) -> None:
    run = copied(trained_run, tmp_path)
    result = succeed("evaluate", run)
    scores = pd.read_csv(run / "report" / "scores.csv", dtype={"cluster": str})
    per_image = pd.read_csv(run / "report" / "per_image.csv", dtype={"id": str})
    data = Run.open(run).config.data
    n_train = len(read_table(data / "train.csv", ("id",)))
    n_test = len(read_table(data / "test.csv", ("id",)))

    overall = scores[scores["cluster"] == "all"].set_index(["split", "strategy"])
    both = ("baseline", "plain", "global", "routed", "oracle")
    assert set(overall.index) == {
        *(("held-out", s) for s in both),
        *(("test", s) for s in (*both, "submitted")),
    }
    assert (overall.loc["held-out", "images"] == n_train).all()
    assert (overall.loc["test", "images"] == n_test).all()
    for part in ("S", "M", "C", "score"):
        assert overall[part].between(-1, 1).all()
    weighted = 0.2 * overall["S"] + 0.4 * overall["M"] + 0.4 * overall["C"]
    np.testing.assert_allclose(overall["score"], weighted, atol=1e-4)

    # noise images go to the global expert under oracle routing: the same pictures, same scores
    noise = per_image[per_image["cluster"] == NOISE].pivot_table(
        index=["split", "id"], columns="strategy", values="score"
    )
    np.testing.assert_allclose(noise["oracle"], noise["global"])
    per_cluster = scores[scores["cluster"] != "all"]
    assert (
        per_cluster.groupby(["split", "strategy"])["images"]
        .sum()
        .eq(overall["images"].reindex(per_cluster.groupby(["split", "strategy"]).size().index))
        .all()
    )
    assert "held-out" in result.stdout and "oracle" in result.stdout

    # submit may route to a cluster expert only where routing beat global on held-out images
    choice = json.loads((run / "report" / "choice.json").read_text())
    held_out = per_image[(per_image["split"] == "held-out") & (per_image["cluster"] != NOISE)]
    for expert, figures in choice["clusters"].items():
        members = held_out[held_out["cluster"] == int(expert.removeprefix("cluster"))]
        means = members.groupby("strategy")["score"].mean()
        assert figures["global"] == pytest.approx(means["global"], abs=1e-4)
        assert figures["routed"] == pytest.approx(means["routed"], abs=1e-4)
        gain = members.pivot_table(index="id", columns="strategy", values="score")
        gain = gain["routed"] - gain["global"]
        z = gain.mean() / (gain.std() / np.sqrt(len(gain))) if gain.std() > 0 else 0.0
        assert figures["gain_z"] == pytest.approx(z, abs=0.01)
        assert figures["used"] == (expert in choice["experts"]) == (z > choice["min_gain_z"])

    again = succeed("evaluate", run)
    assert "done already" in again.stderr and "routed" in again.stdout


def test_evaluate_and_submit_need_the_router(trained_run: Path, tmp_path: Path) -> None:
    run = copied(trained_run, tmp_path)
    shutil.rmtree(run / "router")
    assert_clear_error(invoke("evaluate", run), "router", "hueroute route")
    assert_clear_error(invoke("submit", run), "router", "hueroute route")
    assert not (run / "submission.zip").exists()
