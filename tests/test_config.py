"""The run's config: presets, the commented config.yaml, validation messages that name the
offending key, the run folder, and `hueroute init` / `hueroute cluster` on bad configs."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from hueroute.cli import app
from hueroute.config import (
    PRESETS,
    Config,
    commented_yaml,
    load_config,
    parse_config,
    preset_config,
)
from hueroute.errors import InputError
from hueroute.run import CONFIG_NAME, Run
from tests.test_bad_input import assert_clear_error

SOURCE = Path("/runs/example/config.yaml")


# --- helpers -------------------------------------------------------------------------------


def invoke(*args: str | Path) -> Result:
    """Run the CLI on a wide console, so that no error line is wrapped."""
    return CliRunner(env={"COLUMNS": "10000"}).invoke(app, [str(arg) for arg in args])


def valid_values(**sections: dict[str, Any]) -> dict[str, Any]:
    """A valid config mapping, with `sections` laid over the default one."""
    values: dict[str, Any] = {"data": "/datasets/photos"}
    values.update(sections)
    return values


def config_problem(values: Any) -> str:
    """The message of the InputError that parsing `values` raises; it must name SOURCE."""
    with pytest.raises(InputError) as caught:
        parse_config(values, SOURCE)
    assert caught.value.path == str(SOURCE)
    return str(caught.value)


def settings(model: type[BaseModel], prefix: str = "") -> dict[str, tuple[str, str]]:
    """Every setting of `model`, sections included, by dotted path -> (indent, description)."""
    found: dict[str, tuple[str, str]] = {}
    indent = "  " * prefix.count(".")
    for name, field in model.model_fields.items():
        assert field.description, f"{prefix}{name} has no description"
        found[prefix + name] = (indent, field.description)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.update(settings(annotation, f"{prefix}{name}."))
    return found


def lines_before_keys(text: str) -> dict[str, str]:
    """Each YAML key of `text` by dotted path -> the line just above it."""
    found: dict[str, str] = {}
    parents: list[str] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        depth = (len(line) - len(stripped)) // 2
        key = stripped.split(":", 1)[0]
        parents = [*parents[:depth], key]
        found[".".join(parents)] = lines[number - 1] if number else ""
    return found


# --- presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_round_trips_through_commented_yaml(name: str) -> None:
    config = preset_config(name, Path("/datasets/photos"))
    reloaded = Config.model_validate(yaml.safe_load(commented_yaml(config)))
    assert reloaded == config
    assert config.preset == name
    assert config.data == Path("/datasets/photos")


def test_seed_preset_has_the_reported_settings() -> None:
    config = preset_config("seed", Path("/datasets/photos"))
    train = config.train
    assert (train.network, train.encoder, train.scheduler) == ("two-stage", "resnet34", "plateau")
    assert train.lr == pytest.approx(1e-4)
    assert (train.batch_size, train.epochs) == (32, 15)
    assert train.loss.model_dump() == {"l1": 1.0, "mse": 1.0, "ssim": 1.0, "hue": 0.0}
    assert config.folds.n_folds == 5
    assert config.embed.model == "clip"


def test_default_trains_the_colour_expert_and_joint_keeps_the_u_net() -> None:
    assert preset_config("default", Path("/d")).train.network == "colour"
    assert preset_config("demo", Path("/d")).train.network == "colour"
    assert preset_config("joint", Path("/d")).train.network == "joint"


def test_demo_and_smoke_presets_are_small() -> None:
    assert set(PRESETS) == {"seed", "default", "joint", "demo", "smoke"}
    default = preset_config("default", Path("/d"))
    for name in ("demo", "smoke"):
        config = preset_config(name, Path("/d"))
        assert config.folds.n_folds == 2, name
        assert config.train.image_size < default.train.image_size, name
        assert config.train.epochs < default.train.epochs, name
        assert config.train.colour.steps_per_epoch < default.train.colour.steps_per_epoch
        assert config.cluster.min_cluster_size < default.cluster.min_cluster_size, name
    smoke = preset_config("smoke", Path("/d"))
    assert smoke.embed.model == "efficientnet-lite"
    assert smoke.train.image_size == 64


def test_unknown_preset_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        preset_config("turbo", Path("/d"))
    assert caught.value.path == "turbo"
    assert "smoke" in caught.value.problem


def test_assignment_is_validated() -> None:
    config = preset_config("default", Path("/d"))
    with pytest.raises(ValidationError):
        config.train.lr = -1.0


# --- the commented config.yaml -------------------------------------------------------------


def test_written_config_has_every_setting_with_its_comment_above(
    sample_dataset: Path, tmp_path: Path
) -> None:
    run = Run.create(tmp_path / "run", sample_dataset, "seed")
    text = (run.root / CONFIG_NAME).read_text()
    above = lines_before_keys(text)
    expected = settings(Config)
    assert {"train.loss.hue", "cluster.min_samples", "embed.model"} <= set(expected)
    missing = sorted(set(expected) - set(above))
    assert not missing, f"settings not in config.yaml: {missing}"
    for key, (indent, description) in expected.items():
        assert above[key] == f"{indent}# {description}", key
    assert load_config(run.root / CONFIG_NAME) == run.config


def test_commented_yaml_round_trips_a_long_value_in_a_nested_section() -> None:
    config = preset_config("default", Path("/datasets/photos"))
    config.embed.clip_model = (
        "/home/me/Colour restoration project/model weights/StreetCLIP tuned on our street photos v2"
    )
    assert config.embed.clip_model.rfind(" ") > 80  # long enough for YAML to fold the line
    assert Config.model_validate(yaml.safe_load(commented_yaml(config))) == config


# --- validation messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [
        (valid_values(colour="red"), "colour"),
        (valid_values(cluster={"min_clustre_size": 3}), "cluster.min_clustre_size"),
        (valid_values(train={"loss": {"hu": 0.5}}), "train.loss.hu"),
    ],
    ids=["top-level", "section", "nested"],
)
def test_unknown_key_is_named_by_its_dotted_path(values: dict[str, Any], key: str) -> None:
    assert f"unknown setting {key}" in config_problem(values)


@pytest.mark.parametrize(
    ("values", "suggestion"),
    [
        (valid_values(cluster={"min_clustre_size": 3}), "cluster.min_cluster_size"),
        (valid_values(train={"loss": {"hu": 0.5}}), "train.loss.hue"),
        (valid_values(sed=1), "seed"),
        (valid_values(train={"zzzzqqq": 1}), None),
    ],
    ids=["section", "nested", "top-level", "nothing-close"],
)
def test_misspelt_key_gets_a_did_you_mean(values: dict[str, Any], suggestion: str | None) -> None:
    problem = config_problem(values)
    if suggestion is None:
        assert "did you mean" not in problem
    else:
        assert f"did you mean {suggestion}?" in problem


@pytest.mark.parametrize(
    ("values", "key", "got"),
    [
        (valid_values(train={"lr": -1}), "train.lr", "-1"),
        (valid_values(train={"lr": 0}), "train.lr", "0"),
        (valid_values(folds={"n_folds": 1}), "folds.n_folds", "1"),
        (valid_values(embed={"model": "bogus"}), "embed.model", "'bogus'"),
        (valid_values(train={"batch_size": "many"}), "train.batch_size", "'many'"),
        (valid_values(train={"loss": {"ssim": -0.5}}), "train.loss.ssim", "-0.5"),
    ],
)
def test_bad_value_is_named_by_its_dotted_path(values: dict[str, Any], key: str, got: str) -> None:
    problem = config_problem(values)
    assert f"setting {key}: " in problem
    assert f"(got {got})" in problem


def test_out_of_range_message_says_what_is_wrong() -> None:
    problem = config_problem(valid_values(train={"lr": -1}))
    assert "setting train.lr: input should be greater than 0 (got -1)" in problem


def test_every_problem_is_reported_in_one_message() -> None:
    values = valid_values(
        colour="red",
        cluster={"min_clustre_size": 3},
        train={"lr": -1, "batch_size": "many", "loss": {"hu": 1}},
        folds={"n_folds": 1},
    )
    problem = config_problem(values)
    for key in ("colour", "cluster.min_clustre_size", "train.loss.hu"):
        assert f"unknown setting {key}" in problem
    for key in ("train.lr", "train.batch_size", "folds.n_folds"):
        assert f"setting {key}: " in problem


@pytest.mark.parametrize("values", [[1, 2], "data", None], ids=["list", "string", "empty"])
def test_config_that_is_not_a_mapping_is_an_input_error(values: Any) -> None:
    assert "is not a mapping" in config_problem(values)


# --- load_config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "no such file"),
        ("train: {lr: [1e-3\n", "not readable yaml"),
        ("- data: /d\n- seed: 1\n", "not a mapping"),
    ],
    ids=["missing", "invalid-yaml", "list"],
)
def test_load_config_on_a_bad_file_names_it(tmp_path: Path, text: str | None, words: str) -> None:
    path = tmp_path / "config.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    assert words in caught.value.problem.lower()


# --- the run folder ------------------------------------------------------------------------


def test_run_create_then_open_round_trips(sample_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    created = Run.create(root, sample_dataset, "smoke")
    opened = Run.open(root)
    assert opened.config == created.config
    assert opened.config.data == sample_dataset.resolve()
    assert opened.config.preset == "smoke"
    assert opened.clusters_csv == root / "clusters.csv"
    assert opened.folds_csv == root / "folds.csv"
    assert opened.umap_png == root / "umap.png"
    assert opened.cluster_json == root / "cluster.json"
    assert opened.embeddings_dir == root / "embeddings"
    table = opened.train_table()
    assert len(table) > 0
    assert all(Path(path).is_file() for path in table["gt_path"])


def test_run_create_refuses_to_replace_a_config(sample_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    Run.create(root, sample_dataset, "smoke")
    before = (root / CONFIG_NAME).read_text()
    with pytest.raises(InputError) as caught:
        Run.create(root, sample_dataset, "demo")
    assert caught.value.path == str(root / CONFIG_NAME)
    assert "exists" in caught.value.problem
    assert (root / CONFIG_NAME).read_text() == before


def test_run_create_with_force_replaces_the_config(sample_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    Run.create(root, sample_dataset, "smoke")
    Run.create(root, sample_dataset, "demo", force=True)
    assert Run.open(root).config == preset_config("demo", sample_dataset.resolve())
    assert not list(root.glob("*.tmp"))


def test_run_create_without_train_csv_names_it(tmp_path: Path) -> None:
    data = tmp_path / "empty-data"
    data.mkdir()
    with pytest.raises(InputError) as caught:
        Run.create(tmp_path / "run", data, "smoke")
    assert caught.value.path == str(data / "train.csv")
    assert not (tmp_path / "run" / CONFIG_NAME).exists()


def test_run_open_without_config_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        Run.open(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert CONFIG_NAME in caught.value.problem


def test_relative_data_path_is_taken_from_the_run_folder(
    sample_dataset: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs" / "first"
    root.mkdir(parents=True)
    relative = Path("..") / ".." / sample_dataset.name
    assert (root / relative).resolve() == sample_dataset.resolve()
    (root / CONFIG_NAME).write_text(f"data: {relative}\npreset: smoke\n")
    opened = Run.open(root)
    assert opened.config.data == sample_dataset.resolve()
    assert len(opened.train_table()) > 0


def test_edited_config_with_a_typo_fails_naming_config_and_key(
    sample_dataset: Path, tmp_path: Path
) -> None:
    root = tmp_path / "run"
    Run.create(root, sample_dataset, "smoke")
    path = root / CONFIG_NAME
    text = path.read_text()
    assert "  min_cluster_size: 3\n" in text
    path.write_text(text.replace("  min_cluster_size: 3\n", "  min_clustre_size: 3\n"))
    with pytest.raises(InputError) as caught:
        Run.open(root)
    assert caught.value.path == str(path)
    assert "unknown setting cluster.min_clustre_size" in caught.value.problem
    assert "did you mean cluster.min_cluster_size?" in caught.value.problem


# --- the command line ----------------------------------------------------------------------


def test_init_writes_a_config_that_run_open_reads(sample_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    result = invoke("init", root, "--data", sample_dataset, "--preset", "smoke")
    assert result.exit_code == 0, result.output
    assert str(root / CONFIG_NAME) in result.output
    assert Run.open(root).config == preset_config("smoke", sample_dataset.resolve())


def test_init_twice_is_a_clear_error_and_force_replaces(
    sample_dataset: Path, tmp_path: Path
) -> None:
    root = tmp_path / "run"
    assert invoke("init", root, "--data", sample_dataset, "--preset", "smoke").exit_code == 0
    again = invoke("init", root, "--data", sample_dataset, "--preset", "demo")
    assert_clear_error(again, str(root / CONFIG_NAME), "exists")
    assert Run.open(root).config.preset == "smoke"
    forced = invoke("init", root, "--data", sample_dataset, "--preset", "demo", "--force")
    assert forced.exit_code == 0, forced.output
    assert Run.open(root).config.preset == "demo"


def test_init_with_unknown_preset_is_a_clear_error(sample_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    result = invoke("init", root, "--data", sample_dataset, "--preset", "turbo")
    assert_clear_error(result, "turbo", "unknown preset")
    assert not (root / CONFIG_NAME).exists()


def test_init_without_train_csv_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "empty-data"
    data.mkdir()
    result = invoke("init", tmp_path / "run", "--data", data)
    assert_clear_error(result, str(data / "train.csv"), "no such file")


def test_cluster_on_a_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke("cluster", tmp_path)
    assert_clear_error(result, str(tmp_path), CONFIG_NAME, "init")


def test_cluster_on_a_config_with_unknown_key_is_a_clear_error(
    sample_dataset: Path, tmp_path: Path
) -> None:
    root = tmp_path / "run"
    Run.create(root, sample_dataset, "smoke")
    path = root / CONFIG_NAME
    path.write_text(path.read_text() + "colour: red\n")
    result = invoke("cluster", root)
    assert_clear_error(result, str(path), "unknown setting colour")
    assert not (root / "clusters.csv").exists()
