"""Each study's pictures: the optimisation history and the parameters' importances."""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import optuna
from optuna.visualization import matplotlib as optuna_plots

from hueroute.files import save_figure

MIN_TRIALS_FOR_IMPORTANCE = 4


def save_axes(axes: plt.Axes, path: Path) -> None:
    figure = axes.figure
    figure.set_size_inches(7, 4.5)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)


def plot_study(study: optuna.Study, folder: Path) -> list[Path]:
    """history.png; importance.png too once enough trials completed to compare settings."""
    written = [folder / "history.png"]
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    # optuna's plots switch matplotlib to its own style: keep that to these figures
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # importance from few trials: said below
        save_axes(optuna_plots.plot_optimization_history(study), written[0])
        if len(completed) >= MIN_TRIALS_FOR_IMPORTANCE:
            save_axes(optuna_plots.plot_param_importances(study), folder / "importance.png")
            written.append(folder / "importance.png")
    return written
