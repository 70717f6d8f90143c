"""The run's settings: one pydantic model per stage, presets, and the commented config.yaml."""

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hueroute.errors import InputError

# the fills of the lost region that hueroute.fills implements, named here so that the settings
# load neither OpenCV nor torch
FILL_NAMES = ("telea", "ns", "fsr-fast", "fsr-best", "push-pull")
BASELINE_FILL = "telea"  # the OpenCV reference every restorer is measured against


class Section(BaseModel):
    """A block of settings: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EmbedConfig(Section):
    model: Literal["auto", "clip", "efficientnet-lite"] = Field(
        "auto",
        description="image embedder; auto = clip when its weights are on this machine, "
        "else efficientnet-lite",
    )
    clip_model: str = Field(
        "geolocal/StreetCLIP", description="CLIP weights: a Hugging Face model id or a local folder"
    )
    allow_download: bool = Field(
        False, description="let clip fetch missing weights from the Hugging Face hub"
    )
    batch_size: int = Field(32, ge=1, description="images per embedding batch")
    num_workers: int = Field(2, ge=0, description="processes decoding images while embedding")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto = cuda when there is a GPU"
    )


class ClusterConfig(Section):
    n_components: int = Field(5, ge=2, description="UMAP dimensions HDBSCAN clusters in")
    n_neighbors: int = Field(15, ge=2, description="UMAP neighbourhood size")
    min_dist: float = Field(0.0, ge=0.0, le=1.0, description="UMAP minimum distance")
    min_cluster_size: int = Field(50, ge=2, description="HDBSCAN smallest cluster")
    min_samples: int | None = Field(
        None, ge=1, description="HDBSCAN density threshold; null = min_cluster_size"
    )
    scene_min_size: int = Field(
        2, ge=2, description="smallest scene cluster (HDBSCAN's leaves of the same map)"
    )


class FoldsConfig(Section):
    n_folds: int = Field(5, ge=2, description="cross-validation folds, stratified by cluster")
    grouping: Literal["auto", "view", "scene"] = Field(
        "auto",
        description="what a fold keeps together: each original (view), each scene cluster "
        "(scene), or auto = the one whose held-out images resemble the training images as "
        "closely as the test inputs do",
    )


class LossConfig(Section):
    l1: float = Field(1.0, ge=0.0, description="weight of the L1 loss")
    mse: float = Field(1.0, ge=0.0, description="weight of the mean squared error")
    ssim: float = Field(0.5, ge=0.0, description="weight of 1 - SSIM")
    hue: float = Field(0.5, ge=0.0, description="weight of the hue-histogram loss")


class ColourConfig(Section):
    hue_classes: int = Field(
        30, ge=2, le=180, description="hue classes of the colour expert: equal arcs of the circle"
    )
    gray_spread: int = Field(
        6, ge=1, le=255, description="max - min over R, G, B under which a pixel is near-gray"
    )
    hidden: int = Field(256, ge=8, description="width of the colour head's hidden layer")
    points: int = Field(256, ge=1, description="pixels of each image one training step reads")
    steps_per_epoch: int = Field(
        250, ge=1, description="training steps of one epoch (images drawn with replacement)"
    )
    train_encoder: bool = Field(
        False, description="train the encoder too (slow on a CPU); false = frozen, cached features"
    )
    cache_features: bool = Field(
        True,
        description="keep a frozen encoder's features in RUN/cache (about 2 MB an input at "
        "512 px); false = encode every batch on the training device (a GPU short of disk)",
    )
    neighbours: int = Field(
        80, ge=1, description="training originals whose hue histograms make the neighbour prior"
    )
    neighbour_temperature: float = Field(
        0.05, gt=0.0, description="softmax temperature over the neighbours' cosine similarity"
    )
    head_weight: float = Field(
        0.4, ge=0.0, description="share of the head's expected histogram in the target"
    )
    prior_weight: float = Field(
        0.2, ge=0.0, description="share of the expert's prior (its images' mean histogram)"
    )
    global_weight: float = Field(
        0.0, ge=0.0, description="share of the global expert's prior (all training images)"
    )
    neighbour_weight: float = Field(0.4, ge=0.0, description="share of the neighbour prior")
    target_power: float = Field(
        0.85, gt=0.0, description="the mixed target histogram is raised to this power"
    )
    chroma_gain: float = Field(
        0.25, ge=0.0, description="chroma rendered: the predicted chroma along the hue times this"
    )
    min_spread: float = Field(
        3.0, ge=1.0, le=64.0, description="smallest max - min over R, G, B of a coloured pixel"
    )
    lost_region: Literal["gray", "hue", "smooth", "blurred"] = Field(
        "blurred",
        description="the lost region's colour: gray = its pixels take the target's gray share "
        "first; hue = as any pixel; smooth = the predicted chroma times chroma_gain; blurred "
        "= the target's hues drawn in the region, their chroma blurred (lost_blur)",
    )
    lost_blur: float = Field(
        0.025,
        ge=0.0,
        le=0.5,
        description="blurred lost region: the Gaussian's sigma as a share of the image's "
        "shorter side",
    )

    @model_validator(mode="after")
    def some_weight(self) -> "ColourConfig":
        weights = (self.head_weight, self.prior_weight, self.global_weight, self.neighbour_weight)
        if sum(weights) <= 0:
            raise ValueError("head, prior, global and neighbour weights are all 0")
        return self


class TrainConfig(Section):
    network: Literal["colour", "joint", "two-stage"] = Field(
        "colour", description="restorer network"
    )
    fill: str = Field("fsr-fast", description=f"fill of the lost region: {', '.join(FILL_NAMES)}")
    encoder: str = Field(
        "tu-tf_efficientnet_lite0",
        description="encoder: the U-Net's, or the colour expert's (an EfficientNet-Lite)",
    )
    encoder_weights: str | None = Field(
        "imagenet", description="pretrained encoder weights; null = random initialisation"
    )
    image_size: int = Field(
        256, ge=32, multiple_of=32, description="side of the square training images, px"
    )
    batch_size: int = Field(16, ge=1, description="images per training step")
    epochs: int = Field(30, ge=1, description="training epochs")
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimizer steps; null = epochs decide"
    )
    max_minutes: float | None = Field(
        None, gt=0.0, description="stop one expert's fold after this many minutes; null = no limit"
    )
    lr: float = Field(1e-3, gt=0.0, description="AdamW learning rate")
    weight_decay: float = Field(1e-4, ge=0.0, description="AdamW weight decay")
    scheduler: Literal["plateau", "cosine", "onecycle", "constant"] = Field(
        "onecycle", description="learning-rate schedule"
    )
    plateau_factor: float = Field(
        0.5, gt=0.0, lt=1.0, description="plateau: factor the rate is cut by when stuck"
    )
    plateau_patience: int = Field(
        2, ge=0, description="plateau: epochs without progress before the rate is cut"
    )
    cosine_min_ratio: float = Field(
        0.0, ge=0.0, le=1.0, description="cosine: final rate as a share of lr"
    )
    onecycle_pct_start: float = Field(
        0.25, gt=0.0, lt=1.0, description="onecycle: share of the steps spent warming up"
    )
    onecycle_div_factor: float = Field(
        25.0, ge=1.0, description="onecycle: lr divided by this is the starting rate"
    )
    loss: LossConfig = Field(default_factory=LossConfig, description="loss weights")
    colour: ColourConfig = Field(
        default_factory=ColourConfig, description="the colour expert (network: colour)"
    )
    fresh_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="share of training items degraded afresh each epoch"
    )
    patience: int = Field(5, ge=1, description="epochs without a better validation score")
    num_workers: int = Field(2, ge=0, description="processes preparing training batches")
    keep_checkpoints: bool = Field(
        False, description="keep a finished fold's Lightning checkpoints beside its model.pt"
    )
    accelerator: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="what trains: auto = the GPUs when there are any"
    )
    devices: int = Field(1, ge=1, description="GPUs (or CPU processes) one fold trains on")
    strategy: Literal["auto", "ddp_spawn", "ddp_fork"] = Field(
        "auto",
        description="with devices > 1, Lightning's data-parallel training in processes "
        "started for each fit (ddp_fork is faster to start, ddp_spawn works everywhere)",
    )

    @model_validator(mode="after")
    def parallel_strategy(self) -> "TrainConfig":
        if self.devices > 1 and self.strategy == "auto":
            raise ValueError("train.devices > 1 needs train.strategy ddp_spawn or ddp_fork")
        return self

    @field_validator("fill")
    @classmethod
    def known_fill(cls, name: str) -> str:
        if name not in FILL_NAMES:
            raise ValueError(f"unknown fill {name!r}; choose from {', '.join(FILL_NAMES)}")
        return name


class SearchConfig(Section):
    trials: int = Field(20, ge=1, description="trials each expert's study runs to")
    timeout: float | None = Field(
        None, gt=0.0, description="seconds a search worker runs before it stops; null = no limit"
    )
    epochs: int = Field(3, ge=1, description="training epochs of one trial (validated each epoch)")
    max_steps: int | None = Field(
        None, ge=1, description="stop a trial after this many optimizer steps; null = epochs"
    )
    lr_min: float = Field(1e-5, gt=0.0, description="smallest learning rate tried")
    lr_max: float = Field(1e-2, gt=0.0, description="largest learning rate tried")
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="how trials that fall behind are stopped early"
    )
    storage: str | None = Field(
        None,
        description="Optuna storage: an RDB URL (sqlite:///..., postgresql://...) or a journal "
        "file path; null = search/studies.db in the run folder",
    )
    render_trials: int = Field(
        40, ge=1, description="trials of the colour expert's render study (seconds each)"
    )
    render_images: int = Field(
        400, ge=1, description="held-out images a render trial scores, at most"
    )
    cluster_studies: bool = Field(
        True, description="a study for each cluster expert too; false = only the global expert"
    )
    use_best_params: bool = Field(
        True,
        description="train with each expert's best_params.json, or the global expert's when "
        "it has none",
    )

    @model_validator(mode="after")
    def lr_range_not_empty(self) -> "SearchConfig":
        if self.lr_min >= self.lr_max:
            raise ValueError(f"lr_min ({self.lr_min}) must be below lr_max ({self.lr_max})")
        return self


class RefineConfig(Section):
    enabled: bool = Field(
        True, description="learn a correction of the lost region's filled luma (colour experts)"
    )
    encoder: str | None = Field(
        "tu-tf_efficientnet_lite0",
        description="the correcting U-Net's encoder, started from ImageNet weights (those of "
        "tu-tf_efficientnet_lite0/1/2 ship with the install); null for a small U-Net of `width` "
        "trained from scratch",
    )
    width: int = Field(32, ge=4, description="channels of the small U-Net's first level")
    steps: int = Field(8000, ge=1, description="optimizer steps (a time budget may stop sooner)")
    batch_size: int = Field(8, ge=1, description="crops per step")
    lr: float = Field(5e-4, gt=0.0, description="peak learning rate of the one-cycle schedule")
    regions: int = Field(
        4, ge=1, description="lost regions per training pair: its own, then random ones"
    )
    crop: int = Field(128, ge=32, description="training crops around a lost region, px")
    structure_weight: float = Field(
        0.5, ge=0.0, description="weight of the 7x7 SSIM around the region beside M's 1-D SSIM"
    )
    mirrors: bool = Field(
        True,
        description="predict as the average of the corrections of the input and its "
        "left-right, upside-down and double mirror images (four passes)",
    )
    holdout_fold: int = Field(
        0, ge=0, description="the fold held out to decide whether the correction is kept"
    )
    precision: Literal["auto", "32-true", "bf16-mixed"] = Field(
        "auto",
        description="Lightning's training precision; auto is bf16-mixed where the device "
        "computes bfloat16 natively (recent GPUs, CPUs with AVX-512 BF16 or AMX), else 32-true",
    )


class RouteConfig(Section):
    n_estimators: int = Field(200, ge=1, description="LightGBM boosting rounds")
    learning_rate: float = Field(0.05, gt=0.0, description="LightGBM learning rate")
    num_leaves: int = Field(15, ge=2, description="LightGBM leaves per tree")
    min_child_samples: int = Field(5, ge=1, description="LightGBM smallest leaf, in images")
    top_k: int = Field(2, ge=1, description="experts blended for one image, most probable first")
    min_probability: float = Field(
        0.5, ge=0.0, le=1.0, description="below this top probability an image goes to global"
    )
    min_gain_z: float = Field(
        2.0,
        ge=0.0,
        description="submit routes to a cluster's expert only where its held-out images gain "
        "this many standard errors of the per-image gain over the global expert",
    )


class PredictConfig(Section):
    batch_size: int = Field(16, ge=1, description="images per prediction batch")
    tta: bool = Field(False, description="also predict the mirrored image and average")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto = cuda when there is a GPU"
    )


class Config(Section):
    data: Path = Field(description="dataset folder in the competition layout")
    preset: str = Field("default", description="preset the run started from")
    seed: int = Field(0, description="seed of every random choice of every stage")
    embed: EmbedConfig = Field(
        default_factory=EmbedConfig, description="image embeddings, for clusters and routing"
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig, description="UMAP + HDBSCAN clusters of train_gt"
    )
    folds: FoldsConfig = Field(default_factory=FoldsConfig, description="cross-validation")
    search: SearchConfig = Field(
        default_factory=SearchConfig, description="Optuna studies of each expert's training"
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="each expert's training")
    refine: RefineConfig = Field(
        default_factory=RefineConfig, description="a learned correction of the lost region's fill"
    )
    route: RouteConfig = Field(
        default_factory=RouteConfig, description="the router from gray inputs to clusters"
    )
    predict: PredictConfig = Field(
        default_factory=PredictConfig, description="routed ensemble predictions"
    )

    @model_validator(mode="after")
    def holdout_is_a_fold(self) -> "Config":
        if self.refine.holdout_fold >= self.folds.n_folds:
            raise ValueError(
                f"refine.holdout_fold {self.refine.holdout_fold} is not one of the "
                f"{self.folds.n_folds} folds"
            )
        return self


PRESETS: dict[str, dict[str, Any]] = {
    "seed": {
        "embed": {"model": "clip"},
        "train": {
            "network": "two-stage",
            "encoder": "resnet34",
            "image_size": 512,
            "batch_size": 32,
            "epochs": 15,
            "lr": 1e-4,
            "scheduler": "plateau",
            "loss": {"l1": 1.0, "mse": 1.0, "ssim": 1.0, "hue": 0.0},
        },
    },
    "default": {"train": {"epochs": 8, "patience": 3}},
    "joint": {"train": {"network": "joint"}},
    "demo": {
        "embed": {"batch_size": 16},
        "cluster": {"n_neighbors": 8, "min_cluster_size": 4},
        "folds": {"n_folds": 2},
        "search": {"trials": 2, "epochs": 2, "cluster_studies": False},
        "train": {
            "image_size": 128,
            "batch_size": 8,
            "epochs": 3,
            "colour": {"steps_per_epoch": 60},
        },
        "refine": {"steps": 300},
    },
    "smoke": {
        "embed": {"model": "efficientnet-lite", "batch_size": 8, "num_workers": 0},
        "cluster": {"n_neighbors": 5, "min_cluster_size": 3},
        "folds": {"n_folds": 2},
        "search": {"trials": 2, "epochs": 2, "cluster_studies": False, "render_trials": 4},
        "train": {
            "image_size": 64,
            "batch_size": 4,
            "epochs": 1,
            "num_workers": 0,
            "colour": {"steps_per_epoch": 20, "neighbours": 8},
        },
        "refine": {"encoder": None, "width": 8, "steps": 10, "regions": 2, "crop": 64},
    },
}


def merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update` laid over it, nested dicts merged key by key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def with_params(settings: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """`settings` with `params` laid over; a dotted key (`colour.chroma_gain`) names a nested
    setting. Raises pydantic's ValidationError for a bad value."""
    nested: dict[str, Any] = {}
    for key, value in params.items():
        *parents, name = key.split(".")
        branch = nested
        for part in parents:
            branch = branch.setdefault(part, {})
        branch[name] = value
    return TrainConfig.model_validate(merged(settings.model_dump(), nested))


