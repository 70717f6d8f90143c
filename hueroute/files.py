"""Safe names and atomic writes: no output is ever half-written or outside its folder."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hueroute.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def check_name(name: str, source: str | Path) -> str:
    """Return `name` if it is a plain file name that stays in its folder, else raise."""
    bad = (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or "\0" in name
        or name.startswith(".")
    )
    if bad:
        raise InputError(source, f"name {name!r} is not a plain file name inside its folder")
    return name


def resolve_inside(base: Path, relative: str, source: str | Path) -> Path:
    """Resolve `relative` against `base`, refusing any path that escapes `base`."""
    if not relative or "\0" in relative or Path(relative).is_absolute():
        raise InputError(source, f"path {relative!r} must be relative to {base}")
    path = (base / relative).resolve()
    if not path.is_relative_to(base.resolve()):
        raise InputError(source, f"path {relative!r} escapes the folder {base}")
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in `folder` (sorted, hidden files skipped); an error if there are none."""
    if not folder.is_dir():
        raise InputError(folder, "is not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise InputError(folder, "holds no image files")
    return files
