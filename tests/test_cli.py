"""The foundation commands end to end on a dataset made from the bundled samples."""

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from typer.testing import CliRunner

from hueroute.cli import app
from hueroute.cli.app import COMMAND_ORDER
from hueroute.data import samples_dir

runner = CliRunner()


def invoke(*args: str | Path) -> str:
    """Run a command that must succeed; return what it printed on stdout."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_bundled_samples_ship_with_their_licence() -> None:
    photos = sorted(samples_dir().glob("*.jpg"))
    assert 12 <= len(photos) <= 20
    assert sum(p.stat().st_size for p in photos) < 1_000_000
    licence = (samples_dir() / "LICENSE.txt").read_text()
    for photo in photos:
        assert photo.name in licence
        assert max(Image.open(photo).size) <= 256


def test_make_baseline_detect_and_score(tmp_path: Path) -> None:
    data = tmp_path / "data"
    invoke("make-dataset", samples_dir(), data, "--size", 64, "--copies", 2, "--seed", 4)
    invoke("check", data)
    invoke("baseline", data / "test_input", tmp_path / "restored")
    invoke("detect-masks", data / "test_input", tmp_path / "masks")
    for mask_path in sorted((data / "test_mask").glob("*.png")):
        truth = np.asarray(Image.open(mask_path)) > 0
        found = np.asarray(Image.open(tmp_path / "masks" / mask_path.name))
        assert set(np.unique(found)) <= {0, 255}
        assert ((found > 0) & truth).sum() / ((found > 0) | truth).sum() > 0.8
    per_image = tmp_path / "scores.csv"
    summary = json.loads(
        invoke(
            "score",
            data / "test_gt",
            tmp_path / "restored",
            "--masks",
            data / "test_mask",
            "--json",
            "--per-image",
            per_image,
        )
    )
    assert set(summary) == {"score", "ssim", "masked_ssim", "hist", "n"}
    table = pd.read_csv(per_image)
    assert summary["n"] == len(table) == len(list((data / "test_gt").iterdir()))
    assert abs(summary["score"] - table["score"].mean()) < 1e-9
    assert summary["ssim"] > 0.5
    detected = json.loads(
        invoke(
            "score",
            data / "test_gt",
            tmp_path / "restored",
            "--inputs",
            data / "test_input",
            "--json",
        )
    )
    assert abs(detected["score"] - summary["score"]) < 0.05
    assert "score" in invoke(
        "score", data / "test_gt", tmp_path / "restored", "--masks", data / "test_mask"
    )


def test_help_lists_commands_in_pipeline_order_with_plain_flags_and_defaults() -> None:
    listed = [
        line.split()[0]
        for line in invoke("--help").split("Commands:")[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == list(COMMAND_ORDER)
    assert set(app_commands()) == set(COMMAND_ORDER)
    search = " ".join(invoke("search", "--help").split())
    assert "<bool>" not in search and "--force Delete" in search
    assert "(default: search.trials)" in search
    assert "[default: report]" in invoke("run", "--help")


def test_help_loads_no_image_or_learning_library() -> None:
    heavy = ("torch", "cv2", "pandas", "numpy", "matplotlib", "sklearn", "PIL")
    for command in ([], ["run"], ["train"], ["baseline"]):
        code = (
            "import sys\nfrom hueroute.cli import app\n"
            f"try:\n    app({[*command, '--help']!r})\nexcept SystemExit:\n    pass\n"
            f"print('loaded:', *(m for m in {heavy!r} if m in sys.modules))"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "Usage:" in done.stdout
        assert done.stdout.splitlines()[-1] == "loaded:", (command, done.stdout[-200:])


def test_version() -> None:
    assert invoke("--version").strip() == f"hueroute {version('hueroute')}"


def app_commands() -> list[str]:
    return [info.name for info in app.registered_commands]
