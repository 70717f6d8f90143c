"""Threads: work spread over them, for calls that release Python's lock (OpenCV, numpy on
large arrays), and torch's own count kept where another library resets it."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


@contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Give torch back its thread count after code that resets the OpenMP library torch
    shares: numba's pool (UMAP's) sets it to every core, whatever OMP_NUM_THREADS says."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
