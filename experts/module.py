"""What every kind's training shares: the Trainer, fitting that resumes and says what Ctrl-C
keeps, and the LightningModule's validation by the exact score, optimiser and schedule."""

import logging
import signal
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, RichProgressBar
from torch import nn

from hueroute.config import TrainConfig
from hueroute.errors import Interrupted
from hueroute.image_score import score_image
from hueroute.tensors import to_uint8
from hueroute.threads import thread_map


def make_trainer(
    folder: Path, accelerator: str, precision: str, callbacks: Sequence[Callback], **options: Any
) -> L.Trainer:
    """The Trainer that every kind fits with: its files in `folder`, a progress bar and no model
    summary; `options` are the kind's own (its steps, epochs, devices, logger)."""
    return L.Trainer(
        accelerator=accelerator,
        precision=precision,
        callbacks=[RichProgressBar(), *callbacks],
        enable_model_summary=False,
        default_root_dir=folder,
        **options,
    )


def fit_resuming(
    trainer: L.Trainer,
    module: L.LightningModule,
    data: L.LightningDataModule,
    last: Path,
    name: str,
    progress: Callable[[], str],
) -> None:
    """`trainer.fit` from the checkpoint `last` where there is one. Ctrl-C raises
    Interrupted, which says what `last` keeps (`progress()`, such as "3 finished epochs")."""
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, data, ckpt_path=last if last.exists() else None)
    except SystemExit as stop:  # how Lightning ends a fit after Ctrl-C
        if not trainer.interrupted:
            raise
        kept = f"{progress()} in {last}" if last.exists() else "nothing"
        raise Interrupted(
            f"interrupted: {name} keeps {kept}; run the same command again to resume"
        ) from stop
    finally:  # Lightning ignores Ctrl-C once it has seen one; the process's later work may not
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, on_ctrl_c)


def quiet_lightning() -> None:
    """Keep Lightning's banners and tips out of the output; its progress bar stays."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)")
    # a frozen encoder stays in eval mode while its head trains
    warnings.filterwarnings("ignore", message="Found .* module\\(s\\) in eval mode")
    # mixed precision skips the steps whose gradients overflow, the schedule steps anyway
    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)`")
    # the fill's correction draws its crops at random: a resumed epoch need not replay them
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before")


class ScoredModule(L.LightningModule):
    """Validation by the exact score of `restore_batch`; AdamW on the trainable parameters with
    the schedule of `settings`."""

    def __init__(self, network: nn.Module, settings: TrainConfig) -> None:
        super().__init__()
        self.network = network
        self.settings = settings
        self.scores: list[tuple[float, float, float, float]] = []

    def restore_batch(self, batch: dict) -> np.ndarray:
        """(N, H, W, 3) uint8 restorations of a validation batch."""
        raise NotImplementedError

    def validation_step(self, batch: dict, index: int) -> None:
        preds = self.restore_batch(batch)
        truths = to_uint8(batch["rgb"])
        masks = batch["mask"][:, 0].bool().cpu().numpy()
        jobs = zip(truths, preds, masks, strict=True)
        for part in thread_map(lambda job: score_image(*job), jobs):
            self.scores.append((part.score, part.ssim, part.masked_ssim, part.hist))

    def on_validation_epoch_end(self) -> None:
        score, s, m, c = np.mean(self.scores, axis=0) if self.scores else (0.0,) * 4
        self.scores.clear()
        scores = {"val_score": score, "val_S": s, "val_M": m, "val_C": c}
        self.log_dict(scores, prog_bar=True, sync_dist=True)  # the mean of data-parallel ranks

    def configure_optimizers(self) -> dict:
        settings = self.settings
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
        if settings.scheduler == "constant":
            return {"optimizer": optimizer}
        if settings.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="max",
                factor=settings.plateau_factor,
                patience=settings.plateau_patience,
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_score"},
            }
        steps = int(self.trainer.estimated_stepping_batches)
        if settings.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(steps, 1), eta_min=settings.lr * settings.cosine_min_ratio
            )
        else:
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=settings.lr,
                total_steps=max(steps, 8),
                pct_start=settings.onecycle_pct_start,
                div_factor=settings.onecycle_div_factor,
            )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
