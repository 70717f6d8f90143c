"""The `hueroute` command line: every stage's commands on one Typer app."""

from hueroute.cli import cluster, data, run, train
from hueroute.cli.app import app

__all__ = ["app", "cluster", "data", "main", "run", "train"]


def main() -> None:
    app()
