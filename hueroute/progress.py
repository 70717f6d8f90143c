"""Progress bars and console output shared by every stage."""

from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

console = Console(stderr=True)  # progress and messages
results = Console()  # tables a command answers with


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over `items` behind a progress bar on stderr."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # advanced from this thread: rich's own track() updates from a second thread, which can
    # deadlock against stop() when the loop ends early
    with Progress(*columns, console=console, transient=False) as progress:
        if total is None and isinstance(items, Sized):
            total = len(items)
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
