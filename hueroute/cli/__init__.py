"""The `hueroute` command line: every stage's commands on one Typer app."""

from hueroute.cli import cluster, data, run
from hueroute.cli.app import app

__all__ = ["app", "cluster", "data", "main", "run"]


def main() -> None:
    app()
