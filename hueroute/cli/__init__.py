"""The `hueroute` command line: every stage's commands on one Typer app."""

from hueroute.cli import data
from hueroute.cli.app import app

__all__ = ["app", "data", "main"]


def main() -> None:
    app()
