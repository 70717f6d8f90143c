"""A trained model file: the weights and everything needed to rebuild and feed the network
(experts.registry.rebuilt builds it).

model.pt holds the training settings (network, encoder, image size, colour settings), the
preprocessing version and a digest of the training data and settings beside the weights, so
a model is rebuilt as it was trained, whatever config.yaml says later.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError

from hueroute.config import TrainConfig
from hueroute.errors import InputError
from hueroute.files import atomic_path
from hueroute.preprocess import PREPROCESSING

FORMAT = 1
RETRAIN = "retrain it (hueroute train RUN --expert EXPERT --fold K --force)"


@dataclass(frozen=True)
class SavedModel:
    settings: TrainConfig
    weights: dict[str, torch.Tensor]
    trained_on: str  # digest of the training pairs, their ids and the settings


def training_digest(settings: TrainConfig, data_key: str, train_ids: list[str]) -> str:
    """Names what a model learnt from: its settings, the stored pairs and the ids it saw."""
    digest = hashlib.sha256(settings.model_dump_json().encode())
    digest.update(data_key.encode())
    digest.update(json.dumps(sorted(train_ids)).encode())
    return digest.hexdigest()


def save_model(path: Path, model: SavedModel) -> None:
    record = {
        "format": FORMAT,
        "preprocessing": PREPROCESSING,
        "settings": model.settings.model_dump(mode="json"),
        "trained_on": model.trained_on,
        "weights": model.weights,
    }
    with atomic_path(path) as target:
        torch.save(record, target)


def load_model(path: Path) -> SavedModel:
    """The model in `path`, or a clear error when it cannot be used as it was trained."""
    if not path.is_file():
        raise InputError(path, "missing: run `hueroute train` first")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(path, f"is not a readable model file ({error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(path, f"does not record how it was trained (an older file): {RETRAIN}")
    if record["preprocessing"] != PREPROCESSING:
        raise InputError(
            path,
            f"was trained on inputs prepared by version {record['preprocessing']} of the "
            f"preprocessing, this hueroute prepares them by version {PREPROCESSING}: {RETRAIN}",
        )
    try:
        settings = TrainConfig.model_validate(record["settings"])
    except ValidationError as error:
        raise InputError(path, f"records settings this hueroute cannot read: {RETRAIN}") from error
    return SavedModel(settings, record["weights"], record["trained_on"])
