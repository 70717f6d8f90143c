"""The submit stage: routed predictions of every test.csv row, zipped flat, then checked."""

import hashlib
import json
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hueroute.clustering.embed_files import SHARD_SIZE
from hueroute.detect import detect_lost_region
from hueroute.ensemble.blend import Weights, blend_weights
from hueroute.ensemble.input_embeddings import DecodedEmbedder
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.ensemble.router import ClusterRouter
from hueroute.errors import InputError
from hueroute.files import atomic_path, write_text_atomic
from hueroute.images import image_shape, read_gray, write_png
from hueroute.layout import TEST_COLUMNS, read_table
from hueroute.prediction_files import prediction_reader
from hueroute.progress import track
from hueroute.run import GLOBAL, RENDER_STUDY, Run

ROUTING_CSV = ".routing.csv"  # each prediction's expert weights, beside the PNGs


@dataclass
class Submission:
    zip: Path
    images: int
    predicted: int  # the rest were finished before and kept
    seconds: float
    experts: dict[str, float]  # each expert's share of the total blend weight


def output_names(table: pd.DataFrame, csv: Path) -> list[str]:
    """Each row's file name in the zip: its input's name, which must be a PNG and unique."""
    names = [Path(path).name for path in table["input_path"]]
    for row, name in enumerate(names, start=2):
        if Path(name).suffix.lower() != ".png":
            raise InputError(csv, f"line {row}: input {name!r} is not a .png; the zip holds PNGs")
    seen: dict[str, int] = {}
    for row, name in enumerate(names, start=2):
        if name in seen:
            raise InputError(csv, f"lines {seen[name]} and {row} both name {name!r}")
        seen[name] = row
    return names


def chosen_experts(run: Run) -> set[str]:
    """The cluster experts that evaluate found to beat the global expert on their held-out
    images; none before evaluate has run."""
    choice = run.choice()
    return set(choice["experts"]) if choice else set()


def file_stamp(path: Path, run: Run) -> str:
    """A model file's place, size and modification time (retraining rewrites it); any other
    file's place and content (some stages rewrite the same settings)."""
    if path.suffix == ".pt":
        stat = path.stat()
        return f"{path.relative_to(run.root)}:{stat.st_size}:{stat.st_mtime_ns}"
    return f"{path.relative_to(run.root)}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def models_identity(run: Run, experts: set[str]) -> str:
    """A digest of everything a prediction depends on besides its input: the fold models of the
    global expert and of `experts` (which record their own training settings), the settings
    read at prediction, the tuned rendering, router and choice. A model retrained, deleted or
    re-tuned gives a new digest (a missing model is a clear error); an edit of config.yaml's
    training settings does not, since models are rebuilt as they were trained."""
    config = run.config
    read_now = [config.route, config.predict, config.search.use_best_params]
    stamps = [json.dumps([str(part) for part in read_now])]
    for expert in [GLOBAL, *sorted(experts)]:
        for fold in range(config.folds.n_folds):
            model = run.model_pt(expert, fold)
            if not model.is_file():
                raise InputError(model, "missing: run `hueroute train` first")
            stamps.append(file_stamp(model, run))
    others = [
        run.best_params_json(RENDER_STUDY),
        run.choice_json,
        run.router_dir / "router.json",
        run.router_dir / "model.txt",
    ]
    stamps += [file_stamp(path, run) for path in others if path.is_file()]
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()


@dataclass
class Input:
    """A test input read once: its file's sha256, its size and, where it is to be restored,
    its pixels."""

    digest: str
    shape: tuple[int, int]
    gray: np.ndarray | None


