"""Data shipped with the package: the bundled CC0 sample photos."""

from importlib.resources import files
from pathlib import Path


def samples_dir() -> Path:
    """The folder of bundled sample photos (see its LICENSE.txt)."""
    return Path(str(files(__package__) / "samples"))
