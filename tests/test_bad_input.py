"""Bad input: every command names the offending file, says what is wrong, exits with code 2
and leaves nothing half-written behind."""

import io
import os
import re
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from PIL import Image
from typer.testing import CliRunner

from hueroute.cli import app
from hueroute.dataset import make_dataset
from hueroute.errors import InputError
from hueroute.files import check_name, resolve_input, write_text_atomic

BAD_INPUT = 2
SIZE = 64
FIRST, SECOND = "TEST_00000.png", "TEST_00001.png"
OLD_NS = 1_000_000_000 * 10**9  # 2001-09-09, long before any test run
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# --- helpers -------------------------------------------------------------------------------


def run(*args: str | Path, columns: int = 10_000) -> Result:
    """Invoke the CLI on a console `columns` wide (rich wraps its output at that width)."""
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(app, [str(arg) for arg in args])


def plain(text: str) -> str:
    """`text` without colour codes."""
    return ANSI.sub("", text)


def assert_clear_error(result: Result, name: str, *words: str) -> None:
    """Exit code 2; the error on stderr names `name` and says each of `words`; stdout is empty."""
    assert result.exit_code == BAD_INPUT, (result.output, result.exception)
    assert result.stdout == ""
    for text in (result.output, result.stderr):
        errors = [line for line in plain(text).splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, text
        message = errors[0]
        assert name in message, message
        for word in words:
            assert word.lower() in message.lower(), message


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under `root`: files with their size and mtime, folders with None."""
    return {
        str(path.relative_to(root)): (
            (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else None
        )
        for path in sorted(root.rglob("*"))
    }


def temporaries(root: Path) -> list[Path]:
    """Leftovers of atomic writes: `*.tmp` files anywhere under `root`."""
    return sorted(root.rglob("*.tmp"))


def smooth_rgb(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random smooth colour image: a 4 x 4 grid of random colours, upscaled bilinearly."""
    grid = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    return np.asarray(grid.resize((width, height), Image.Resampling.BILINEAR))


def png_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_truncated_png(path: Path) -> None:
    """A gray PNG cut off halfway through its image data."""
    data = png_of(np.random.default_rng(1).integers(0, 256, (SIZE, SIZE), dtype=np.uint8))
    path.write_bytes(data[: len(data) // 2])


def write_text_png(path: Path) -> None:
    path.write_text("this is not an image\n")


def write_colour_png(path: Path, size: int = SIZE) -> None:
    """An RGB image whose three channels differ."""
    path.write_bytes(png_of(smooth_rgb(np.random.default_rng(2), size, size)))


def write_gray_png(path: Path, size: int) -> None:
    path.write_bytes(png_of(np.full((size, size), 128, np.uint8)))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def set_cell(csv: Path, column: str, value: str, row: int = 0) -> None:
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    table.loc[row, column] = value
    table.to_csv(csv, index=False)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def write_huge_header_png(path: Path) -> None:
    """A tiny PNG whose header claims 20000 x 20000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


# --- fixtures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """The folders `score` reads: originals, predictions, masks and gray inputs."""

    gt: Path
    pred: Path
    masks: Path
    inputs: Path


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four random smooth colour photos, not square, as JPEG."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for index in range(4):
        Image.fromarray(smooth_rgb(rng, 80, 96)).save(folder / f"photo{index}.jpg", quality=95)
    return folder


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory, photo_folder: Path) -> Path:
    """A valid 64 px dataset: two train and two test images."""
    out = tmp_path_factory.mktemp("made") / "data"
    make_dataset(photo_folder, out, size=SIZE, copies=1, test_fraction=0.5, seed=0)
    assert sorted(p.name for p in (out / "test_gt").iterdir()) == [FIRST, SECOND]
    return out


@pytest.fixture(scope="module")
def clean_predictions(tmp_path_factory: pytest.TempPathFactory, clean_dataset: Path) -> Path:
    """Baseline predictions for the test split of `clean_dataset`."""
    out = tmp_path_factory.mktemp("predicted") / "pred"
    result = run("baseline", clean_dataset / "test_input", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def data(tmp_path: Path, clean_dataset: Path) -> Path:
    """A private copy of the valid dataset."""
    return Path(shutil.copytree(clean_dataset, tmp_path / "data"))


@pytest.fixture
def scoring(tmp_path: Path, clean_dataset: Path, clean_predictions: Path) -> Scoring:
    """Private copies of everything `score` reads."""
    return Scoring(
        gt=Path(shutil.copytree(clean_dataset / "test_gt", tmp_path / "gt")),
        pred=Path(shutil.copytree(clean_predictions, tmp_path / "pred")),
        masks=Path(shutil.copytree(clean_dataset / "test_mask", tmp_path / "masks")),
        inputs=Path(shutil.copytree(clean_dataset / "test_input", tmp_path / "inputs")),
    )


@pytest.fixture
def inputs(tmp_path: Path, clean_dataset: Path) -> Path:
    """A folder of four valid gray inputs (train and test)."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for split in ("train", "test"):
        for path in (clean_dataset / f"{split}_input").iterdir():
            shutil.copy2(path, folder / path.name)
    return folder


# --- the valid data works (so the failures below are due to the bad input) -----------------


def test_valid_dataset_passes_check(data: Path) -> None:
    result = run("check", data)
    assert result.exit_code == 0, result.output
    assert "well formed" in plain(result.output)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_valid_predictions_score(scoring: Scoring, tmp_path: Path, as_zip: bool) -> None:
    pred = scoring.pred
    if as_zip:
        pred = tmp_path / "pred.zip"
        write_zip(pred, {p.name: p.read_bytes() for p in scoring.pred.iterdir()})
    report = tmp_path / "scores.csv"
    result = run(
        "score", scoring.gt, pred, "--masks", scoring.masks, "--json", "--per-image", report
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(report)["name"]) == [FIRST, SECOND]
    assert temporaries(tmp_path) == []


# --- 1. missing files and folders ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name", "words"),
    [
        (["baseline", "{tmp}/nowhere", "{tmp}/out"], "nowhere", ["not a folder"]),
        (["detect-masks", "{tmp}/nowhere", "{tmp}/out"], "nowhere", ["not a folder"]),
        (["score", "{tmp}/nowhere", "{pred}", "--masks", "{masks}"], "nowhere", ["not a folder"]),
        (["score", "{gt}", "{tmp}/nowhere.zip", "--masks", "{masks}"], "nowhere.zip", ["no such"]),
        (["score", "{gt}", "{pred}", "--masks", "{tmp}/nomasks"], f"nomasks/{FIRST}", ["no such"]),
        (["check", "{tmp}/nowhere"], "nowhere/train.csv", ["no such file"]),
        (["make-dataset", "{tmp}/nowhere", "{tmp}/out"], "nowhere", ["not a folder"]),
    ],
    ids=["baseline", "detect-masks", "score-gt", "score-pred", "score-masks", "check", "make"],
)
def test_missing_argument(
    scoring: Scoring, tmp_path: Path, args: list[str], name: str, words: list[str]
) -> None:
    fields = {"tmp": tmp_path, **asdict(scoring)}
    before = snapshot(tmp_path)
    result = run(*(arg.format(**fields) for arg in args))
    assert_clear_error(result, name, *words)
    assert snapshot(tmp_path) == before


# --- 2 and 4. unreadable and colour inputs of the batch commands ---------------------------

BAD_INPUTS = [
    pytest.param(write_truncated_png, "readable", id="truncated"),
    pytest.param(write_text_png, "readable", id="text"),
    pytest.param(write_colour_png, "single-channel", id="colour"),
]


@pytest.mark.parametrize("command", ["detect-masks", "baseline"])
@pytest.mark.parametrize(("write_bad", "word"), BAD_INPUTS)
def test_batch_bad_input_writes_nothing(
    inputs: Path,
    tmp_path: Path,
    command: str,
    write_bad: Callable[[Path], None],
    word: str,
) -> None:
    write_bad(inputs / "A_bad.png")  # sorts before the valid inputs
    before = snapshot(tmp_path)
    result = run(command, inputs, tmp_path / "out")
    assert_clear_error(result, "A_bad.png", word)
    assert not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["detect-masks", "baseline"])
def test_batch_bad_input_last_keeps_finished_outputs(
    inputs: Path, tmp_path: Path, command: str
) -> None:
    """Outputs finished before the bad input are whole; a rerun without it only reports them."""
    write_truncated_png(inputs / "z_bad.png")  # sorts after the valid inputs
    out = tmp_path / "out"
    result = run(command, inputs, out)
    assert_clear_error(result, "z_bad.png", "readable")
    assert temporaries(tmp_path) == []
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in inputs.iterdir() if p.name != "z_bad.png")
    for path in out.iterdir():
        with Image.open(path) as image:
            image.load()
            assert image.size == (SIZE, SIZE)
    (inputs / "z_bad.png").unlink()
    again = run(command, inputs, out)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in plain(again.output)


