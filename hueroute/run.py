"""The run folder: one directory every stage reads from and writes to."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hueroute.config import Config, commented_yaml, load_config, preset_config
from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.layout import TRAIN_COLUMNS, read_table

CONFIG_NAME = "config.yaml"
NOISE = -1  # the cluster of images in no cluster, in clusters.csv
RENDER_STUDY = "render"  # the study of the colour expert's rendering, beside the experts' own
EMBEDDINGS_DIR, CACHE_DIR = "embeddings", "cache"  # keyed by image content: kept on --force


def clear_outputs(root: Path) -> None:
    """Delete everything a run folder holds but its content-addressed caches."""
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name in (EMBEDDINGS_DIR, CACHE_DIR):
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@dataclass(frozen=True)
class Run:
    root: Path
    config: Config

    @classmethod
    def open(cls, root: Path) -> "Run":
        """Read a run folder made by `init`; a relative data path is taken from the run folder."""
        config_path = root / CONFIG_NAME
        if not config_path.is_file():
            raise InputError(root, f"is not a run folder (no {CONFIG_NAME}; make one with init)")
        config = load_config(config_path)
        config.data = (root / config.data).resolve()
        return cls(root, config)

    @classmethod
    def create(cls, root: Path, data: Path, preset: str = "default", force: bool = False) -> "Run":
        """Write `root/config.yaml` for `data`, refusing to replace one unless `force`."""
        config_path = root / CONFIG_NAME
        if config_path.exists() and not force:
            raise InputError(config_path, "exists already (--force to replace it)")
        read_table(data / "train.csv", TRAIN_COLUMNS)
        config = preset_config(preset, data.resolve())
        header = f"# hueroute run, from the {preset!r} preset; edit freely, it is validated.\n"
        write_text_atomic(config_path, header + commented_yaml(config) + "\n")
        return cls(root, config)

    @property
    def embeddings_dir(self) -> Path:
        return self.root / EMBEDDINGS_DIR

    @property
    def cache_dir(self) -> Path:
        """The stored training pairs and the colour experts' encoder features, by content."""
        return self.root / CACHE_DIR

    @property
    def clusters_csv(self) -> Path:
        return self.root / "clusters.csv"

    @property
    def folds_csv(self) -> Path:
        return self.root / "folds.csv"

    @property
    def umap_png(self) -> Path:
        return self.root / "umap.png"

    @property
    def cluster_json(self) -> Path:
        return self.root / "cluster.json"

    @property
    def search_dir(self) -> Path:
        return self.root / "search"

    def best_params_json(self, expert: str) -> Path:
        """Where the search stage leaves `expert`'s best settings, read by training."""
        return self.search_dir / expert / "best_params.json"

    @property
    def router_dir(self) -> Path:
        return self.root / "router"

    @property
    def predictions_dir(self) -> Path:
        return self.root / "predictions"

    @property
    def submission_zip(self) -> Path:
        return self.root / "submission.zip"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def choice_json(self) -> Path:
        """The cluster experts submit routes to, chosen by evaluate on held-out folds."""
        return self.report_dir / "choice.json"

    def choice(self) -> dict | None:
        """choice.json as written by evaluate; None before evaluate has run."""
        if not self.choice_json.is_file():
            return None
        try:
            choice = json.loads(self.choice_json.read_text())
            choice["experts"] = list(choice["experts"])
        except (ValueError, KeyError, TypeError) as error:
            problem = f"is not a usable choice of experts ({error!r})"
            raise InputError(self.choice_json, problem) from error
        return choice

    def train_table(self) -> pd.DataFrame:
        """train.csv of the run's dataset, paths resolved and checked."""
        return read_table(self.config.data / "train.csv", TRAIN_COLUMNS)
