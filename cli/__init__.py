"""The `hueroute` command line: every stage's commands on one Typer app."""

from hueroute.cli import (
    cluster,
    data,
    evaluate,
    init,
    pipeline,
    refine,
    route,
    search,
    submit,
    train,
)
from hueroute.cli.app import app

__all__ = [
    "app",
    "cluster",
    "data",
    "evaluate",
    "init",
    "main",
    "pipeline",
    "refine",
    "route",
    "search",
    "submit",
    "train",
]


def main() -> None:
    app()
