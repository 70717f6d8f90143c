"""The Typer application and the error handling every command shares."""

import functools
from collections.abc import Callable
from importlib.metadata import version
from typing import Annotated, Any

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from hueroute.errors import InputError, Interrupted
from hueroute.progress import console
from hueroute.run import STAGE_COMMANDS

Force = Annotated[bool, typer.Option("--force", help="Redo finished outputs.")]

# `hueroute --help` lists the commands in the order a user runs them
DATA_COMMANDS = ("make-dataset", "check", "detect-masks", "baseline", "score", "init")
COMMAND_ORDER = (*DATA_COMMANDS, *STAGE_COMMANDS, "run", "demo")


class PipelineOrder(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="hueroute",
    help="Restore damaged grayscale photos to colour with a cluster-routed ensemble.",
    cls=PipelineOrder,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def print_version(asked: bool) -> None:
    if asked:
        print(f"hueroute {version('hueroute')}")
        raise typer.Exit()


@app.callback()
def options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=print_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Options that come before any command."""


def command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command whose bad-input errors print one clear line and exit with code 2, and
    whose interruption (Ctrl-C) says what was kept and exits with code 130."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except InputError as error:
                message = escape(f"{error.path}: {error.problem}")
                console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from error
            except KeyboardInterrupt as stop:
                said = str(stop) if isinstance(stop, Interrupted) else ""
                console.print(
                    escape(said or "interrupted: finished outputs are kept; run it again to go on"),
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(130) from stop

        return app.command(name)(run)

    return register
