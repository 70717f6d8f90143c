"""Work spread over threads, for calls that release Python's lock (OpenCV, numpy on large
arrays)."""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


def thread_map(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`function` of each item, in order, on as many threads as torch uses."""
    items = list(items)
    workers = min(torch.get_num_threads(), len(items))
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))
