"""The run folder: one directory every stage reads from and writes to, and the names in it."""

from hueroute.run.experts import (
    GLOBAL,
    NOISE,
    RENDER_STUDY,
    expert_names,
    expert_of,
    expert_split,
    read_run_table,
)
from hueroute.run.folder import CONFIG_NAME, Run, clear_outputs
from hueroute.run.settings import render_settings, tuned_settings
from hueroute.run.stages import BUDGETED, PIPELINE, STAGE_COMMANDS, STAGES, Stage, stage

__all__ = [
    "BUDGETED",
    "CONFIG_NAME",
    "GLOBAL",
    "NOISE",
    "PIPELINE",
    "RENDER_STUDY",
    "STAGES",
    "STAGE_COMMANDS",
    "Run",
    "Stage",
    "clear_outputs",
    "expert_names",
    "expert_of",
    "expert_split",
    "read_run_table",
    "render_settings",
    "stage",
    "tuned_settings",
]
