"""An expert's settings: config.yaml with the best settings of the run's studies laid over."""

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hueroute.config import TrainConfig, describe_error, with_params
from hueroute.errors import InputError
from hueroute.run.experts import GLOBAL, RENDER_STUDY
from hueroute.run.folder import Run


def laid_over(
    settings: TrainConfig, paths: list[Path]
) -> tuple[TrainConfig, dict[str, Any], list[Path]]:
    """`settings` with the params of each existing best_params.json of `paths` laid over in
    turn; the params taken; and the files they came from."""
    taken, sources = {}, []
    for path in dict.fromkeys(paths):
        if not path.is_file():
            continue
        try:
            params = json.loads(path.read_text())["params"]
            settings = with_params(settings, params)
        except ValidationError as error:
            problems = "; ".join(describe_error(e, TrainConfig) for e in error.errors())
            raise InputError(path, problems) from error
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(path, f"is not a usable best_params.json ({error!r})") from error
        taken.update(params)
        sources.append(path)
    return settings, taken, sources


def tuned_settings(run: Run, expert: str) -> tuple[TrainConfig, dict[str, Any], list[Path]]:
    """`expert`'s training settings: config.yaml with the best settings of the global expert's
    study, of the render study and of the expert's own study laid over in turn (with
    search.use_best_params); the settings taken from studies; and the files they came from."""
    if not run.config.search.use_best_params:
        return run.config.train, {}, []
    studies = [GLOBAL, RENDER_STUDY, expert]
    return laid_over(run.config.train, [run.best_params_json(study) for study in studies])


def render_settings(run: Run, trained: TrainConfig) -> TrainConfig:
    """How a colour expert trained with `trained` renders: its own settings with the render
    study's best laid over (with search.use_best_params), whatever config.yaml says now."""
    if not run.config.search.use_best_params:
        return trained
    return laid_over(trained, [run.best_params_json(RENDER_STUDY)])[0]