def test_batch_output_is_a_file(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"x")
    before = snapshot(tmp_path)
    assert_clear_error(run("baseline", inputs, out), "out.png", "not a folder")
    assert snapshot(tmp_path) == before


def test_batch_same_stem_twice(inputs: Path, tmp_path: Path) -> None:
    with Image.open(inputs / FIRST) as image:
        image.save(inputs / "TEST_00000.bmp")
    before = snapshot(tmp_path)
    assert_clear_error(run("baseline", inputs, tmp_path / "out"), "inputs", "same name")
    assert snapshot(tmp_path) == before


# --- 3 and 4. check on a broken dataset ----------------------------------------------------


def drop_gt_column(data: Path) -> None:
    table = pd.read_csv(data / "train.csv")
    table.drop(columns="gt_path").to_csv(data / "train.csv", index=False)


def delete_gt_file(data: Path) -> None:
    (data / "train_gt" / "TRAIN_00000.png").unlink()


def duplicate_id(data: Path) -> None:
    set_cell(data / "train.csv", "id", "TRAIN_00001")


def dotdot_id(data: Path) -> None:
    set_cell(data / "train.csv", "id", "../x")


def hidden_test_id(data: Path) -> None:
    set_cell(data / "test.csv", "id", ".hidden")


def escaping_input(data: Path) -> None:
    set_cell(data / "train.csv", "input_path", "../../etc/passwd")


