"""A colour expert's outputs on the images its fold models did not see: what its rendering is
tuned on."""

from dataclasses import dataclass

import numpy as np
import torch

from experts.hue_data import HueDataModule
from experts.hue_net import HueNet, HueOutput
from experts.networks import rebuilt
from experts.refine_stage import load_refiner
from hueroute.errors import InputError
from hueroute.run import GLOBAL, Run, expert_split
from hueroute.run.models import load_model
from hueroute.tensors import to_uint8


@dataclass
class HeldOut:
    """One held-out image at the training size: the expert's output, the filled luma (with the
    run's correction where it keeps one), the lost region and the original."""

    output: HueOutput
    luma: np.ndarray
    mask: np.ndarray
    truth: np.ndarray


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
        settings, network = model.settings, rebuilt(model)
        if not isinstance(network, HueNet):
            raise InputError(f"train.network={settings.network}", "has no rendering to tune")
        _, val_ids = expert_split(clusters, folds, expert, fold)
        picked = spread_pick(val_ids, -(-limit // n_folds))
        data = HueDataModule(run.train_table(), run.cache_dir, [], picked, network, settings)
        data.setup()
        for batch in data.val_dataloader():
            maps, pooled = network.batch_features(batch)
            output = network.describe(maps, pooled, batch["filled"], batch["mask"])
            lumas = to_uint8(batch["filled"])[..., 0]
            truths = to_uint8(batch["rgb"])
            masks = batch["mask"][:, 0].bool().numpy()
            if refine is not None:
                lumas = refine(list(lumas), list(masks))
            for i in range(len(lumas)):
                items.append(HeldOut(output.pick([i]), lumas[i], masks[i], truths[i]))
    return items
