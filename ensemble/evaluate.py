"""The evaluate stage: global-only, routed and oracle-routed scores, held-out and on test."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import KNeighborsClassifier

from hueroute.baseline import baseline_restore
from hueroute.detect import detect_lost_region
from hueroute.ensemble.blend import Weights, blend_weights, oracle_weights
from hueroute.ensemble.fit_router import routed_table
from hueroute.ensemble.input_embeddings import run_embeddings
from hueroute.ensemble.predictor import RoutedPredictor
from hueroute.ensemble.router import ClusterRouter
from hueroute.errors import InputError
from hueroute.files import write_text_atomic
from hueroute.image_score import score_image
from hueroute.images import luma, read_gray, read_rgb
from hueroute.layout import TEST_COLUMNS, read_table
from hueroute.progress import track
from hueroute.run import GLOBAL, NOISE, Run, expert_of
from hueroute.threads import thread_map

STRATEGIES = ("baseline", "plain", "global", "routed", "oracle", "submitted")
PLAIN = ("plain",)  # the global expert with every prior reduced to the global mean
PARTS = {"S": "ssim", "M": "masked_ssim", "C": "hist", "score": "score"}


def strategies(
    run: Run,
    probabilities: np.ndarray,
    classes: np.ndarray,
    truth: np.ndarray,
    allowed: set[str] | None = None,
) -> dict[str, list[Weights]]:
    """Each strategy's expert weights for each image; with `allowed` (the experts the
    held-out folds chose), also the blend that submit uses."""
    settings = run.config.route
    blends = {
        "plain": [{GLOBAL: 1.0}] * len(truth),
        "global": [{GLOBAL: 1.0}] * len(truth),
        "routed": blend_weights(probabilities, classes, settings.top_k, settings.min_probability),
        "oracle": oracle_weights(truth),
    }
    if allowed is not None:
        blends["submitted"] = blend_weights(
            probabilities, classes, settings.top_k, settings.min_probability, allowed
        )
    return blends


def score_images(
    predictor: RoutedPredictor,
    items: pd.DataFrame,
    blends: dict[str, list[Weights]],
    description: str,
) -> list[dict]:
    """Per image and strategy: the score of the restoration of `input_path` against `gt_path`
    (the lost region the predictor sees is detected; the one scored is `mask_path`'s or exact)."""
    rows = []
    size = predictor.run.config.predict.batch_size
    starts = range(0, len(items), size)
    for start in track(starts, description, total=len(starts)):
        chunk = items.iloc[start : start + size]
        grays = [read_gray(p) for p in chunk["input_path"]]
        truths = [read_rgb(p) for p in chunk["gt_path"]]
        seen = [detect_lost_region(gray) for gray in grays]
        picked = {name: weights[start : start + size] for name, weights in blends.items()}
        restored = predictor.restore(grays, seen, picked, plain=PLAIN)
        restored["baseline"] = thread_map(
            lambda pair: baseline_restore(*pair), zip(grays, seen, strict=True)
        )
        records = list(chunk.itertuples(index=False))
        scored = [
            read_gray(record.mask_path) > 0
            if isinstance(record.mask_path, str)
            else grays[j] != luma(truths[j])
            for j, record in enumerate(records)
        ]
        keys = [(j, name) for j in range(len(records)) for name in restored]
        jobs = [(truths[j], restored[name][j], scored[j]) for j, name in keys]
        parts = thread_map(lambda job: score_image(*job), jobs)
        for (j, name), part in zip(keys, parts, strict=True):
            rows.append({"id": records[j].id, "cluster": records[j].cluster, "strategy": name,
                         **part.as_dict()})  # fmt: skip
    return rows


def held_out_scores(run: Run) -> list[dict]:
    """Every train image scored with the fold models that did not see it."""
    table = routed_table(run)
    path = run.router_dir / "oof.csv"
    if not path.is_file():
        raise InputError(path, "does not exist: run `hueroute route` first")
    oof = pd.read_csv(path, dtype={"id": str}).set_index("id").loc[table["id"]]
    columns = [c for c in oof.columns if c.startswith("p_")]
    classes = np.array([int(c.removeprefix("p_")) for c in columns])
    truth = table["cluster"].to_numpy()
    blends = strategies(run, oof[columns].to_numpy(), classes, truth)
    table["mask_path"] = None
    rows = []
    for fold in sorted(table["fold"].unique()):
        members = np.flatnonzero(table["fold"].to_numpy() == fold)
        picked = {name: [weights[i] for i in members] for name, weights in blends.items()}
        rows += score_images(
            RoutedPredictor(run, folds=[fold]),
            table.iloc[members],
            picked,
            f"held-out fold {fold}",
        )
    return [{"split": "held-out", **row} for row in rows]


def scores_of_test_split(run: Run, allowed: set[str]) -> list[dict]:
    """The test split scored with every fold model, when the dataset has test_gt/ and
    test_mask/; its true clusters are those of each original's nearest training originals."""
    data = run.config.data
    if not ((data / "test_gt").is_dir() and (data / "test_mask").is_dir()):
        return []
    table = read_table(data / "test.csv", TEST_COLUMNS)
    names = [Path(p).name for p in table["input_path"]]
    table["gt_path"] = [str(data / "test_gt" / name) for name in names]
    table["mask_path"] = [str(data / "test_mask" / name) for name in names]
    for path in (*table["gt_path"], *table["mask_path"]):
        if not Path(path).is_file():
            raise InputError(path, "missing: test_gt/ and test_mask/ must cover test.csv")
    train = routed_table(run)
    vectors = run_embeddings(
        run,
        {
            "train_gt": [Path(p) for p in train["gt_path"]],
            "test_gt": [Path(p) for p in table["gt_path"]],
            "test_input": [Path(p) for p in table["input_path"]],
        },
    )
    neighbours = KNeighborsClassifier(n_neighbors=min(5, len(train)), metric="cosine")
    neighbours.fit(vectors["train_gt"], train["cluster"])
    table["cluster"] = neighbours.predict(vectors["test_gt"])
    router = ClusterRouter.load(run.router_dir)
    blends = strategies(
        run,
        router.predict_proba(vectors["test_input"]),
        router.classes_,
        table["cluster"].to_numpy(),
        allowed,
    )
    rows = score_images(RoutedPredictor(run), table, blends, "test split")
    return [{"split": "test", **row} for row in rows]


def summarise_scores(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean S, M, C and score per split, strategy and cluster, and over all clusters."""
    frames = []
    for by_cluster in (False, True):
        keys = ["split", "strategy", *(["cluster"] if by_cluster else [])]
        means = per_image.groupby(keys, sort=False)[list(PARTS.values())].mean().reset_index()
        counts = per_image.groupby(keys, sort=False).size().reset_index(name="images")
        merged = means.merge(counts, on=keys)
        if not by_cluster:
            merged["cluster"] = "all"
        else:
            merged["cluster"] = merged["cluster"].map(lambda c: "noise" if c == NOISE else str(c))
        frames.append(merged)
    table = pd.concat(frames, ignore_index=True).rename(columns={v: k for k, v in PARTS.items()})
    return table[["split", "cluster", "strategy", "images", *PARTS]]


def gain_z(gain: pd.Series) -> float:
    """The mean per-image gain in standard errors of that mean (0 with fewer than two images
    or no spread)."""
    spread = gain.std(ddof=1) if len(gain) > 1 else 0.0
    return float(gain.mean() / (spread / np.sqrt(len(gain)))) if spread > 0 else 0.0


def choose_experts(held_out: pd.DataFrame, min_gain_z: float) -> dict:
    """The cluster experts submit may route to: those whose cluster's held-out images gained
    from routing, by more than `min_gain_z` standard errors of the per-image gain over the
    global expert alone (a gain inside the noise of a few images is no reason to route);
    with the figures behind each choice."""
    clusters = {}
    for cluster, group in held_out[held_out["cluster"] != NOISE].groupby("cluster"):
        paired = group.pivot_table(index="id", columns="strategy", values="score")
        z = gain_z(paired["routed"] - paired["global"])
        clusters[expert_of(int(cluster))] = {
            "images": len(paired),
            "global": round(float(paired["global"].mean()), 5),
            "routed": round(float(paired["routed"].mean()), 5),
            "gain_z": round(z, 2),
            "used": z > min_gain_z,
        }
    used = [expert for expert, figures in clusters.items() if figures["used"]]
    return {"experts": used, "min_gain_z": min_gain_z, "clusters": clusters}


def evaluate_run(run: Run) -> pd.DataFrame:
    """report/scores.csv, report/per_image.csv and the experts submit routes to
    (run.choice_json); returns the scores."""
    held_out = pd.DataFrame(held_out_scores(run))
    choice = choose_experts(held_out, run.config.route.min_gain_z)
    write_text_atomic(run.choice_json, json.dumps(choice, indent=2) + "\n")
    per_image = pd.concat(
        [held_out, pd.DataFrame(scores_of_test_split(run, set(choice["experts"])))]
    )
    scores = summarise_scores(per_image)
    write_text_atomic(run.report_dir / "per_image.csv", per_image.to_csv(index=False))
    write_text_atomic(run.scores_csv, scores.round(5).to_csv(index=False))
    return scores
