"""Train one expert on one fold in the run folder: resumable, skipped when done, scored."""

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from hueroute.config import TrainConfig
from hueroute.errors import InputError
from hueroute.experts.expert import TrainingData
from hueroute.experts.module import ScoredModule, fit_resuming, make_trainer, quiet_lightning
from hueroute.experts.registry import build_network, kind_of
from hueroute.experts.store import store_key
from hueroute.files import write_text_atomic
from hueroute.image_score import score_image
from hueroute.images import write_png
from hueroute.progress import console
from hueroute.run import GLOBAL, Run, expert_names, expert_split, tuned_settings
from hueroute.run.models import SavedModel, load_model, save_model, training_digest
from hueroute.tensors import to_uint8, training_device


@dataclass
class Fitted:
    """What one training of an expert on a fold leaves: the module and where it is kept."""

    module: ScoredModule
    data: L.LightningDataModule
    val_ids: list[str]
    trainer: L.Trainer
    best: ModelCheckpoint
    seconds: float


def checked_split(
    run: Run, expert: str, fold: int, settings: TrainConfig
) -> tuple[list[str], list[str]]:
    """`expert`'s training and held-out ids on `fold`, once the run can train it so."""
    frozen = settings.network == "colour" and not settings.colour.train_encoder
    if frozen and settings.encoder_weights is None:
        raise InputError(
            "train.encoder_weights=null",
            "a frozen encoder must be pretrained (imagenet), or set colour.train_encoder",
        )
    config = run.config
    clusters = run.clusters()
    folds = run.folds()
    if expert not in expert_names(clusters):
        raise InputError(expert, f"is not an expert of this run: {expert_names(clusters)}")
    if not 0 <= fold < config.folds.n_folds:
        raise InputError(f"fold {fold}", f"the run has folds 0..{config.folds.n_folds - 1}")
    start = run.model_pt(GLOBAL, fold)
    if expert != GLOBAL and not start.exists():
        raise InputError(start, f"missing: {expert} fine-tunes the global expert of fold {fold}")
    return expert_split(clusters, folds, expert, fold)


class SayWhereItStarts(Callback):
    """Print whether a fold starts afresh or resumes, and after how many epochs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_train_start(self, trainer: L.Trainer, *args: Any) -> None:
        if not trainer.is_global_zero:  # one line for all data-parallel processes
            return
        if trainer.ckpt_path:
            console.print(f"resuming {self.name} after {trainer.current_epoch} finished epochs")
        else:
            console.print(f"starting {self.name}")


class ValidateAtMaxSteps(Callback):
    """End training at `max_steps` by `should_stop`, so that a last, partial epoch is still
    validated (Lightning skips validation when max_steps cuts an epoch short)."""

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


def fit_expert(
    run: Run,
    expert: str,
    fold: int,
    settings: TrainConfig,
    folder: Path,
    callbacks: Sequence[Callback] = (),
) -> Fitted:
    """Train `expert` on `fold` with checkpoints in `folder`, resuming from its last.ckpt."""
    train_ids, val_ids = checked_split(run, expert, fold, settings)
    quiet_lightning()
    L.seed_everything(run.config.seed + fold, verbose=False)
    network = build_network(settings)
    if expert != GLOBAL:
        network.load_state_dict(load_model(run.model_pt(GLOBAL, fold)).weights)
    module, data = training_parts(run, expert, network, settings, train_ids, val_ids)
    gpu = training_device(settings.accelerator).type == "cuda"
    if gpu:
        module = module.to(memory_format=torch.channels_last)
    best = ModelCheckpoint(dirpath=folder, filename="best", monitor="val_score", mode="max")
    last = folder / "last.ckpt"
    every_epoch = ModelCheckpoint(  # last.ckpt after every epoch, improved or not
        dirpath=folder, filename=last.stem, every_n_epochs=1, enable_version_counter=False
    )
    trainer = make_trainer(
        folder,
        settings.accelerator,
        "16-mixed" if gpu else "32-true",
        [
            best,
            every_epoch,
            SayWhereItStarts(f"{expert} fold {fold}"),
            EarlyStopping(monitor="val_score", mode="max", patience=settings.patience),
            ValidateAtMaxSteps(),
            *callbacks,
        ],
        devices=settings.devices,
        strategy=settings.strategy,
        max_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        max_time=timedelta(minutes=settings.max_minutes) if settings.max_minutes else None,
        logger=CSVLogger(folder, name="log"),  # a resumed run logs to a new version_N
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    started = time.perf_counter()
    fit_resuming(
        trainer,
        module,
        data,
        last,
        f"{expert} fold {fold}",
        lambda: f"{trainer.current_epoch} finished epochs",
    )
    return Fitted(module, data, val_ids, trainer, best, time.perf_counter() - started)


def training_parts(
    run: Run,
    expert: str,
    network: nn.Module,
    settings: TrainConfig,
    train_ids: list[str],
    val_ids: list[str],
) -> tuple[ScoredModule, L.LightningDataModule]:
    """The LightningModule and data module that train `network`, as its kind trains."""
    split = TrainingData(run.train_table(), run.cache_dir, train_ids, val_ids, expert == GLOBAL)
    return kind_of(settings).training(network, settings, split)


def prepare_fold(run: Run, expert: str, fold: int, settings: TrainConfig) -> None:
    """Decode `expert`'s pairs of `fold` and cache what its kind caches of them (a frozen
    encoder's features), as its first fit would: a time limit can then count that work."""
    train_ids, val_ids = checked_split(run, expert, fold, settings)
    network = build_network(settings)
    training_parts(run, expert, network, settings, train_ids, val_ids)[1].setup()


