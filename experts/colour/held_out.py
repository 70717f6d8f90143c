"""A colour expert's outputs on the images its fold models did not see: what its rendering is
tuned on."""

from dataclasses import dataclass, replace

import numpy as np
import torch

from hueroute.config import ColourConfig
from hueroute.errors import InputError
from hueroute.experts.colour.data import HueDataModule
from hueroute.experts.colour.net import neighbour_mix
from hueroute.experts.colour.output import HueOutput
from hueroute.experts.refine.stage import load_refiner
from hueroute.experts.registry import kind_of, rebuilt
from hueroute.run import GLOBAL, Run, expert_split
from hueroute.run.models import load_model
from hueroute.tensors import to_uint8

MOST_NEIGHBOURS = 128  # the most neighbours a rendering may mix


@dataclass
class HeldOut:
    """One held-out image at the training size: the expert's output, the filled luma (with the
    run's correction where it keeps one), the lost region, the original, and the similarities
    and histograms of its nearest training originals (None where the expert keeps none)."""

    output: HueOutput
    luma: np.ndarray
    mask: np.ndarray
    truth: np.ndarray
    nearest: tuple[torch.Tensor, torch.Tensor] | None = None

    def output_for(self, settings: ColourConfig) -> HueOutput:
        """The output with its neighbour prior made by the settings' count and temperature."""
        if self.nearest is None:
            return self.output
        mixed = neighbour_mix(*self.nearest, settings.neighbours, settings.neighbour_temperature)
        return replace(self.output, neighbours=mixed)


def spread_pick(ids: list[str], count: int) -> list[str]:
    """`count` of `ids` spread evenly over the list (all of them when there are fewer)."""
    if len(ids) <= count:
        return ids
    return [ids[i] for i in np.linspace(0, len(ids) - 1, count).round().astype(int)]


@torch.inference_mode()
def held_out_outputs(run: Run, expert: str = GLOBAL, limit: int = 400) -> list[HeldOut]:
    """Up to `limit` held-out images of `expert`, shared evenly between the folds, each
    described by the fold model that did not see it."""
    clusters, folds = run.clusters(), run.folds()
    n_folds = run.config.folds.n_folds
    refine = load_refiner(run, torch.device("cpu"))
    items = []
    for fold in range(n_folds):
        model = load_model(run.model_pt(expert, fold))
        settings = model.settings
        if not kind_of(settings).renders:
            raise InputError(f"train.network={settings.network}", "has no rendering to tune")
        network = rebuilt(model)
        _, val_ids = expert_split(clusters, folds, expert, fold)
        picked = spread_pick(val_ids, -(-limit // n_folds))
        data = HueDataModule(run.train_table(), run.cache_dir, [], picked, network, settings)
        data.setup()
        for batch in data.val_dataloader():
            maps, pooled = network.batch_features(batch)
            output = network.describe(maps, pooled, batch["filled"], batch["mask"])
            remembers = len(network.memory_keys) > 0
            key = network.memory_key(maps, pooled, batch["filled"], batch["mask"])
            similarity, histograms = network.nearest(key, MOST_NEIGHBOURS)
            lumas = to_uint8(batch["filled"])[..., 0]
            truths = to_uint8(batch["rgb"])
            masks = batch["mask"][:, 0].bool().numpy()
            if refine is not None:
                lumas = refine(list(lumas), list(masks))
            for i in range(len(lumas)):
                nearest = (similarity[[i]], histograms[[i]]) if remembers else None
                items.append(HeldOut(output.pick([i]), lumas[i], masks[i], truths[i], nearest))
    return items
