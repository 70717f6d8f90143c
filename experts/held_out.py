"""A colour expert's outputs on the images its fold models did not see: what its rendering is
tuned on."""

from dataclasses import dataclass

import numpy as np
import torch

from experts.data import GLOBAL, expert_split
from experts.hue_data import HueDataModule
from experts.hue_net import HueNet, HueOutput
from experts.module import to_uint8
from experts.networks import build_network
from experts.train import fold_dir, load_weights, read_run_table, tuned_settings
from hueroute.errors import InputError
from hueroute.run import Run


@dataclass
class HeldOut:
    """One held-out image at the training size: the expert's output, the filled luma, the lost
    region and the original."""

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
    settings = tuned_settings(run, expert)[0]
    clusters = read_run_table(run.clusters_csv, ("id", "cluster"))
    folds = read_run_table(run.folds_csv, ("id", "fold"))
    n_folds = run.config.folds.n_folds
    items = []
    for fold in range(n_folds):
        path = fold_dir(run, expert, fold) / "model.pt"
        if not path.is_file():
            raise InputError(path, f"missing: train {expert} on every fold first")
        network = build_network(settings, pretrained=False)
        if not isinstance(network, HueNet):
            raise InputError(f"train.network={settings.network}", "has no rendering to tune")
        network.load_state_dict(load_weights(path))
        _, val_ids = expert_split(clusters, folds, expert, fold)
        picked = spread_pick(val_ids, -(-limit // n_folds))
        data = HueDataModule(run.train_table(), run.cache_dir, [], picked, network, settings)
        data.setup()
        network.eval()
        for batch in data.val_dataloader():
            maps, pooled = network.batch_features(batch)
            output = network.describe(maps, pooled, batch["filled"], batch["mask"])
            lumas = to_uint8(batch["filled"])[..., 0]
            truths = to_uint8(batch["rgb"])
            masks = batch["mask"][:, 0].bool().numpy()
            for i in range(len(lumas)):
                items.append(HeldOut(output.pick([i]), lumas[i], masks[i], truths[i]))
    return items
