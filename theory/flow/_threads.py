"""Scoped torch CPU thread count: set it for a block of code and restore the old value after.

The neural experiments run on two shared cores, where two torch threads contend badly (measured
7x slower than one); ``with torch_threads(1):`` sets this for a run without leaving hidden global
state behind for the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from theory.validate import check_int

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the ``with`` block with ``torch.set_num_threads(n)``, then restore the previous count.

    Args:
        n (int ≥ 1): intra-op CPU threads inside the block.

    Yields:
        The previous thread count (restored on exit, also on an exception).

    Raises:
        ValueError: if ``n`` is not an integer >= 1.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    n = check_int(n, "n", minimum=1)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield old
    finally:
        torch.set_num_threads(old)
