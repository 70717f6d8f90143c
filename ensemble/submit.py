"""The submit stage: routed predictions of every test.csv row, zipped flat, then checked."""

import hashlib
import json
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hueroute.detect import detect_lost_region
from hueroute.ensemble.blend import blend_weights
from hueroute.ensemble.input_embeddings import run_embeddings
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.ensemble.router import ClusterRouter
from hueroute.errors import InputError
from hueroute.files import atomic_path, write_text_atomic
from hueroute.images import read_gray, write_png
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


def predict_rows(
    run: Run, table: pd.DataFrame, names: list[str], digests: list[str], out: Path
) -> dict[str, float]:
    """Route and restore `table`'s inputs (whose contents have the sha256 `digests`) into
    `out`; returns each expert's blend share."""
    router = ClusterRouter.load(run.router_dir)
    inputs = [Path(p) for p in table["input_path"]]
    embeddings = run_embeddings(run, {"test_input": inputs})["test_input"]
    settings = run.config.route
    blends = blend_weights(
        router.predict_proba(embeddings),
        router.classes_,
        settings.top_k,
        settings.min_probability,
        chosen_experts(run),
    )
    predictor = RoutedPredictor(run)
    size = run.config.predict.batch_size
    starts = range(0, len(inputs), size)
    for start in track(starts, f"restoring {len(inputs)} images", total=len(starts)):
        chunk = range(start, min(start + size, len(inputs)))
        grays = [read_gray(inputs[i]) for i in chunk]
        masks = [detect_lost_region(gray) for gray in grays]
        restored = predictor.restore(grays, masks, {"routed": [blends[i] for i in chunk]})
        for i, image in zip(chunk, restored["routed"], strict=True):
            write_png(out / names[i], image)
    routing = pd.DataFrame(
        {
            "name": names,
            "input": digests,
            "weights": [json.dumps(b) for b in blends],
        }
    )
    kept = out / ROUTING_CSV  # of earlier, interrupted calls
    if kept.exists():
        routing = pd.concat([pd.read_csv(kept), routing]).drop_duplicates("name", keep="last")
    write_text_atomic(kept, routing.to_csv(index=False))
    shares: dict[str, float] = {}
    for blend in blends:
        for expert, weight in blend.items():
            shares[expert] = shares.get(expert, 0.0) + weight / len(blends)
    return shares


def write_zip(folder: Path, names: list[str], out: Path) -> None:
    """The PNGs of `names`, flat (PNG is compressed already: stored as they are)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.write(folder / name, arcname=name)


def check_zip(out: Path, names: list[str], inputs: list[Path]) -> None:
    """Open the zip again: flat, exactly `names`, each image the size of its input."""
    read = prediction_reader(out, names)
    with zipfile.ZipFile(out) as archive:
        if len(archive.namelist()) != len(names):
            raise InputError(out, f"holds {len(archive.namelist())} entries, {len(names)} expected")
    for name, source in track(list(zip(names, inputs, strict=True)), "checking the zip"):
        image, gray = read(name), read_gray(source)
        if image.shape[:2] != gray.shape or image.shape[2] != 3:
            raise InputError(f"{out}:{name}", f"is {image.shape}, its input is {gray.shape}")


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
    inputs = [Path(p) for p in table["input_path"]]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in inputs]
    todo = np.array(
        [
            force or not (folder / name).exists() or made.get(name) != digest
            for name, digest in zip(names, digests, strict=True)
        ]
    )
    started = time.perf_counter()
    shares = (
        predict_rows(
            run,
            table[todo].reset_index(drop=True),
            list(np.array(names)[todo]),
            list(np.array(digests)[todo]),
            folder,
        )
        if todo.any()
        else {}
    )
    seconds = time.perf_counter() - started
    with atomic_path(out) as target:  # `out` appears only once the zip passed its check
        write_zip(folder, names, target)
        check_zip(target, names, inputs)
    return Submission(out, len(names), int(todo.sum()), seconds, shares)
