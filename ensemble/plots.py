"""The router's reliability diagram: held-out confidence against accuracy."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from hueroute.files import save_figure


def plot_calibration(bins: pd.DataFrame, metrics: dict, out: Path) -> None:
    figure = Figure(figsize=(5, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], ls="--", c="0.6", label="perfect calibration")
    width = bins["high"] - bins["low"]
    axes.bar(bins["low"], bins["accuracy"], width=width, align="edge", alpha=0.6,
             edgecolor="k", label="accuracy in the bin")  # fmt: skip
    axes.plot(bins["confidence"], bins["accuracy"], "o-", c="C3", label="mean confidence")
    for row in bins.itertuples():
        axes.annotate(str(row.images), (row.low + (row.high - row.low) / 2, row.accuracy),
                      ha="center", va="bottom", fontsize=7)  # fmt: skip
    axes.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="top-1 probability (held-out folds)",
             ylabel="share routed to the right cluster")  # fmt: skip
    axes.set_title(
        f"router: top-1 {metrics['top1']:.2f}, top-2 {metrics['top2']:.2f}, "
        f"ECE {metrics['ece']:.3f}",
        fontsize=10,
    )
    axes.legend(loc="upper left", fontsize=8)
    save_figure(figure, out, dpi=110)
