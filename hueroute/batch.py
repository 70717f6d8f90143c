"""Turn a folder of gray inputs into a folder of PNG outputs, resumably."""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from hueroute.errors import InputError
from hueroute.files import list_images
from hueroute.images import read_gray, write_png
from hueroute.progress import track


def map_folder(
    inputs: Path,
    out: Path,
    restore: Callable[[np.ndarray], np.ndarray],
    description: str,
    force: bool = False,
) -> tuple[int, int]:
    """Write restore(input) as OUT/<stem>.png for each input; skip finished files unless `force`.

    Returns (written, skipped). Every file is written atomically, so an interrupted run
    resumes where it stopped.
    """
    files = list_images(inputs)
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        raise InputError(inputs, "holds two images with the same name but different suffixes")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    todo = [f for f in files if force or not (out / f"{f.stem}.png").exists()]
    for path in track(todo, description):
        write_png(out / f"{path.stem}.png", restore(read_gray(path)))
    return len(todo), len(files) - len(todo)