def escaping_gt_after_subfolder(data: Path) -> None:
    set_cell(data / "train.csv", "gt_path", "./train_gt/../../x.png")


def absolute_missing_input(data: Path) -> None:
    set_cell(data / "train.csv", "input_path", str(data.parent / "elsewhere" / "x.png"))


def empty_train_csv(data: Path) -> None:
    (data / "train.csv").write_bytes(b"")


def header_only_test_csv(data: Path) -> None:
    (data / "test.csv").write_text("id,input_path\n")


def colour_train_input(data: Path) -> None:
    write_colour_png(data / "train_input" / "TRAIN_00000.png")


def colour_test_input(data: Path) -> None:
    write_colour_png(data / "test_input" / FIRST)


def small_train_input(data: Path) -> None:
    write_gray_png(data / "train_input" / "TRAIN_00000.png", SIZE - 16)


def corrupt_original(data: Path) -> None:
    truncate(data / "train_gt" / "TRAIN_00000.png")


def text_test_input(data: Path) -> None:
    write_text_png(data / "test_input" / SECOND)


@pytest.mark.parametrize(
    ("damage", "names", "words"),
    [
        (drop_gt_column, ["train.csv"], ["missing column", "gt_path"]),
        (delete_gt_file, ["train.csv", "TRAIN_00000.png"], ["does not exist"]),
        (duplicate_id, ["train.csv", "line 3", "line 2"], ["repeats id", "TRAIN_00001"]),
        (dotdot_id, ["train.csv", "line 2"], ["../x", "plain file name"]),
        (hidden_test_id, ["test.csv", "line 2"], [".hidden", "plain file name"]),
        (escaping_input, ["train.csv", "line 2"], ["../../etc/passwd", "escapes"]),
        (escaping_gt_after_subfolder, ["train.csv", "line 2"], ["escapes"]),
        (absolute_missing_input, ["train.csv", "line 2", "elsewhere/x.png"], ["does not exist"]),
        (empty_train_csv, ["train.csv"], ["readable CSV"]),
        (header_only_test_csv, ["test.csv"], ["no rows"]),
        (colour_train_input, ["train_input/TRAIN_00000.png"], ["single-channel"]),
        (colour_test_input, [f"test_input/{FIRST}"], ["single-channel"]),
        (small_train_input, ["train_input/TRAIN_00000.png"], ["original"]),
        (corrupt_original, ["train_gt/TRAIN_00000.png"], ["readable"]),
        (text_test_input, [f"test_input/{SECOND}"], ["readable"]),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_check_broken_dataset(
    data: Path,
    tmp_path: Path,
    damage: Callable[[Path], None],
    names: list[str],
    words: list[str],
) -> None:
    damage(data)
    before = snapshot(tmp_path)
    result = run("check", data)
    for name in names:
        assert_clear_error(result, name, *words)
    assert snapshot(tmp_path) == before


# --- 2, 4, 5 and 6. score -------------------------------------------------------------------


def assert_score_fails(
    scoring: Scoring, tmp_path: Path, pred: Path, name: str, *words: str, use_inputs: bool = False
) -> None:
    """`score` with --json and --per-image fails clearly and writes nothing."""
    mode = ["--inputs", scoring.inputs] if use_inputs else ["--masks", scoring.masks]
    report = tmp_path / "report" / "scores.csv"
    before = snapshot(tmp_path)
    result = run("score", scoring.gt, pred, *mode, "--json", "--per-image", report)
    assert_clear_error(result, name, *words)
    assert not report.parent.exists()
    assert snapshot(tmp_path) == before


def test_score_corrupt_original(scoring: Scoring, tmp_path: Path) -> None:
    truncate(scoring.gt / FIRST)
    assert_score_fails(scoring, tmp_path, scoring.pred, f"gt/{FIRST}", "readable")


def test_score_text_prediction(scoring: Scoring, tmp_path: Path) -> None:
    write_text_png(scoring.pred / SECOND)
    assert_score_fails(scoring, tmp_path, scoring.pred, f"pred/{SECOND}", "readable")


def test_score_prediction_wrong_size(scoring: Scoring, tmp_path: Path) -> None:
    write_colour_png(scoring.pred / FIRST, SIZE - 16)
    assert_score_fails(scoring, tmp_path, scoring.pred, f"pred/{FIRST}", "original", "48x48")


def test_score_input_wrong_size(scoring: Scoring, tmp_path: Path) -> None:
    write_gray_png(scoring.inputs / FIRST, SIZE + 16)
    assert_score_fails(
        scoring, tmp_path, scoring.pred, f"inputs/{FIRST}", "original", "80x80", use_inputs=True
    )


def test_score_colour_input(scoring: Scoring, tmp_path: Path) -> None:
    write_colour_png(scoring.inputs / FIRST)
    assert_score_fails(
        scoring, tmp_path, scoring.pred, f"inputs/{FIRST}", "single-channel", use_inputs=True
    )


def test_score_mask_wrong_size(scoring: Scoring, tmp_path: Path) -> None:
    write_gray_png(scoring.masks / SECOND, SIZE - 16)
    assert_score_fails(scoring, tmp_path, scoring.pred, f"masks/{SECOND}", "original")


@pytest.mark.parametrize(
    ("change", "name", "words"),
    [
        ("missing", "pred", ["missing", SECOND]),
        ("extra", "pred", ["unexpected", "extra.png"]),
    ],
)
def test_score_prediction_folder_names(
    scoring: Scoring, tmp_path: Path, change: str, name: str, words: list[str]
) -> None:
    if change == "missing":
        (scoring.pred / SECOND).unlink()
    else:
        shutil.copy(scoring.pred / FIRST, scoring.pred / "extra.png")
    assert_score_fails(scoring, tmp_path, scoring.pred, name, *words)


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({f"sub/{FIRST}": FIRST, SECOND: SECOND}, ["folder entry", f"sub/{FIRST}"]),
        ({FIRST: FIRST}, ["missing", SECOND]),
        ({FIRST: FIRST, SECOND: SECOND, "extra.png": FIRST}, ["unexpected", "extra.png"]),
        (None, ["not a readable zip"]),
    ],
    ids=["folder-entry", "missing", "extra", "not-a-zip"],
)
def test_score_bad_zip(
    scoring: Scoring, tmp_path: Path, members: dict[str, str] | None, words: list[str]
) -> None:
    """`members` maps each entry of the zip to the prediction it holds; None: not a zip."""
    archive = tmp_path / "pred.zip"
    if members is None:
        archive.write_text("not a zip\n")
    else:
        write_zip(
            archive, {entry: (scoring.pred / src).read_bytes() for entry, src in members.items()}
        )
    assert_score_fails(scoring, tmp_path, archive, "pred.zip", *words)


