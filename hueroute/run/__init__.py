"""The run folder: one directory every stage reads from and writes to, and the names in it."""

from hueroute.run.experts import (
    GLOBAL,
    NOISE,
    expert_names,
    expert_of,
    expert_split,
    read_run_table,
)
from hueroute.run.folder import CONFIG_NAME, RENDER_STUDY, STAGES, Run, clear_outputs
from hueroute.run.settings import render_settings, tuned_settings

__all__ = [
    "CONFIG_NAME",
    "GLOBAL",
    "NOISE",
    "RENDER_STUDY",
    "STAGES",
    "Run",
    "clear_outputs",
    "expert_names",
    "expert_of",
    "expert_split",
    "read_run_table",
    "render_settings",
    "tuned_settings",
]
