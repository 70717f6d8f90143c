"""Predicted images from a folder or a submission zip, checked against the expected names."""

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from hueroute.errors import InputError
from hueroute.images import DECODE_ERRORS, read_rgb


def _check_names(source: Path, found: set[str], expected: set[str]) -> None:
    missing, extra = sorted(expected - found), sorted(found - expected)
    if missing:
        raise InputError(source, f"{len(missing)} prediction(s) missing, e.g. {missing[:3]}")
    if extra:
        raise InputError(source, f"{len(extra)} unexpected file(s), e.g. {extra[:3]}")


def _zip_reader(path: Path, expected: set[str]) -> Callable[[str], np.ndarray]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(path, f"is not a readable zip ({error})") from error
    names = set()
    for info in archive.infolist():
        if info.is_dir() or "/" in info.filename or "\\" in info.filename:
            raise InputError(path, f"holds a folder entry {info.filename!r}: it must be flat")
        names.add(info.filename)
    _check_names(path, names, expected)

    def read(name: str) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                return np.asarray(image.convert("RGB"))
        except (Image.DecompressionBombError, zipfile.BadZipFile, *DECODE_ERRORS) as error:
            raise InputError(f"{path}:{name}", f"is not a readable image ({error})") from error

    return read


def prediction_reader(path: Path, expected: list[str]) -> Callable[[str], np.ndarray]:
    """A function name -> RGB array over a folder or zip that holds exactly `expected`."""
    if path.is_dir():
        found = {p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
        _check_names(path, found, set(expected))
        return lambda name: read_rgb(path / name)
    if path.is_file():
        return _zip_reader(path, set(expected))
    raise InputError(path, "no such folder or zip")