def read_input(path: Path, restore: Callable[[str], bool]) -> Input:
    """`path` read once: hashed, then decoded where `restore(digest)` says it is needed (else
    only its header is read, for its size)."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(path, f"cannot be read ({error})") from error
    digest = hashlib.sha256(content).hexdigest()
    if restore(digest):
        gray = read_gray(path, content)
        return Input(digest, gray.shape, gray)
    return Input(digest, image_shape(path, content), None)


class RoutedRestorer:
    """Routes test inputs (embedded, then blended by the router's probabilities) and restores
    them into `out`, remembering each one's routing; loaded at the first input it restores."""

    def __init__(self, run: Run, out: Path) -> None:
        self.router = ClusterRouter.load(run.router_dir)
        self.embed = DecodedEmbedder(run)
        self.predictor = RoutedPredictor(run)
        self.route = run.config.route
        self.allowed = chosen_experts(run)
        self.batch_size = run.config.predict.batch_size
        self.out = out
        self.routing: list[dict[str, str]] = []
        self.blends: list[Weights] = []

    def restore(self, names: list[str], inputs: list[Input]) -> Iterator[int]:
        """Restore `inputs` batch by batch, yielding how many each batch finished."""
        digests = [item.digest for item in inputs]
        grays = [item.gray for item in inputs]
        blends = blend_weights(
            self.router.predict_proba(self.embed(digests, grays)),
            self.router.classes_,
            self.route.top_k,
            self.route.min_probability,
            self.allowed,
        )
        for start in range(0, len(inputs), self.batch_size):
            part = slice(start, start + self.batch_size)
            masks = [detect_lost_region(gray) for gray in grays[part]]
            restored = self.predictor.restore(grays[part], masks, {"routed": blends[part]})
            for name, image in zip(names[part], restored["routed"], strict=True):
                write_png(self.out / name, image)
            yield len(masks)
        self.blends += blends
        self.routing += [
            {"name": name, "input": digest, "weights": json.dumps(blend)}
            for name, digest, blend in zip(names, digests, blends, strict=True)
        ]

    def finish(self) -> dict[str, float]:
        """Keep the routing beside the PNGs (with that of earlier, interrupted calls); each
        expert's share of the blend weight."""
        routing = pd.DataFrame(self.routing, columns=["name", "input", "weights"])
        kept = self.out / ROUTING_CSV
        if kept.exists():
            routing = pd.concat([pd.read_csv(kept), routing]).drop_duplicates("name", keep="last")
        write_text_atomic(kept, routing.to_csv(index=False))
        shares: dict[str, float] = {}
        for blend in self.blends:
            for expert, weight in blend.items():
                shares[expert] = shares.get(expert, 0.0) + weight / len(self.blends)
        return shares


class MissingRestorations:
    """Restores into `folder` each input whose kept PNG `keep(name, digest)` refuses, reading
    every input once, a chunk at a time. Iterating yields once per input done; then `shapes`
    holds every input's size and `restored` how many were restored."""

    def __init__(
        self,
        run: Run,
        names: list[str],
        paths: list[Path],
        folder: Path,
        keep: Callable[[str, str], bool],
    ) -> None:
        self.run, self.names, self.paths, self.folder, self.keep = run, names, paths, folder, keep
        self.shapes: list[tuple[int, int]] = []
        self.restored = 0
        self.restorer: RoutedRestorer | None = None  # loaded at the first input to restore

    def __iter__(self) -> Iterator[None]:
        for start in range(0, len(self.paths), SHARD_SIZE):
            chunk = range(start, min(start + SHARD_SIZE, len(self.paths)))
            inputs = [
                read_input(self.paths[i], lambda digest, i=i: not self.keep(self.names[i], digest))
                for i in chunk
            ]
            self.shapes += [item.shape for item in inputs]
            todo = [i for i in chunk if inputs[i - start].gray is not None]
            yield from [None] * (len(chunk) - len(todo))
            if todo:
                self.restorer = self.restorer or RoutedRestorer(self.run, self.folder)
                batches = self.restorer.restore(
                    [self.names[i] for i in todo], [inputs[i - start] for i in todo]
                )
                for finished in batches:
                    self.restored += finished
                    yield from [None] * finished

    def shares(self) -> dict[str, float]:
        """Each expert's share of the blend weight of the inputs restored."""
        return self.restorer.finish() if self.restorer else {}


def write_zip(folder: Path, names: list[str], out: Path) -> None:
    """The PNGs of `names`, flat (PNG is compressed already: stored as they are)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.write(folder / name, arcname=name)


def check_zip(out: Path, names: list[str], shapes: list[tuple[int, int]]) -> None:
    """Open the zip again: flat, exactly `names`, each image of its input's size `shapes`."""
    read = prediction_reader(out, names)
    with zipfile.ZipFile(out) as archive:
        if len(archive.namelist()) != len(names):
            raise InputError(out, f"holds {len(archive.namelist())} entries, {len(names)} expected")
    for name, shape in track(list(zip(names, shapes, strict=True)), "checking the zip"):
        image = read(name)
        if image.shape[:2] != shape or image.shape[2] != 3:
            raise InputError(f"{out}:{name}", f"is {image.shape}, its input is {shape}")


def submit_run(run: Run, test_csv: Path | None, out: Path | None, force: bool) -> Submission:
    csv = test_csv or run.config.data / "test.csv"
    out = out or run.submission_zip
    table = read_table(csv, TEST_COLUMNS)
    names = output_names(table, csv)
    where = hashlib.sha256(str(csv.resolve()).encode()).hexdigest()[:8]
    made_by = models_identity(run, chosen_experts(run))[:12]
    folder = run.predictions_dir / f"{csv.stem}-{where}-{made_by}"  # per test.csv and models
    for stale in run.predictions_dir.glob(f"{csv.stem}-{where}-*"):
        if stale != folder:  # made by models or settings that have changed since
            shutil.rmtree(stale)
    routing = folder / ROUTING_CSV  # which input each kept PNG was restored from
    made = pd.read_csv(routing).set_index("name")["input"] if routing.is_file() else {}

    def keep(name: str, digest: str) -> bool:
        return not force and (folder / name).exists() and made.get(name) == digest

    inputs = [Path(p) for p in table["input_path"]]
    missing = MissingRestorations(run, names, inputs, folder, keep)
    started = time.perf_counter()
    for _ in track(missing, f"restoring {len(names)} images", total=len(names)):
        pass
    shares = missing.shares()
    seconds = time.perf_counter() - started
    with atomic_path(out) as target:  # `out` appears only once the zip passed its check
        write_zip(folder, names, target)
        check_zip(target, names, missing.shapes)
    return Submission(out, len(names), missing.restored, seconds, shares)
