"""Build a dataset in the competition's layout from any folder of colour photos."""

import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from hueroute.degrade import MIN_BOX, degrade, random_degradation
from hueroute.errors import InputError
from hueroute.files import list_images
from hueroute.images import png_bytes, read_rgb
from hueroute.progress import console, track

MIN_PHOTO_SIDE = MIN_BOX  # a photo smaller than the competition's smallest box is refused


@dataclass(frozen=True)
class Job:
    """One image to write: which photo, which copy, which split, under which id."""

    source: Path
    copy: int
    split: str
    id: str
    seed: int


def square(path: Path, size: int) -> np.ndarray:
    """Centre-crop a photo to a square and resize it to `size` px, as RGB."""
    image = Image.fromarray(read_rgb(path))
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def photo_problem(path: Path) -> str | None:
    """Why a photo cannot make pairs (unreadable, or under MIN_PHOTO_SIDE), else None."""
    try:
        height, width = read_rgb(path).shape[:2]
    except InputError as error:
        return error.problem
    if min(height, width) < MIN_PHOTO_SIDE:
        return f"is {width} x {height} px, under the {MIN_PHOTO_SIDE} px a photo needs"
    return None


def usable_photos(photos: Path, skip_bad: bool) -> list[Path]:
    """Every photo under `photos`, each checked first: an error listing every bad one and why,
    or with `skip_bad` a warning and the rest."""
    sources = list_images(photos, recursive=True)
    problems = {path: photo_problem(path) for path in track(sources, "checking photos")}
    bad = {path: problem for path, problem in problems.items() if problem}
    if not bad:
        return sources
    listing = "; ".join(f"{path.relative_to(photos)} {problem}" for path, problem in bad.items())
    if not skip_bad or len(bad) == len(sources):
        hint = "" if skip_bad else " (--skip-bad leaves them out)"
        problem = f"{len(bad)} of {len(sources)} photos are unusable{hint}: {listing}"
        raise InputError(photos, problem)
    console.print(f"skipping {len(bad)} of {len(sources)} photos: {listing}", highlight=False)
    return [path for path in sources if path not in bad]


def plan(photos: list[Path], copies: int, test_fraction: float, seed: int) -> list[Job]:
    """Split by source photo (no photo on both sides), then number every copy."""
    order = np.random.default_rng(seed).permutation(len(photos))
    n_test = round(test_fraction * len(photos))
    if test_fraction > 0 and len(photos) > 1:
        n_test = min(max(n_test, 1), len(photos) - 1)
    test_photos = {int(i) for i in order[:n_test]}
    jobs: list[Job] = []
    counters = {"train": 0, "test": 0}
    for index, photo in enumerate(photos):
        split = "test" if index in test_photos else "train"
        for copy in range(copies):
            number = counters[split]
            counters[split] += 1
            image_seed = int(np.random.SeedSequence([seed, index, copy]).generate_state(1)[0])
            jobs.append(Job(photo, copy, split, f"{split.upper()}_{number:05d}", image_seed))
    return jobs


def write_job(job: Job, rgb: np.ndarray, out: Path) -> dict:
    """Degrade one square photo and write its files; return its rows for the tables."""
    degradation = random_degradation(*rgb.shape[:2], seed=job.seed)
    name = f"{job.id}.png"
    files = {"input": degrade(rgb, degradation), "gt": rgb}
    if job.split == "test":
        files["mask"] = degradation.mask.astype(np.uint8) * 255
    for kind, array in files.items():
        (out / f"{job.split}_{kind}" / name).write_bytes(png_bytes(array))
    y0, x0, box_h, box_w = degradation.box
    return {
        "id": job.id,
        "split": job.split,
        "copy": job.copy,
        "level": degradation.level,
        "box": f"{y0} {x0} {box_h} {box_w}",
    }


def write_tables(out: Path, rows: list[dict], photos_root: Path, jobs: list[Job]) -> None:
    sources = pd.DataFrame(rows)
    sources.insert(2, "source", [job.source.relative_to(photos_root).as_posix() for job in jobs])
    sources.to_csv(out / "sources.csv", index=False)
    for split in ("train", "test"):
        ids = sources.loc[sources["split"] == split, "id"]
        table = pd.DataFrame({"id": ids, "input_path": [f"./{split}_input/{i}.png" for i in ids]})
        if split == "train":
            table["gt_path"] = [f"./train_gt/{i}.png" for i in ids]
        table.to_csv(out / f"{split}.csv", index=False)


def make_dataset(
    photos: Path,
    out: Path,
    size: int = 512,
    copies: int = 1,
    test_fraction: float = 0.2,
    seed: int = 0,
    force: bool = False,
    skip_bad: bool = False,
) -> pd.DataFrame:
    """Write `out` in the competition layout (plus test_gt/ and test_mask/); return sources.csv.
    Every photo is checked first (`skip_bad` leaves the unusable ones out)."""
    if size < 32:
        raise InputError(out, f"--size {size} is too small (at least 32 px)")
    if copies < 1:
        raise InputError(out, f"--copies {copies} must be at least 1")
    if not 0 <= test_fraction < 1:
        raise InputError(out, f"--test-fraction {test_fraction} must be in [0, 1)")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(out, "already exists and is not empty (use --force to replace it)")
    sources = usable_photos(photos, skip_bad)
    jobs = plan(sources, copies, test_fraction, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for folder in ("train_input", "train_gt", "test_input", "test_gt", "test_mask"):
            (staging / folder).mkdir()
        load = lru_cache(maxsize=1)(partial(square, size=size))  # copies of a photo are adjacent
        rows = [write_job(job, load(job.source), staging) for job in track(jobs, "making dataset")]
        write_tables(staging, rows, photos, jobs)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return pd.read_csv(out / "sources.csv")
