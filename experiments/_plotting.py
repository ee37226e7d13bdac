"""Shared figure style: sizes, fonts, colours, legends, bound lines and the save routine.

The rules every figure follows (issue 12; `tests/test_figures.py` checks the mechanical ones):

- every axes that is drawn has an x label and a y label, with units ("W2 (not squared)", "W2²",
  "nats", "iterations"), and holds data; unused axes are removed (:func:`drop_unused`);
- a bound is a line of its own style (:data:`BOUND_STYLE`, black dashed) and is named in the
  legend; where a bound is sharp, plot measured/bound on a log axis (:func:`ratio_axis`) so that
  bound and measurement can be told apart;
- legends do not cover data: :func:`legend_outside` puts them beside the axes;
- seeds get distinct colours (:func:`seed_colors`); no internal codes or raw floats in titles or
  labels (format numbers with :func:`fmt`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation

from theory.io import atomic_path

__all__ = ["ATTAINED", "AUDITS", "BOUND_STYLE", "audit", "drop_unused", "fmt", "legend_outside",
           "new_figure", "plain_log_ticks", "plt", "ratio_axis", "save", "seed_colors",
           "slack_axis", "slack_points"]

#: Problems found by :func:`audit` in each figure saved in this process, keyed by file name
#: (the smoke test asserts that every experiment's figure has none).
AUDITS: dict[str, list[str]] = {}

#: Width of a two-column figure in inches (a paper's full text width).
WIDTH = 10.0

#: How every bound is drawn: a black dashed line (measurements use markers or solid colours).
BOUND_STYLE = {"color": "k", "ls": "--", "lw": 1.2}

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


def legend_outside(ax, *, where: str = "right", **kw) -> None:
    """Legend beside the axes (``where="right"``) or below it (``"below"``), never over data."""
    if where == "below":  # a fixed offset in points below the x label, whatever the height
        shift = ScaledTranslation(0.0, -30.0 / 72.0, ax.figure.dpi_scale_trans)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  bbox_transform=ax.transAxes + shift, ncol=kw.pop("ncol", 2), frameon=False,
                  **kw)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kw)


def seed_colors(n: int) -> list:
    """``n`` distinct colours for seeds (tab10, then viridis for more than 10)."""
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    return [plt.get_cmap("viridis")(i / max(n - 1, 1)) for i in range(n)]


def ratio_axis(ax, label: str = "measured / bound") -> None:
    """Log y axis for measured/bound ratios, with the bound (ratio 1) drawn as a line."""
    ax.set_yscale("log")
    ax.axhline(1.0, label="bound (ratio 1)", **BOUND_STYLE)
    ax.set_ylabel(label)


def fmt(x: float, digits: int = 3) -> str:
    """A number for a title or legend: ``digits`` significant digits, no raw float repr."""
    return f"{x:.{digits}g}"


def drop_unused(fig) -> None:
    """Remove axes that hold no artists (no empty panels)."""
    for ax in list(fig.axes):
        if not _has_data(ax):
            ax.remove()  # works for axes of sub-figures too


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images or ax.texts or ax.tables)


def audit(fig) -> list[str]:
    """The mechanical figure rules a figure breaks (empty list: none).

    Every visible axes (axis lines on) must hold data and have non-empty x and y labels; a panel
    drawn with ``ax.axis("off")`` (an image or a table) must hold data. Colour bars are exempt.
    """
    problems = []
    for i, ax in enumerate(fig.axes):
        name = ax.get_title() or f"axes {i}"
        if getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>":
            continue
        if not _has_data(ax):
            problems.append(f"{name}: empty panel")
        if ax.axison and not (ax.get_xlabel().strip() and ax.get_ylabel().strip()):
            problems.append(f"{name}: missing x or y label")
    return problems


def save(fig, path: Path) -> None:
    """Save ``fig`` to ``path`` (PNG) atomically and close it; record :func:`audit` in AUDITS."""
    AUDITS[Path(path).name] = audit(fig)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)


#: A measured/bound ratio within this of 1 counts as the bound attained (round-off of the ratios,
#: a few ulps of 1); on a slack axis such ratios are drawn on the "attained" line.
ATTAINED = 1e-14


def slack_points(ax, x, ratios, *, tol: float = ATTAINED, **kw) -> None:
    """Plot the slack s = 1 − measured/bound of ``ratios`` against ``x`` (for :func:`slack_axis`).

    A sharp bound is invisible on a linear ratio axis (every marker at 1.0); the slack on a log
    axis shows how close each measurement comes: s ≥ 0 means the bound holds, and the smaller s,
    the tighter the bound. |s| < ``tol`` (attained up to round-off or solver accuracy) is drawn
    at ``tol``, on the "bound attained" line; a violation (s < −tol) is drawn as a red cross at
    |s|. ``kw`` goes to ``ax.plot`` (marker, colour, line style, label).
    """
    x, s = np.asarray(x, dtype=float), 1.0 - np.asarray(ratios, dtype=float)
    ax.plot(x, np.where(np.abs(s) < tol, tol, np.abs(s)), **kw)
    bad = s < -tol
    if bad.any():
        ax.plot(x[bad], -s[bad], "x", color="red", ms=8, label="violation (ratio − 1 shown)")


def slack_axis(ax, *, tol: float = ATTAINED) -> None:
    """Log y axis for :func:`slack_points`, with the attained bound drawn as a line at ``tol``."""
    ax.set_yscale("log")
    ax.axhline(tol, label=f"bound attained (|1 − ratio| < {tol:.0e})", **BOUND_STYLE)
    ax.set_ylabel("slack 1 − measured/bound")


def plain_log_ticks(ax, axes: str = "y") -> None:
    """Label log axes (``axes``: "x", "y" or "xy") with plain numbers (0.8, not 8×10⁻¹); minor
    ticks are labelled only while the axis spans less than a decade, so labels never crowd."""
    for name in axes:
        axis, lim = (ax.xaxis, ax.get_xlim) if name == "x" else (ax.yaxis, ax.get_ylim)

        def minor(v, _pos, lim=lim):
            lo, hi = lim()
            return f"{v:g}" if hi < 10 * lo else ""

        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(minor))
