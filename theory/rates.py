r"""Fitting rates and exponents from measured sequences (docs/numerics.md §5).

Claims C8 (slope of log KL vs log ε, slope of N_min vs log(1/ε)) and any experiment that reports
a fitted exponent. Deterministic (closed-form) sequences get the OLS standard error as the fit
uncertainty; stochastic ones get a t-interval over independent seeds (:func:`seed_interval`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["Fit", "fit_line", "fit_loglog", "seed_interval"]


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
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    if xa.size < 2:
        raise ValueError(f"need at least 2 points to fit a line, got {xa.size}")
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
        ValueError: if any ``x`` or ``y`` is not strictly positive.
    """
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.any(~(xa > 0)) or np.any(~(ya > 0)):
        raise ValueError("fit_loglog needs strictly positive x and y")
    return fit_line(np.log(xa), np.log(ya))


def seed_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of per-seed estimates: ``(mean, lo, hi)``.

    Raises:
        ValueError: with fewer than 2 values or a level outside (0, 1).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"need at least 2 per-seed values, got shape {v.shape}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    mean = float(v.mean())
    sem = float(stats.sem(v))
    if sem == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(level, v.size - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)
