"""Shared figure style: one place for sizes, fonts and the save routine."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from theory.io import atomic_path

__all__ = ["new_figure", "plt", "save"]

#: Width of a two-column figure in inches (a paper's full text width).
WIDTH = 10.0

plt.rcParams.update({
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
})


def new_figure(nrows: int = 1, ncols: int = 2, height: float = 3.6, **kw):
    """Return ``(fig, axes)`` with the project's width."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, height * nrows), squeeze=False, **kw)
    return fig, axes


def save(fig, path: Path) -> None:
    """Save ``fig`` to ``path`` (PNG) atomically and close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
