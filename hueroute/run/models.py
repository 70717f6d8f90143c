"""A trained model file, one format for the experts and the fill's correction: the weights and
everything needed to rebuild and feed the network (experts.registry.rebuilt builds an expert,
experts.refine.stage.read_refiner the correction).

model.pt holds what kind of model it is, its training settings (an expert's `train` section,
the correction's `refine` section), the size it was trained at, the preprocessing version and
a digest of the training data and settings beside the weights, so a model is rebuilt as it
was trained, whatever config.yaml says later.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import torch
from pydantic import ValidationError

from hueroute.config import RefineConfig, Section, TrainConfig
from hueroute.errors import InputError
from hueroute.files import atomic_path
from hueroute.preprocess import PREPROCESSING

FORMAT = 3  # 1: the experts' files alone; 2: the correction's own, before they shared one
KINDS: dict[type[Section], str] = {TrainConfig: "expert", RefineConfig: "correction"}
REDO = {
    "expert": "retrain it (hueroute train RUN --expert EXPERT --fold K --force)",
    "correction": "redo it (hueroute refine --force RUN)",
}

Settings = TypeVar("Settings", TrainConfig, RefineConfig)


@dataclass(frozen=True)
class SavedModel(Generic[Settings]):
    settings: Settings
    weights: dict[str, torch.Tensor]
    trained_on: str  # digest of the training pairs, their ids and the settings
    image_size: int  # the px it was trained at


def training_digest(settings: Section, data_key: str, train_ids: list[str]) -> str:
    """Names what a model learnt from: its settings, the stored pairs and the ids it saw."""
    digest = hashlib.sha256(settings.model_dump_json().encode())
    digest.update(data_key.encode())
    digest.update(json.dumps(sorted(train_ids)).encode())
    return digest.hexdigest()


def save_model(path: Path, model: SavedModel) -> None:
    record = {
        "format": FORMAT,
        "kind": KINDS[type(model.settings)],
        "preprocessing": PREPROCESSING,
        "settings": model.settings.model_dump(mode="json"),
        "image_size": model.image_size,
        "trained_on": model.trained_on,
        "weights": model.weights,
    }
    with atomic_path(path) as target:
        torch.save(record, target)


def load_model(path: Path, settings_type: type[Settings] = TrainConfig) -> SavedModel[Settings]:
    """The model of kind `settings_type` in `path`, or a clear error when it cannot be used as
    it was trained."""
    kind = KINDS[settings_type]
    redo = REDO[kind]
    if not path.is_file():
        first = "hueroute train" if kind == "expert" else "hueroute refine"
        raise InputError(path, f"missing: run `{first}` first")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(path, f"is not a readable model file ({error}): {redo}") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT or "kind" not in record:
        found = record.get("format") if isinstance(record, dict) else None
        raise InputError(
            path,
            f"does not record how it was trained as this hueroute reads it (format {found}, "
            f"not {FORMAT}: an older file): {redo}",
        )
    if record["kind"] != kind:
        raise InputError(path, f"holds a model of kind {record['kind']}, not {kind}: {redo}")
    if record["preprocessing"] != PREPROCESSING:
        raise InputError(
            path,
            f"was trained on inputs prepared by version {record['preprocessing']} of the "
            f"preprocessing, this hueroute prepares them by version {PREPROCESSING}: {redo}",
        )
    try:
        settings = settings_type.model_validate(record["settings"])
    except ValidationError as error:
        raise InputError(path, f"records settings this hueroute cannot read: {redo}") from error
    return SavedModel(settings, record["weights"], record["trained_on"], record["image_size"])