def test_score_zip_with_unreadable_member(scoring: Scoring, tmp_path: Path) -> None:
    archive = tmp_path / "pred.zip"
    write_zip(archive, {FIRST: (scoring.pred / FIRST).read_bytes(), SECOND: b"not an image"})
    assert_score_fails(scoring, tmp_path, archive, f"pred.zip:{SECOND}", "readable")


@pytest.mark.parametrize("mode", ["neither", "both"])
def test_score_needs_exactly_one_of_masks_and_inputs(
    scoring: Scoring, tmp_path: Path, mode: str
) -> None:
    options = [] if mode == "neither" else ["--masks", scoring.masks, "--inputs", scoring.inputs]
    before = snapshot(tmp_path)
    result = run("score", scoring.gt, scoring.pred, *options)
    assert_clear_error(result, "gt", "exactly one", "--masks", "--inputs")
    assert snapshot(tmp_path) == before


# --- 7. make-dataset -------------------------------------------------------------------------


@pytest.fixture
def photos_copy(tmp_path: Path, photo_folder: Path) -> Path:
    return Path(shutil.copytree(photo_folder, tmp_path / "photos"))


def staging_leftovers(parent: Path, name: str) -> list[Path]:
    """Hidden staging folders `.NAME.*` that make-dataset left in `parent`."""
    return sorted(parent.glob(f".{name}.*"))


