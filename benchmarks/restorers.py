"""Restorer training: throughput and memory per network, and seed against joint at equal steps.

    python benchmarks/restorers.py ../shared/photos /tmp/hueroute-bench [--steps 150]

Prints, in order:
- data: training items a second from the memory-mapped pair store (what `hueroute train`
  reads) against a plain loop that decodes the PNG pair with PIL for every item;
- throughput: training images a second and peak memory of each network at 256 and 512 px,
  with batches from the store and from the plain PIL loop;
- quality: the `seed` preset's two U-Nets against `joint` on a pretrained EfficientNet-Lite0,
  each trained for the same number of optimizer steps (batch 8, 256 px) as the global expert
  of fold 0, scored on that fold's held-out images (S, M, C, score), beside the OpenCV
  baseline on the same images.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from hueroute.baseline import baseline_restore
from hueroute.config import LossConfig, TrainConfig
from hueroute.dataset import make_dataset
from hueroute.experts.losses import RestorationLoss
from hueroute.experts.registry import build_network
from hueroute.experts.store import open_store
from hueroute.experts.unet.data import PairDataset
from hueroute.image_score import score_image
from hueroute.images import luma, read_gray, read_rgb
from hueroute.layout import TRAIN_COLUMNS, read_table

NETWORKS = {
    "two-stage (ResNet-34)": ("two-stage", "resnet34", None),
    "joint (EfficientNet-Lite0)": ("joint", "tu-tf_efficientnet_lite0", "imagenet"),
}


def dataset(photos: Path, work: Path, size: int) -> Path:
    out = work / f"data{size}-experts"
    if not (out / "sources.csv").exists():
        make_dataset(photos, out, size=size, copies=2, test_fraction=0.2, seed=0)
    return out


def plain_item(input_path: str, gt_path: str, size: int) -> dict[str, torch.Tensor]:
    """What a loop without the store does for each item: decode both PNGs with PIL."""
    from PIL import Image

    gray, rgb = read_gray(input_path), read_rgb(gt_path)
    mask = gray != luma(rgb)
    if rgb.shape[0] != size:
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS))
        gray = np.asarray(Image.fromarray(gray).resize((size, size), Image.Resampling.NEAREST))
        mask = np.asarray(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
    return {
        "gray": torch.from_numpy(gray.copy())[None].float() / 255,
        "mask": torch.from_numpy(mask.copy())[None].float(),
        "rgb": torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255,
    }


def batches(source: str, data: Path, size: int, batch: int, work: Path):
    """Endless training batches, from the store or from PNGs decoded with PIL."""
    table = read_table(data / "train.csv", TRAIN_COLUMNS)
    if source == "store":
        store = open_store(table, size, work / "store")
        items = PairDataset(store, np.arange(len(table)), train=True, fresh=0.5)
        get = items.__getitem__
    else:
        rows = list(table.itertuples(index=False))

        def get(i):
            return plain_item(rows[i].input_path, rows[i].gt_path, size)

    order = np.random.default_rng(0).permutation(len(table))
    start = 0
    while True:
        picked = [get(int(i)) for i in np.take(order, range(start, start + batch), mode="wrap")]
        start += batch
        yield {key: torch.stack([p[key] for p in picked]) for key in ("gray", "mask", "rgb")}


def data_rate(data: Path, size: int, work: Path) -> None:
    for source in ("store", "plain"):
        stream = batches(source, data, size, 8, work)
        next(stream)
        start = time.perf_counter()
        for _ in range(10):
            next(stream)
        rate = 80 / (time.perf_counter() - start)
        print(f"data: {source} at {size} px: {rate:.0f} items/s")


def step_rate(name: str, source: str, size: int, data: Path, work: Path, steps: int) -> None:
    """Runs in its own process, so peak memory is this network's alone."""
    network, encoder, weights = NETWORKS[name]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = TrainConfig(network=network, encoder=encoder, encoder_weights=weights)
    model = build_network(settings).to(device)
    loss = RestorationLoss(LossConfig()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    stream = batches(source, data, size, 8, work)
    timings = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        batch = {k: v.to(device) for k, v in next(stream).items()}
        with torch.autocast(device, enabled=device == "cuda"):
            pred = model(batch["gray"], batch["mask"])
        total, _ = loss(pred.float(), batch["rgb"])
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    rate = 8 / np.mean(timings[1:])
    memory = "GPU" if device == "cuda" else "resident"
    print(
        json.dumps(
            {"network": name, "source": source, "rate": rate, "peak": peak, "memory": memory}
        )
    )


def throughput(data256: Path, data512: Path, work: Path) -> None:
    for size, data in ((256, data256), (512, data512)):
        for name in NETWORKS:
            for source in ("store", "plain"):
                steps = 30 if torch.cuda.is_available() else 3 if size == 512 else 5
                command = [sys.executable, __file__, "--step-rate", name, source, str(size),
                           str(data), str(work), str(steps)]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(
                    f"throughput: {name} at {size} px, batches from {source}: "
                    f"{result['rate']:.2f} images/s, "
                    f"peak {result['memory']} memory {result['peak']:.0f} MiB"
                )


def trained_run(data: Path, work: Path, preset: str, steps: int, overrides: dict) -> dict:
    run = work / f"run-{preset}-{steps}"
    hueroute = [sys.executable, "-m", "hueroute"]
    if not (run / "config.yaml").exists():
        subprocess.run([*hueroute, "init", run, "--data", data, "--preset", preset], check=True)
        config = yaml.safe_load((run / "config.yaml").read_text())
        for section, values in overrides.items():
            config[section].update(values)
        (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run([*hueroute, "cluster", run], check=True)
    subprocess.run([*hueroute, "train", run, "--expert", "global", "--fold", "0"], check=True)
    return json.loads((run / "experts/global/fold0/metrics.json").read_text())


def baseline_on(data: Path, run: Path) -> dict:
    oof = pd.read_csv(run / "experts/global/fold0/oof.csv")
    table = read_table(data / "train.csv", TRAIN_COLUMNS).set_index("id")
    scores = []
    for name in oof["id"]:
        gray, rgb = read_gray(table.loc[name, "input_path"]), read_rgb(table.loc[name, "gt_path"])
        mask = gray != luma(rgb)
        scores.append(score_image(rgb, baseline_restore(gray, mask), mask).as_dict())
    return pd.DataFrame(scores).mean().to_dict()


def quality(data: Path, work: Path, steps: int) -> None:
    common = {"batch_size": 8, "image_size": 256, "max_steps": steps, "epochs": 1000,
              "patience": 1000, "num_workers": 2}  # fmt: skip
    runs = {
        "seed (two U-Nets, ResNet-34 from scratch)": trained_run(
            data, work, "seed", steps, {"train": {**common, "encoder_weights": None},
                                        "embed": {"model": "efficientnet-lite"}}),
        "joint (EfficientNet-Lite0, ImageNet)": trained_run(
            data, work, "default", steps, {"train": common}),
    }  # fmt: skip
    reference = baseline_on(data, work / f"run-seed-{steps}")
    for name, m in {**runs, "OpenCV baseline": reference}.items():
        print(
            f"quality: {name}: S {m['ssim']:.4f} M {m['masked_ssim']:.4f} C {m['hist']:.4f} "
            f"score {m['score']:.4f}"
            + (f" ({m['steps']} steps, {m['seconds']} s)" if "steps" in m else "")
        )


def main() -> None:
    if sys.argv[1:2] == ["--step-rate"]:
        name, source, size, data, work, steps = sys.argv[2:]
        step_rate(name, source, int(size), Path(data), Path(work), int(steps))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--only", default="data,throughput,quality")
    args = parser.parse_args()
    parts = args.only.split(",")
    data256 = dataset(args.photos, args.work, 256)
    if "data" in parts or "throughput" in parts:
        data512 = dataset(args.photos, args.work, 512)
    if "data" in parts:
        data_rate(data256, 256, args.work)
        data_rate(data512, 512, args.work)
    if "throughput" in parts:
        throughput(data256, data512, args.work)
    if "quality" in parts:
        quality(data256, args.work, args.steps)


if __name__ == "__main__":
    main()
