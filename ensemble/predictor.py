"""Routed ensemble predictions: each expert's fold models averaged, experts blended by weight
(colour experts in distribution space, before rendering), the known luma kept at the input's
own size."""

from collections.abc import Collection, Iterable

import numpy as np
import torch

from hueroute.config import ColourConfig, TrainConfig
from hueroute.ensemble.blend import Weights
from hueroute.errors import InputError
from hueroute.experts.expert import Expert, Output, weighted_sum
from hueroute.experts.refine.stage import load_refiner
from hueroute.experts.registry import rebuilt
from hueroute.fills import fill_many
from hueroute.preprocess import network_input
from hueroute.run import GLOBAL, Run, render_settings
from hueroute.run.models import load_model
from hueroute.tensors import pick_device
from hueroute.threads import thread_map


class RoutedPredictor:
    """Restores gray inputs with the run's experts: the fold models of each expert averaged
    (and mirrored too with `tta`), experts blended by per-image weights."""

    def __init__(self, run: Run, folds: Iterable[int] | None = None) -> None:
        self.run = run
        self.folds = list(range(run.config.folds.n_folds) if folds is None else folds)
        self.tta = run.config.predict.tta
        self.device = pick_device(run.config.predict.device, "predict.device")
        self.loaded: dict[str, list[Expert]] = {}
        self.colour: ColourConfig | None = None
        trained = self.load(GLOBAL)[0]  # every expert's size, fill and rendering are global's
        self.size, self.fill = trained.image_size, trained.fill
        self.colour = render_settings(run, trained).colour
        for network in self.loaded[GLOBAL]:
            self.use_rendering(network)
        self.refine = load_refiner(run, self.device)  # None where the fill is used as it is

    def use_rendering(self, network: Expert) -> None:
        """Predict as the run renders (the render study tunes how many neighbours a colour
        expert's prior mixes and how sharply)."""
        if self.colour is not None:
            network.use_rendering(self.colour)

    def load(self, expert: str) -> list[TrainConfig]:
        """Load `expert`'s fold models as they were trained; the settings each recorded."""
        models = [load_model(self.run.model_pt(expert, fold)) for fold in self.folds]
        for fold, model in zip(self.folds, models, strict=True):
            size = model.settings.image_size
            if expert != GLOBAL and size != self.size:
                raise InputError(
                    self.run.model_pt(expert, fold),
                    f"was trained at {size} px, the global expert at {self.size} px: experts "
                    "blended together must share a size; retrain it with --force",
                )
        self.loaded[expert] = [rebuilt(model, self.device) for model in models]
        for network in self.loaded[expert]:
            self.use_rendering(network)
        return [model.settings for model in models]

    def models(self, expert: str) -> list[Expert]:
        """The fold models of `expert`, loaded once."""
        if expert not in self.loaded:
            self.load(expert)
        return self.loaded[expert]

    @torch.inference_mode()
    def expert_output(self, expert: str, gray: torch.Tensor, mask: torch.Tensor) -> Output:
        """The mean output of `expert`'s fold models (and of their mirrored views)."""
        outputs = []
        for network in self.models(expert):
            outputs.append(network.predict(gray, mask))
            if self.tta:
                outputs.append(network.predict(gray.flip(-1), mask.flip(-1)).mirrored())
        return weighted_sum(outputs, [1 / len(outputs)] * len(outputs))

    @torch.inference_mode()
    def restore(
        self,
        grays: list[np.ndarray],
        masks: list[np.ndarray],
        blends: dict[str, list[Weights]],
        plain: Collection[str] = (),
    ) -> dict[str, list[np.ndarray]]:
        """RGB uint8 restorations of each input for each named blend of experts; the blends
        named in `plain` with a colour expert's priors reduced to the global mean.

        Each expert runs once on the images any blend gives it, whatever the number of blends.
        """
        small = [network_input(g, m, self.size) for g, m in zip(grays, masks, strict=True)]
        gray = torch.from_numpy(np.stack([g for g, _ in small]))[:, None].float() / 255
        mask = torch.from_numpy(np.stack([m for _, m in small]))[:, None].float()
        gray, mask = gray.to(self.device), mask.to(self.device)
        needed = sorted({e for weights in blends.values() for w in weights for e in w})
        outputs: dict[str, dict[int, Output]] = {}
        for expert in needed:
            rows = [i for i in range(len(grays)) if any(expert in b[i] for b in blends.values())]
            predicted = self.expert_output(expert, gray[rows], mask[rows])
            outputs[expert] = {i: predicted.pick([j]) for j, i in enumerate(rows)}
        colour = any(o.needs_fill for per in outputs.values() for o in per.values())
        filled = fill_many(grays, masks, self.fill) if colour else grays
        if colour and self.refine is not None:
            filled = self.refine(filled, masks)
        jobs = [(name, i) for name in blends for i in range(len(grays))]

        def image(job: tuple[str, int]) -> np.ndarray:
            name, i = job
            experts, shares = zip(*blends[name][i].items(), strict=True)
            with torch.inference_mode():  # each thread has its own mode
                blended = weighted_sum([outputs[e][i] for e in experts], list(shares))
                if name in plain:
                    blended = blended.plain()
                return blended.full_size(grays[i], masks[i], filled[i], self.colour)

        images = iter(thread_map(image, jobs))
        return {name: [next(images) for _ in grays] for name in blends}
