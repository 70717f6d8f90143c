"""RUN/report/index.html: the pictures and tables every stage left in a run, on one page."""

import html
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from hueroute.config import settings_text
from hueroute.files import save_figure, write_text_atomic
from hueroute.images import read_gray, read_rgb
from hueroute.layout import TEST_COLUMNS, read_table
from hueroute.prediction_files import prediction_reader
from hueroute.run import GLOBAL, Run
from hueroute.run.models import load_model

SAMPLES = 8  # test images in the sample grid
STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;text-align:right}
tr:nth-child(even){background:#f3f3f3}img{max-width:100%}figure{margin:1em 0}
figcaption{color:#666;font-size:.9em}"""


def table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


def figure_html(run: Run, path: Path, caption: str) -> str:
    """The picture at `path`, linked from the report folder; nothing when it is missing."""
    if not path.is_file():
        return ""
    source = html.escape(os.path.relpath(path, run.report_dir))
    return f'<figure><img src="{source}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def clusters_section(run: Run) -> str:
    if not run.cluster_json.is_file():
        return ""
    summary = json.loads(run.cluster_json.read_text())
    text = (
        f"<p>{summary['images']} training originals embedded by {summary['embedder']}: "
        f"{summary['clusters']} clusters, {summary['noise']} images in noise.</p>"
    )
    grouping = summary.get("fold_grouping")
    if grouping:
        figures = ", ".join(f"{k} {v:.3f}" for k, v in grouping["nearest_similarity"].items())
        text += (
            f"<p>{summary['scenes']} scene clusters. The folds keep each {grouping['chosen']} "
            f"together (folds.grouping: {grouping['setting']}); mean similarity of a held-out "
            f"input to its nearest training input under each grouping, and of a test input: "
            f"{figures}.</p>"
        )
    return text + figure_html(run, run.umap_png, "UMAP of the originals, coloured by cluster")


def refine_section(run: Run) -> str:
    if not run.refine_metrics_json.is_file():
        return ""
    metrics = json.loads(run.refine_metrics_json.read_text())
    verdict = "kept" if metrics["kept"] else "not kept"
    reason = html.escape(metrics["reason"])
    text = f"<p>The learned correction of the fill: {verdict} ({reason}).</p>"
    if "refined" not in metrics:
        return text
    rows = [{"luma of the lost region": name, **metrics[name]} for name in ("fill", "refined")]
    text += (
        f"<p>Trained {metrics['steps']} steps on {metrics['train_images']} pairs; measured on "
        f"the {metrics['held_out_images']} pairs of held-out fold {metrics['held_out_fold']}, "
        "as gray images:</p>"
    )
    caption = "held-out lost regions: the original's luma, the fill, the corrected fill"
    return text + table_html(pd.DataFrame(rows)) + figure_html(run, run.refine_png, caption)


def search_section(run: Run) -> str:
    parts = []
    for best in sorted(run.search_dir.glob("*/best_params.json")):
        found = json.loads(best.read_text())
        settings = settings_text(found["params"])
        parts.append(
            f"<h3>{html.escape(found['expert'])}</h3><p>best of {found['finished_trials']} "
            f"trials: {found['value']:.4f} (trial {found['trial']}): {html.escape(settings)}</p>"
        )
        for name, caption in (("history.png", "score of each trial"),
                              ("importance.png", "importance of each setting")):  # fmt: skip
            parts.append(figure_html(run, best.parent / name, caption))
    return "".join(parts)


def experts_section(run: Run) -> str:
    manifest_path = run.manifest_json
    if not manifest_path.is_file():
        return ""
    rows = [
        {
            "expert": expert,
            "fold": int(fold),
            "images": entry["val_images"],
            "S": entry["ssim"],
            "M": entry["masked_ssim"],
            "C": entry["hist"],
            "score": entry["score"],
        }
        for expert, folds in json.loads(manifest_path.read_text()).items()
        for fold, entry in folds.items()
    ]
    frame = pd.DataFrame(rows)
    figure = Figure(figsize=(7, 0.4 * frame["expert"].nunique() + 1.2), layout="constrained")
    axes = figure.subplots()
    names = sorted(frame["expert"].unique(), key=lambda e: (e != GLOBAL, e))
    for y, expert in enumerate(names):
        scores = frame.loc[frame["expert"] == expert, "score"]
        axes.barh(y, scores.mean(), color="C0", alpha=0.5)
        axes.plot(scores, [y] * len(scores), "o", color="C0", ms=4)
    axes.set(yticks=range(len(names)), yticklabels=names, xlabel="held-out score (dots: folds)")
    axes.invert_yaxis()
    out = run.report_dir / "experts.png"
    save_figure(figure, out)
    return figure_html(run, out, "validation score of each expert") + table_html(frame)


def budget_section(run: Run) -> str:
    """The plan of `run --budget` beside the time each stage used."""
    if not run.budget_json.is_file():
        return ""
    record = json.loads(run.budget_json.read_text())
    planned, used = record["planned_seconds"], record["used_seconds"]
    rows = [
        {
            "stage": stage,
            "planned (min)": f"{planned[stage] / 60:.1f}" if stage in planned else "-",
            "used (min)": f"{used.get(stage, 0.0) / 60:.1f}",
        }
        for stage in dict.fromkeys([*used, *planned])
    ]
    rate = record["training_images_per_second"]
    text = (
        f"<p>a budget of {record['budget_seconds'] / 60:.1f} min for clustering, search, "
        f"training and tuning; {sum(used.values()) / 60:.1f} min used"
        + (f"; {rate:.2f} training images a second measured" if rate else "")
        + ".</p>"
    )
    return text + table_html(pd.DataFrame(rows))


def router_section(run: Run) -> str:
    path = run.router_metrics_json
    if not path.is_file():
        return ""
    metrics = json.loads(path.read_text())
    text = (
        f"<p>held-out routing: top-1 {metrics['top1']:.3f}, top-2 {metrics['top2']:.3f}, "
        f"calibration error {metrics['ece']:.3f}; {metrics['to_global_only']:.0%} of the "
        f"images go to the global expert alone.</p>"
    )
    return text + figure_html(run, run.router_dir / "calibration.png", "reliability diagram")


MEASURES = (
    "S: SSIM of the whole image; M: SSIM along the lost pixels; C: correlation of the hue "
    "histograms; score = 0.2 S + 0.4 M + 0.4 C. Strategies: baseline, the gray input with the "
    "lost region filled by OpenCV's Telea inpainting; plain, the global expert with every "
    "prior reduced to the mean of all training originals (no neighbours: what remembering "
    "the training photos adds is global minus plain); global, the global expert alone; routed, "
    "the router's blend of experts; oracle, each image's own cluster expert; submitted, the "
    "blend submit uses (routed, but only to the cluster experts chosen below)."
)


def choice_text(run: Run) -> str:
    """Which cluster experts the submission routes to, and the held-out figures why."""
    choice = run.choice()
    if choice is None:
        return "<p>No held-out comparison yet: submit uses the global expert alone.</p>"
    if not choice["clusters"]:
        return "<p>The run has no cluster experts: the submission is the global expert's.</p>"
    parts = [
        f"{html.escape(expert)} ({figures['images']} images: routed {figures['routed']:.4f}, "
        f"global {figures['global']:.4f}, gain {figures['gain_z']:.1f} standard errors)"
        for expert, figures in choice["clusters"].items()
    ]
    used = ", ".join(html.escape(e) for e in choice["experts"]) or "none of them"
    return (
        "<p>On held-out folds, each cluster's images restored routed and by the global expert "
        f"alone: {'; '.join(parts)}. Submit routes to the cluster experts whose gain is more than "
        f"{choice['min_gain_z']:g} standard errors: {used}; the others' images go to the global "
        "expert.</p>"
    )


def scores_section(run: Run) -> str:
    path = run.scores_csv
    if not path.is_file():
        return ""
    scores = pd.read_csv(path, dtype={"cluster": str})
    overall = scores[scores["cluster"] == "all"].drop(columns="cluster")
    text = f"<p>{html.escape(MEASURES)}</p>" + table_html(overall)
    test = overall[overall["split"] == "test"].set_index("strategy")["score"]
    if {"submitted", "baseline"} <= set(test.index):
        gain = test["submitted"] - test["baseline"]
        text += (
            f"<p>On the test split the submission scores {test['submitted']:.4f}, the "
            f"baseline {test['baseline']:.4f} ({gain:+.4f}).</p>"
        )
    wide = scores[scores["cluster"] != "all"].pivot_table(
        index=["split", "cluster", "images"], columns="strategy", values="score", sort=False
    )
    return text + choice_text(run) + "<p>score per cluster</p>" + table_html(wide.reset_index())


def samples_section(run: Run) -> str:
    """A grid of test images: the input, the prediction, and the original where known."""
    test_csv = run.config.data / "test.csv"
    if not run.submission_zip.is_file() or not test_csv.is_file():
        return ""
    table = read_table(test_csv, TEST_COLUMNS).head(SAMPLES)
    names = [Path(p).name for p in table["input_path"]]
    with zipfile.ZipFile(run.submission_zip) as archive:
        in_zip = set(archive.namelist())
    read = prediction_reader(run.submission_zip, sorted(in_zip))
    originals = run.config.data / "test_gt"
    columns = ["input", "prediction", *(["original"] if originals.is_dir() else [])]
    figure = Figure(figsize=(2.2 * len(columns), 2.2 * len(names)), layout="constrained")
    grid = figure.subplots(len(names), len(columns), squeeze=False)
    for row, (name, source) in enumerate(zip(names, table["input_path"], strict=True)):
        images = [read_gray(source), read(name) if name in in_zip else None]
        if originals.is_dir():
            images.append(read_rgb(originals / name) if (originals / name).is_file() else None)
        for column, image in enumerate(images):
            axes = grid[row][column]
            axes.axis("off")
            if image is not None:
                axes.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            if row == 0:
                axes.set_title(columns[column], fontsize=10)
    out = run.report_dir / "samples.png"
    save_figure(figure, out)
    return figure_html(run, out, f"the first {len(names)} test images")


SECTIONS = {
    "Clusters": clusters_section,
    "The lost region's fill": refine_section,
    "Search": search_section,
    "Experts": experts_section,
    "Router": router_section,
    "Scores: baseline, plain, global, routed, oracle, submitted": scores_section,
    "Test samples": samples_section,
    "Time budget": budget_section,
}


def write_report(run: Run) -> Path:
    """index.html with a section for each stage that has run; returns its path."""
    config = run.config
    model = run.model_pt(GLOBAL, 0)
    trained = load_model(model).settings if model.is_file() else config.train
    source = "as trained" if model.is_file() else "from config.yaml, not trained yet"
    body = [
        f"<h1>hueroute report: {html.escape(run.root.resolve().name)}</h1>",
        f"<p>preset {html.escape(config.preset)}, data {html.escape(str(config.data))}, "
        f"{config.folds.n_folds} folds; the global expert ({source}): {trained.network} "
        f"network on {html.escape(trained.encoder)}, {trained.image_size} px.</p>",
    ]
    for title, section in SECTIONS.items():
        content = section(run)
        if content:
            body.append(f"<h2>{html.escape(title)}</h2>{content}")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>hueroute report: {html.escape(run.root.resolve().name)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    out = run.report_html
    write_text_atomic(out, page)
    return out
