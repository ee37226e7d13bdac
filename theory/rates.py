r"""Fitting rates and exponents from measured sequences (docs/numerics.md §5).

Claims C8 (slope of log KL vs log ε, slope of N_min vs log(1/ε)) and any experiment that reports
a fitted exponent. Deterministic (closed-form) sequences get the OLS standard error as the fit
uncertainty; stochastic ones get a t-interval over independent seeds (:func:`seed_interval`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["Fit", "fit_line", "fit_loglog", "seed_interval"]


def _floats(x: ArrayLike, name: str) -> np.ndarray:
    """``np.asarray(x, float64)`` with a ``ValueError`` naming ``name`` for non-numbers."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {x!r}") from None


@dataclass(frozen=True)
class Fit:
    """A fitted line ``y = intercept + slope·x`` with the OLS standard error of the slope."""

    slope: float
    intercept: float
    slope_se: float
    n: int


def fit_line(x: ArrayLike, y: ArrayLike) -> Fit:
    """OLS fit of ``y`` on ``x``.

    Raises:
        ValueError: if fewer than 2 points, shapes differ, or values are not finite.

    Example:
        >>> round(fit_line([0, 1, 2], [1, 3, 5]).slope, 12)
        2.0
    """
    xa, ya = _floats(x, "x"), _floats(y, "y")
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    if xa.size < 2:
        raise ValueError(f"x and y need at least 2 points to fit a line, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite")
    if np.ptp(xa) == 0:
        raise ValueError("x must not be constant")
    r = stats.linregress(xa, ya)
    se = float(r.stderr) if xa.size > 2 else 0.0
    return Fit(float(r.slope), float(r.intercept), se, int(xa.size))


def fit_loglog(x: ArrayLike, y: ArrayLike) -> Fit:
    """OLS fit of ``log y`` on ``log x``: the exponent p in ``y ≈ C x^p``.

    Raises:
        ValueError: if any ``x`` or ``y`` is not strictly positive (NaN included), or as
            :func:`fit_line`.
    """
    xa, ya = _floats(x, "x"), _floats(y, "y")
    if np.any(~(xa > 0)) or np.any(~(ya > 0)):
        raise ValueError("x and y must be strictly positive for fit_loglog (it takes logs)")
    return fit_line(np.log(xa), np.log(ya))


def seed_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of per-seed estimates: ``(mean, lo, hi)``.

    NaN entries (a seed without an estimate) propagate: the result is then NaN (not an error,
    so a caller can keep such a row and report it as missing).

    Raises:
        ValueError: naming ``values`` if it is not a 1-D array of at least 2 numbers, or
            ``level`` if it is not a number in (0, 1).
    """
    v = _floats(values, "values")
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must hold at least 2 per-seed estimates (1-D), got shape "
                         f"{v.shape}")
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real) \
            or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    mean = float(v.mean())
    sem = float(stats.sem(v))
    if sem == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(level, v.size - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)
