"""Safe names and atomic writes: no output is ever half-written or outside its folder."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hueroute.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def resolve_input(base: Path, given: str, source: str | Path) -> Path:
    """An input file's path: an absolute one as given (the user's choice), a relative one
    resolved against `base` and refused if it escapes `base`."""
    if not given or "\0" in given:
        raise InputError(source, f"path {given!r} is not a file path")
    if Path(given).is_absolute():
        return Path(given).resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base.resolve()):
        raise InputError(source, f"path {given!r} escapes the folder {base.resolve()}")
    return path


def created_mode() -> int:
    """The permissions a new file gets from the process's umask (0o644 under umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
        tmp_path.chmod(created_mode())  # a temporary file is private; the output is not
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def save_figure(figure: "Figure", path: Path, dpi: int = 100) -> None:
    """A matplotlib figure as the PNG `path`, written atomically."""
    with atomic_path(path) as target:
        figure.savefig(target, format="png", dpi=dpi)


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
