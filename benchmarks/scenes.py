"""Scene figures of a finished run on a dataset made with `make-dataset --views N`.

    python benchmarks/scenes.py RUN

Prints which fold grouping the cluster stage chose (and the similarities it chose by), the
scene clusters' adjusted Rand index against the true scenes (sources.csv; each noise image a
scene of its own), the sibling top-1 (the share of test inputs whose nearest training input
is a view of the same photo) by the router embedding and by the memory key of the global
expert's fold-0 model (what its neighbour prior retrieves by), evaluate's test rows, and the sibling
oracle: the global expert's fold-averaged outputs with the neighbour prior replaced by the
mean histogram of the test view's sibling views, rendered as the run renders.
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import adjusted_rand_score

from hueroute.detect import detect_lost_region
from hueroute.ensemble.input_embeddings import run_embeddings
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.experts.colour.classes import normalised_histogram
from hueroute.experts.colour.output import colourise
from hueroute.experts.registry import rebuilt
from hueroute.fills import fill_many
from hueroute.image_score import score_image
from hueroute.images import read_gray, read_rgb
from hueroute.preprocess import network_input
from hueroute.run import GLOBAL, NOISE, Run, expert_split
from hueroute.run.models import load_model


def scene_ari(run: Run, sources: pd.DataFrame) -> float:
    clusters = run.clusters().merge(sources, on="id")
    found = clusters["scene_x"].to_numpy()
    found = np.where(found == NOISE, -1 - np.arange(len(found)), found)  # noise: one each
    return adjusted_rand_score(clusters["scene_y"], found)


def sibling_top1(run: Run, train: pd.DataFrame, test: pd.DataFrame) -> float:
    vectors = run_embeddings(
        run,
        {
            "train_input": [Path(p) for p in train["input_path"]],
            "test_input": [Path(p) for p in test["input_path"]],
        },
    )
    nearest = (vectors["test_input"] @ vectors["train_input"].T).argmax(1)
    return float((train["scene"].to_numpy()[nearest] == test["scene"].to_numpy()).mean())


@torch.inference_mode()
def memory_sibling_top1(run: Run, train: pd.DataFrame, test: pd.DataFrame) -> float:
    model = load_model(run.model_pt(GLOBAL, 0))
    network = rebuilt(model)
    remembered, _ = expert_split(run.clusters(), run.folds(), GLOBAL, 0)  # the memory's rows
    scenes = train.set_index("id").loc[remembered, "scene"].to_numpy()
    found = []
    for row in test.itertuples():
        gray = read_gray(row.input_path)
        small, region = network_input(gray, detect_lost_region(gray), model.settings.image_size)
        image = torch.from_numpy(small)[None, None].float() / 255
        mask = torch.from_numpy(region)[None, None].float()
        filled = network.fill_input(image, mask)
        key = network.memory_key(*network.encode(filled), filled, mask)
        found.append(scenes[int((key @ network.memory_keys.float().T).argmax())] == row.scene)
    return float(np.mean(found))


@torch.inference_mode()
def sibling_oracle(run: Run, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """Mean S, M, C and score of the test views that have siblings in training."""
    predictor = RoutedPredictor(run)
    size = predictor.size
    parts = []
    for row in test.itertuples():
        siblings = train.loc[train["scene"] == row.scene, "gt_path"]
        if siblings.empty:
            continue
        histogram = np.mean([normalised_histogram(read_rgb(p)) for p in siblings], 0)
        gray, truth = read_gray(row.input_path), read_rgb(row.gt_path)
        mask = detect_lost_region(gray)
        small, region = network_input(gray, mask, size)
        output = predictor.expert_output(
            GLOBAL,
            torch.from_numpy(small)[None, None].float() / 255,
            torch.from_numpy(region)[None, None].float(),
        )
        output = replace(output, neighbours=torch.tensor(histogram, dtype=torch.float32)[None])
        filled = fill_many([gray], [mask], predictor.fill)
        if predictor.refine is not None:
            filled = predictor.refine(filled, [mask])
        image = colourise(output, filled[0], mask, predictor.colour)
        parts.append(score_image(truth, image, read_gray(row.mask_path) > 0).as_dict())
    return pd.DataFrame(parts).mean().to_dict() | {"images": len(parts)}


def main(root: Path) -> None:
    run = Run.open(root)
    data = run.config.data
    sources = pd.read_csv(data / "sources.csv", dtype={"id": str})
    train = run.train_table().merge(sources[["id", "scene"]], on="id")
    test = pd.read_csv(data / "test.csv", dtype={"id": str}).merge(sources, on="id")
    test["input_path"] = [str(data / p) for p in test["input_path"]]
    test["gt_path"] = [str(data / "test_gt" / f"{i}.png") for i in test["id"]]
    test["mask_path"] = [str(data / "test_mask" / f"{i}.png") for i in test["id"]]

    summary = json.loads(run.cluster_json.read_text())
    print(f"fold grouping: {json.dumps(summary['fold_grouping'])}")
    ari = scene_ari(run, sources)
    print(
        f"scene clusters: {summary['scenes']} ({summary['scene_noise']} noise images), "
        f"ARI against the true scenes {ari:.3f}"
    )
    has_siblings = test["scene"].isin(train["scene"])
    if has_siblings.any():
        top1 = sibling_top1(run, train, test[has_siblings])
        print(f"router embedding's sibling top-1: {top1:.3f} of {has_siblings.sum()} test views")
        top1 = memory_sibling_top1(run, train, test[has_siblings])
        print(f"memory key's sibling top-1: {top1:.3f}")
        oracle = sibling_oracle(run, train, test[has_siblings])
        print("sibling oracle: " + ", ".join(f"{k} {v:.4f}" for k, v in oracle.items()))
    scores = pd.read_csv(run.scores_csv, dtype={"cluster": str})
    print(scores[(scores["split"] == "test") & (scores["cluster"] == "all")].to_string(index=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
