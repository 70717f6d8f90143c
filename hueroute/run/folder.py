"""The run folder: where every stage's outputs are, and whether each stage is done."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hueroute.config import Config, commented_yaml, load_config, preset_config
from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.run.experts import expert_names, read_run_table
from hueroute.run.stages import stage

if TYPE_CHECKING:
    import pandas as pd

CONFIG_NAME = "config.yaml"
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
        from hueroute.layout import TRAIN_COLUMNS, read_table  # OpenCV loads only when used

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

    def clusters(self) -> "pd.DataFrame":
        return read_run_table(self.clusters_csv, ("id", "cluster"))

    def folds(self) -> "pd.DataFrame":
        return read_run_table(self.folds_csv, ("id", "fold"))

    def experts(self) -> list[str]:
        """The names of the run's experts: global, then one per cluster."""
        return expert_names(self.clusters())

    @property
    def refine_dir(self) -> Path:
        return self.root / "refine"

    @property
    def refine_model_pt(self) -> Path:
        """The fill's learned correction: its settings and weights."""
        return self.refine_dir / "model.pt"

    @property
    def refine_metrics_json(self) -> Path:
        """Whether the correction is kept and its held-out figures, written last by refine."""
        return self.refine_dir / "metrics.json"

    @property
    def refine_png(self) -> Path:
        """Held-out lost regions: the original's luma, the fill and the corrected fill."""
        return self.refine_dir / "examples.png"

    @property
    def experts_dir(self) -> Path:
        return self.root / "experts"

    def fold_dir(self, expert: str, fold: int) -> Path:
        return self.experts_dir / expert / f"fold{fold}"

    def model_pt(self, expert: str, fold: int) -> Path:
        """`expert`'s model of `fold`: weights and how they were trained (written last)."""
        return self.fold_dir(expert, fold) / "model.pt"

    def fold_metrics_json(self, expert: str, fold: int) -> Path:
        """Written when `expert`'s training on `fold` is finished and scored."""
        return self.fold_dir(expert, fold) / "metrics.json"

    @property
    def manifest_json(self) -> Path:
        return self.experts_dir / "manifest.json"

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
    def router_metrics_json(self) -> Path:
        """The router's held-out accuracy, written last by the route stage."""
        return self.router_dir / "metrics.json"

    @property
    def budget_json(self) -> Path:
        """The plan of the last `hueroute run --budget` and the time each stage used."""
        return self.root / "budget.json"

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
    def scores_csv(self) -> Path:
        return self.report_dir / "scores.csv"

    @property
    def report_html(self) -> Path:
        return self.report_dir / "index.html"

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

    def train_table(self) -> "pd.DataFrame":
        """train.csv of the run's dataset, paths resolved and checked."""
        from hueroute.layout import TRAIN_COLUMNS, read_table

        return read_table(self.config.data / "train.csv", TRAIN_COLUMNS)

    def trained(self, experts: list[str]) -> bool:
        """Whether every fold of each of `experts` is trained and scored."""
        folds = range(self.config.folds.n_folds)
        return all(self.fold_metrics_json(e, k).is_file() for e in experts for k in folds)

    def stage_output(self, name: str) -> Path:
        """Where to look first for what the stage `name` wrote."""
        return stage(name).output(self)

    def is_done(self, name: str) -> bool:
        """Whether the stage `name` has left its outputs in the run (its done-marker)."""
        return stage(name).done(self)
