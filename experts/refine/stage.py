"""The refine stage: learn a correction of the lost region's fill on the run's training
originals, measure it on the pairs of one held-out fold, and keep it only where it beats the
fill alone there (M higher, S not lower)."""

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from matplotlib.figure import Figure

from hueroute.config import RefineConfig
from hueroute.errors import InputError
from hueroute.experts.module import fit_resuming, make_trainer, quiet_lightning
from hueroute.experts.refine.data import RefineDataModule
from hueroute.experts.refine.module import FillRefiner, StopWhenDone
from hueroute.experts.refine.net import Correction, build_correction, refine_lumas
from hueroute.experts.store import store_key
from hueroute.files import save_figure, write_text_atomic
from hueroute.image_score import masked_ssim, ssim
from hueroute.images import luma
from hueroute.run import Run
from hueroute.run.models import SavedModel, load_model, save_model, training_digest
from hueroute.tensors import native_bf16, pick_device, training_device
from hueroute.threads import thread_map

EXAMPLES = 4  # held-out regions in the picture
MARGIN = 8  # px of known pixels shown around each region
CHECKPOINT_STEPS = 100  # how often an unfinished training keeps its last.ckpt
FILL_SHARE = 0.5  # of a time limit, the most that filling training regions may take


@dataclass(frozen=True)
class Refiner:
    """A fill correction: the network, the size it learnt at and whether it predicts averaged
    over mirror images."""

    network: Correction
    size: int
    mirrors: bool

    def __call__(self, lumas: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
        return refine_lumas(self.network, lumas, masks, self.size, self.mirrors)


def gray_scores(truth: np.ndarray, gray: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """S and M of `gray` (H, W) shown as a gray RGB image, against the original `truth`."""
    rgb = np.repeat(gray[..., None], 3, -1)
    return ssim(truth, rgb), masked_ssim(truth, rgb, mask)


def held_out_scores(
    originals: np.ndarray, masks: list[np.ndarray], lumas: dict[str, list[np.ndarray]]
) -> dict[str, dict]:
    """Mean S and M of each named list of filled lumas against the held-out originals."""
    scores = {}
    for name, filled in lumas.items():
        pairs = thread_map(
            lambda i, filled=filled: gray_scores(originals[i], filled[i], masks[i]),
            range(len(masks)),
        )
        s, m = np.mean(pairs, axis=0)
        scores[name] = {"S": round(float(s), 5), "M": round(float(m), 5)}
    return scores


def plot_examples(
    out: Path, originals: np.ndarray, masks: list[np.ndarray], fill: list, refined: list
) -> None:
    """A few held-out lost regions, cropped around the region: the original's luma, the fill
    and the corrected fill."""
    rows = np.linspace(0, len(masks) - 1, min(EXAMPLES, len(masks))).round().astype(int)
    figure = Figure(figsize=(6.6, 2.2 * len(rows)), layout="constrained")
    grid = figure.subplots(len(rows), 3, squeeze=False)
    for line, row in zip(grid, rows, strict=True):
        ys, xs = np.nonzero(masks[row])
        window = np.s_[
            max(ys.min() - MARGIN, 0) : ys.max() + MARGIN + 1,
            max(xs.min() - MARGIN, 0) : xs.max() + MARGIN + 1,
        ]
        for axes, image in zip(line, (luma(originals[row]), fill[row], refined[row]), strict=True):
            axes.imshow(image[window], cmap="gray", vmin=0, vmax=255)
            axes.contour(masks[row][window], levels=[0.5], colors="red", linewidths=0.6)
            axes.axis("off")
    for axes, title in zip(grid[0], ("original", "fill", "corrected"), strict=True):
        axes.set_title(title, fontsize=10)
    save_figure(figure, out)


def refine_run(run: Run, force: bool = False, seconds: float | None = None) -> dict | None:
    """Train, measure and keep (or not) the run's fill correction, within `seconds` when
    given (its fills included: the training regions fill rounds within half of it); None when
    done already."""
    if run.refine_metrics_json.exists() and not force:
        return None
    config = run.config
    settings, train = config.refine, config.train
    if force and run.refine_dir.exists():
        shutil.rmtree(run.refine_dir)
    reason = unused_because(run)
    if reason:
        metrics = {"kept": False, "reason": reason}
        write_text_atomic(run.refine_metrics_json, json.dumps(metrics, indent=2) + "\n")
        return metrics
    folds = run.folds()
    held_out = folds["fold"] == settings.holdout_fold
    train_ids, val_ids = list(folds["id"][~held_out]), list(folds["id"][held_out])
    quiet_lightning()
    L.seed_everything(config.seed, verbose=False)
    network = build_correction(settings)
    data = RefineDataModule(
        run.train_table(),
        run.cache_dir,
        train_ids,
        val_ids,
        train.image_size,
        train.fill,
        settings,
        fill_seconds=None if seconds is None else seconds * FILL_SHARE,
    )
    started = time.monotonic()
    data.setup()
    left = None if seconds is None else max(seconds - (time.monotonic() - started), 1.0)
    module = FillRefiner(network, settings, left)
    trainer = fit(run, module, data)
    data_key = store_key(run.train_table(), train.image_size)
    trained_on = training_digest(settings, data_key, train_ids)
    save_refiner(run, network, train.image_size, trained_on)
    device = pick_device(config.predict.device, "predict.device")
    refiner = Refiner(network.to(device).eval(), train.image_size, settings.mirrors)
    originals = data.held_out["originals"]
    masks, fills = list(data.held_out["masks"][:, 0]), list(data.held_out["fills"][:, 0])
    refined = refiner(fills, masks)
    scores = held_out_scores(originals, masks, {"fill": fills, "refined": refined})
    plot_examples(run.refine_png, originals, masks, fills, refined)
    gain = scores["refined"]["M"] - scores["fill"]["M"]
    kept = gain > 0 and scores["refined"]["S"] >= scores["fill"]["S"]
    metrics = {
        "kept": kept,
        "reason": "it raises M on the held-out fold without lowering S"
        if kept
        else "it does not raise M on the held-out fold without lowering S",
        "held_out_fold": settings.holdout_fold,
        "held_out_images": len(val_ids),
        "train_images": len(train_ids),
        "regions": data.train["masks"].shape[1],  # a pair's: fewer than asked when time ran short
        "steps": trainer.global_step,
        "precision": trainer.precision,
        "seconds": round(time.monotonic() - started, 1),
        "M_gain": round(gain, 5),
        **scores,
    }
    write_text_atomic(run.refine_metrics_json, json.dumps(metrics, indent=2) + "\n")
    for checkpoint in run.refine_dir.glob("*.ckpt"):
        checkpoint.unlink()
    return metrics


def unused_because(run: Run) -> str | None:
    """Why the run has no use for a fill correction, if it has none."""
    if not run.config.refine.enabled:
        return "refine.enabled is false"
    if run.config.train.network != "colour":
        return f"train.network={run.config.train.network} predicts the lost region's luma itself"
    return None


def training_precision(setting: str, accelerator: str) -> str:
    """Lightning's precision for `refine.precision`, auto resolved for the device that
    `train.accelerator` trains on."""
    if setting != "auto":
        return setting
    return "bf16-mixed" if native_bf16(training_device(accelerator)) else "32-true"


def fit(run: Run, module: FillRefiner, data: RefineDataModule) -> L.Trainer:
    """Train `module`, resuming from the refine folder's last.ckpt."""
    folder = run.refine_dir
    last = folder / "last.ckpt"
    accelerator = run.config.train.accelerator
    trainer = make_trainer(
        folder,
        accelerator,
        training_precision(run.config.refine.precision, accelerator),
        [
            ModelCheckpoint(
                dirpath=folder,
                filename=last.stem,
                every_n_train_steps=CHECKPOINT_STEPS,
                enable_version_counter=False,
            ),
            StopWhenDone(),
        ],
        devices=1,
        max_epochs=1,
        max_steps=module.settings.steps,
        logger=False,
        limit_val_batches=0,
    )

    def saved() -> str:  # what last.ckpt holds: it is written every CHECKPOINT_STEPS steps
        return f"step {trainer.global_step // CHECKPOINT_STEPS * CHECKPOINT_STEPS}"

    fit_resuming(trainer, module, data, last, "refine", saved)
    return trainer


def save_refiner(run: Run, network: Correction, size: int, trained_on: str) -> None:
    weights = {k: v.cpu() for k, v in network.state_dict().items()}
    save_model(run.refine_model_pt, SavedModel(run.config.refine, weights, trained_on, size))


def load_refiner(run: Run, device: torch.device) -> Refiner | None:
    """The run's fill correction where the refine stage kept one, else None."""
    marker = run.refine_metrics_json
    if not marker.is_file() or not json.loads(marker.read_text()).get("kept"):
        return None
    return read_refiner(run.refine_model_pt, device)


def read_refiner(path: Path, device: torch.device) -> Refiner:
    """The fill correction saved in `path`, kept or not."""
    model = load_model(path, RefineConfig)
    network = build_correction(model.settings, pretrained=False)
    try:
        network.load_state_dict(model.weights)
    except RuntimeError as error:
        raise InputError(
            path, f"does not fit its own settings ({error}): redo it with refine --force"
        ) from error
    return Refiner(network.to(device).eval(), model.image_size, model.settings.mirrors)
