"""The neighbour prior of a trained colour expert against two other ways of retrieving.

    python benchmarks/neighbours.py RUN

On the test split of RUN's dataset (it needs test_gt/ and sources.csv), each fold model of
the global expert predicts the neighbours' histogram three ways: as the product does (cosine,
top `colour.neighbours`, `colour.neighbour_temperature`); with the temperature that scores
best when each training original is predicted from the others of other photos (leave one
photo out); and through a linear projection of the memory keys trained for that same
leave-one-photo-out correlation. It prints each way's C a fold model, of the fold average,
and of the mixed target (the run's weights).
"""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from hueroute.detect import detect_lost_region
from hueroute.experts.colour.classes import normalised_histogram
from hueroute.experts.colour.net import HueNet
from hueroute.experts.colour.output import HueOutput, target_histogram
from hueroute.experts.registry import rebuilt
from hueroute.images import read_gray, read_rgb
from hueroute.run import GLOBAL, Run, expert_split, render_settings
from hueroute.run.models import load_model

TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 0.5)
PROJECTION_RANK, PROJECTION_STEPS = 128, 300


def correlation(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    q, p = q - q.mean(-1, keepdim=True), p - p.mean(-1, keepdim=True)
    return (q * p).sum(-1) / (q.norm(dim=-1) * p.norm(dim=-1)).clamp_min(1e-12)


def softmax_prior(similarity: torch.Tensor, hists: torch.Tensor, temperature: float, k: int):
    top, index = similarity.topk(min(k, similarity.shape[1]), dim=1)
    return ((top / temperature).softmax(1)[..., None] * hists[index]).sum(1)


def one_photo_out(keys: torch.Tensor, hists: torch.Tensor, same: torch.Tensor, t: float) -> float:
    similarity = (keys @ keys.T).masked_fill(same, -1e9)
    return correlation(((similarity / t).softmax(1)) @ hists, hists).mean().item()


def projection(
    keys: torch.Tensor, hists: torch.Tensor, same: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """A (features, rank) projection and a temperature, trained for leave-one-photo-out
    correlation of the softmax-weighted histograms."""
    torch.manual_seed(0)
    features = keys.shape[1]
    rank = min(PROJECTION_RANK, features)
    start = torch.eye(features)[:, :rank] + 0.01 * torch.randn(features, rank)
    weight = torch.nn.Parameter(start)
    log_t = torch.nn.Parameter(torch.tensor(float(np.log(0.05))))
    optimizer = torch.optim.Adam([weight, log_t], lr=3e-3, weight_decay=1e-2)
    for _ in range(PROJECTION_STEPS):
        z = F.normalize(keys @ weight, dim=1)
        similarity = ((z @ z.T) / log_t.exp()).masked_fill(same, -1e9)
        loss = -correlation(similarity.softmax(1) @ hists, hists).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weight.detach(), float(log_t.exp())


def fold_outputs(run: Run, network: HueNet, fold: int, grays: list, truth: torch.Tensor) -> dict:
    train_ids, _ = expert_split(
        run.clusters(),
        run.folds(),
        GLOBAL,
        fold,
    )
    sources = pd.read_csv(run.config.data / "sources.csv").set_index("id")["source"]
    photo = pd.factorize(sources.loc[train_ids].to_numpy())[0]
    same = torch.from_numpy(photo[:, None] == photo[None, :])
    keys, hists = network.memory_keys.float(), network.memory_hists.float()
    outputs, queries = [], []
    with torch.no_grad():
        for gray in grays:
            image = torch.tensor(gray, dtype=torch.float32)[None, None] / 255
            mask = torch.tensor(detect_lost_region(gray), dtype=torch.float32)[None, None]
            outputs.append(network(image, mask))
            filled = network.fill_input(image, mask)
            queries.append(network.memory_key(*network.encode(filled), filled, mask))
    output = HueOutput(
        *(torch.cat([getattr(o, f) for o in outputs]) for f in HueOutput.__dataclass_fields__)
    )
    queries = torch.cat(queries)
    scores = {t: one_photo_out(keys, hists, same, t) for t in TEMPERATURES}
    best = max(scores, key=scores.get)
    weight, learned_t = projection(keys, hists, same)
    learned = F.normalize(queries @ weight, dim=1) @ F.normalize(keys @ weight, dim=1).T
    ways = {
        "the product": output,
        "one-photo-out temperature": replace(
            output,
            neighbours=softmax_prior(queries @ keys.T, hists, best, network.settings.neighbours),
        ),
        "learned projection": replace(
            output, neighbours=softmax_prior(learned, hists, learned_t, len(keys))
        ),
    }
    print(f"fold {fold}: temperature {best} one photo out; the projection's {learned_t:.3f}")
    for name, way in ways.items():
        c = correlation(way.neighbours.float(), truth).mean().item()
        print(f"fold {fold}: {name:28s} neighbours {c:.4f}")
    return ways


def main() -> None:
    run = Run.open(Path(sys.argv[1]))
    data = run.config.data
    test = pd.read_csv(data / "test.csv", dtype={"id": str})
    grays = [read_gray(data / "test_input" / f"{i}.png") for i in test["id"]]
    truth = torch.tensor(
        np.stack(
            [normalised_histogram(read_rgb(data / "test_gt" / f"{i}.png")) for i in test["id"]]
        )
    ).float()
    settings = render_settings(run, load_model(run.model_pt(GLOBAL, 0)).settings)
    per_fold = []
    for fold in range(run.config.folds.n_folds):
        network = rebuilt(load_model(run.model_pt(GLOBAL, fold)))
        per_fold.append(fold_outputs(run, network, fold, grays, truth))
    print(f"fold average, {len(grays)} test images of {run.root}:")
    for index, name in enumerate(per_fold[0]):
        ways = [list(fold.values())[index] for fold in per_fold]
        neighbours = torch.stack([w.neighbours.float() for w in ways]).mean(0)
        target = torch.stack([target_histogram(w, settings.colour) for w in ways]).mean(0)
        print(
            f"{name:28s} neighbours "
            f"{correlation(neighbours, truth).mean():.4f}  mixed target "
            f"{correlation(target, truth).mean():.4f}"
        )


if __name__ == "__main__":
    main()
