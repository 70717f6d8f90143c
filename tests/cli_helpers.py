"""Helpers the stage tests share: running the CLI, and watching files for rewrites."""

import os
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from hueroute.cli import app

OLD_NS = 1_000_000_000 * 10**9  # 2001-09-09: any rewrite after it shows in the mtime


def invoke(*args: str | Path) -> Result:
    """Run the CLI on a wide console, so no message is wrapped."""
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, [str(arg) for arg in args])


def succeed(*args: str | Path) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def age(root: Path) -> None:
    """Set the mtime of every file under `root` far into the past."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD_NS, OLD_NS))
