"""Progress bars (tqdm) for long loops, quiet when stderr is not a terminal or ``JKO_QUIET=1``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["progress"]

T = TypeVar("T")


def progress(it: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """Wrap ``it`` in a tqdm bar labelled ``desc`` (disabled when ``JKO_QUIET=1``).

    Args:
        it: the iterable to wrap; its items are yielded unchanged.
        desc: the bar's label.
        total: the number of items, if ``it`` has no ``len``.

    Returns:
        An iterable over the items of ``it``.
    """
    disable = True if os.environ.get("JKO_QUIET") == "1" else None
    return tqdm(it, desc=desc, total=total, disable=disable, leave=False, dynamic_ncols=True)
