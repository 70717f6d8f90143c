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

MIN_PHOTO_SIDE = MIN_BOX  # a view smaller than the competition's smallest box is refused
VIEWS = (1, 2, 4)  # the whole photo, its halves across the long side, its quadrants
SPLITS = ("scene", "view")


@dataclass(frozen=True)
class Job:
    """One image to write: which photo (scene) and view of it, which copy, which split, under
    which id."""

    source: Path
    scene: int
    view: int
    copy: int
    split: str
    id: str
    seed: int


def view_boxes(width: int, height: int, views: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each of `views` disjoint crops that tile the photo."""
    if views == 1:
        return [(0, 0, width, height)]
    if views == 2 and width >= height:
        return [(0, 0, width // 2, height), (width // 2, 0, width, height)]
    if views == 2:
        return [(0, 0, width, height // 2), (0, height // 2, width, height)]
    x, y = width // 2, height // 2
    return [(0, 0, x, y), (x, 0, width, y), (0, y, x, height), (x, y, width, height)]


def square(path: Path, size: int, views: int = 1, view: int = 0) -> np.ndarray:
    """Centre-crop view `view` of a photo cut into `views` to a square and resize it to
    `size` px, as RGB."""
    image = Image.fromarray(read_rgb(path))
    image = image.crop(view_boxes(image.width, image.height, views)[view])
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def photo_problem(path: Path, views: int = 1) -> str | None:
    """Why a photo cannot make pairs (unreadable, or a view under MIN_PHOTO_SIDE), else None."""
    try:
        height, width = read_rgb(path).shape[:2]
    except InputError as error:
        return error.problem
    sides = [min(r - x, b - y) for x, y, r, b in view_boxes(width, height, views)]
    if min(sides) < MIN_PHOTO_SIDE:
        needs = "a photo needs" if views == 1 else f"each of its {views} views needs"
        return f"is {width} x {height} px, under the {MIN_PHOTO_SIDE} px {needs}"
    return None


def usable_photos(photos: Path, skip_bad: bool, views: int = 1) -> list[Path]:
    """Every photo under `photos`, each checked first: an error listing every bad one and why,
    or with `skip_bad` a warning and the rest."""
    sources = list_images(photos, recursive=True)
    checks = track(sources, "checking photos")
    problems = {path: photo_problem(path, views) for path in checks}
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


def held_out_views(
    n_photos: int, views: int, test_fraction: float, split: str, seed: int
) -> dict[int, set[int]]:
    """The views each photo gives the test split: all of them for a share of the photos
    (`scene`), or one of them, the others training its siblings (`view`)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_photos)
    n_test = round(test_fraction * n_photos)
    if test_fraction > 0 and n_photos > 1:
        n_test = min(max(n_test, 1), n_photos - 1)
    if split == "scene" or views == 1:
        return {int(i): set(range(views)) for i in order[:n_test]}
    picked = np.random.default_rng([seed, views]).integers(views, size=n_test)
    return {int(i): {int(view)} for i, view in zip(order[:n_test], picked, strict=True)}


def plan(
    photos: list[Path],
    copies: int,
    test_fraction: float,
    seed: int,
    views: int = 1,
    split: str = "scene",
) -> list[Job]:
    """Cut each photo into views, split them (no photo on both sides with `scene`), then
    number every copy."""
    held_out = held_out_views(len(photos), views, test_fraction, split, seed)
    jobs: list[Job] = []
    counters = {"train": 0, "test": 0}
    for index, photo in enumerate(photos):
        for view in range(views):
            side = "test" if view in held_out.get(index, ()) else "train"
            for copy in range(copies):
                number = counters[side]
                counters[side] += 1
                entropy = [seed, index, copy] + ([view] if views > 1 else [])
                image_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
                name = f"{side.upper()}_{number:05d}"
                jobs.append(Job(photo, index, view, copy, side, name, image_seed))
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
    sources.insert(3, "scene", [job.scene for job in jobs])
    sources.insert(4, "view", [job.view for job in jobs])
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
    views: int = 1,
    split: str = "scene",
) -> pd.DataFrame:
    """Write `out` in the competition layout (plus test_gt/ and test_mask/); return sources.csv.
    Every photo is checked first (`skip_bad` leaves the unusable ones out). Each photo is a
    scene cut into `views` disjoint views, each made into pairs as a photo of its own; `split`
    holds out whole scenes (`scene`) or one view of a share of the scenes (`view`)."""
    if size < 32:
        raise InputError(out, f"--size {size} is too small (at least 32 px)")
    if copies < 1:
        raise InputError(out, f"--copies {copies} must be at least 1")
    if views not in VIEWS:
        raise InputError(out, f"--views {views} must be one of {', '.join(map(str, VIEWS))}")
    if split not in SPLITS:
        raise InputError(out, f"--split {split} must be one of {', '.join(SPLITS)}")
    if not 0 <= test_fraction < 1:
        raise InputError(out, f"--test-fraction {test_fraction} must be in [0, 1)")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(out, "already exists and is not empty (use --force to replace it)")
    sources = usable_photos(photos, skip_bad, views)
    jobs = plan(sources, copies, test_fraction, seed, views, split)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for folder in ("train_input", "train_gt", "test_input", "test_gt", "test_mask"):
            (staging / folder).mkdir()
        load = lru_cache(maxsize=1)(partial(square, size=size, views=views))  # copies adjacent
        work = track(jobs, "making dataset")
        rows = [write_job(job, load(job.source, view=job.view), staging) for job in work]
        write_tables(staging, rows, photos, jobs)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return pd.read_csv(out / "sources.csv")