def test_make_dataset_refuses_non_empty_folder(photos_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    result = run("make-dataset", photos_copy, out, "--size", SIZE, "--test-fraction", 0.5)
    assert_clear_error(result, "out", "not empty", "--force")
    assert snapshot(tmp_path) == before
    assert (out / "keep.txt").read_text() == "mine\n"


def test_make_dataset_force_replaces_folder(photos_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    result = run(
        "make-dataset", photos_copy, out, "--size", SIZE, "--test-fraction", 0.5, "--force"
    )
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists()
    assert (out / "train.csv").is_file() and (out / "test.csv").is_file()
    assert staging_leftovers(tmp_path, "out") == []
    assert run("check", out).exit_code == 0


@pytest.mark.parametrize("existing", [False, True], ids=["new", "force-over-existing"])
def test_make_dataset_corrupt_photo(photos_copy: Path, tmp_path: Path, existing: bool) -> None:
    truncate(Path(shutil.copy(photos_copy / "photo3.jpg", photos_copy / "photo2b.jpg")))
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    args = ["--size", SIZE, "--test-fraction", 0.5, *(["--force"] if existing else [])]
    result = run("make-dataset", photos_copy, out, *args)
    assert_clear_error(result, "photo2b.jpg", "readable")
    assert snapshot(tmp_path) == before
    assert out.exists() == existing
    assert staging_leftovers(tmp_path, "out") == []
    assert temporaries(tmp_path) == []


def spoil_three_photos(photos: Path) -> list[str]:
    """A truncated JPEG, a text file named .png and a 1 x 1 image beside the good photos."""
    truncate(Path(shutil.copy(photos / "photo3.jpg", photos / "cut.jpg")))
    (photos / "notes.png").write_text("not an image\n")
    Image.new("RGB", (1, 1), (200, 30, 30)).save(photos / "dot.png")
    return ["cut.jpg", "notes.png", "dot.png"]


def test_make_dataset_lists_every_bad_photo_before_writing(
    photos_copy: Path, tmp_path: Path
) -> None:
    bad = spoil_three_photos(photos_copy)
    before = snapshot(tmp_path)
    result = run("make-dataset", photos_copy, tmp_path / "out", "--size", SIZE)
    assert_clear_error(result, "3 of 7 photos are unusable", "--skip-bad", *bad)
    assert "readable" in result.output and "1 x 1 px" in result.output
    assert snapshot(tmp_path) == before


def test_make_dataset_skip_bad_writes_a_dataset_that_passes_check(
    photos_copy: Path, tmp_path: Path
) -> None:
    bad = spoil_three_photos(photos_copy)
    out = tmp_path / "out"
    args = ("--size", SIZE, "--test-fraction", 0.5, "--skip-bad")
    result = run("make-dataset", photos_copy, out, *args)
    assert result.exit_code == 0, result.output
    assert "skipping 3 of 7 photos" in result.output
    assert all(name in result.output for name in bad)
    sources = pd.read_csv(out / "sources.csv")
    assert sorted(sources["source"]) == [f"photo{i}.jpg" for i in range(4)]
    assert run("check", out).exit_code == 0


@pytest.mark.parametrize(
    ("option", "value", "word"),
    [
        ("--size", 16, "too small"),
        ("--copies", 0, "at least 1"),
        ("--test-fraction", 1.0, "[0, 1)"),
        ("--views", 3, "one of 1, 2, 4"),
        ("--split", "photo", "one of scene, view"),
    ],
)
def test_make_dataset_bad_options(
    photos_copy: Path, tmp_path: Path, option: str, value: float, word: str
) -> None:
    before = snapshot(tmp_path)
    result = run("make-dataset", photos_copy, tmp_path / "out", option, value)
    assert_clear_error(result, "out", option, word)
    assert snapshot(tmp_path) == before


# --- 8. resumable batch ----------------------------------------------------------------------


def age(folder: Path) -> None:
    """Set every file's mtime far into the past, so any rewrite shows."""
    for path in folder.iterdir():
        os.utime(path, ns=(OLD_NS, OLD_NS))


def test_baseline_resumes_and_force_rewrites_all(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run("baseline", inputs, out)
    assert first.exit_code == 0, first.output
    assert "wrote 4 images" in plain(first.output)
    contents = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(contents) == sorted(p.name for p in inputs.iterdir())

    age(out)
    (out / FIRST).unlink()
    second = run("baseline", inputs, out)
    assert second.exit_code == 0, second.output
    assert "wrote 1 images" in plain(second.output) and "3 kept" in plain(second.output)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert mtimes.pop(FIRST) != OLD_NS
    assert set(mtimes.values()) == {OLD_NS}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == contents

    age(out)
    third = run("baseline", inputs, out)
    assert third.exit_code == 0, third.output
    assert "nothing to do" in plain(third.output)
    assert {p.stat().st_mtime_ns for p in out.iterdir()} == {OLD_NS}

    forced = run("baseline", inputs, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert "wrote 4 images" in plain(forced.output)
    assert OLD_NS not in {p.stat().st_mtime_ns for p in out.iterdir()}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == contents
    assert temporaries(tmp_path) == []


# --- safe names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", ".hidden", "..", ".", "", "a\0b"])
def test_check_name_refuses(name: str) -> None:
    with pytest.raises(InputError) as caught:
        check_name(name, "list.csv")
    assert caught.value.path == "list.csv"
    assert repr(name) in caught.value.problem


@pytest.mark.parametrize("name", ["x.png", "TRAIN_00000", "a b.png", "x..png"])
def test_check_name_accepts(name: str) -> None:
    assert check_name(name, "list.csv") == name


@pytest.mark.parametrize(
    ("relative", "word"),
    [
        ("../x", "escapes"),
        ("..", "escapes"),
        ("sub/../../x", "escapes"),
        ("./sub/../../base/../x", "escapes"),
        ("", "not a file path"),
    ],
)
def test_resolve_input_refuses(tmp_path: Path, relative: str, word: str) -> None:
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    with pytest.raises(InputError) as caught:
        resolve_input(base, relative, "list.csv")
    assert caught.value.path == "list.csv"
    assert word in caught.value.problem and repr(relative) in caught.value.problem


def test_an_escape_names_the_real_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        resolve_input(Path("."), "../x", "list.csv")
    assert str(tmp_path.resolve()) in caught.value.problem


@pytest.mark.parametrize(
    ("relative", "inside"),
    [("x", "x"), ("./sub/x", "sub/x"), ("sub/../x", "x"), ("sub//x", "sub/x")],
)
def test_resolve_input_accepts(tmp_path: Path, relative: str, inside: str) -> None:
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    assert resolve_input(base, relative, "list.csv") == (base / inside).resolve()


def test_an_absolute_input_path_is_the_users_choice(data: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "TRAIN_00000.png"
    moved.parent.mkdir()
    shutil.move(data / "train_input" / "TRAIN_00000.png", moved)
    set_cell(data / "train.csv", "input_path", str(moved))
    assert resolve_input(data, str(moved), "train.csv") == moved.resolve()
    assert run("check", data).exit_code == 0


def test_resolve_input_refuses_symlink_out(tmp_path: Path) -> None:
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    (base / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="escapes"):
        resolve_input(base, "link/x.png", "list.csv")


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_users_normal_permissions(
    tmp_path: Path, umask: int, mode: int
) -> None:
    before = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "out.txt", "x")
    finally:
        os.umask(before)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == mode


# --- names and files that once slipped past the checks ---------------------------------------


def test_error_is_one_line_even_with_a_long_path(tmp_path: Path) -> None:
    missing = tmp_path / ("a_rather_long_folder_name_" * 4) / "missing_inputs"
    result = run("baseline", missing, tmp_path / "out", columns=80)
    assert result.exit_code == BAD_INPUT
    assert f"error: {missing}: is not a folder\n" in plain(result.stderr)


@pytest.mark.parametrize("folder", ["photos[old]", "photos[/old]"])
def test_error_names_paths_with_brackets(tmp_path: Path, folder: str) -> None:
    assert_clear_error(run("baseline", tmp_path / folder, tmp_path / "out"), folder, "not a folder")


def test_make_dataset_into_a_file(photos_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("a file\n")
    before = snapshot(tmp_path)
    result = run("make-dataset", photos_copy, out, "--size", SIZE)
    assert snapshot(tmp_path) == before
    assert_clear_error(result, "out", "folder")


def test_huge_header_png(inputs: Path, tmp_path: Path) -> None:
    write_huge_header_png(inputs / "A_bomb.png")
    before = snapshot(tmp_path)
    result = run("baseline", inputs, tmp_path / "out")
    assert snapshot(tmp_path) == before
    assert_clear_error(result, "A_bomb.png", "image")


def test_check_path_with_nul_byte(data: Path) -> None:
    set_cell(data / "train.csv", "input_path", "./train_input/a\0b.png")
    assert_clear_error(run("check", data), "train.csv", "line 2")