def train_expert(
    run: Run, expert: str, fold: int, settings: TrainConfig | None = None, force: bool = False
) -> dict | None:
    """Train `expert` on `fold` (by default with its tuned settings); None when done already."""
    folder = run.fold_dir(expert, fold)
    if run.fold_metrics_json(expert, fold).exists() and not force:
        return None
    settings = settings or tuned_settings(run, expert)[0]
    checked_split(run, expert, fold, settings)  # bad input fails before a finished fold goes
    if force and folder.exists():
        shutil.rmtree(folder)
    fitted = fit_expert(run, expert, fold, settings, folder)
    best = torch.load(fitted.best.best_model_path, map_location="cpu", weights_only=True)
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    state = best["state_dict"]
    weights = {k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")}
    data_key = store_key(run.train_table(), settings.image_size)
    trained_on = training_digest(settings, data_key, fitted.data.train_ids)
    save_model(
        run.model_pt(expert, fold), SavedModel(settings, weights, trained_on, settings.image_size)
    )
    fitted.module.network.load_state_dict(weights)
    fitted.data.setup("validate")  # in this process: data-parallel fits run in others
    oof = out_of_fold(fitted.module, fitted.data, fitted.val_ids, folder / "oof")
    metrics = {
        "expert": expert,
        "fold": fold,
        "train_images": len(fitted.data.train_ids),
        "val_images": len(fitted.val_ids),
        "epochs": last["epoch"] + 1,  # the checkpoint's: the fit may have run elsewhere
        "steps": last["global_step"],
        "seconds": round(fitted.seconds, 1),
        **{k: round(float(oof[k].mean()), 5) for k in ("score", "ssim", "masked_ssim", "hist")},
    }
    write_text_atomic(folder / "oof.csv", oof.to_csv(index=False))
    write_text_atomic(run.fold_metrics_json(expert, fold), json.dumps(metrics, indent=2) + "\n")
    if not settings.keep_checkpoints:  # the fold is done: only an unfinished one resumes
        for checkpoint in folder.glob("*.ckpt"):
            checkpoint.unlink()
    write_manifest(run)
    return metrics


@torch.inference_mode()
def out_of_fold(
    module: ScoredModule, data: L.LightningDataModule, ids: list[str], out: Path
) -> pd.DataFrame:
    """Predict and score the fold's held-out images (`ids`, in the order of the data module's
    validation loader); the PNGs go to `out`."""
    module.eval()
    rows = []
    names = iter(ids)
    for batch in data.val_dataloader():
        preds = module.restore_batch(batch)
        truths = to_uint8(batch["rgb"])
        for pred, truth, mask in zip(
            preds, truths, batch["mask"][:, 0].bool().numpy(), strict=True
        ):
            name = next(names)
            write_png(out / f"{name}.png", pred)
            rows.append({"id": name, **score_image(truth, pred, mask).as_dict()})
    return pd.DataFrame(rows)


def write_manifest(run: Run) -> dict:
    """experts/manifest.json: every finished expert and fold with its scores, from disk."""
    manifest: dict[str, dict[str, dict]] = {}
    for path in sorted(run.experts_dir.glob("*/fold*/metrics.json")):
        metrics = json.loads(path.read_text())
        entry = {k: metrics[k] for k in ("score", "ssim", "masked_ssim", "hist", "val_images")}
        model = run.model_pt(metrics["expert"], metrics["fold"])
        entry["model"] = str(model.relative_to(run.root))
        manifest.setdefault(metrics["expert"], {})[str(metrics["fold"])] = entry
    write_text_atomic(run.manifest_json, json.dumps(manifest, indent=2) + "\n")
    return manifest
