"""Routed ensemble predictions: each expert's fold models averaged, experts blended by weight,
the known luma kept at the input's own size."""

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from clustering.embed import pick_device
from ensemble.blend import Weights
from experts.colour import luma_chroma_to_rgb, rgb_to_chroma, rgb_to_luma
from experts.module import to_uint8
from experts.networks import build_network
from experts.train import fold_dir, load_weights
from hueroute.errors import InputError
from hueroute.run import Run


def shrunk_input(gray: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`gray` and `mask` at the training size, the lost region one flat level as in training."""
    level = int(np.bincount(gray[mask]).argmax()) if mask.any() else 0
    if gray.shape != (size, size):
        gray = np.array(Image.fromarray(gray).resize((size, size), Image.Resampling.LANCZOS))
        mask = np.array(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
    gray = gray.copy()
    gray[mask] = level
    return gray, mask


class RoutedPredictor:
    """Restores gray inputs with the run's experts: the fold models of each expert averaged
    (and mirrored too with `tta`), experts blended by per-image weights."""

    def __init__(self, run: Run, folds: Iterable[int] | None = None) -> None:
        self.run = run
        self.folds = list(range(run.config.folds.n_folds) if folds is None else folds)
        self.size = run.config.train.image_size
        self.tta = run.config.predict.tta
        self.device = pick_device(run.config.predict.device)
        self.loaded: dict[str, list[nn.Module]] = {}

    def models(self, expert: str) -> list[nn.Module]:
        """The fold models of `expert`, loaded once."""
        if expert not in self.loaded:
            settings = self.run.config.train
            networks = []
            for fold in self.folds:
                path = fold_dir(self.run, expert, fold) / "model.pt"
                if not path.is_file():
                    raise InputError(path, "missing: run `hueroute train` first")
                network = build_network(settings.network, settings.encoder, None)
                network.load_state_dict(load_weights(path))
                networks.append(network.to(self.device).eval())
            self.loaded[expert] = networks
        return self.loaded[expert]

    @torch.inference_mode()
    def expert_output(self, expert: str, gray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S): the mean of `expert`'s fold models (and their mirrored views)."""
        outputs = []
        for network in self.models(expert):
            outputs.append(network(gray, mask).float())
            if self.tta:
                mirrored = network(gray.flip(-1), mask.flip(-1)).float()
                outputs.append(mirrored.flip(-1))
        return torch.stack(outputs).mean(0)

    @torch.inference_mode()
    def restore(
        self, grays: list[np.ndarray], masks: list[np.ndarray], blends: dict[str, list[Weights]]
    ) -> dict[str, list[np.ndarray]]:
        """RGB uint8 restorations of each input for each named blend of experts.

        Each expert runs once on the images any blend gives it, whatever the number of blends.
        """
        small = [shrunk_input(g, m, self.size) for g, m in zip(grays, masks, strict=True)]
        gray = torch.from_numpy(np.stack([g for g, _ in small]))[:, None].float() / 255
        mask = torch.from_numpy(np.stack([m for _, m in small]))[:, None].float()
        gray, mask = gray.to(self.device), mask.to(self.device)
        needed = sorted({e for weights in blends.values() for w in weights for e in w})
        outputs = {}
        for expert in needed:
            rows = [i for i in range(len(grays)) if any(expert in b[i] for b in blends.values())]
            predicted = self.expert_output(expert, gray[rows], mask[rows])
            outputs[expert] = dict(zip(rows, predicted, strict=True))
        restored = {}
        for name, weights in blends.items():
            restored[name] = [
                self.full_size(sum(w * outputs[e][i] for e, w in weights[i].items()), g, m)
                for i, (g, m) in enumerate(zip(grays, masks, strict=True))
            ]
        return restored

    def full_size(self, rgb: torch.Tensor, gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The prediction at the input's size: the input's luma outside the lost region, the
        predicted luma inside, the predicted chroma everywhere."""
        shape = gray.shape
        rgb = rgb[None]
        chroma = F.interpolate(rgb_to_chroma(rgb), shape, mode="bilinear", align_corners=False)
        lost = F.interpolate(rgb_to_luma(rgb), shape, mode="bilinear", align_corners=False)
        known = torch.tensor(gray, device=rgb.device)[None, None].float() / 255
        region = torch.tensor(mask, device=rgb.device)[None, None]
        luma = torch.where(region, lost.clamp(0, 1), known)
        return to_uint8(luma_chroma_to_rgb(luma, chroma))[0]
