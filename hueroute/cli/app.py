"""The Typer application and the error handling every command shares."""

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape

from hueroute.errors import InputError
from hueroute.progress import console

Force = Annotated[bool, typer.Option("--force", help="Redo finished outputs.")]

app = typer.Typer(
    name="hueroute",
    help="Restore damaged grayscale photos to colour with a cluster-routed ensemble.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command whose bad-input errors print one clear line and exit with code 2."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except InputError as error:
                message = escape(f"{error.path}: {error.problem}")
                console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from error

        return app.command(name)(run)

    return register