def setting(settings: BaseModel, key: str) -> Any:
    """The value of a dotted key (`colour.chroma_gain`) in `settings`."""
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def preset_config(name: str, data: Path) -> Config:
    """The config of a new run on `data` from the preset `name`."""
    if name not in PRESETS:
        raise InputError(name, f"unknown preset; choose from {', '.join(PRESETS)}")
    defaults = Config(data=data).model_dump()
    return Config.model_validate(merged(defaults, {**PRESETS[name], "preset": name}))


def describe_error(error: dict[str, Any], model: type[BaseModel]) -> str:
    """One line for one pydantic error, naming the setting by its dotted path."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] != "extra_forbidden":
        given = error.get("input")
        got = "" if isinstance(given, dict) else f" (got {given!r})"  # a rule across a section
        return f"setting {key}: {error['msg'].lower()}{got}"
    *parents, name = error["loc"]
    section: Any = model
    for part in parents:
        section = section.model_fields[part].annotation
    close = difflib.get_close_matches(str(name), section.model_fields, n=1)
    hint = f"; did you mean {'.'.join([*map(str, parents), close[0]])}?" if close else ""
    return f"unknown setting {key}{hint}"


def parse_config(values: Any, source: Path) -> Config:
    """Validate a config mapping; any problem is an InputError naming `source` and the keys."""
    if not isinstance(values, dict):
        raise InputError(source, "is not a mapping of settings")
    try:
        return Config.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(describe_error(e, Config) for e in error.errors())
        raise InputError(source, problems) from error


def load_config(path: Path) -> Config:
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        values = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(path, f"is not readable YAML ({error})") from error
    return parse_config(values, path)


def commented_yaml(section: BaseModel, indent: str = "") -> str:
    """`section` as YAML with each setting's description above it."""
    lines = []
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if field.description:
            lines.append(f"{indent}# {field.description}")
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:")
            lines.append(commented_yaml(value, indent + "  "))
        else:
            plain = str(value) if isinstance(value, Path) else value
            text = yaml.safe_dump(plain, width=float("inf")).removesuffix("\n...\n").strip()
            lines.append(f"{indent}{name}: {text}")
    return "\n".join(lines)


def settings_text(params: dict[str, Any]) -> str:
    """`lr=0.00031, scheduler=cosine`: settings as one short line."""
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
