"""Clustering at scale, embedding throughput and memory, clusters against photo origins, cache.

    python benchmarks/clusters.py ../shared/photos /tmp/hueroute-bench [--clip FOLDER]

Prints, in order:
- scale: UMAP + HDBSCAN on 30,000 synthetic 768-d embeddings, numba's first-call
  compilation timed apart on a small set first;
- throughput: images a second of each embedder on this machine's device, with CLIP
  architectures at random weights where no CLIP weights are given (speed does not depend
  on the weights);
- memory: peak resident memory while embedding 64 and 320 images (flat = images streamed);
- origins: adjusted Rand index of the clusters of a 256 px dataset's train_gt against the
  origin column of the photos' LIST.tsv, per embedder (CLIP only with --clip);
- cache: embedding the same dataset a second time against the first.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from hueroute.clustering.cache import EmbeddingCache
from hueroute.clustering.clusterer import NOISE, EmbeddingClusterer
from hueroute.clustering.embed_files import embed_files
from hueroute.clustering.embedders import ClipEmbedder, EfficientNetLiteEmbedder, Embedder
from hueroute.dataset import make_dataset
from hueroute.tensors import pick_device

# CLIP vision towers at the sizes people use: ViT-B/32 at 224 px, StreetCLIP's ViT-L/14 at 336
CLIP_SHAPES = {
    "ViT-B/32": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, image_size=224, patch_size=32, projection_dim=512),
    "ViT-L/14-336": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                         num_attention_heads=16, image_size=336, patch_size=14,
                         projection_dim=768),
}  # fmt: skip


def dataset(photos: Path, work: Path) -> Path:
    """A 256 px dataset, one degraded copy per photo (copies would be trivially clustered)."""
    out = work / "data256-single"
    if not (out / "sources.csv").exists():
        make_dataset(photos, out, size=256, copies=1, test_fraction=0.2, seed=0)
    return out


def scale(n: int = 30_000, dim: int = 768, clusters: int = 30) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(clusters, dim))
    truth = rng.integers(0, clusters, n)
    vectors = centres[truth] + rng.normal(scale=0.9, size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = dict(n_components=5, n_neighbors=15, min_cluster_size=50, random_state=0)
    start = time.perf_counter()
    EmbeddingClusterer(**settings).fit(vectors[:5000])  # past 4096 rows UMAP uses NN-descent
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    clusterer = EmbeddingClusterer(**settings).fit(vectors)
    seconds = time.perf_counter() - start
    print(
        f"scale: {n} x {dim} embeddings clustered in {seconds:.1f} s (UMAP + HDBSCAN; "
        f"first call, on 5,000 rows, mostly numba compilation: {compile_seconds:.1f} s); "
        f"{clusterer.n_clusters_} clusters of {clusters} drawn, "
        f"noise {np.mean(clusterer.labels_ == NOISE):.1%}, "
        f"ARI {adjusted_rand_score(truth, clusterer.labels_):.3f}"
    )


def random_clip(shape: str, folder: Path) -> ClipEmbedder:
    """A CLIP embedder of the given architecture with random weights, saved to `folder`."""
    if not (folder / "config.json").exists():
        settings = CLIP_SHAPES[shape]
        side = settings["image_size"]
        CLIPVisionModelWithProjection(CLIPVisionConfig(**settings)).save_pretrained(folder)
        processor = CLIPImageProcessor(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}
        )
        processor.save_pretrained(folder)
    return ClipEmbedder(str(folder))


def throughput(embedder: Embedder, name: str, paths: list[Path], work: Path) -> None:
    cache = EmbeddingCache(work / "throughput-cache" / f"{time.time_ns()}", embedder.key)
    start = time.perf_counter()
    embed_files(paths, embedder, cache, batch_size=16, num_workers=2, description=name)
    seconds = time.perf_counter() - start
    device = pick_device("auto", "device").type
    print(
        f"throughput: {name} on {device}: {len(paths) / seconds:.1f} images/s "
        f"({len(paths)} images of 256 px, hashing included)"
    )


def peak_memory(count: int, data: Path, work: Path) -> float:
    """Peak resident MiB of a fresh process that embeds `count` train_gt images."""
    code = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from hueroute.clustering.cache import EmbeddingCache\n"
        "from hueroute.clustering.embed_files import embed_files\n"
        "from hueroute.clustering.embedders import EfficientNetLiteEmbedder\n"
        f"folders = [Path('{data}/train_gt'), Path('{data}/train_input')]\n"
        f"paths = [p for f in folders for p in sorted(f.glob('*.png'))][:{count}]\n"
        "embedder = EfficientNetLiteEmbedder()\n"
        f"cache = EmbeddingCache(Path('{work}/memory-cache/{count}-{time.time_ns()}'), 'm')\n"
        "embed_files(paths, embedder, cache, batch_size=16, num_workers=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def origins(embedder: Embedder, name: str, data: Path, photos: Path, work: Path) -> None:
    sources = pd.read_csv(data / "sources.csv")
    train = pd.read_csv(data / "train.csv").merge(sources, on="id")
    listing = pd.read_csv(photos / "LIST.tsv", sep="\t")
    origin = train["source"].map(dict(zip(listing["file"], listing["origin"], strict=True)))
    cache = EmbeddingCache(work / "origin-cache", embedder.key)
    vectors = embed_files(
        [data / path for path in train["gt_path"]], embedder, cache, description=name
    ).vectors
    reference = KMeans(origin.nunique(), n_init=10, random_state=0).fit_predict(vectors)
    print(
        f"origins: {name}: {len(vectors)} images of {origin.nunique()} origins; k-means with "
        f"k = {origin.nunique()} on the embeddings, for reference: ARI "
        f"{adjusted_rand_score(origin, reference):.3f}"
    )
    for n_neighbors, min_cluster_size in ((15, 5), (15, 10), (5, 5), (5, 10)):
        labels = EmbeddingClusterer(
            n_neighbors=n_neighbors, min_cluster_size=min_cluster_size, min_size=5
        ).fit_predict(vectors)
        clustered = labels != NOISE
        print(
            f"origins: {name}, n_neighbors {n_neighbors}, min_cluster_size {min_cluster_size}: "
            f"{labels.max() + 1} clusters, noise {1 - clustered.mean():.1%}; "
            f"ARI {adjusted_rand_score(origin, labels):.3f} (noise as one label), "
            f"{adjusted_rand_score(origin[clustered], labels[clustered]):.3f} (clustered only)"
        )


def cache_speed(data: Path, work: Path) -> None:
    embedder = EfficientNetLiteEmbedder()
    cache_root = work / f"cache-speed-{time.time_ns()}"
    paths = sorted((data / "train_gt").glob("*.png")) + sorted((data / "train_input").glob("*.png"))
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        embed_files(paths, embedder, EmbeddingCache(cache_root, embedder.key), num_workers=2)
        seconds.append(time.perf_counter() - start)
    print(
        f"cache: {len(paths)} images embedded in {seconds[0]:.1f} s, again (all cached) in "
        f"{seconds[1]:.2f} s: {seconds[0] / seconds[1]:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--clip", help="CLIP weights (folder or cached hub id) for origins")
    parser.add_argument(
        "--only", default="scale,throughput,memory,origins,cache", help="comma-separated parts"
    )
    args = parser.parse_args()
    parts = args.only.split(",")
    data = dataset(args.photos, args.work)
    if "scale" in parts:
        scale()
    if "throughput" in parts:
        paths = sorted((data / "train_gt").glob("*.png"))
        throughput(EfficientNetLiteEmbedder(), "efficientnet-lite0", paths[:128], args.work)
        for shape in CLIP_SHAPES:
            count = 128 if shape == "ViT-B/32" else 16
            folder = args.work / f"clip-{shape.replace('/', '-')}"
            clip = random_clip(shape, folder)
            throughput(clip, f"CLIP {shape} (random weights)", paths[:count], args.work)
    if "memory" in parts:
        small, large = peak_memory(64, data, args.work), peak_memory(320, data, args.work)
        print(f"memory: peak {small:.0f} MiB embedding 64 images, {large:.0f} MiB for 320")
    if "origins" in parts:
        origins(EfficientNetLiteEmbedder(), "efficientnet-lite0", data, args.photos, args.work)
        if args.clip:
            origins(ClipEmbedder(args.clip), f"clip {args.clip}", data, args.photos, args.work)
        else:
            print("origins: clip skipped, no CLIP weights given (--clip)")
    if "cache" in parts:
        cache_speed(data, args.work)


if __name__ == "__main__":
    main()
